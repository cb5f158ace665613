import { createSecureContext } from 'node:tls';

/**
 * Why TLS material does not load (not PEM, a key that does not match its certificate): OpenSSL's
 * reason without its error-stack prefix, never key material; undefined when it loads.
 */
export function tlsLoadFailure(material: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer | Array<string | Buffer> }): string | undefined {
  try {
    createSecureContext(material);
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.replace(/^error:[0-9A-F]+:/, '').slice(0, 200);
  }
}

/** Whether `value` can be PEM material: non-empty text or a non-empty Buffer (whether it parses is tlsLoadFailure's question). */
export function isPem(value: unknown): value is string | Buffer {
  return (typeof value === 'string' || Buffer.isBuffer(value)) && value.length > 0;
}
