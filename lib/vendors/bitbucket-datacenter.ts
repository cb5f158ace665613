import { defineVendor } from '../policy/define-vendor.js';
import { queryValues } from '../policy/query-names.js';
import type { ProjectRef, RuleContext, RuleParams, VendorRule } from '../policy/vendor-definition.js';

const R = '/rest/api/1.0/projects/:projectKey/repos/:repositorySlug';
const PR = `${R}/pull-requests/:pullRequestId`;

/*
 * Bitbucket serves every REST plugin under its version and under `latest` alike (`/rest/api/
 * latest/…`, `/rest/build-status/latest/…`), and Atlassian's OpenAPI-generated clients use
 * `latest`. Each `1.0` rule therefore has a `latest` twin with the same description and scope;
 * the `1.0` keys stay as they were, so `without` lists written for them keep working.
 */
const VERSIONED = /^\/rest\/(api|build-status)\/1\.0\//;
function withLatestAliases(rules: readonly VendorRule[]): readonly VendorRule[] {
  const aliases = rules.filter((rule) => VERSIONED.test(rule.path)).map((rule) => ({ ...rule, path: rule.path.replace(VERSIONED, '/rest/$1/latest/') }));
  return [...rules, ...aliases];
}

/**
 * Bitbucket Data Center REST API (`/rest/api/1.0`, `/rest/build-status/1.0`, and both under
 * `latest`) — https://developer.atlassian.com/server/bitbucket/rest/.
 */
export const BITBUCKET_DATACENTER_RULES: readonly VendorRule[] = withLatestAliases([
  {
    method: 'GET',
    path: '/plugins/servlet/applinks/whoami',
    description: "Get the token's user name",
    scope: 'global',
  },
  { method: 'GET', path: '/rest/api/1.0/users/:userSlug', description: 'Get a user', scope: 'global' },
  // Clients read the server version first (to pick endpoints); it names no project.
  { method: 'GET', path: '/rest/api/1.0/application-properties', description: 'Get the server version (application properties)', scope: 'global' },
  { method: 'GET', path: '/rest/api/1.0/repos', description: 'List repositories visible to the token', scope: 'cross-project' },
  { method: 'GET', path: R, description: 'Get a repository' },
  { method: 'GET', path: `${R}/branches`, description: 'List branches' },
  { method: 'GET', path: `${R}/default-branch`, description: 'Get the default branch' },
  { method: 'GET', path: `${R}/tags`, description: 'List tags' },
  { method: 'GET', path: `${R}/commits`, description: 'List commits' },
  { method: 'GET', path: `${R}/commits/:commitId`, description: 'Get a commit' },
  { method: 'GET', path: `${R}/compare/commits`, description: 'Compare commits' },
  { method: 'GET', path: `${R}/compare/changes`, description: 'Compare changes' },
  { method: 'GET', path: `${R}/browse`, description: 'Browse the repository root' },
  { method: 'GET', path: `${R}/browse/*path`, description: 'Get file contents' },
  { method: 'GET', path: `${R}/raw/*path`, description: 'Get a raw file' },
  { method: 'GET', path: `${R}/files`, description: 'List files' },
  { method: 'GET', path: `${R}/files/*path`, description: 'List files in a directory' },
  { method: 'GET', path: `${R}/archive`, description: 'Download a repository archive' },
  { method: 'GET', path: `${R}/pull-requests`, description: 'List pull requests' },
  { method: 'GET', path: PR, description: 'Get a pull request' },
  { method: 'GET', path: `${PR}/commits`, description: 'List pull request commits' },
  { method: 'GET', path: `${PR}/changes`, description: 'List pull request changes' },
  { method: 'GET', path: `${PR}/activities`, description: 'List pull request activities (comments)' },
  { method: 'POST', path: `${PR}/comments`, description: 'Create a pull request comment' },
  { method: 'PUT', path: `${PR}/comments/:commentId`, description: 'Update a pull request comment' },
  { method: 'GET', path: `${R}/commits/:commitId/builds`, description: 'List build statuses of a commit' },
  { method: 'POST', path: `${R}/commits/:commitId/builds`, description: 'Create a build status' },
  {
    method: 'GET',
    path: '/rest/build-status/1.0/commits/:commitId',
    description: 'List build statuses of a commit (legacy, not repository-scoped)',
    scope: 'cross-project',
  },
  {
    method: 'POST',
    path: '/rest/build-status/1.0/commits/:commitId',
    description: 'Create a build status (legacy, not repository-scoped)',
    scope: 'cross-project',
  },
  { method: 'GET', path: `${R}/webhooks`, description: 'List repository webhooks' },
  { method: 'POST', path: `${R}/webhooks`, description: 'Create a repository webhook' },
  { method: 'PUT', path: `${R}/webhooks/:webhookId`, description: 'Update a repository webhook' },
  { method: 'DELETE', path: `${R}/webhooks/:webhookId`, description: 'Delete a repository webhook' },
]);

const NUMERIC = /^[0-9]+$/;

const SLASHES = /[/\\]/;

function project(params: RuleParams): ProjectRef | undefined {
  const { projectKey, repositorySlug } = params;
  if (projectKey === undefined || repositorySlug === undefined) return undefined;
  // Keys and slugs never contain '/' or '\\'; an encoded one would shift the segments
  // Tomcat routes on when it decodes %2F (ALLOW_ENCODED_SLASH), so it names no project.
  if (SLASHES.test(projectKey) || SLASHES.test(repositorySlug)) return undefined;
  return { path: `${projectKey}/${repositorySlug}` };
}

/*
 * Compares may take their source from another repository: `fromRepo` is either a numeric
 * repository id or `PROJECTKEY/slug` (Bitbucket Data Center REST, "Compare commits").
 */
const FROM_REPO: ReadonlySet<string> = new Set(['fromrepo']);

function referencedProjects(context: RuleContext): readonly ProjectRef[] {
  return queryValues(context.query, FROM_REPO).map((value) => (NUMERIC.test(value) || !value.includes('/') ? { id: value } : { path: value }));
}

/** The built-in Bitbucket Data Center vendor (`bitbucket_datacenter`). */
export const bitbucketDatacenter = defineVendor({
  name: 'bitbucket_datacenter',
  rules: BITBUCKET_DATACENTER_RULES,
  params: {
    // Project keys start with a letter; personal projects are `~username`.
    projectKey: '~?[A-Za-z0-9_][A-Za-z0-9_.@%-]*',
    repositorySlug: '[A-Za-z0-9_.-]+',
    pullRequestId: '[0-9]+',
    commentId: '[0-9]+',
    webhookId: '[0-9]+',
    commitId: '[0-9A-Fa-f]{4,64}|[A-Za-z0-9_.%-]+',
  },
  project,
  referencedProjects,
});
