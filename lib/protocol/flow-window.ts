import type { Http2Session } from 'node:http2';
import { CONNECTION_WINDOW_SIZE } from './http2-settings.js';

/**
 * Raises the connection's receive window once the session is connected (both roles; see
 * http2-settings.ts). Only valid after 'connect' (nodejs/node#38427).
 */
export function openWindows(session: Http2Session): void {
  try {
    session.setLocalWindowSize(CONNECTION_WINDOW_SIZE);
  } catch {
    // The session died while connecting: its 'close' follows.
  }
}
