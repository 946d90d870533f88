import crypto from 'node:crypto';
import { InvalidSearch } from './errors';

/**
 * Opaque keyset cursors: the position after the last row of a page (its sort values, which may be a
 * name or a birth date, and its id), encrypted and authenticated with AES-256-GCM so a client can
 * neither read nor forge one. The search it was issued for (resource type and parameters) is the
 * additional authenticated data: a cursor only continues its own search.
 */
export function encodeCursor(secret: Buffer, search: string, position: unknown[]): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', cursorKey(secret), iv);
  cipher.setAAD(Buffer.from(search));
  const body = Buffer.concat([cipher.update(JSON.stringify(position), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

export function decodeCursor(secret: Buffer, search: string, cursor: string): unknown[] {
  const invalid = new InvalidSearch('_cursor is not a cursor of this search; follow the next link of the previous page', '_cursor');
  const raw = Buffer.from(cursor, 'base64url');
  if (raw.length < 12 + 16 + 2 || raw.toString('base64url') !== cursor) throw invalid;
  let position: unknown;
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', cursorKey(secret), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(search));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    const plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
    position = JSON.parse(plain.toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(position)) throw invalid;
  return position;
}

const keys = new WeakMap<Buffer, Buffer>();

/** A key of its own for cursors, derived from the gateway secret (never the secret itself). */
function cursorKey(secret: Buffer): Buffer {
  let key = keys.get(secret);
  if (!key) {
    key = Buffer.from(crypto.hkdfSync('sha256', secret, Buffer.alloc(0), 'medilens search cursor', 32));
    keys.set(secret, key);
  }
  return key;
}
