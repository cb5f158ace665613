import { defineVendor } from '../policy/define-vendor.js';
import { queryValues } from '../policy/query-names.js';
import type { ProjectRef, RuleContext, RuleParams, VendorRule } from '../policy/vendor-definition.js';

const R = '/:collection/:project/_apis/git/repositories/:repository';
const PR = `${R}/pullrequests/:pullRequestId`;

/**
 * Azure DevOps Server REST API (`/{collection}/{project}/_apis/...?api-version=…`) —
 * https://learn.microsoft.com/rest/api/azure/devops/. Paths are relative to the server's
 * base URL (add `/tfs` to the agent's VCS URL for servers installed under it).
 */
export const AZURE_DEVOPS_RULES: readonly VendorRule[] = [
  { method: 'GET', path: '/:collection/_apis/connectionData', description: "Get the token's user (connection data)", scope: 'global' },
  { method: 'OPTIONS', path: '/:collection/_apis/:area', description: 'Discover API resource locations', scope: 'global' },
  { method: 'GET', path: '/:collection/_apis/ResourceAreas', description: 'Discover API resource areas', scope: 'global' },
  { method: 'GET', path: '/:collection/_apis/projects', description: 'List projects', scope: 'cross-project' },
  {
    method: 'GET',
    path: '/:collection/:project/_apis/git/repositories',
    description: 'List repositories of a project',
    scope: 'cross-project',
  },
  { method: 'GET', path: R, description: 'Get a repository' },
  { method: 'GET', path: `${R}/refs`, description: 'List branches and tags' },
  { method: 'GET', path: `${R}/stats/branches`, description: 'List branches with statistics' },
  { method: 'GET', path: `${R}/commits`, description: 'List commits' },
  { method: 'GET', path: `${R}/commits/:commitId`, description: 'Get a commit' },
  { method: 'GET', path: `${R}/diffs/commits`, description: 'Compare commits' },
  { method: 'GET', path: `${R}/items`, description: 'Get file contents or download an archive' },
  { method: 'GET', path: `${R}/trees/:sha1`, description: 'Get a tree' },
  { method: 'GET', path: `${R}/blobs/:sha1`, description: 'Get a blob' },
  { method: 'GET', path: `${R}/pullrequests`, description: 'List pull requests' },
  { method: 'GET', path: PR, description: 'Get a pull request' },
  { method: 'GET', path: `${PR}/commits`, description: 'List pull request commits' },
  { method: 'GET', path: `${PR}/iterations`, description: 'List pull request iterations' },
  { method: 'GET', path: `${PR}/iterations/:iterationId/changes`, description: 'List pull request changes' },
  { method: 'GET', path: `${PR}/threads`, description: 'List pull request comment threads' },
  { method: 'POST', path: `${PR}/threads`, description: 'Create a pull request comment thread' },
  { method: 'POST', path: `${PR}/threads/:threadId/comments`, description: 'Create a pull request comment' },
  { method: 'PATCH', path: `${PR}/threads/:threadId/comments/:commentId`, description: 'Update a pull request comment' },
  { method: 'GET', path: `${R}/commits/:commitId/statuses`, description: 'List commit statuses' },
  { method: 'POST', path: `${R}/commits/:commitId/statuses`, description: 'Create a commit status' },
  { method: 'GET', path: `${PR}/statuses`, description: 'List pull request statuses' },
  { method: 'POST', path: `${PR}/statuses`, description: 'Create a pull request status' },
  // Service hooks are collection-level; the repository is named in the body, so these are
  // not project-scoped and are denied whenever allowed-projects is set.
  { method: 'GET', path: '/:collection/_apis/hooks/subscriptions', description: 'List webhooks (service hook subscriptions)', scope: 'cross-project' },
  { method: 'POST', path: '/:collection/_apis/hooks/subscriptions', description: 'Create a webhook (service hook subscription)', scope: 'cross-project' },
  {
    method: 'PUT',
    path: '/:collection/_apis/hooks/subscriptions/:subscriptionId',
    description: 'Update a webhook (service hook subscription)',
    scope: 'cross-project',
  },
  {
    method: 'DELETE',
    path: '/:collection/_apis/hooks/subscriptions/:subscriptionId',
    description: 'Delete a webhook (service hook subscription)',
    scope: 'cross-project',
  },
];

