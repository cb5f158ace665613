import type { Http2Session } from 'node:http2';

/** How a liveness probe ended. */
export type ProbeResult = 'alive' | 'silent' | 'gone';

/**
 * Sends one HTTP/2 PING (RFC 9113 §6.7: the peer ACKs it ahead of queued DATA) and reports
 * within `timeoutMs`: `alive` on the ACK (or when `answeredSince(sentAt)` says another
 * answer came, such as a control-stream pong), `silent` when nothing came (a half-open
 * connection), `gone` when the session went away first (its own 'close' handles that).
 */
export function probeLiveness(session: Http2Session, timeoutMs: number, done: (result: ProbeResult) => void, answeredSince?: (sentAt: number) => boolean): void {
  const sentAt = Date.now();
  let settled = false;
  const settle = (result: ProbeResult): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    done(result);
  };
  const timer = setTimeout(() => {
    if (session.closed || session.destroyed) settle('gone');
    else settle(answeredSince?.(sentAt) === true ? 'alive' : 'silent');
  }, timeoutMs);
  timer.unref();
  try {
    session.ping((error) => {
      // ERR_HTTP2_PING_CANCEL: the session is going away.
      if (error === null) settle('alive');
      else if (session.destroyed) settle('gone');
    });
  } catch {
    // Too many outstanding pings or a closing session: the timer decides.
  }
}
