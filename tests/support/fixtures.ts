import crypto from 'node:crypto';
import type { DataSource } from 'typeorm';

/** Minimal rows written as the superuser test connection (RLS does not apply to it). */
export async function insertOrganization(ds: DataSource, name: string): Promise<string> {
  const [row] = await ds.query(`INSERT INTO organizations (name, type) VALUES ($1, 'clinic') RETURNING id`, [name]);
  return row.id;
}

export async function insertUser(ds: DataSource, organizationId: string | null, firstName: string): Promise<string> {
  const [row] = await ds.query(
    `INSERT INTO users (clerk_user_id, email, first_name, last_name, organization_id)
     VALUES ($1, $2, $3, 'Test', $4) RETURNING id`,
    [`clerk_${crypto.randomUUID()}`, `${crypto.randomUUID()}@example.org`, firstName, organizationId],
  );
  return row.id;
}

export async function insertAssessment(
  ds: DataSource,
  userId: string,
  organizationId: string | null,
  pipeline = 'cardiology',
): Promise<string> {
  const [row] = await ds.query(
    `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, status, risk_score)
     VALUES ($1, $2, $3, $4, 'completed', 42) RETURNING id`,
    [`session_${crypto.randomUUID()}`, userId, organizationId, pipeline],
  );
  return row.id;
}

export async function insertBiomarker(ds: DataSource, assessmentId: string, name = 'heart_rate', value = 72): Promise<string> {
  const [row] = await ds.query(
    `INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit) VALUES ($1, $2, $3, '/min') RETURNING id`,
    [assessmentId, name, value],
  );
  return row.id;
}

/** A user holding `role` in their organization (the role row is created when the database has none yet). */
export async function userWithRole(ds: DataSource, organizationId: string, firstName: string, role: 'patient' | 'clinician'): Promise<string> {
  const id = await insertUser(ds, organizationId, firstName);
  await ds.query(`INSERT INTO roles (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, [role]);
  await ds.query(`INSERT INTO user_roles (user_id, role_id, organization_id) SELECT $1, id, $3 FROM roles WHERE name = $2`, [id, role, organizationId]);
  return id;
}
