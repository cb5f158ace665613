import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { InvalidOptionError, RequestAbortedError } from '../errors.js';
import { stripHopByHop } from '../protocol/hop-by-hop.js';
import type { ExchangeHandler, ExchangeRequest } from './exchange.js';
import { ResponseCollector, type GatewayResponse } from './gateway-response.js';
import type { ExchangeControl, GatewayRequestInit } from './gateway-types.js';
import { parsePrivateUrl } from './private-url.js';

const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `Gateway.request`: a `private://` URL and fetch-like init in, a response with a streaming body out. */
export function requestThrough(dispatch: (request: ExchangeRequest, handler: ExchangeHandler) => ExchangeControl, url: string, init: GatewayRequestInit): Promise<GatewayResponse> {
  let target;
  try {
    target = parsePrivateUrl(url);
  } catch (error) {
    return Promise.reject(error);
  }
  const method = init.method ?? 'GET';
  if (!METHOD_TOKEN.test(method)) {
    return Promise.reject(new InvalidOptionError('method', `Invalid method "${method.slice(0, 40)}": expected an HTTP token`));
  }
  const collector = new ResponseCollector();
  const signal = init.signal;
  if (signal?.aborted) return Promise.reject(new RequestAbortedError('The request was aborted before it was sent', { cause: signal.reason }));
  const control = dispatch(
    { id: randomUUID(), pool: target.pool, method, path: target.path, rawHeaders: rawHeaderList(init.headers), body: requestBody(init.body), startedAt: performance.now() },
    collector,
  );
  collector.resumeStream = () => control.resume();
  collector.abortStream = (error) => control.abort(error);
  if (signal !== undefined) {
    const onAbort = (): void => control.abort(new RequestAbortedError('The caller aborted the request', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => signal.removeEventListener('abort', onAbort);
    collector.promise.then((response) => {
      response.body.once('close', cleanup);
    }, cleanup);
  }
  return collector.promise;
}

function rawHeaderList(headers: GatewayRequestInit['headers']): string[] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) {
    if (headers.length % 2 !== 0) throw new InvalidOptionError('headers', 'Raw headers must be [name, value, …] pairs');
    return stripHopByHop(headers as readonly string[]);
  }
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers as Record<string, string | readonly string[]>)) {
    if (Array.isArray(value)) for (const item of value as readonly string[]) out.push(name, item);
    else out.push(name, value as string);
  }
  return stripHopByHop(out);
}

function requestBody(body: GatewayRequestInit['body']): Readable | Buffer | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof Readable) return body;
  return Readable.from(body as AsyncIterable<Uint8Array>);
}
