import { ProtocolError } from '../../errors.js';
import { escapeLogValue } from '../../policy/log-sanitize.js';
import { agentErrorResponse, isKnownErrorCode, statusForCode } from '../../protocol/error-response.js';
import { stripHopByHop } from '../../protocol/hop-by-hop.js';
import { mapToRawHeaders } from '../../protocol/spacelift/header-map.js';
import type { SpaceliftResponse } from '../../protocol/spacelift/privatevcs-schema.js';

/** A whole response to hand to the exchange handler. */
export interface AgentAnswer {
  readonly status: number;
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

/** Longest agent error text passed on to the caller. */
const MAX_ERROR_TEXT = 500;
/** `VCS_DENIED: <reason>`: our own agent in Spacelift mode names the code of its answer so. */
const CODED_ERROR = /^(VCS_[A-Z0-9_]{1,40}):[ \t]*/;

/**
 * What the caller gets for an agent's `error` Response: the same answer our own agent makes
 * for a failure (status from the error table, JSON body, `vcs-agent-error` header), so the
 * front door, `Gateway.request()` and the access log treat both protocols alike. A text
 * starting with one of our codes keeps it (`VCS_DENIED:` → 403); any other text (the Go
 * agent's "couldn't do request: …") is `VCS_AGENT_ERROR` (502).
 */
export function errorAnswer(text: string): AgentAnswer {
  const match = CODED_ERROR.exec(text);
  const known = match !== null && isKnownErrorCode(match[1] as string);
  const code = known ? (match[1] as string) : 'VCS_AGENT_ERROR';
  const detail = known ? text.slice(match[0].length) : text;
  const message = escapeLogValue(detail.trim().slice(0, MAX_ERROR_TEXT)) || 'The agent reported an error without a message';
  const { headers, body } = agentErrorResponse(code, message);
  return { status: statusForCode(code), rawHeaders: headers, body };
}

/**
 * The HTTP answer carried by an `httpResponse`. Headers lose the hop-by-hop ones (as on our
 * path) and get a Content-Length that matches the body the message carries whole; a HEAD or
 * 304 answer keeps the agent's, which describes a body that is never sent.
 */
export function httpAnswer(response: NonNullable<SpaceliftResponse['httpResponse']>, method: string): AgentAnswer {
  const status = Number(response.status);
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new ProtocolError(`The Spacelift agent answered with an invalid HTTP status ${String(response.status).slice(0, 20)}`);
  const body = Buffer.isBuffer(response.body) ? response.body : Buffer.from(response.body ?? []);
  const raw = stripHopByHop(mapToRawHeaders(response.headers ?? {}));
  const keepLength = body.length === 0 && (method === 'HEAD' || status === 304);
  const rawHeaders: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!keepLength && raw[i] === 'content-length') continue;
    rawHeaders.push(raw[i] as string, raw[i + 1] as string);
  }
  const bodyless = status === 204 || status === 304 || method === 'HEAD';
  if (!keepLength && !bodyless) rawHeaders.push('content-length', String(body.length));
  return { status, rawHeaders, body: bodyless ? Buffer.alloc(0) : body };
}
