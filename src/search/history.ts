import type { EntityManager } from 'typeorm';
import type { RowAccess } from '../auth/access';
import { UUID } from '../db/context';
import { preparedQuery } from '../db/prepared';
import { accessPredicate } from './access';
import { ROW, type ResourceDefinition } from './definition';
import { and, or, SqlParams } from './sql';

/** One version: its projection (the view row as JSON; null for a deletion tombstone). */
export interface VersionRow {
  id: string;
  version_id: number;
  last_updated: string;
  deleted: boolean;
  projection: Record<string, unknown> | null;
}

/**
 * The reach over archived versions of a resource that has no live row any more (hard-deleted): the
 * tenant and compartment recorded with each version. Granular scope filters cannot be evaluated
 * without the resource, so such tokens do not see these.
 */
function archivedOnlyPredicate(params: SqlParams, def: ResourceDefinition, access: RowAccess): string {
  if (access.alternatives.some((alt) => alt.filters.length > 0)) return 'FALSE';
  const ofPatient = def.tenancy === 'patient';
  const parts: string[] = [];
  if (ofPatient && access.compartment !== null) parts.push(`h.patient_id = ${params.add(access.compartment)}::uuid`);
  else if (def.tenancy !== 'shared' && !access.allOrganizations) {
    parts.push(access.organizationId === null ? 'FALSE' : `h.organization_id = ${params.add(access.organizationId)}::uuid`);
  }
  parts.push(or(access.alternatives.map((alt) => (!ofPatient || alt.patientId === null ? 'TRUE' : `h.patient_id = ${params.add(alt.patientId)}::uuid`))));
  return and(parts);
}

/**
 * Every version of one resource the caller may see, newest first: the live row's current version plus
 * the archived ones (including a tombstone after a hard delete), optionally since a time.
 */
export async function instanceVersions(
  tx: EntityManager,
  def: ResourceDefinition,
  access: RowAccess,
  id: string,
  opts: { since: string | null; beforeVersion: number | null; limit: number; version?: number },
): Promise<VersionRow[]> {
  if (!UUID.test(id)) return [];
  const params = new SqlParams();
  const idParam = params.add(id);
  const live = and([`${ROW.id} = ${idParam}::uuid`, accessPredicate(params, def, access)]);
  const filters = (prefix: string) => {
    const parts: string[] = [];
    if (opts.since !== null) parts.push(`${prefix}last_updated >= ${params.add(opts.since)}::timestamptz`);
    if (opts.beforeVersion !== null) parts.push(`${prefix}version_id < ${params.add(opts.beforeVersion)}`);
    if (opts.version !== undefined) parts.push(`${prefix}version_id = ${params.add(opts.version)}`);
    return parts.length ? ` AND ${and(parts)}` : '';
  };
  const typeParam = params.add(def.type);
  const archiveReach = `(EXISTS (SELECT 1 FROM ${def.view} r WHERE ${live}) OR (NOT EXISTS (SELECT 1 FROM ${def.view} r WHERE ${ROW.id} = ${idParam}::uuid) AND ${archivedOnlyPredicate(params, def, access)}))`;
  const sql = `
    SELECT * FROM (
      SELECT r.id, r.version_id, r.last_updated::text AS last_updated, r.deleted_at IS NOT NULL AS deleted, to_jsonb(r) AS projection
        FROM ${def.view} r WHERE ${live}${filters('r.')}
      UNION ALL
      SELECT h.resource_id, h.version_id, h.last_updated::text, h.deleted, h.projection
        FROM resource_history h
       WHERE h.resource_type = ${typeParam} AND h.resource_id = ${idParam}::uuid AND ${archiveReach}${filters('h.')}
    ) v ORDER BY version_id DESC LIMIT ${params.add(opts.limit + 1)}`;
  return preparedQuery<VersionRow>(tx, sql, params.values);
}

/**
 * Versions of every resource of a type the caller may see, newest first (time, then id, then version),
 * from the keyset position `after`. Archived versions of resources that are hard-deleted are included
 * for tokens without granular filters.
 */
export async function typeVersions(
  tx: EntityManager,
  def: ResourceDefinition,
  access: RowAccess,
  opts: { since: string | null; after: [string, string, number] | null; limit: number },
): Promise<VersionRow[]> {
  const params = new SqlParams();
  const liveReach = accessPredicate(params, def, access);
  const since = (prefix: string) => (opts.since !== null ? ` AND ${prefix}last_updated >= ${params.add(opts.since)}::timestamptz` : '');
  const typeParam = params.add(def.type);
  let position = '';
  if (opts.after !== null) {
    const [time, id, version] = opts.after;
    const t = `${params.add(time)}::timestamptz`;
    const i = `${params.add(id)}::uuid`;
    position = `WHERE (v.ts < ${t} OR (v.ts = ${t} AND (v.id > ${i} OR (v.id = ${i} AND v.version_id < ${params.add(version)}))))`;
  }
  const sql = `
    SELECT v.id, v.version_id, v.ts::text AS last_updated, v.deleted, v.projection FROM (
      SELECT r.id, r.version_id, r.last_updated AS ts, r.deleted_at IS NOT NULL AS deleted, to_jsonb(r) AS projection
        FROM ${def.view} r WHERE ${liveReach}${since('r.')}
      UNION ALL
      SELECT h.resource_id, h.version_id, h.last_updated, h.deleted, h.projection
        FROM resource_history h
       WHERE h.resource_type = ${typeParam}${since('h.')}
         AND (EXISTS (SELECT 1 FROM ${def.view} r WHERE ${ROW.id} = h.resource_id AND ${accessPredicate(params, def, access)})
              OR (NOT EXISTS (SELECT 1 FROM ${def.view} r WHERE ${ROW.id} = h.resource_id) AND ${archivedOnlyPredicate(params, def, access)}))
    ) v ${position}
    ORDER BY v.ts DESC, v.id ASC, v.version_id DESC LIMIT ${params.add(opts.limit + 1)}`;
  return preparedQuery<VersionRow>(tx, sql, params.values);
}
