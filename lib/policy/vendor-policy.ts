import { InvalidOptionError } from '../errors.js';
import { compileAllowedProjects } from './allowed-projects.js';
import { checkCanonicalTarget } from './canonical-path.js';
import { InvalidVendorError } from './invalid-vendor-error.js';
import type { PolicyAllow, PolicyDecision, PolicyDeny, PolicyRequest, RedirectPolicy, RedirectStep, RequestPolicy } from './request-policy.js';
import { normalizeQueryName } from './query-names.js';
import { compileRules, type CompiledRules } from './rule-engine.js';
import { parseStrictJson } from './strict-json.js';
import { MAX_REDIRECT_HOPS, type ProjectRef, type RuleContext, type VendorDefinition, type VendorRule } from './vendor-definition.js';

/** Options of {@link createPolicyFromDefinition}. */
export interface VendorPolicyOptions {
  /** Regular expression a project's whole canonical `group/repository` must match (case-insensitive). Default `.*`. */
  readonly allowedProjects?: string;
  /** Rules added to the vendor's own (e.g. from `--rules-file`). */
  readonly extraRules?: readonly VendorRule[];
  /**
   * Collections a request may address, for vendors whose paths name one (Azure DevOps:
   * `/{collection}/…`); compared case-insensitively. Default {@link DEFAULT_ALLOWED_COLLECTIONS}.
   * Requests addressing any other collection are denied: the collection is not part of the
   * project name `allowed-projects` checks, so it is checked against this explicit list.
   */
  readonly allowedCollections?: readonly string[];
}

/** The default `allowedCollections`: the collection Azure DevOps Server creates at install. */
export const DEFAULT_ALLOWED_COLLECTIONS: readonly string[] = Object.freeze(['DefaultCollection']);

// Azure DevOps collection names: no '/', '\\', control characters or the reserved leading '_'.
const COLLECTION_NAME = /^[A-Za-z0-9][^/\\\x00-\x1f\x7f]{0,127}$/;

/** Validates `allowedCollections` into lower-cased names. @throws InvalidOptionError (`allowed-collections`). */
export function compileAllowedCollections(list: readonly string[] | undefined): ReadonlySet<string> {
  const names = list ?? DEFAULT_ALLOWED_COLLECTIONS;
  if (!Array.isArray(names) || names.length === 0) {
    throw new InvalidOptionError('allowed-collections', 'allowed-collections must be a non-empty list of collection names');
  }
  return new Set(
    names.map((name: unknown) => {
      if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
        throw new InvalidOptionError('allowed-collections', `allowed-collections: ${JSON.stringify(name)} is not a collection name (1-128 characters, starting with a letter or digit, no '/' or '\\')`);
      }
      return name.toLowerCase();
    }),
  );
}

/*
 * Headers a request may carry once: two Content-Types (or Hosts, Authorizations…) are read as
 * the first by one component and as the last by another, so a check can pass on one value
 * while the VCS acts on the other (RFC 9110 §5.3: only list-valued fields may repeat).
 */
export const SINGLETON_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'content-encoding',
  'content-length',
  'content-type',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'job-token',
  'private-token',
  'proxy-authorization',
  'range',
  'transfer-encoding',
  'user-agent',
  'x-atlassian-token',
  'x-github-api-version',
  'x-request-id',
]);

