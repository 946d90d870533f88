import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';
import { decryptField, PHI_COLUMNS, type PhiColumn } from '../../src/phi/cipher';
import { parsePhiKeys, type PhiKeyRing } from '../../src/phi/keyring';
import { insertUser } from '../support/fixtures';

export const newKey = (): string => crypto.randomBytes(32).toString('base64');

/** Rings sharing keys by id, as an operator's PHI_KEYS would over a rotation. */
export function rings(): { keys: Record<string, string>; ring: (...kids: string[]) => PhiKeyRing } {
  const keys: Record<string, string> = { k0: newKey(), k1: newKey(), k2: newKey() };
  return { keys, ring: (...kids) => parsePhiKeys(kids.map((kid) => `${kid}:${keys[kid]}`).join(',')) };
}

/** A stored column as the database holds it: JSON text, or undefined for the column default. */
export type StoredColumns = Partial<Record<PhiColumn, string | null>>;

/** A patient with a profile whose PHI columns hold exactly the given JSON text (SQL NULL for null). */
export async function insertProfile(ds: DataSource, organizationId: string, name: string, columns: StoredColumns): Promise<string> {
  const userId = await insertUser(ds, organizationId, name);
  const given = PHI_COLUMNS.filter((c) => columns[c] !== undefined);
  await ds.query(
    `INSERT INTO user_profiles (user_id${given.map((c) => `, ${c}`).join('')})
     VALUES ($1${given.map((_, i) => `, $${i + 2}::jsonb`).join('')})`,
    [userId, ...given.map((c) => columns[c])],
  );
  return userId;
}

export interface RawProfile {
  user_id: string;
  medical_history: string | null;
  medications: string | null;
  allergies: string | null;
}

/** The PHI columns as stored (JSON text, so JSON null and SQL NULL stay apart), by user id. */
export async function rawProfiles(ds: DataSource): Promise<Map<string, RawProfile>> {
  const rows: RawProfile[] = await ds.query(
    `SELECT user_id, ${PHI_COLUMNS.map((c) => `${c}::text AS ${c}`).join(', ')} FROM user_profiles ORDER BY user_id`,
  );
  return new Map(rows.map((r) => [r.user_id, r]));
}

/** What a profile's columns decrypt to; SQL NULL as undefined. */
export function decrypted(ring: PhiKeyRing, row: RawProfile): Record<PhiColumn, unknown> {
  const out = {} as Record<PhiColumn, unknown>;
  for (const c of PHI_COLUMNS) out[c] = row[c] === null ? undefined : decryptField(ring, c, row.user_id, JSON.parse(row[c]!));
  return out;
}
