import { defineVendor } from '../policy/define-vendor.js';
import type { ProjectRef, RuleContext, RuleParams, VendorRule } from '../policy/vendor-definition.js';

const R = '/api/v3/repos/:owner/:repo';

/**
 * GitHub Enterprise Server REST API (`/api/v3`) — https://docs.github.com/enterprise-server/rest.
 * GraphQL (`/api/graphql`) is deliberately absent: one path carries every operation, so a
 * path rule cannot allow one operation without allowing all.
 */
export const GITHUB_ENTERPRISE_RULES: readonly VendorRule[] = [
  { method: 'GET', path: '/api/v3/user', description: "Get the token's user", scope: 'global' },
  { method: 'GET', path: '/api/v3/user/repos', description: 'List repositories visible to the token', scope: 'cross-project' },
  { method: 'GET', path: R, description: 'Get a repository' },
  { method: 'GET', path: `${R}/branches`, description: 'List branches' },
  { method: 'GET', path: `${R}/branches/:branch`, description: 'Get a branch' },
  { method: 'GET', path: `${R}/tags`, description: 'List tags' },
  { method: 'GET', path: `${R}/git/ref/*ref`, description: 'Get a Git reference' },
  { method: 'GET', path: `${R}/commits`, description: 'List commits' },
  { method: 'GET', path: `${R}/commits/:ref`, description: 'Get a commit' },
  { method: 'GET', path: `${R}/compare/:basehead`, description: 'Compare two commits' },
  { method: 'GET', path: `${R}/contents`, description: 'Get repository root contents' },
  { method: 'GET', path: `${R}/contents/*path`, description: 'Get file contents' },
  { method: 'GET', path: `${R}/git/trees/:tree_sha`, description: 'Get a tree' },
  { method: 'GET', path: `${R}/git/blobs/:file_sha`, description: 'Get a blob' },
  { method: 'GET', path: `${R}/tarball/*ref`, description: 'Download a repository archive (tar)', followRedirects: true },
  { method: 'GET', path: `${R}/zipball/*ref`, description: 'Download a repository archive (zip)', followRedirects: true },
  { method: 'GET', path: `${R}/pulls`, description: 'List pull requests' },
  { method: 'GET', path: `${R}/pulls/:pull_number`, description: 'Get a pull request' },
  { method: 'GET', path: `${R}/pulls/:pull_number/commits`, description: 'List pull request commits' },
  { method: 'GET', path: `${R}/pulls/:pull_number/files`, description: 'List pull request files' },
  { method: 'GET', path: `${R}/issues/:issue_number/comments`, description: 'List pull request comments' },
  { method: 'POST', path: `${R}/issues/:issue_number/comments`, description: 'Create a pull request comment' },
  { method: 'PATCH', path: `${R}/issues/comments/:comment_id`, description: 'Update a pull request comment' },
  { method: 'POST', path: `${R}/statuses/:sha`, description: 'Create a commit status' },
  { method: 'GET', path: `${R}/commits/:ref/statuses`, description: 'List commit statuses' },
  { method: 'GET', path: `${R}/commits/:ref/status`, description: 'Get the combined commit status' },
  { method: 'POST', path: `${R}/check-runs`, description: 'Create a check run' },
  { method: 'PATCH', path: `${R}/check-runs/:check_run_id`, description: 'Update a check run' },
  { method: 'GET', path: `${R}/commits/:ref/check-runs`, description: 'List check runs for a commit' },
  { method: 'GET', path: `${R}/hooks`, description: 'List repository webhooks' },
  { method: 'POST', path: `${R}/hooks`, description: 'Create a repository webhook' },
  { method: 'PATCH', path: `${R}/hooks/:hook_id`, description: 'Update a repository webhook' },
  { method: 'DELETE', path: `${R}/hooks/:hook_id`, description: 'Delete a repository webhook' },
  // Where the archive endpoints redirect to: GHE's codeload, as `/_codeload/…` on the instance
  // or on its `codeload.<host>` subdomain (mapped here, see redirectTarget). Never requested directly.
  {
    method: 'GET',
    path: '/_codeload/:owner/:repo/legacy.tar.gz/*ref',
    description: 'Archive download (tar) from codeload, as a redirect target',
    redirectOnly: true,
  },
  {
    method: 'GET',
    path: '/_codeload/:owner/:repo/legacy.zip/*ref',
    description: 'Archive download (zip) from codeload, as a redirect target',
    redirectOnly: true,
  },
];

function project(params: RuleParams): ProjectRef | undefined {
  const { owner, repo } = params;
  return owner === undefined || repo === undefined ? undefined : { path: `${owner}/${repo}` };
}

/*
 * A compare's head (or base) may live in another repository: `owner:ref` (the same-named fork)
 * or `owner:repo:ref` (GitHub REST "Compare two commits"). The first names the repository only
 * through its owner, so it is treated like an opaque id. Both the three-dot and the two-dot
 * form (`base..head`) are accepted by GitHub, and Git ref names cannot contain `..`
 * (git-check-ref-format), so splitting on two or more dots finds every side.
 */
function referencedProjects(context: RuleContext): readonly ProjectRef[] {
  const basehead = context.params.basehead;
  if (basehead === undefined || !basehead.includes(':')) return [];
  const refs: ProjectRef[] = [];
  for (const side of basehead.split(/\.{2,}/)) {
    const parts = side.split(':');
    if (parts.length === 2) refs.push({ id: `${parts[0]}:${context.params.repo ?? ''}` });
    else if (parts.length >= 3) refs.push({ path: `${parts[0]}/${parts[1]}` });
  }
  return refs;
}

/*
 * GHE with subdomain isolation serves codeload on `codeload.<host>` (same scheme and port);
 * without it, on `/_codeload/…` of the instance itself. Both are the same VCS: map the
 * subdomain's paths onto `/_codeload` so one set of rules checks them. Anything else is not
 * this VCS.
 */
function redirectTarget(location: URL, vcs: URL): string | undefined {
  if (location.origin === vcs.origin) {
    const base = vcs.pathname.replace(/\/+$/, '');
    return location.pathname.startsWith(`${base}/`) ? location.pathname.slice(base.length) + location.search : undefined;
  }
  if (location.hostname === `codeload.${vcs.hostname}` && location.port === vcs.port) return `/_codeload${location.pathname}${location.search}`;
  return undefined;
}

/** The built-in GitHub Enterprise Server vendor (`github_enterprise`). */
export const githubEnterprise = defineVendor({
  name: 'github_enterprise',
  rules: GITHUB_ENTERPRISE_RULES,
  params: {
    // GitHub owner and repository names: letters, digits, '-', '_', '.'.
    owner: '[A-Za-z0-9][A-Za-z0-9_.-]*',
    repo: '[A-Za-z0-9_.-]+',
    pull_number: '[0-9]+',
    issue_number: '[0-9]+',
    comment_id: '[0-9]+',
    check_run_id: '[0-9]+',
    hook_id: '[0-9]+',
    tree_sha: '[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}|[A-Za-z0-9_.%-]+',
    file_sha: '[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}',
    sha: '[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64}',
  },
  project,
  referencedProjects,
  redirectTarget,
});