/** The first singleton header (lower-case) that `rawHeaders` repeats, if any. */
export function repeatedSingletonHeader(rawHeaders: readonly string[]): string | undefined {
  let seen: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = String(rawHeaders[i]).toLowerCase();
    if (!SINGLETON_HEADERS.has(name)) continue;
    seen ??= new Set();
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

/**
 * Checks the parts of a vendor definition that the rule engine does not: the body, collection
 * and redirect hooks and the redirect fields of rules.
 *
 * @throws InvalidVendorError naming the field at fault.
 */
export function validateVendorExtensions(vendor: VendorDefinition): void {
  for (const hook of ['body', 'collection', 'redirectTarget'] as const) {
    if (vendor[hook] !== undefined && typeof vendor[hook] !== 'function') {
      throw new InvalidVendorError(hook, `vendor "${vendor.name}": ${hook} must be a function`);
    }
  }
  vendor.rules.forEach((rule, index) => {
    for (const field of ['followRedirects', 'redirectOnly'] as const) {
      const value = rule[field];
      if (value === undefined) continue;
      if (typeof value !== 'boolean') throw new InvalidVendorError(`rules[${index}].${field}`, `vendor "${vendor.name}": rules[${index}].${field} must be true or false`);
      if (value && rule.method !== 'GET') {
        throw new InvalidVendorError(`rules[${index}].${field}`, `vendor "${vendor.name}": rules[${index}].${field} is only allowed on GET rules`);
      }
    }
  });
}

/*
 * Headers that change what the VCS does with an allowed request: method overrides (Rails/Rack,
 * Grape, ASP.NET and Java frameworks honour them) and GitLab impersonation. The agent does not
 * forward them anyway (outbound-headers.ts); a request carrying one is denied outright
 * because a caller sending it is trying something the rules do not describe.
 */
const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set(['x-http-method-override', 'x-http-method', 'x-method-override', 'sudo']);
/* The same levers as query parameters (Rack::MethodOverride reads `_method`; GitLab `sudo`). */
const FORBIDDEN_QUERY: ReadonlySet<string> = new Set(['_method', 'x-http-method-override', 'x-http-method', 'x-method-override', 'sudo']);

const deny = (reason: string, project?: string): PolicyDecision =>
  project === undefined ? { allow: false, reason } : { allow: false, reason, project };

/**
 * Builds the {@link RequestPolicy} for a vendor definition. Everything is validated and
 * compiled here; `evaluate()` runs the canonical-path checks first, then the rules, then the
 * project checks, and never throws (an unexpected failure in a vendor hook denies).
 *
 * @throws InvalidVendorError when the vendor or an extra rule is malformed.
 * @throws InvalidOptionError (`allowed-projects`) when the pattern is invalid or too costly.
 */
export function createPolicyFromDefinition(vendor: VendorDefinition, options: VendorPolicyOptions = {}): RequestPolicy {
  const allowed = compileAllowedProjects(options.allowedProjects);
  const definition: VendorDefinition =
    options.extraRules === undefined || options.extraRules.length === 0
      ? vendor
      : { ...vendor, rules: [...vendor.rules, ...options.extraRules] };
  // All rules (for redirect targets), and those a caller may request directly.
  const redirectRules = compileRules(definition);
  validateVendorExtensions(definition);
  const rules = definition.rules.some((rule) => rule.redirectOnly === true)
    ? compileRules({ ...definition, rules: definition.rules.filter((rule) => rule.redirectOnly !== true) })
    : redirectRules;
  const { project: projectOf, referencedProjects, check, body: bodyOf, collection: collectionOf, redirectTarget } = definition;
  const allowedCollections = collectionOf === undefined && options.allowedCollections === undefined ? undefined : compileAllowedCollections(options.allowedCollections);

  const checkRef = (ref: ProjectRef | undefined, what: string): string | undefined => {
    if (ref === undefined || typeof ref !== 'object') return `${what} could not be determined`;
    if ('path' in ref && typeof ref.path === 'string') {
      if (allowed.matchesAll || allowed.test(ref.path)) return undefined;
      return `${what} "${ref.path}" is not in allowed-projects`;
    }
    if ('id' in ref && typeof ref.id === 'string') {
      if (allowed.matchesAll) return undefined;
      return `${what} is named by id "${ref.id}"; with allowed-projects set only projects named by path are allowed`;
    }
    return `${what} could not be determined`;
  };

  const evaluate = (compiled: CompiledRules, request: PolicyRequest, root?: PolicyAllow): PolicyDecision => {
    const canonical = checkCanonicalTarget(request.path);
    if (!canonical.ok) return deny(canonical.reason);
    const target = canonical.target;
    const raw = request.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = String(raw[i]).toLowerCase();
      if (FORBIDDEN_HEADERS.has(name)) return deny(`request carries the forbidden header "${name}"`);
    }
    const repeated = repeatedSingletonHeader(raw);
    if (repeated !== undefined) return deny(`request repeats the header "${repeated}", which may appear only once`);
    const match = compiled.match(request.method, target);
    if (match === undefined) return deny(`no ${definition.name} rule allows this ${escapeMethod(request.method)} request`);

    let query: URLSearchParams | undefined;
    if (target.query !== '') {
      query = new URLSearchParams(target.query);
      for (const name of query.keys()) {
        const normalized = normalizeQueryName(name);
        // Also the part before a '.' or '[': Rack reads `sudo[x]` as a `sudo` parameter.
        if (FORBIDDEN_QUERY.has(normalized) || FORBIDDEN_QUERY.has(normalized.split('.')[0] as string)) {
          return deny(`query parameter "${normalized.slice(0, 60)}" is not allowed`);
        }
      }
    }

    if (match.scope !== 'project') {
      // Project rules' hooks refuse encoded slashes in names; a global or cross-project rule
      // has no such hook, and a server that decodes %2F before routing would see other
      // segments than the ones matched (Tomcat ALLOW_ENCODED_SLASH, IIS).
      // Checked on the decoded segments, not on parameter values: a trailing `*name` joins
      // its segments with real '/' separators, which are not encoded slashes.
      for (const segment of target.decodedSegments) {
        if (segment.includes('/') || segment.includes('\\')) return deny(`an encoded '/' or '\\' is not allowed in the path of a ${match.scope} rule`);
      }
    }
    if (collectionOf !== undefined && allowedCollections !== undefined) {
      const collection = collectionOf(match.params);
      if (collection !== undefined && !allowedCollections.has(collection.toLowerCase())) {
        return deny(`collection "${collection.slice(0, 80)}" is not in allowed-collections`);
      }
    }

    let project: string | undefined;
    if (match.scope === 'project') {
      const ref = projectOf?.(match.params);
      const problem = checkRef(ref, 'project');
      if (problem !== undefined) return deny(problem, ref !== undefined && 'path' in ref ? ref.path : undefined);
      if (ref !== undefined && 'path' in ref) project = ref.path;
    } else if (match.scope === 'cross-project' && !allowed.matchesAll) {
      return deny(`"${match.rule.description}" is not scoped to one project; denied because allowed-projects is set`);
    }

    let inspect: PolicyDeny['inspectBody'];
    if (referencedProjects !== undefined || check !== undefined || bodyOf !== undefined) {
      const context: RuleContext = {
        method: request.method,
        rule: match.rule,
        params: match.params,
        query: query ?? new URLSearchParams(),
        rawHeaders: raw,
        hasBody: request.hasBody,
      };
      if (referencedProjects !== undefined) {
        for (const ref of referencedProjects(context)) {
          const problem = checkRef(ref, 'referenced project');
          if (problem !== undefined) return deny(problem, project);
        }
      }
      const veto = check?.(context);
      if (veto !== undefined) return deny(veto, project);
      const inspection = request.hasBody === false || match.rule.graphql !== undefined ? undefined : bodyOf?.(context);
      if (inspection !== undefined) {
        const allow: PolicyAllow = project === undefined
          ? { allow: true, description: match.rule.description, rule: match.key }
          : { allow: true, description: match.rule.description, rule: match.key, project };
        inspect = {
          maxBodyBytes: inspection.maxBodyBytes,
          decide(body: Buffer): PolicyAllow | PolicyDeny {
            const verdict = inspection.check(body);
            if (verdict.deny !== undefined) return deny(verdict.deny, project) as PolicyDeny;
            for (const ref of verdict.projects ?? []) {
              const problem = checkRef(ref, 'project named in the body');
              if (problem !== undefined) return deny(problem, project) as PolicyDeny;
            }
            return allow;
          },
        };
      }
    }
    if (match.rule.graphql !== undefined) {
      // Rails-based servers (GitLab) merge URL parameters over the body's, so a document in
      // the query would run instead of the checked one.
      if (target.query !== '') return deny('a GraphQL request must not carry URL parameters', project);
      return graphqlDecision(match.rule, match.key, raw, project);
    }
    if (inspect !== undefined) {
      return project === undefined
        ? { allow: false, reason: 'the request body was not checked (it must be inspected)', inspectBody: inspect }
        : { allow: false, reason: 'the request body was not checked (it must be inspected)', inspectBody: inspect, project };
    }
    const decision: PolicyAllow = project === undefined
      ? { allow: true, description: match.rule.description, rule: match.key }
      : { allow: true, description: match.rule.description, rule: match.key, project };
    if (request.method !== 'GET' || (match.rule.followRedirects !== true && match.rule.redirectOnly !== true)) return decision;
    return { ...decision, redirects: redirectPolicy(root ?? decision, request) };
  };

  /*
   * Archive downloads answer with a redirect to the VCS's own download host. The agent follows
   * it only while it stays on this VCS (the vendor's redirectTarget, by default the same
   * origin under the base path), checks every target against all rules again (including the
   * redirect-only ones), and requires the repository of the first request.
   */
  const redirectPolicy = (root: PolicyAllow, request: PolicyRequest): RedirectPolicy => ({
    maxHops: MAX_REDIRECT_HOPS,
    follow(location: URL, vcs: URL): RedirectStep | undefined {
      if (location.protocol !== vcs.protocol || location.username !== '' || location.password !== '') return undefined;
      const path = (redirectTarget ?? sameOriginTarget)(location, vcs);
      if (typeof path !== 'string') return undefined;
      const decision = evaluate(redirectRules, { method: 'GET', path, rawHeaders: request.rawHeaders, hasBody: false }, root);
      if (!decision.allow) return { follow: false, reason: `the VCS redirected to a target the rules do not allow: ${decision.reason}` };
      if (root.project !== undefined && decision.project?.toLowerCase() !== root.project.toLowerCase()) {
        return { follow: false, reason: 'the VCS redirected to another repository' };
      }
      return {
        follow: true,
        url: location,
        sameOrigin: location.origin === vcs.origin,
        decision: { ...decision, description: `${root.description} (redirected: ${decision.description})` },
      };
    },
  });

  return Object.freeze({
    name: definition.name,
    evaluate(request: PolicyRequest): PolicyDecision {
      try {
        return evaluate(rules, request);
      } catch {
        // A vendor hook or a malformed request object failed: deny, never crash the agent.
        return deny('the request could not be evaluated');
      }
    },
  });
}

