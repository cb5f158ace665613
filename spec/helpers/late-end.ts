import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { Agent as UndiciAgent, Dispatcher } from 'undici';

/**
 * An undici dispatcher for the agent's VCS requests that holds each response's end until
 * `release()`: the body reaches the gateway, the tunnel's END_STREAM comes late.
 */
export class LateEndDispatcher extends Dispatcher {
  private readonly inner = new UndiciAgent();
  private held: Array<() => void> = [];
  heldCount = 0;
  /** Off: responses end as they come (a warm-up). */
  holding = true;

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.inner.dispatch(options, {
      onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
      onResponseStart: (controller, status, headers, message) => handler.onResponseStart?.(controller, status, headers, message),
      onResponseData: (controller, chunk) => handler.onResponseData?.(controller, chunk),
      onResponseEnd: (controller, trailers) => {
        if (!this.holding) return handler.onResponseEnd?.(controller, trailers);
        this.heldCount++;
        this.held.push(() => handler.onResponseEnd?.(controller, trailers));
      },
      onResponseError: (controller, error) => handler.onResponseError?.(controller, error),
    });
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const end of held) end();
  }

  override close(): Promise<void> {
    return this.inner.close();
  }

  override destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** The server side of each connection accepted on `port()`, seen through node:net's `net.server.socket` channel. */
export function serverSockets(port: () => number): { sockets: Socket[]; stop: () => void } {
  const sockets: Socket[] = [];
  const onSocket = (message: unknown): void => {
    const { socket } = message as { socket: Socket };
    if (socket.localPort === port()) sockets.push(socket);
  };
  subscribe('net.server.socket', onSocket);
  return { sockets, stop: () => unsubscribe('net.server.socket', onSocket) };
}

/**
 * One GET with `Connection: close` (Node's `agent: false`): the caller hangs up as soon as it
 * has the body the Content-Length declared. Resolves once its socket has closed.
 */
export function hangUpCaller(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => {
        const socket = req.socket;
        const done = (): void => resolve({ status: res.statusCode ?? 0, bytes });
        if (socket === null || socket.destroyed) done();
        else socket.once('close', done);
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once the server side of `socket` has closed and its close handlers (which emit on nextTick) have run. */
export async function serverSideClosed(socket: Socket | undefined): Promise<void> {
  if (socket === undefined) throw new Error('the server never accepted the connection');
  if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => setImmediate(resolve));
}
