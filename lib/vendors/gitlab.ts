import { defineVendor } from '../policy/define-vendor.js';
import { queryValues } from '../policy/query-names.js';
import type { ProjectRef, RuleContext, RuleParams, VendorRule } from '../policy/vendor-definition.js';

const P = '/api/v4/projects/:project';
const R = `${P}/repository`;
const MR = `${P}/merge_requests/:merge_request_iid`;

/**
 * GitLab (self-managed) REST API v4 — https://docs.gitlab.com/api/rest/.
 * `:project` is a numeric id or the URL-encoded full path (`group%2Fsub%2Frepo`).
 */
export const GITLAB_RULES: readonly VendorRule[] = [
  { method: 'GET', path: '/api/v4/user', description: "Get the token's user", scope: 'global' },
  { method: 'GET', path: '/api/v4/projects', description: 'List projects visible to the token', scope: 'cross-project' },
  { method: 'GET', path: P, description: 'Get a project' },
  { method: 'GET', path: `${R}/branches`, description: 'List branches' },
  { method: 'GET', path: `${R}/branches/:branch`, description: 'Get a branch' },
  { method: 'GET', path: `${R}/tags`, description: 'List tags' },
  { method: 'GET', path: `${R}/tags/:tag`, description: 'Get a tag' },
  { method: 'GET', path: `${R}/commits`, description: 'List commits' },
  { method: 'GET', path: `${R}/commits/:sha`, description: 'Get a commit' },
  { method: 'POST', path: `${R}/commits`, description: 'Create a commit' },
  { method: 'GET', path: `${R}/compare`, description: 'Compare branches, tags or commits' },
  { method: 'GET', path: `${R}/tree`, description: 'List the repository tree' },
  { method: 'GET', path: `${R}/files/:file_path`, description: 'Get file contents' },
  { method: 'GET', path: `${R}/files/:file_path/raw`, description: 'Get a raw file' },
  { method: 'GET', path: `${R}/blobs/:sha/raw`, description: 'Get a raw blob' },
  { method: 'GET', path: `${R}/archive`, description: 'Download a repository archive' },
  { method: 'GET', path: `${R}/archive.tar.gz`, description: 'Download a repository archive (tar.gz)' },
  { method: 'GET', path: `${R}/archive.zip`, description: 'Download a repository archive (zip)' },
  { method: 'GET', path: `${P}/merge_requests`, description: 'List merge requests' },
  { method: 'GET', path: MR, description: 'Get a merge request' },
  { method: 'GET', path: `${MR}/commits`, description: 'List merge request commits' },
  { method: 'GET', path: `${MR}/changes`, description: 'Get merge request changes' },
  { method: 'GET', path: `${MR}/diffs`, description: 'List merge request diffs' },
  { method: 'GET', path: `${MR}/notes`, description: 'List merge request comments' },
  { method: 'POST', path: `${MR}/notes`, description: 'Create a merge request comment' },
  { method: 'PUT', path: `${MR}/notes/:note_id`, description: 'Update a merge request comment' },
  { method: 'GET', path: `${R}/commits/:sha/statuses`, description: 'List commit statuses' },
  { method: 'POST', path: `${P}/statuses/:sha`, description: 'Create a commit status' },
  { method: 'GET', path: `${P}/hooks`, description: 'List project webhooks' },
  { method: 'POST', path: `${P}/hooks`, description: 'Create a project webhook' },
  { method: 'PUT', path: `${P}/hooks/:hook_id`, description: 'Update a project webhook' },
  { method: 'DELETE', path: `${P}/hooks/:hook_id`, description: 'Delete a project webhook' },
];

const NUMERIC = /^[0-9]+$/;
// Form bodies let Rack::MethodOverride turn a POST into any method via `_method`
// (GitLab's API runs inside Rails' middleware stack); the supported clients send JSON.
const JSON_TYPE = /^\s*application\/json\s*(;.*)?$/i;

function project(params: RuleParams): ProjectRef | undefined {
  const value = params.project;
  if (value === undefined) return undefined;
  return NUMERIC.test(value) ? { id: value } : { path: value };
}

const FROM_PROJECT: ReadonlySet<string> = new Set(['from_project_id']);

function referencedProjects(context: RuleContext): readonly ProjectRef[] {
  // Compare across forks: `from_project_id` names the other project (GitLab API, Repositories › Compare).
  return queryValues(context.query, FROM_PROJECT).map((id) => ({ id }));
}

function check(context: RuleContext): string | undefined {
  if ((context.method !== 'POST' && context.method !== 'PUT') || context.hasBody === false) return undefined;
  // Rack parses form bodies (urlencoded, any multipart, and a body with no Content-Type)
  // into params, where `_method` overrides the method and `sudo` impersonates: only JSON
  // bodies, which every supported client sends, are let through.
  const raw = context.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === 'content-type') {
      return JSON_TYPE.test(String(raw[i + 1])) ? undefined : 'GitLab POST and PUT bodies must be application/json (form bodies can override the method)';
    }
  }
  return 'GitLab POST and PUT requests need Content-Type: application/json';
}

/** The built-in GitLab vendor (`gitlab`). */
export const gitlab = defineVendor({
  name: 'gitlab',
  rules: GITLAB_RULES,
  params: {
    // A numeric id, or a full path of 2+ names joined by encoded slashes (GitLab path rules:
    // letters, digits, '_', '-', '.'; names cannot start with '-' or '.').
    project: '[0-9]+|[A-Za-z0-9_][A-Za-z0-9_.-]*(?:%2[Ff][A-Za-z0-9_][A-Za-z0-9_.-]*)+',
    merge_request_iid: '[0-9]+',
    note_id: '[0-9]+',
    hook_id: '[0-9]+',
  },
  project,
  referencedProjects,
  check,
});
