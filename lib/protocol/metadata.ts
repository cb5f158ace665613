import { InvalidOptionError, ProtocolError } from '../errors.js';
import { MAX_METADATA_KEY_LENGTH, MAX_METADATA_TAGS, MAX_METADATA_VALUE_LENGTH } from './constants.js';

/*
 * Metadata tags travel as JSON in the `vcs-agent-metadata` header of the connect stream
 * (docs/protocol.md § 2). The agent checks what its operator configured (a clear option
 * error); the gateway checks what arrives (a protocol error, refused with 400 `metadata`).
 */

const TAG_NAME = /^[A-Za-z0-9_.-]+$/;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Checks configured tags and returns a frozen copy; `InvalidOptionError('metadata')` names the bad tag. */
export function validateMetadata(metadata: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const entries = Object.entries(metadata);
  if (entries.length > MAX_METADATA_TAGS) throw new InvalidOptionError('metadata', `Too many metadata tags (${entries.length}): at most ${MAX_METADATA_TAGS}`);
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > MAX_METADATA_KEY_LENGTH || !TAG_NAME.test(key)) {
      throw new InvalidOptionError('metadata', `Invalid metadata tag name "${key.slice(0, 80)}": expected 1-${MAX_METADATA_KEY_LENGTH} letters, digits, '_', '.' or '-'`);
    }
    if (typeof value !== 'string' || value.length > MAX_METADATA_VALUE_LENGTH || CONTROL_CHARACTERS.test(value)) {
      throw new InvalidOptionError('metadata', `Invalid value of metadata tag "${key}": expected at most ${MAX_METADATA_VALUE_LENGTH} printable characters`);
    }
  }
  return Object.freeze({ ...metadata });
}

/** The header value for validated tags. */
export function encodeMetadata(metadata: Readonly<Record<string, string>>): string {
  return JSON.stringify(metadata);
}

/** Parses the header the agent sent; a `ProtocolError` for anything but a small object of short strings. */
export function decodeMetadata(value: string | undefined): Record<string, string> {
  if (value === undefined || value === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ProtocolError('Metadata is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ProtocolError('Metadata must be a JSON object');
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > MAX_METADATA_TAGS) throw new ProtocolError(`At most ${MAX_METADATA_TAGS} metadata tags are accepted`);
  const out: Record<string, string> = {};
  for (const [key, tag] of entries) {
    if (key.length === 0 || key.length > MAX_METADATA_KEY_LENGTH || typeof tag !== 'string' || tag.length > MAX_METADATA_VALUE_LENGTH) {
      throw new ProtocolError('Metadata tags must be short strings');
    }
    out[key] = tag;
  }
  return out;
}
