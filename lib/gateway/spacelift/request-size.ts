import type { SpaceliftRequest } from '../../protocol/spacelift/privatevcs-schema.js';

/*
 * The protobuf size of a Request carrying an HTTP request, computed before it is sent: a
 * message over the agent's receive limit would fail its call on the agent's side, so an
 * oversized request is refused here (413) and never reaches the agent. Every field is
 * counted even when empty, so the result is an upper bound of what protobufjs writes.
 */

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** A length-delimited field with a one-byte tag (field numbers below 16). */
function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

/** Upper bound of the encoded size of `request` in bytes. */
export function encodedRequestSize(request: SpaceliftRequest): number {
  let size = fieldSize(Buffer.byteLength(request.id));
  const http = request.httpRequest;
  if (http !== undefined && http !== null) {
    let inner = fieldSize(Buffer.byteLength(http.path)) + fieldSize(Buffer.byteLength(http.method)) + fieldSize(http.body.length);
    for (const name of Object.keys(http.headers)) {
      inner += fieldSize(fieldSize(Buffer.byteLength(name)) + fieldSize(Buffer.byteLength(http.headers[name] as string)));
    }
    size += fieldSize(inner);
  }
  return size;
}
