/**
 * What the agent knows about a proxied request when it asks the policy.
 * `path` is the request target exactly as received from the gateway (origin form,
 * query included, nothing decoded); the agent forwards exactly these bytes if allowed.
 */
export interface PolicyRequest {
  readonly method: string;
  readonly path: string;
  /** Raw header pairs `[name, value, name, value, …]` as the caller sent them. */
  readonly rawHeaders: readonly string[];
  /** Whether a body follows; `undefined` when the caller cannot tell (policies then assume one may). */
  readonly hasBody?: boolean;
}

/** The request is allowed; `description` says what it is for ("Get file contents"). */
export interface PolicyAllow {
  readonly allow: true;
  readonly description: string;
  /** Canonical `group/repository` the request is scoped to, when it has one. */
  readonly project?: string;
  /** The rule that matched, for logs and metrics (for example `GET /api/v4/projects/:id`). */
  readonly rule?: string;
  /**
   * Set when the agent should follow the VCS's redirects for this request itself (archive
   * downloads). A consumer that ignores it passes every redirect back to the caller.
   */
  readonly redirects?: RedirectPolicy;
}

/** How the agent follows a VCS redirect for an allowed request. */
export interface RedirectPolicy {
  /** Most redirects followed for the request. */
  readonly maxHops: number;
  /**
   * Decides on a redirect's absolute target. `vcs` is the agent's VCS URL (origin and base
   * path). Returns `undefined` when the target is not on this VCS (the redirect then goes back
   * to the caller unchanged), a denial when it is but the rules do not allow it, or the URL
   * to request next with the decision for it.
   */
  follow(location: URL, vcs: URL): RedirectStep | undefined;
}

/** What {@link RedirectPolicy.follow} decided for a redirect on the same VCS. */
export type RedirectStep =
  | { readonly follow: true; readonly url: URL; readonly decision: PolicyAllow; readonly sameOrigin: boolean }
  | { readonly follow: false; readonly reason: string };

/** The request is denied and never reaches the VCS; `reason` is sent back with the 403. */
export interface PolicyDeny {
  readonly allow: false;
  readonly reason: string;
  readonly project?: string;
  /**
   * Set when only the body can decide (a GraphQL operation): the agent may read up to
   * `maxBodyBytes` of the body and ask `decide(body)`. A consumer that ignores this field
   * denies, so the secure reading is the default one.
   */
  readonly inspectBody?: { readonly maxBodyBytes: number; decide(body: Buffer): PolicyAllow | PolicyDeny };
}

export type PolicyDecision = PolicyAllow | PolicyDeny;

/**
 * Decides, per request, whether the agent forwards it to the VCS.
 * Implementations must be synchronous, side-effect free and deny anything they do not
 * explicitly recognise.
 */
export interface RequestPolicy {
  /** A short name for logs, such as the vendor (`gitlab`). */
  readonly name: string;
  evaluate(request: PolicyRequest): PolicyDecision;
}
