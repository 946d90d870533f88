import type { DataSource, EntityManager } from 'typeorm';
import { withMaintenanceContext } from '../db/context';
import { decryptField, encryptField, ENC, isEnvelope, PHI_COLUMNS, type PhiColumn } from './cipher';
import type { PhiKeyRing } from './keyring';
import { assertPhiKeysCoverDatabase } from './stored';

/**
 * Re-encrypts every PHI field of user_profiles that is not under the ring's current key: ciphertexts
 * under an older key, and legacy plaintext. SQL NULL stays NULL (nothing to hide); any JSON value,
 * the default '[]' included, is encrypted, so the database does not reveal which patients have a
 * history, medications or allergies.
 *
 * Without downtime: keyset batches by user_id, each its own short transaction whose rows are locked
 * with FOR UPDATE SKIP LOCKED, so a row another transaction is writing is passed over (and picked up by
 * the next pass) instead of waited for; readers are never blocked. A run that finds every field under
 * the current key changes nothing.
 */

export interface RotationOptions {
  /** Rows per transaction. */
  batchSize?: number;
  /** Called after each committed batch with rows re-encrypted so far and rows to do. */
  onProgress?: (done: number, total: number) => void;
}

export interface RotationSummary {
  currentKid: string;
  /** Rows re-encrypted. */
  rows: number;
  /** Rows that had a field under each older key id (a row with two old keys counts under both). */
  byOldKey: Record<string, number>;
  /** Rows that had a plaintext field. */
  plaintext: number;
  /** Rows still not under the current key: locked by other transactions on every pass. */
  left: number;
  elapsedMs: number;
}

const DEFAULT_BATCH = 500;
/** Passes over the table when other transactions held rows; each later pass only finds those. */
const MAX_PASSES = 5;
const BEFORE_ALL = '00000000-0000-0000-0000-000000000000';

/** A field needs work unless it is NULL or an envelope under the current key ($1). */
const STALE = PHI_COLUMNS.map((c) => `(${c} IS NOT NULL AND (${c}->>'enc' IS DISTINCT FROM '${ENC}' OR ${c}->>'kid' IS DISTINCT FROM $1))`).join(' OR ');

type StoredRow = { user_id: string } & Record<PhiColumn, string | null>;

export async function rotatePhiKeys(ds: DataSource, ring: PhiKeyRing, opts: RotationOptions = {}): Promise<RotationSummary> {
  const started = Date.now();
  const batchSize = opts.batchSize ?? DEFAULT_BATCH;
  // Fail before writing anything: a key missing for some rows would otherwise leave a half-done rotation.
  await assertPhiKeysCoverDatabase(ds, ring);
  const summary: RotationSummary = { currentKid: ring.current, rows: 0, byOldKey: {}, plaintext: 0, left: 0, elapsedMs: 0 };
  let total = await countStale(ds, ring);
  opts.onProgress?.(0, total);
  for (let pass = 0; pass < MAX_PASSES && total > summary.rows; pass++) {
    const before = summary.rows;
    let after = BEFORE_ALL;
    for (;;) {
      const last = await withMaintenanceContext(ds, (tx) => rotateBatch(tx, ring, after, batchSize, summary));
      if (last === null) break;
      after = last;
      total = Math.max(total, summary.rows);
      opts.onProgress?.(summary.rows, total);
    }
    summary.left = await countStale(ds, ring);
    if (summary.left === 0 || summary.rows === before) break;
    total = summary.rows + summary.left;
  }
  summary.elapsedMs = Date.now() - started;
  return summary;
}

/** Re-encrypts the next batch after `after`; returns the last user_id it looked at, null at the end. */
async function rotateBatch(tx: EntityManager, ring: PhiKeyRing, after: string, batchSize: number, summary: RotationSummary): Promise<string | null> {
  // ::text keeps a JSON null apart from SQL NULL (the driver turns both into null).
  const rows: StoredRow[] = await tx.query(
    `SELECT user_id, ${PHI_COLUMNS.map((c) => `${c}::text AS ${c}`).join(', ')}
       FROM user_profiles
      WHERE user_id > $2 AND (${STALE})
      ORDER BY user_id
      LIMIT $3
      FOR UPDATE SKIP LOCKED`,
    [ring.current, after, batchSize],
  );
  if (rows.length === 0) return null;
  const values: Record<PhiColumn, (string | null)[]> = { medical_history: [], medications: [], allergies: [] };
  for (const row of rows) {
    const oldKeys = new Set<string | null>();
    for (const column of PHI_COLUMNS) {
      const text = row[column];
      const stored: unknown = text === null ? null : JSON.parse(text);
      if (text === null || (isEnvelope(stored) && stored.kid === ring.current)) {
        values[column].push(text);
        continue;
      }
      oldKeys.add(isEnvelope(stored) ? stored.kid : null);
      const plain = decryptField(ring, column, row.user_id, stored);
      values[column].push(JSON.stringify(encryptField(ring, column, row.user_id, plain)));
    }
    for (const kid of oldKeys) {
      if (kid === null) summary.plaintext++;
      else summary.byOldKey[kid] = (summary.byOldKey[kid] ?? 0) + 1;
    }
  }
  await tx.query(
    `UPDATE user_profiles p SET ${PHI_COLUMNS.map((c) => `${c} = u.${c}`).join(', ')}
       FROM unnest($1::uuid[], $2::jsonb[], $3::jsonb[], $4::jsonb[]) AS u(user_id, ${PHI_COLUMNS.join(', ')})
      WHERE p.user_id = u.user_id`,
    [rows.map((r) => r.user_id), ...PHI_COLUMNS.map((c) => values[c])],
  );
  summary.rows += rows.length;
  return rows[rows.length - 1].user_id;
}

async function countStale(ds: DataSource, ring: PhiKeyRing): Promise<number> {
  const [{ n }] = await withMaintenanceContext(ds, (tx) =>
    tx.query(`SELECT count(*)::int AS n FROM user_profiles WHERE ${STALE}`, [ring.current]),
  );
  return Number(n);
}
