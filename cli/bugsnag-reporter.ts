/*
 * --bugsnag-api-key: unexpected errors (uncaught exceptions, unhandled rejections,
 * internal failures) go to Bugsnag, scrubbed of secrets. Configuration mistakes and
 * credential refusals are the operator's to fix and are never reported. Without a key
 * no reporter exists and nothing leaves the machine.
 */
import type { Agent } from 'node:http';
import BugsnagModule, { type Client, type Event, type NodeConfig } from '@bugsnag/node';
import { AGENT_VERSION } from '../lib/agent/tunnel-client.js';
import { isOperatorError, scrubText } from './error-scrub.js';

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

export { isOperatorError, scrubText };

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