/*
 * Everything .NET's Guid.Parse accepts (after trimming whitespace): the N (32 digits), D
 * (dashed), B ({dashed}) and P ((dashed)) forms, and the X form ({0x…,0x…,0x…,{0x…,…}}).
 * ASP.NET resolves a route value that parses as a GUID as an id, whatever the form, so every
 * form is treated as an id, never as a name.
 */
const GUID_D = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}';
const GUID_X = '\\{0[xX][0-9A-Fa-f]{1,8},0[xX][0-9A-Fa-f]{1,4},0[xX][0-9A-Fa-f]{1,4},\\{0[xX][0-9A-Fa-f]{1,2}(?:,0[xX][0-9A-Fa-f]{1,2}){7}\\}\\}';
const GUID = new RegExp(`^\\s*(?:[0-9A-Fa-f]{32}|${GUID_D}|\\{${GUID_D}\\}|\\(${GUID_D}\\)|${GUID_X})\\s*$`);
// Query parameters that name a repository or project by id (GitApi getPullRequests, getTree).
// Normalised (query-names.ts): ASP.NET also binds the bare names and any letter case.
const PROJECT_NAMING_QUERY: ReadonlySet<string> = new Set([
  'searchcriteria.repositoryid',
  'searchcriteria.sourcerepositoryid',
  'repositoryid',
  'sourcerepositoryid',
  'projectid',
]);
// azure-devops-node-api sends the version in Accept (`application/json;api-version=7.1`).
const ACCEPT_API_VERSION = /;\s*api-version=/i;

const SLASHES = /[/\\]/;

function project(params: RuleParams): ProjectRef | undefined {
  const { project: name, repository } = params;
  if (name === undefined || repository === undefined) return undefined;
  // Names cannot contain '/' or '\\' in Azure DevOps; an encoded one would shift the
  // segments a server that decodes %2F routes on, so it names no project at all.
  if (SLASHES.test(name) || SLASHES.test(repository) || SLASHES.test(params.collection ?? '')) return undefined;
  // Braces and commas are not allowed in Azure DevOps names: such a value is no name this
  // check could verify (and may be a GUID form the pattern above does not foresee).
  if (/[{},]/.test(name) || /[{},]/.test(repository)) return undefined;
  if (GUID.test(name) || GUID.test(repository)) return { id: `${name}/${repository}` };
  return { path: `${name}/${repository}` };
}

/* The collection every Azure DevOps path starts with; checked against allowed-collections. */
function collection(params: RuleParams): string | undefined {
  return params.collection;
}

function referencedProjects(context: RuleContext): readonly ProjectRef[] {
  const refs: ProjectRef[] = [];
  for (const id of queryValues(context.query, PROJECT_NAMING_QUERY)) refs.push({ id });
  return refs;
}

function check(context: RuleContext): string | undefined {
  // Every Azure DevOps REST call but discovery carries api-version, in the query or in
  // Accept; one without it is not from a supported client.
  if (context.rule.scope === 'global' || context.query.has('api-version')) return undefined;
  const raw = context.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === 'accept' && ACCEPT_API_VERSION.test(String(raw[i + 1]))) return undefined;
  }
  return 'Azure DevOps requests must carry api-version (query or Accept header)';
}

/** The built-in Azure DevOps Server vendor (`azure_devops`). */
export const azureDevops = defineVendor({
  name: 'azure_devops',
  rules: AZURE_DEVOPS_RULES,
  caseInsensitivePaths: true,
  params: {
    // Collection and project names never start with '_' (reserved for `_apis`, `_git`, …).
    collection: '[A-Za-z0-9][A-Za-z0-9_.%-]*',
    project: '[A-Za-z0-9][A-Za-z0-9_.%~!$&\'()+,=@-]*',
    repository: '[A-Za-z0-9_][A-Za-z0-9_.%~!$&\'()+,=@-]*',
    area: 'git|core|hooks|[Ll]ocation',
    pullRequestId: '[0-9]+',
    iterationId: '[0-9]+',
    threadId: '[0-9]+',
    commentId: '[0-9]+',
    commitId: '[0-9A-Fa-f]{40}',
    sha1: '[0-9A-Fa-f]{40}',
    subscriptionId: '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}',
  },
  project,
  referencedProjects,
  check,
  collection,
});
