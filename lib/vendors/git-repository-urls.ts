import type { ProjectRef, RuleParams } from '../policy/vendor-definition.js';
import { withoutGitSuffix, type GitSmartHttpShape } from './git-smart-http.js';

/*
 * The repository URL each built-in vendor serves git smart HTTP under, as its clone URLs show
 * it. Parameter values are raw (still encoded); where a vendor's names never need encoding the
 * patterns leave '%' out, so an encoded '/' or '.' cannot shift what the server routes on.
 */

const NAME = '[A-Za-z0-9_][A-Za-z0-9_.-]*';
const SLASHES = /[/\\]/;
const GUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

function joined(owner: string | undefined, repository: string | undefined): ProjectRef | undefined {
  const name = withoutGitSuffix(repository);
  return owner === undefined || name === undefined ? undefined : { path: `${owner}/${name}` };
}

/** GitLab: `/<group>/<subgroup…>/<project>.git` (the project's full path, 2+ names). */
export const GITLAB_GIT: GitSmartHttpShape = {
  repository: '/*git_repository',
  // GitLab path rules: letters, digits, '_', '-', '.'; a name never starts with '-' or '.',
  // which also keeps GitLab's `/-/` route separator out.
  params: { git_repository: `(?:${NAME}/)+${NAME}\\.git` },
  project(params: RuleParams): ProjectRef | undefined {
    const name = withoutGitSuffix(params.git_repository);
    return name === undefined ? undefined : { path: name };
  },
};

/** GitHub Enterprise Server: `/<owner>/<repo>.git`. */
export const GITHUB_ENTERPRISE_GIT: GitSmartHttpShape = {
  repository: '/:git_owner/:git_repository',
  params: { git_owner: '[A-Za-z0-9][A-Za-z0-9_.-]*', git_repository: '[A-Za-z0-9_.-]+\\.git' },
  project: (params) => joined(params.git_owner, params.git_repository),
};

/** Bitbucket Data Center: `/scm/<project key>/<repository slug>.git` (personal projects `~user`). */
export const BITBUCKET_DATACENTER_GIT: GitSmartHttpShape = {
  repository: '/scm/:git_project/:git_repository',
  params: { git_project: '~?[A-Za-z0-9_][A-Za-z0-9_.@-]*', git_repository: '[A-Za-z0-9_.-]+\\.git' },
  project: (params) => joined(params.git_project, params.git_repository),
};

/** Azure DevOps Server: `/<collection>/<project>/_git/<repository>` (no `.git`). */
export const AZURE_DEVOPS_GIT: GitSmartHttpShape = {
  repository: '/:git_collection/:git_project/_git/:git_repository',
  params: {
    // As the API's: names never start with '_' (reserved for `_apis`, `_git`, …); spaces
    // and other characters arrive percent-encoded.
    git_collection: '[A-Za-z0-9][A-Za-z0-9_.%-]*',
    git_project: "[A-Za-z0-9][A-Za-z0-9_.%~!$&'()+,=@-]*",
    git_repository: "[A-Za-z0-9_][A-Za-z0-9_.%~!$&'()+,=@-]*",
  },
  project(params: RuleParams): ProjectRef | undefined {
    const { git_collection: collection, git_project: project, git_repository: repository } = params;
    if (collection === undefined || project === undefined || repository === undefined) return undefined;
    // An encoded '/' would shift the segments a server that decodes %2F routes on.
    if (SLASHES.test(collection) || SLASHES.test(project) || SLASHES.test(repository)) return undefined;
    if (GUID.test(project) || GUID.test(repository)) return { id: `${project}/${repository}` };
    return { path: `${project}/${repository}` };
  },
};
