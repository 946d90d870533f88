import type { EntityManager } from 'typeorm';
import type { RowAccess } from '../auth/access';
import { UUID } from '../db/context';
import { preparedQuery } from '../db/prepared';
import { accessPredicate } from './access';
import { ROW, type ResourceDefinition } from './definition';
import { and, SqlParams } from './sql';

/** One version: its projection (the view row as JSON; null for a deletion tombstone). */
export interface VersionRow {
  id: string;
  version_id: number;
  last_updated: string;
  deleted: boolean;
  projection: Record<string, unknown> | null;
}

/**
 * An archived version as its view row (`r`), so that the caller's reach (tenant, compartment, granular
 * scope filters) is judged on the version's own content; a deletion tombstone is judged by the version
 * it ended.
 */
function archivedRow(def: ResourceDefinition): string {
  return `resource_history h CROSS JOIN LATERAL jsonb_populate_record(NULL::${def.view}, COALESCE(h.projection,
    (SELECT p.projection FROM resource_history p
      WHERE p.resource_type = h.resource_type AND p.resource_id = h.resource_id AND p.version_id = h.version_id - 1))) r`;
}

/**
 * Archived versions are shown only for a resource the caller can still reach, or one deleted outright
 * (a tombstone): a resource that left the caller's reach (moved to another organization or patient,
 * no longer of this type) shows nothing of its past either.
 */
function resourceGate(params: SqlParams, def: ResourceDefinition, access: RowAccess, id: string): string {
  return `(EXISTS (SELECT 1 FROM ${def.view} r WHERE ${ROW.id} = ${id} AND ${accessPredicate(params, def, access)})
           OR EXISTS (SELECT 1 FROM resource_history t WHERE t.resource_type = h.resource_type AND t.resource_id = ${id} AND t.projection IS NULL))`;
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
  const sql = `
    SELECT * FROM (
      SELECT r.id, r.version_id, r.last_updated::text AS last_updated, r.deleted_at IS NOT NULL AS deleted, to_jsonb(r) AS projection
        FROM ${def.view} r WHERE ${live}${filters('r.')}
      UNION ALL
      SELECT h.resource_id, h.version_id, h.last_updated::text, h.deleted, h.projection
        FROM ${archivedRow(def)}
       WHERE h.resource_type = ${typeParam} AND h.resource_id = ${idParam}::uuid
         AND ${accessPredicate(params, def, access)} AND ${resourceGate(params, def, access, `${idParam}::uuid`)}${filters('h.')}
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
        FROM ${archivedRow(def)}
       WHERE h.resource_type = ${typeParam}${since('h.')}
         AND ${accessPredicate(params, def, access)} AND ${resourceGate(params, def, access, 'h.resource_id')}
    ) v ${position}
    ORDER BY v.ts DESC, v.id ASC, v.version_id DESC LIMIT ${params.add(opts.limit + 1)}`;
  return preparedQuery<VersionRow>(tx, sql, params.values);
}
