import { compileAllowedProjects } from './allowed-projects.js';
import { checkCanonicalTarget } from './canonical-path.js';
import type { PolicyAllow, PolicyDecision, PolicyDeny, PolicyRequest, RequestPolicy } from './request-policy.js';
import { normalizeQueryName } from './query-names.js';
import { compileRules } from './rule-engine.js';
import type { ProjectRef, RuleContext, VendorDefinition, VendorRule } from './vendor-definition.js';

/** Options of {@link createPolicyFromDefinition}. */
export interface VendorPolicyOptions {
  /** Regular expression a project's whole canonical `group/repository` must match (case-insensitive). Default `.*`. */
  readonly allowedProjects?: string;
  /** Rules added to the vendor's own (e.g. from `--rules-file`). */
  readonly extraRules?: readonly VendorRule[];
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
  const rules = compileRules(definition);
  const { project: projectOf, referencedProjects, check } = definition;

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

  const evaluate = (request: PolicyRequest): PolicyDecision => {
    const canonical = checkCanonicalTarget(request.path);
    if (!canonical.ok) return deny(canonical.reason);
    const target = canonical.target;
    const raw = request.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = String(raw[i]).toLowerCase();
      if (FORBIDDEN_HEADERS.has(name)) return deny(`request carries the forbidden header "${name}"`);
    }
    const match = rules.match(request.method, target);
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

    let project: string | undefined;
    if (match.scope === 'project') {
      const ref = projectOf?.(match.params);
      const problem = checkRef(ref, 'project');
      if (problem !== undefined) return deny(problem, ref !== undefined && 'path' in ref ? ref.path : undefined);
      if (ref !== undefined && 'path' in ref) project = ref.path;
    } else if (match.scope === 'cross-project' && !allowed.matchesAll) {
      return deny(`"${match.rule.description}" is not scoped to one project; denied because allowed-projects is set`);
    }

    if (referencedProjects !== undefined || check !== undefined) {
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
    }
    if (match.rule.graphql !== undefined) return graphqlDecision(match.rule, match.key, raw, project);
    return project === undefined
      ? { allow: true, description: match.rule.description, rule: match.key }
      : { allow: true, description: match.rule.description, rule: match.key, project };
  };

  return Object.freeze({
    name: definition.name,
    evaluate(request: PolicyRequest): PolicyDecision {
      try {
        return evaluate(request);
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
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {
          return refuse('the GraphQL body is not JSON');
        }
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

const METHOD_TOKEN = /^[A-Za-z]{1,16}$/;
function escapeMethod(method: string): string {
  return typeof method === 'string' && METHOD_TOKEN.test(method) ? method : '(invalid method)';
}
