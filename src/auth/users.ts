import type { DataSource } from 'typeorm';
import { withMaintenanceContext, type DbRole } from '../db/context';

/** A MediLens user as the external identity provider's `sub` names them. */
export interface DirectoryUser {
  id: string;
  organizationId: string | null;
  /** The strongest role held globally or in the user's own organization. */
  role: DbRole;
}

/** Strongest first: a user who is both clinician and patient signs in as clinician. */
const ROLE_PRECEDENCE: DbRole[] = ['admin', 'clinician', 'researcher', 'patient'];
const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;

/**
 * Looks users up by users.clerk_user_id. Runs before the caller's identity is known, so as the
 * platform; only active, undeleted users of an active organization are found. Found users are cached
 * for 30 s (a deactivated user loses access within that), bounded in size, per app.
 */
export class UserDirectory {
  private readonly cache = new Map<string, { user: DirectoryUser | null; until: number }>();

  constructor(private readonly ds: DataSource) {}

  async bySubject(subject: string): Promise<DirectoryUser | null> {
    const hit = this.cache.get(subject);
    if (hit && hit.until > Date.now()) return hit.user;
    const user = await this.load(subject);
    // Misses are not cached: a user created right after a refused sign-in gets in at once.
    if (user === null) return null;
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(subject, { user, until: Date.now() + CACHE_TTL_MS });
    return user;
  }

  private async load(subject: string): Promise<DirectoryUser | null> {
    const rows: { id: string; organization_id: string | null; roles: string[] | null }[] = await withMaintenanceContext(this.ds, (tx) =>
      tx.query(
        `SELECT u.id, u.organization_id,
                array_agg(r.name) FILTER (WHERE r.name IS NOT NULL) AS roles
         FROM users u
         LEFT JOIN user_roles ur ON ur.user_id = u.id
                                AND (ur.organization_id IS NULL OR ur.organization_id IS NOT DISTINCT FROM u.organization_id)
         LEFT JOIN roles r ON r.id = ur.role_id
         WHERE u.clerk_user_id = $1 AND u.deleted_at IS NULL AND u.is_active IS NOT FALSE
           AND (u.organization_id IS NULL
                OR EXISTS (SELECT 1 FROM organizations o
                           WHERE o.id = u.organization_id AND o.deleted_at IS NULL AND o.is_active IS NOT FALSE))
         GROUP BY u.id`,
        [subject],
      ),
    );
    const row = rows[0];
    if (!row) return null;
    const held = new Set(row.roles ?? []);
    const role = ROLE_PRECEDENCE.find((r) => held.has(r)) ?? 'patient';
    return { id: row.id, organizationId: row.organization_id, role };
  }
}
