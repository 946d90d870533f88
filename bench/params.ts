import type { Pool } from 'pg';

/**
 * Request parameters drawn from the loaded data, so the load spreads over it: random patients (a fixed
 * pseudo-random order per seed, so runs are comparable), each with a biomarker, a date and a pipeline it
 * really has.
 */
export interface Params {
  /** Patients to read. */
  patients: string[];
  /** Observation searches: a biomarker the patient has, and a date on or before one of its measurements. */
  observations: { patient: string; code: string; date: string }[];
  /** DiagnosticReport searches: a pipeline the patient has reports of. */
  reports: { patient: string; pipeline: string }[];
  /** Page walks: patients with at least `walkMin` observations. */
  walks: string[];
  walkMin: number;
}

export async function pickParams(pool: Pool, size: number, seed: number, walkPages: number, pageSize: number): Promise<Params> {
  const salt = `bench/${seed}`;
  const patients = await pool.query<{ id: string }>(
    `SELECT id FROM fhir_patient WHERE deleted_at IS NULL ORDER BY md5(id::text || $1) LIMIT $2`,
    [salt, size],
  );
  const observations = await pool.query<{ patient: string; code: string; date: string }>(
    `WITH p AS (
       SELECT u.id FROM users u
        WHERE u.deleted_at IS NULL AND EXISTS (SELECT 1 FROM biomarker_values b WHERE b.user_id = u.id)
        ORDER BY md5(u.id::text || $1) LIMIT $2)
     SELECT p.id AS patient, o.biomarker_name AS code, to_char(o.effective_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS date
       FROM p CROSS JOIN LATERAL (
            SELECT biomarker_name, effective_at FROM fhir_observation o
             WHERE o.patient_id = p.id AND o.deleted_at IS NULL
             ORDER BY md5(o.id::text || $1) LIMIT 1) o`,
    [salt, size],
  );
  const reports = await pool.query<{ patient: string; pipeline: string }>(
    `WITH p AS (
       SELECT u.id FROM users u
        WHERE u.deleted_at IS NULL AND EXISTS (SELECT 1 FROM assessments a WHERE a.user_id = u.id)
        ORDER BY md5(u.id::text || $1) LIMIT $2)
     SELECT p.id AS patient, a.pipeline_type AS pipeline
       FROM p CROSS JOIN LATERAL (
            SELECT pipeline_type FROM assessments a WHERE a.user_id = p.id AND a.deleted_at IS NULL
             ORDER BY md5(a.id::text || $1) LIMIT 1) a`,
    [salt, size],
  );
  // A walk of `walkPages` pages needs more than (walkPages - 1) * pageSize observations to reach its last page.
  const walkMin = (walkPages - 1) * pageSize + 1;
  const walks = await pool.query<{ id: string }>(
    `SELECT user_id AS id FROM biomarker_values GROUP BY user_id HAVING count(*) >= $3
      ORDER BY md5(user_id::text || $1) LIMIT $2`,
    [salt, size, walkMin],
  );
  return {
    patients: patients.rows.map((r) => r.id),
    observations: observations.rows,
    reports: reports.rows,
    walks: walks.rows.map((r) => r.id),
    walkMin,
  };
}
