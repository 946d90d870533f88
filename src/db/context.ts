import type { DataSource, EntityManager } from 'typeorm';

/** The NOLOGIN role without BYPASSRLS that every request runs as (created by the migrations). */
export const APP_ROLE = 'medilens_app';

export const DB_ROLES = ['patient', 'clinician', 'admin', 'researcher', 'system'] as const;
export type DbRole = (typeof DB_ROLES)[number];

/**
 * Who the database should believe is asking. Row-level security policies read these as
 * app.current_user_id, app.current_org_id, app.user_role (the seed's names, which the MediLens backend
 * already sets), app.patient_id and app.all_orgs; anything left out matches nothing.
 */
export interface DbIdentity {
  userId?: string | null;
  organizationId?: string | null;
  role?: DbRole | null;
  /** Confines every patient-data row to this patient's compartment (SMART patient context). */
  patientId?: string | null;
  /** Lifts the organization bound (system clients without an organization, platform admins). */
  allOrganizations?: boolean;
}

/** The shape of every MediLens id; checked before a value reaches a uuid column (a cast error would be a 500). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function uuidOrEmpty(name: string, value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (!UUID.test(value)) throw new TypeError(`${name} must be a UUID`);
  return value;
}

export type IsolationLevel = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/**
 * Runs one unit of work in a transaction as the application role, with the caller's identity set for RLS.
 * SET LOCAL semantics: role and settings revert at COMMIT/ROLLBACK, so a pooled connection never leaks them.
 */
export async function withDbContext<T>(
  dataSource: DataSource,
  identity: DbIdentity,
  work: (tx: EntityManager) => Promise<T>,
  isolation?: IsolationLevel,
): Promise<T> {
  const params = [
    APP_ROLE,
    uuidOrEmpty('userId', identity.userId),
    uuidOrEmpty('organizationId', identity.organizationId),
    identity.role ?? '',
    uuidOrEmpty('patientId', identity.patientId),
    identity.allOrganizations === true ? 'on' : '',
  ];
  if (identity.role && !DB_ROLES.includes(identity.role)) throw new TypeError(`role must be one of ${DB_ROLES.join(', ')}`);
  // Without a level, the server's default (READ COMMITTED) applies and TypeORM spends no round trip on
  // SET TRANSACTION: this runs once per request.
  const run = async (tx: EntityManager): Promise<T> => {
    // One round trip: set_config('role', ..., true) is SET LOCAL ROLE with a bindable value.
    await tx.query(
      `SELECT set_config('role', $1, true), set_config('app.current_user_id', $2, true),
              set_config('app.current_org_id', $3, true), set_config('app.user_role', $4, true), set_config('app.patient_id', $5, true), set_config('app.all_orgs', $6, true)`,
      params,
    );
    return work(tx);
  };
  return isolation === undefined ? dataSource.transaction(run) : dataSource.transaction(isolation, run);
}

/**
 * Maintenance work (start-up checks, demo data, analytics) as the connected owner role, identified to
 * the policies as the platform itself. FORCE ROW LEVEL SECURITY holds a non-superuser owner (Neon's) to
 * the policies too, so without this identity such work would see no rows at all.
 */
export async function withMaintenanceContext<T>(dataSource: DataSource, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  return dataSource.transaction(async (tx) => {
    await tx.query(`SELECT set_config('app.user_role', 'system', true), set_config('app.all_orgs', 'on', true)`);
    return work(tx);
  });
}
