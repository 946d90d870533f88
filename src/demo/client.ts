import type { DataSource } from 'typeorm';
import { findClient, registerClient, resetClientSecret } from '../auth/clients';
import { withMaintenanceContext } from '../db/context';

export const DEMO_CLIENT_ID = 'medilens-demo';
/** Reads every type; writes what clients may write: Patients, and results (reports with their observations). */
export const DEMO_CLIENT_SCOPE = 'system/*.rs system/Patient.cud system/DiagnosticReport.c system/Observation.c';

export interface DemoClient {
  clientId: string;
  secret: string;
  scope: string;
  /** A Patient the client can read, for the printed example. */
  patientId: string | null;
}

/**
 * The demo's backend client, bound to the demo organization. Its secret is regenerated at every start
 * (only a hash is stored, so this is the only way to print a working one each time).
 */
export async function ensureDemoClient(ds: DataSource): Promise<DemoClient | null> {
  const [org] = await withMaintenanceContext(ds, (tx) =>
    tx.query(`SELECT id FROM organizations WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT 1`),
  );
  if (!org) return null;
  let secret: string;
  const existing = await findClient(ds, DEMO_CLIENT_ID);
  if (existing && existing.authMethod === 'client_secret_basic') {
    secret = await resetClientSecret(ds, DEMO_CLIENT_ID);
    // A demo database from an earlier release may hold a narrower scope.
    await ds.query(`UPDATE oauth_clients SET allowed_scope = $1 WHERE client_id = $2`, [DEMO_CLIENT_SCOPE, DEMO_CLIENT_ID]);
  }
  else if (existing) return null; // an operator took the id for a real client: leave it alone
  else {
    secret = (
      await registerClient(ds, {
        clientId: DEMO_CLIENT_ID,
        secret: true,
        scope: DEMO_CLIENT_SCOPE,
        organizationId: org.id,
        description: 'demo client created by npm start',
      })
    ).secret!;
  }
  const client = (await findClient(ds, DEMO_CLIENT_ID))!;
  const [patient] = await withMaintenanceContext(ds, (tx) =>
    tx.query(
      `SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id AND r.name = 'patient'
       WHERE u.organization_id = $1 AND u.deleted_at IS NULL ORDER BY u.id LIMIT 1`,
      [client.organizationId],
    ),
  );
  return { clientId: DEMO_CLIENT_ID, secret, scope: client.allowedScope, patientId: patient?.id ?? null };
}