/** Largest GraphQL request body the agent reads to decide (the document plus its variables). */
const MAX_GRAPHQL_BODY_BYTES = 64 * 1024;

/*
 * A GraphQL endpoint carries every operation on one path, so the path decides nothing: the
 * body must name one allowed operation exactly. Ambiguous bodies are denied rather than
 * interpreted: batches (arrays), persisted-query `extensions` (the server would run a
 * document we never saw), unknown keys, non-JSON content types, or a text that differs
 * from the allowed one in any byte.
 */
function graphqlDecision(rule: VendorRule, key: string, rawHeaders: readonly string[], project: string | undefined): PolicyDecision {
  const operations = rule.graphql ?? [];
  const withProject = <T extends object>(decision: T): T => (project === undefined ? decision : { ...decision, project });
  let contentType = '';
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (String(rawHeaders[i]).toLowerCase() === 'content-type') contentType = String(rawHeaders[i + 1]);
  }
  if (!/^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(contentType)) {
    return deny('a GraphQL request must have Content-Type application/json', project);
  }
  const refuse = (reason: string): PolicyDeny => withProject({ allow: false as const, reason });
  return withProject({
    allow: false as const,
    reason: 'the GraphQL operation was not checked (the body must be inspected)',
    inspectBody: {
      maxBodyBytes: MAX_GRAPHQL_BODY_BYTES,
      decide(body: Buffer): PolicyAllow | PolicyDeny {
        const strict = parseStrictJson(body.toString('utf8'));
        // A repeated "query" could be read as the first by the server and the last by us.
        if (!strict.ok) return refuse(`the GraphQL body is refused: ${strict.reason}`);
        const parsed = strict.value;
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return refuse('the GraphQL body must be one operation object (no batches)');
        const request = parsed as Record<string, unknown>;
        for (const field of Object.keys(request)) {
          if (field !== 'query' && field !== 'operationName' && field !== 'variables') return refuse(`the GraphQL body field "${field.slice(0, 40)}" is not allowed`);
        }
        const { query, operationName, variables } = request;
        if (typeof query !== 'string' || typeof operationName !== 'string') return refuse('the GraphQL body needs a query and an operationName');
        if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) {
          return refuse('GraphQL variables must be an object');
        }
        const allowed = operations.find((operation) => operation.operationName === operationName && operation.query === query);
        if (allowed === undefined) return refuse(`the GraphQL operation "${operationName.slice(0, 80)}" is not allowed`);
        return withProject({ allow: true as const, description: `${rule.description}: ${allowed.operationName}`, rule: key });
      },
    },
  });
}

/** The default redirect target mapping: same origin, under the VCS URL's base path. */
function sameOriginTarget(location: URL, vcs: URL): string | undefined {
  if (location.origin !== vcs.origin) return undefined;
  const base = vcs.pathname.replace(/\/+$/, '');
  if (!location.pathname.startsWith(`${base}/`)) return undefined;
  return location.pathname.slice(base.length) + location.search;
}

const METHOD_TOKEN = /^[A-Za-z]{1,16}$/;
function escapeMethod(method: string): string {
  return typeof method === 'string' && METHOD_TOKEN.test(method) ? method : '(invalid method)';
}
