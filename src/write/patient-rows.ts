import type { EntityManager } from 'typeorm';
import type { PatientWrite, PushedIdentifier } from '../../mappings/patient';

/**
 * Another patient of the organization already holds one of these identifiers. The unique key
 * (organization, system, value) decided it, not a read: the loser of a race learns it here, after
 * the winner committed, and its whole transaction is rolled back.
 */
export class IdentifierTaken extends Error {
  /** The Bundle entry that wrote them, inside a transaction. */
  entry?: { index: number; method: string; url: string };

  constructor(readonly identifiers: readonly { system: string; value: string }[]) {
    super(`identifier ${identifiers.map((i) => `${i.system}|${i.value}`).join(', ')} belongs to another patient`);
    this.name = 'IdentifierTaken';
  }
}

/**
 * A profile the gateway creates holds no PHI: SQL NULL, which says nothing, rather than the seed's
 * plaintext '[]' default, which would tell (unencrypted) that the patient has no history.
 */
const NO_PHI = { columns: 'medical_history, medications, allergies', values: 'NULL, NULL, NULL' };

export interface LockedPatient {
  readonly version: number;
  readonly deleted: boolean;
  readonly organizationId: string | null;
  readonly isActive: boolean;
  /** A MediLens account (a sign-in, or a staff role) as well as a patient record. */
  readonly account: boolean;
}

/** The users row of a patient, locked for the rest of the transaction: concurrent writers queue here. */
export async function lockPatient(tx: EntityManager, id: string): Promise<LockedPatient | null> {
  const rows: { version_id: number; deleted_at: Date | null; organization_id: string | null; is_active: boolean | null; account: boolean }[] = await tx.query(
    `SELECT u.version_id, u.deleted_at, u.organization_id, u.is_active,
            u.clerk_user_id IS NOT NULL OR EXISTS (
              SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.name <> 'patient') AS account
       FROM users u WHERE u.id = $1 FOR UPDATE OF u`,
    [id],
  );
  const [row] = rows;
  return row
    ? { version: row.version_id, deleted: row.deleted_at !== null, organizationId: row.organization_id, isActive: row.is_active !== false, account: row.account }
    : null;
}

export async function insertPatient(tx: EntityManager, id: string, organizationId: string, write: PatientWrite): Promise<void> {
  const c = write.columns;
  await tx.query(
    `INSERT INTO users (id, organization_id, first_name, last_name, date_of_birth, gender, is_active, fhir_kept)
     VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8::jsonb)`,
    [id, organizationId, c.first_name, c.last_name, c.birth_date, c.gender, c.is_active, JSON.stringify(write.kept)],
  );
  if (c.language !== null || c.ethnicity !== null || c.fitzpatrick_type !== null) {
    await tx.query(`INSERT INTO user_profiles (user_id, language, ethnicity, fitzpatrick_type, ${NO_PHI.columns}) VALUES ($1, $2, $3, $4, ${NO_PHI.values})`, [
      id,
      c.language,
      c.ethnicity,
      c.fitzpatrick_type,
    ]);
  }
  await putIdentifiers(tx, id, organizationId, write.identifiers);
}

/**
 * Replaces what a Patient write holds; the organization stays (a patient moves only by MediLens).
 * Parts first, users last, and only what differs: a part's change bumps the version unless users was
 * already written in this transaction, and an unchanged PUT must not make a version at all.
 */
export async function updatePatient(tx: EntityManager, id: string, organizationId: string | null, write: PatientWrite): Promise<void> {
  const c = write.columns;
  const profile = [id, c.language, c.ethnicity, c.fitzpatrick_type];
  await tx.query(
    `UPDATE user_profiles SET language = $2::text, ethnicity = $3::text, fitzpatrick_type = $4::smallint, updated_at = now()
      WHERE user_id = $1 AND (language, ethnicity, fitzpatrick_type) IS DISTINCT FROM ($2::text, $3::text, $4::smallint)`,
    profile,
  );
  // A profile the Patient never mentioned is not created just to hold NULLs.
  await tx.query(
    `INSERT INTO user_profiles (user_id, language, ethnicity, fitzpatrick_type, ${NO_PHI.columns})
     SELECT $1::uuid, $2::text, $3::text, $4::smallint, ${NO_PHI.values}
      WHERE ($2::text IS NOT NULL OR $3::text IS NOT NULL OR $4::smallint IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM user_profiles WHERE user_id = $1::uuid)`,
    profile,
  );
  await tx.query(
    `DELETE FROM patient_identifiers
      WHERE user_id = $1 AND (system, value) NOT IN (SELECT x.system, x.value FROM jsonb_to_recordset($2::jsonb) AS x(system text, value text))`,
    [id, JSON.stringify(write.identifiers.map(({ system, value }) => ({ system, value })))],
  );
  await putIdentifiers(tx, id, organizationId, write.identifiers);
  await tx.query(
    `UPDATE users SET first_name = $2, last_name = $3, date_of_birth = $4::date, gender = $5, is_active = $6,
                      fhir_kept = $7::jsonb, deleted_at = NULL, updated_at = now()
      WHERE id = $1`,
    [id, c.first_name, c.last_name, c.birth_date, c.gender, c.is_active, JSON.stringify(write.kept)],
  );
}

/**
 * Soft delete: reads 410, history keeps every version, and the identifiers are free for a new
 * registration (the users_identifiers_follow trigger releases them, as for a delete by MediLens).
 */
export async function deletePatient(tx: EntityManager, id: string): Promise<void> {
  await tx.query(`UPDATE users SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL`, [id]);
}

/**
 * Adds this patient's new identifiers and re-orders the rest. One held by another patient is not
 * touched: the unique key leaves it out of RETURNING (after waiting for a concurrent writer to finish),
 * and the write fails as a whole.
 */
async function putIdentifiers(tx: EntityManager, userId: string, organizationId: string | null, identifiers: readonly PushedIdentifier[]): Promise<void> {
  if (identifiers.length === 0) return;
  const rows = JSON.stringify(
    identifiers.map(({ system, value, ...details }, position) => ({ system, value, position, details: Object.keys(details).length ? details : null })),
  );
  const recordset = `jsonb_to_recordset($2::jsonb) AS x(system text, value text, position int, details jsonb)`;
  await tx.query(
    `UPDATE patient_identifiers p SET position = x.position, details = x.details FROM ${recordset}
      WHERE p.user_id = $1 AND p.system = x.system AND p.value = x.value
        AND (p.position, p.details) IS DISTINCT FROM (x.position::smallint, x.details)`,
    [userId, rows],
  );
  const taken: { system: string; value: string }[] = await tx.query(
    `WITH fresh AS (
       SELECT x.* FROM ${recordset}
        WHERE NOT EXISTS (SELECT 1 FROM patient_identifiers p WHERE p.user_id = $1 AND p.system = x.system AND p.value = x.value)
     ), written AS (
       INSERT INTO patient_identifiers (user_id, organization_id, system, value, position, details)
       SELECT $1, $3, f.system, f.value, f.position, f.details FROM fresh f
       ON CONFLICT ON CONSTRAINT patient_identifiers_org_system_value_key DO NOTHING
       RETURNING system, value
     )
     SELECT f.system, f.value FROM fresh f WHERE NOT EXISTS (SELECT 1 FROM written w WHERE w.system = f.system AND w.value = f.value)`,
    [userId, rows, organizationId],
  );
  if (taken.length) throw new IdentifierTaken(taken);
}
