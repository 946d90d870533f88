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
  if (isolation !== undefined) {
    return dataSource.transaction(isolation, async (tx) => {
      await tx.query(SET_IDENTITY, params);
      return work(tx);
    });
  }
  // The request path: BEGIN and the identity in ONE round trip (a simple-protocol batch, so the values
  // are literals: each was checked above to be a UUID, a role name, 'on' or empty), then the work,
  // then COMMIT. TypeORM's transaction() would spend a round trip on each of BEGIN and the settings.
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(
      `BEGIN; SELECT ${params.map((value, i) => `set_config('${SETTINGS[i]}', '${value}', true)`).join(', ')}, set_config('statement_timeout', '${REQUEST_STATEMENT_TIMEOUT}', true)`,
    );
    // Tell TypeORM, so that an entity save inside the work joins this transaction instead of opening
    // (and committing) one of its own.
    const state = runner as unknown as { isTransactionActive: boolean };
    state.isTransactionActive = true;
    let result: T;
    try {
      result = await work(runner.manager);
    } catch (err) {
      state.isTransactionActive = false;
      await runner.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    state.isTransactionActive = false;
    await runner.query('COMMIT');
    return result;
  } finally {
    await runner.release();
  }
}

/** No statement of a request may hold a connection longer than this. */
const REQUEST_STATEMENT_TIMEOUT = '30s';

/** The settings withDbContext sets, in the order of its parameters. */
const SETTINGS = ['role', 'app.current_user_id', 'app.current_org_id', 'app.user_role', 'app.patient_id', 'app.all_orgs'];
// One round trip: set_config('role', ..., true) is SET LOCAL ROLE with a bindable value.
const SET_IDENTITY = `SELECT ${SETTINGS.map((name, i) => `set_config('${name}', $${i + 1}, true)`).join(', ')}`;

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
