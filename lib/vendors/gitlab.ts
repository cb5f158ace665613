import { defineVendor } from '../policy/define-vendor.js';
import { normalizeQueryName, queryValues } from '../policy/query-names.js';
import { parseStrictJson } from '../policy/strict-json.js';
import type { BodyInspection, BodyVerdict, ProjectRef, RuleContext, RuleParams, VendorRule } from '../policy/vendor-definition.js';

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

/* Whether the request has (or, when the caller cannot tell, announces) a body. */
function mayHaveBody(context: RuleContext): boolean {
  if (context.hasBody !== undefined) return context.hasBody;
  const raw = context.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = String(raw[i]).toLowerCase();
    if (name === 'transfer-encoding' || (name === 'content-length' && String(raw[i + 1]).trim() !== '0')) return true;
  }
  return false;
}

function check(context: RuleContext): string | undefined {
  const write = context.method === 'POST' || context.method === 'PUT';
  // Grape merges a body into params on every method (GET and DELETE included), where `sudo`
  // or `from_project_id` would act unchecked: any body must be JSON, whose keys are checked
  // (see body()). @gitbeaker/rest sends `{}` with DELETE.
  if (write ? context.hasBody === false : !mayHaveBody(context)) return undefined;
  // Rack parses form bodies (urlencoded, any multipart, and a body with no Content-Type)
  // into params, where `_method` overrides the method and `sudo` impersonates: only JSON
  // bodies, which every supported client sends, are let through.
  const raw = context.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === 'content-type') {
      if (JSON_TYPE.test(String(raw[i + 1]))) return undefined;
      return write
        ? 'GitLab POST and PUT bodies must be application/json (form bodies can override the method)'
        : `GitLab ${context.method} request bodies must be application/json (GitLab reads parameters from form bodies)`;
    }
  }
  return write ? 'GitLab POST and PUT requests need Content-Type: application/json' : `GitLab ${context.method} requests with a body need Content-Type: application/json`;
}

/*
 * GitLab merges a JSON body's keys into the request's params, so the levers refused in the
 * query are refused in the body too, and keys naming another project are checked like
 * `from_project_id` in the query (Commits API `start_project`, Merge requests
 * `target_project_id`, Compare `from_project_id`). Keys are compared in the normalised form
 * of query names, at any depth (a false positive costs a denial; a miss an impersonation).
 */
const FORBIDDEN_BODY_KEYS: ReadonlySet<string> = new Set(['sudo', '_method', 'x-http-method-override', 'x-http-method', 'x-method-override']);
const PROJECT_BODY_KEYS: ReadonlySet<string> = new Set(['start_project', 'start_project_id', 'from_project_id', 'target_project_id', 'source_project_id', 'forked_from_id']);
/** Largest JSON body read to check it (commits carry file contents); larger ones are refused (413). */
export const MAX_GITLAB_BODY_BYTES = 8 * 1024 * 1024;

function projectRefOf(value: unknown): ProjectRef | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return { id: String(value) };
  if (typeof value !== 'string' || value === '') return undefined;
  if (NUMERIC.test(value)) return { id: value };
  let path = value;
  try {
    // `start_project` takes "the ID or URL-encoded path": both spellings name the same project.
    path = decodeURIComponent(value);
  } catch {
    return undefined;
  }
  return { path };
}

function checkJsonBody(body: Buffer): BodyVerdict {
  const parsed = parseStrictJson(body.toString('utf8'));
  if (!parsed.ok) return { deny: `GitLab request body refused: ${parsed.reason}` };
  const projects: ProjectRef[] = [];
  const pending: unknown[] = [parsed.value];
  while (pending.length > 0) {
    const value = pending.pop();
    if (Array.isArray(value)) {
      pending.push(...(value as unknown[]));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, member] of Object.entries(value)) {
        const name = normalizeQueryName(key);
        if (FORBIDDEN_BODY_KEYS.has(name) || FORBIDDEN_BODY_KEYS.has(name.split('.')[0] as string)) {
          return { deny: `the body parameter "${name.slice(0, 60)}" is not allowed` };
        }
        if (PROJECT_BODY_KEYS.has(name)) {
          const ref = projectRefOf(member);
          if (ref === undefined) return { deny: `the body parameter "${name}" does not name a project` };
          projects.push(ref);
        }
        pending.push(member);
      }
    }
  }
  return { projects };
}

const JSON_BODY: BodyInspection = { maxBodyBytes: MAX_GITLAB_BODY_BYTES, check: checkJsonBody };

// `check` has already refused every body that is not JSON.
function body(context: RuleContext): BodyInspection | undefined {
  const write = context.method === 'POST' || context.method === 'PUT';
  return (write ? context.hasBody !== false : mayHaveBody(context)) ? JSON_BODY : undefined;
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
  body,
});
