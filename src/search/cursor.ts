import crypto from 'node:crypto';
import { InvalidSearch } from './errors';

/**
 * Opaque keyset cursors: the position after the last row of a page, signed so a client can neither
 * forge one nor read another search's position into it. Bound to the search (resource type and
 * parameters) it was issued for.
 */
export function encodeCursor(secret: Buffer, search: string, position: unknown[]): string {
  const body = Buffer.from(JSON.stringify(position)).toString('base64url');
  return `${body}.${mac(secret, search, body)}`;
}

export function decodeCursor(secret: Buffer, search: string, cursor: string): unknown[] {
  const [body, signature] = cursor.split('.');
  const invalid = new InvalidSearch('_cursor is not a cursor of this search; follow the next link of the previous page', '_cursor');
  if (!body || !signature) throw invalid;
  const expected = Buffer.from(mac(secret, search, body));
  const actual = Buffer.from(signature);
  if (expected.length !== actual.length || !crypto.timingSafeEqual(expected, actual)) throw invalid;
  const position: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  if (!Array.isArray(position)) throw invalid;
  return position;
}

function mac(secret: Buffer, search: string, body: string): string {
  return crypto.createHmac('sha256', secret).update(search).update('\0').update(body).digest('base64url').slice(0, 32);
}
