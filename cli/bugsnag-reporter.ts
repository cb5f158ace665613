/*
 * --bugsnag-api-key: unexpected errors (uncaught exceptions, unhandled rejections,
 * internal failures) go to Bugsnag, scrubbed of secrets. Configuration mistakes and
 * credential refusals are the operator's to fix and are never reported. Without a key
 * no reporter exists and nothing leaves the machine.
 */
import type { Agent } from 'node:http';
import BugsnagModule, { type Client, type Event, type NodeConfig } from '@bugsnag/node';
import { AGENT_VERSION } from '../lib/agent/tunnel-client.js';
import { escapeLogValue, redactPathForLog } from '../lib/policy/log-sanitize.js';

/*
 * @bugsnag/node is CommonJS whose typings declare `export default`; under NodeNext the
 * typings then put the client factory on `.default`, while at run time the module object
 * is the factory itself (it also sets `.default`). Accept both.
 */
interface BugsnagFactory {
  createClient(config: NodeConfig): Client;
}
const Bugsnag: BugsnagFactory =
  (BugsnagModule as unknown as { default?: BugsnagFactory }).default ?? (BugsnagModule as unknown as BugsnagFactory);

/** Bugsnag's public notify endpoint; overridable for tests and self-hosted Bugsnag. */
export const DEFAULT_BUGSNAG_NOTIFY = 'https://notify.bugsnag.com';
/** Sessions are not tracked; the endpoint is only given because Bugsnag requires both. */
export const DEFAULT_BUGSNAG_SESSIONS = 'https://sessions.bugsnag.com';

/** Error codes that describe the operator's configuration, not a bug: never reported. */
const NOT_REPORTED_CODES: ReadonlySet<string> = new Set([
  'VCS_INVALID_OPTION',
  'VCS_INVALID_TOKEN',
  'VCS_AUTH_FAILED',
  'VCS_PROXY_AUTH_REQUIRED',
]);

/** Options of {@link createBugsnagReporter}. */
export interface BugsnagReporterOptions {
  apiKey: string;
  /** Notify URL (default {@link DEFAULT_BUGSNAG_NOTIFY}). */
  notifyEndpoint?: string;
  /** Sessions URL (default {@link DEFAULT_BUGSNAG_SESSIONS}; sessions are never sent). */
  sessionsEndpoint?: string;
  /** Exact strings that must never be sent (the pool token and key, proxy credentials). */
  secrets: readonly string[];
  /** Agent for the HTTPS request to Bugsnag (e.g. through HTTPS_PROXY). */
  agent?: Agent;
  /** Bugsnag `releaseStage` (default `production`). */
  releaseStage?: string;
  /** Where Bugsnag's own delivery failures are logged. */
  onDeliveryError?: (message: string) => void;
}

/** What the CLI calls. */
export interface ErrorReporter {
  /** Reports `error` unless it is a configuration or credentials error; resolves once sent (or failed, or after `timeoutMs`). */
  report(error: unknown, context: string, timeoutMs?: number): Promise<void>;
}

/** Whether an error is a configuration or credential problem, which is never reported. */
export function isOperatorError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NOT_REPORTED_CODES.has(code)) return true;
  return (error as { name?: unknown }).name === 'ConfigError';
}

/*
 * Credential-looking fragments a message might carry even though the library never puts
 * them there on purpose: Authorization values, bearer tokens, token query parameters,
 * user-info in URLs.
 */
const BEARER = /\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi;
const KEY_VALUE = /\b([\w-]*(?:token|secret|passw|key|auth|credential|signature)[\w-]*)(["']?\s*[:=]\s*["']?)[^\s"'&,;]+/gi;

/** Removes secrets from free text: the given exact strings, then credential-looking fragments. */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  out = out.replace(BEARER, '$1 [REDACTED]').replace(URL_USERINFO, '$1[REDACTED]@').replace(KEY_VALUE, '$1$2[REDACTED]');
  return escapeLogValue(redactPathForLog(out)).slice(0, 2000);
}

function scrubEvent(event: Event, secrets: readonly string[]): void {
  // No request details, bodies, breadcrumbs (they could echo logged data) or metadata.
  event.request = {};
  event.breadcrumbs = [];
  const withMetadata = event as Event & { _metadata?: Record<string, unknown> };
  if (withMetadata._metadata !== undefined) withMetadata._metadata = {};
  event.context = event.context === undefined ? undefined : scrubText(event.context, secrets);
  event.setUser(undefined, undefined, undefined);
  for (const error of event.errors) {
    error.errorMessage = scrubText(error.errorMessage, secrets);
    for (const frame of error.stacktrace) {
      // No source code around frames (sendCode is off; belt and braces).
      (frame as { code?: unknown }).code = undefined;
    }
  }
}

/** Starts a Bugsnag client for the agent. Nothing is sent until `report` is called. */
export function createBugsnagReporter(options: BugsnagReporterOptions): ErrorReporter {
  const secrets = options.secrets.filter((secret) => secret.length > 0);
  const client: Client = Bugsnag.createClient({
    apiKey: options.apiKey,
    endpoints: { notify: options.notifyEndpoint ?? DEFAULT_BUGSNAG_NOTIFY, sessions: options.sessionsEndpoint ?? DEFAULT_BUGSNAG_SESSIONS },
    appType: 'vcs-agent',
    appVersion: AGENT_VERSION,
    releaseStage: options.releaseStage ?? 'production',
    // The CLI installs its own process handlers, so it can skip operator errors and drain.
    autoDetectErrors: false,
    autoTrackSessions: false,
    enabledBreadcrumbTypes: [],
    sendCode: false,
    redactedKeys: [/token/i, /secret/i, /key/i, /passw/i, /auth/i, /cookie/i, /credential/i, 'body'],
    logger: {
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: (...args: unknown[]) => options.onDeliveryError?.(scrubText(args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' '), secrets)),
    },
    ...(options.agent === undefined ? {} : { agent: options.agent }),
    onError: (event: Event) => {
      scrubEvent(event, secrets);
      return true;
    },
  });

  return {
    report(error, context, timeoutMs = 5_000) {
      if (isOperatorError(error)) return Promise.resolve();
      const reported = error instanceof Error ? error : new Error(typeof error === 'string' ? error : 'Non-error thrown');
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref();
        client.notify(
          reported,
          (event) => {
            event.context = context;
            event.severity = 'error';
            event.unhandled = true;
          },
          () => {
            clearTimeout(timer);
            resolve();
          },
        );
      });
    },
  };
}
