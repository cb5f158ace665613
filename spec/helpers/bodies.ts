import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = Buffer.alloc(256 * 1024, 'vcs-agent streaming test ');

/** A body of `size` bytes made of one repeated chunk, produced only as fast as it is read. */
export function generatedBody(size: number, chunk: Buffer = CHUNK): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      this.push(piece);
    },
  });
}

/** SHA-256 of what `generatedBody(size, chunk)` produces. */
export function generatedDigest(size: number, chunk: Buffer = CHUNK): string {
  const hash = createHash('sha256');
  let left = size;
  while (left > 0) {
    const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
    hash.update(piece);
    left -= piece.length;
  }
  return hash.digest('hex');
}

/** Reads a stream to the end, returning its byte count and SHA-256. */
export async function digestStream(stream: AsyncIterable<unknown>): Promise<{ bytes: number; digest: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, digest: hash.digest('hex') };
}
