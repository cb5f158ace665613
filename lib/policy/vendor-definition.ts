/** HTTP methods a rule may allow. Methods are case-sensitive (RFC 9110 §9.1). */
export const RULE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** An HTTP method a rule may allow. */
export type RuleMethod = (typeof RULE_METHODS)[number];

/**
 * What a rule's requests are about:
 * - `project` (default): one repository, named in the path; checked against allowed-projects.
 * - `global`: nothing project-specific (the token's own user, API discovery); always allowed.
 * - `cross-project`: spans projects (list all repositories, unscoped build status); denied
 *   whenever allowed-projects is not `.*`.
 */
export type RuleScope = 'project' | 'global' | 'cross-project';

/** One allowed request shape. */
export interface VendorRule {
  readonly method: RuleMethod;
  /**
   * Path pattern, matched segment by segment against the raw (still encoded) path:
   * literal segments match exactly, `:name` matches one non-empty segment, and `*name`
   * (at most one per pattern) matches one or more segments: the rest of the path when it is
   * last, else those up to the fixed segments after it (`/*repository/info/refs`). At least
   * one segment must be literal. Parameter values must also match the vendor's `params` pattern of that name.
   */
  readonly path: string;
  /** What the platform uses it for, e.g. "Get file contents". Logged with every request. */
  readonly description: string;
  /** Defaults to `project`. */
  readonly scope?: RuleScope;
  /**
   * For a GraphQL endpoint (`POST /api/graphql`): the exact operations allowed. The body must
   * be one JSON object whose `query` equals one of these texts byte for byte and whose
   * `operationName` is that operation's; anything else (other text, batches, persisted-query
   * extensions, form bodies) is denied. Without this field a GraphQL path allows nothing.
   */
  readonly graphql?: readonly GraphqlOperation[];
  /**
   * Follow the VCS's redirects inside the agent (archive downloads, which VCSs answer with a
   * redirect to their own download host). Only redirects that stay on the same VCS are
   * followed (same origin, or a host the vendor's `redirectTarget` maps), each target is
   * checked against the rules again, and at most {@link MAX_REDIRECT_HOPS} are followed;
   * any other redirect goes back to the caller unchanged.
   */
  readonly followRedirects?: boolean;
  /** Reachable only as the target of a followed redirect, never requested directly (GitHub `/_codeload/…`). */
  readonly redirectOnly?: boolean;
}

/** Most redirects the agent follows for one request of a `followRedirects` rule. */
export const MAX_REDIRECT_HOPS = 3;

/** What a vendor's body check decided: a denial, or the projects the body names (each is checked). */
export interface BodyVerdict {
  readonly deny?: string;
  readonly projects?: readonly ProjectRef[];
}

/** A vendor's request to read the body before deciding (the server reads parameters from it). */
export interface BodyInspection {
  /** Most bytes read; a longer body is refused (413). */
  readonly maxBodyBytes: number;
  check(body: Buffer): BodyVerdict;
}

/** One GraphQL operation a rule allows. */
export interface GraphqlOperation {
  readonly operationName: string;
  /** The document exactly as the client sends it. */
  readonly query: string;
}

/** How a request names a project: by canonical path (`group/repository`) or by an opaque id. */
export type ProjectRef = { readonly path: string } | { readonly id: string };

/** Path parameter values of a matched rule, percent-decoded (`group%2Frepo` → `group/repo`). */
export type RuleParams = Readonly<Record<string, string>>;

/** What a vendor hook sees of a request that matched one of its rules. */
export interface RuleContext {
  readonly method: string;
  readonly rule: VendorRule;
  readonly params: RuleParams;
  /** The parsed query; do not modify. */
  readonly query: URLSearchParams;
  readonly rawHeaders: readonly string[];
  /** Whether the request has a body (`undefined`: unknown, assume it may). */
  readonly hasBody: boolean | undefined;
}

/** A vendor: its rules and how to find the project a request is about. */
export interface VendorDefinition {
  /** Short lower-case name used in logs, e.g. `gitlab`. */
  readonly name: string;
  /** The allowlist; anything no rule matches is denied. */
  readonly rules: readonly VendorRule[];
  /**
   * Match literal path segments case-insensitively, for servers whose routing ignores case
   * (Azure DevOps Server on ASP.NET answers `pullRequests` and `pullrequests` alike).
   */
  readonly caseInsensitivePaths?: boolean;
  /**
   * Regular-expression sources (whole-segment match, case-sensitive) constraining path
   * parameters by name, e.g. `{ merge_request_iid: '[0-9]+' }`. Parameters without one match
   * any segment that passed the canonical-path checks.
   */
  readonly params?: Readonly<Record<string, string>>;
  /** The project a `project`-scoped rule's request is about; `undefined` denies the request. */
  readonly project?: (params: RuleParams) => ProjectRef | undefined;
  /** Other projects a request names (query parameters, cross-repository compares); each is checked too. */
  readonly referencedProjects?: (context: RuleContext) => readonly ProjectRef[];
  /** Vendor-specific veto: return a denial reason, or `undefined` to let the request through. */
  readonly check?: (context: RuleContext) => string | undefined;
  /**
   * Parameters the server reads from the body (GitLab merges JSON bodies into its params):
   * return an inspection to have the body checked before the request is forwarded, or
   * `undefined` when the body needs no check. Called only for requests that may have a body.
   */
  readonly body?: (context: RuleContext) => BodyInspection | undefined;
  /**
   * The collection (server-level container above projects, Azure DevOps) a request addresses,
   * or `undefined` when its rule names none. When set, the value must be one of the policy's
   * `allowedCollections` (compared case-insensitively), or the request is denied.
   */
  readonly collection?: (params: RuleParams) => string | undefined;
  /**
   * Maps a redirect's target to the path (with query) the rules are checked against, or
   * `undefined` when it leaves this VCS. `vcs` is the agent's VCS URL (origin and base path).
   * Without this hook only same-origin targets under the base path are followed.
   */
  readonly redirectTarget?: (location: URL, vcs: URL) => string | undefined;
}

/** Input of {@link defineVendor}: a complete vendor, or an extension of one via `extends`. */
export interface VendorDefinitionInput {
  readonly name: string;
  /** A vendor to start from (a built-in or another `defineVendor()` result). Its hooks are kept unless overridden. */
  readonly extends?: VendorDefinition;
  /** Rules added after the base's. */
  readonly rules?: readonly VendorRule[];
  /** Base rules to drop, as `"METHOD /path/pattern"` keys (see {@link ruleKey}). Unknown keys are an error. */
  readonly without?: readonly string[];
  readonly params?: Readonly<Record<string, string>>;
  readonly caseInsensitivePaths?: boolean;
  readonly project?: VendorDefinition['project'];
  readonly referencedProjects?: VendorDefinition['referencedProjects'];
  readonly check?: VendorDefinition['check'];
  readonly body?: VendorDefinition['body'];
  readonly collection?: VendorDefinition['collection'];
  readonly redirectTarget?: VendorDefinition['redirectTarget'];
}

/** The key that identifies a rule: `"GET /api/v4/projects/:project"`. */
export function ruleKey(rule: Pick<VendorRule, 'method' | 'path'>): string {
  return `${rule.method} ${rule.path}`;
}
