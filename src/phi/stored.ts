import type { DataSource } from 'typeorm';
import { withMaintenanceContext } from '../db/context';
import { ENC, PHI_COLUMNS } from './cipher';
import type { PhiKeyRing } from './keyring';

/** The database holds ciphertexts under key ids the ring lacks: nothing could read them. */
export class PhiKeysUnavailableError extends Error {
  override name = 'PhiKeysUnavailableError';
  constructor(readonly missing: Map<string, number>, ring: PhiKeyRing) {
    const list = [...missing].map(([kid, fields]) => `"${kid}" (${fields} field${fields === 1 ? '' : 's'})`).join(', ');
    super(
      `the database holds PHI encrypted under key id${missing.size === 1 ? '' : 's'} ${list} that PHI_KEYS lacks ` +
        `(it holds ${ring.kids.join(', ')}): add ${missing.size === 1 ? 'that key' : 'those keys'} to PHI_KEYS after the current one`,
    );
  }
}

/** Every stored ciphertext's key id, with the number of fields under it (one scan of user_profiles). */
export async function storedPhiKeyIds(ds: DataSource): Promise<Map<string, number>> {
  const rows: { kid: string; fields: number }[] = await withMaintenanceContext(ds, (tx) =>
    tx.query(
      `SELECT c.v->>'kid' AS kid, count(*)::int AS fields
         FROM user_profiles p CROSS JOIN LATERAL (VALUES ${PHI_COLUMNS.map((c) => `(p.${c})`).join(', ')}) AS c(v)
        WHERE c.v->>'enc' = $1
        GROUP BY 1`,
      [ENC],
    ),
  );
  return new Map(rows.map((r) => [r.kid, Number(r.fields)]));
}

/** Refuses (PhiKeysUnavailableError) when a stored ciphertext names a key id the ring does not hold. */
export async function assertPhiKeysCoverDatabase(ds: DataSource, ring: PhiKeyRing): Promise<void> {
  const missing = new Map([...(await storedPhiKeyIds(ds))].filter(([kid]) => !ring.has(kid)));
  if (missing.size > 0) throw new PhiKeysUnavailableError(missing, ring);
}
