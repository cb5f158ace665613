import type { Readable } from 'node:stream';

/** What a reader of a caller's streamed request body is told. */
export interface RequestBodyListeners {
  onData(chunk: Buffer | string): void;
  onEnd(): void;
  /** The body failed, or was destroyed before its end. */
  onError(error: Error): void;
}

/**
 * Listens to a caller's streamed request body until the returned function is called. A body
 * destroyed without an error emits neither 'end' nor 'error', only 'close': that counts as a
 * failure too, so a body ends in onEnd or onError, never in silence. Shared by the relays of a
 * body: the tunnel stream, the peer link and the Spacelift call.
 */
export function listenToBody(body: Readable, listeners: RequestBodyListeners): () => void {
  // 'error' is followed by 'close': the body ends once, in onEnd or in onError.
  let ended = false;
  const onEnd = (): void => {
    if (ended) return;
    ended = true;
    listeners.onEnd();
  };
  const onError = (error: Error): void => {
    if (ended) return;
    ended = true;
    listeners.onError(error);
  };
  const onClose = (): void => {
    if (!body.readableEnded) onError(new Error('The request body stream was destroyed before its end'));
  };
  body.on('data', listeners.onData);
  body.on('end', onEnd);
  body.on('error', onError);
  body.on('close', onClose);
  return () => {
    body.off('data', listeners.onData);
    body.off('end', onEnd);
    body.off('error', onError);
    body.off('close', onClose);
  };
}
