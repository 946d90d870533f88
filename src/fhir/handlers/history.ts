import { factsOf } from '../../audit/facts';
import { dbIdentity, rowAccess } from '../../auth/access';
import { UUID, withDbContext } from '../../db/context';
import { decodeCursor, encodeCursor } from '../../search/cursor';
import type { ResourceDefinition } from '../../search/definition';
import { InvalidSearch } from '../../search/errors';
import { instanceVersions, typeVersions, type VersionRow } from '../../search/history';
import { parseDateRange, timestampText } from '../../search/parameters/date';
import { DEFAULT_COUNT, MAX_COUNT } from '../../search/request';
import { historyBundle, type HistoryVersion } from '../bundle';
import type { FhirRequest, Handler } from '../interaction';
import { notFound } from '../outcomes';
import { cursorBinding, isLenient } from './search';

interface HistoryParams {
  since: string | null;
  count: number;
  cursor: string | null;
  used: [string, string][];
}

/** _since (an instant), _count and the paging cursor; anything else is a 400 unless lenient. */
function historyParams(req: FhirRequest): HistoryParams {
  const out: HistoryParams = { since: null, count: DEFAULT_COUNT, cursor: null, used: [] };
  for (const [name, values] of Object.entries(req.query)) {
    for (const value of values) {
      try {
        if (name === '_since') {
          const range = /T/.test(value) ? parseDateRange(value) : null;
          if (!range) throw new InvalidSearch(`_since must be an instant such as 2026-01-01T00:00:00Z, not ${value}`, '_since');
          out.since = timestampText(range.start);
          out.used.push([name, value]);
        } else if (name === '_count') {
          if (!/^\d{1,9}$/.test(value)) throw new InvalidSearch(`_count must be a whole number from 0 to ${MAX_COUNT}`, '_count');
          out.count = Math.min(Number(value), MAX_COUNT);
        } else if (name === '_cursor') out.cursor = value;
        else if (name !== '_format' && name !== '_pretty') throw new InvalidSearch(`History takes _since and _count, not ${name}`, name);
      } catch (err) {
        if (!(err instanceof InvalidSearch) || !isLenient(req)) throw err;
      }
    }
  }
  out.used.push(['_count', String(out.count)]);
  return out;
}

function toVersions(def: ResourceDefinition, rows: readonly VersionRow[], canonicalBase: string): HistoryVersion[] {
  return rows.map((row) => ({
    type: def.type,
    id: row.id,
    versionId: row.version_id,
    lastUpdated: new Date(row.last_updated).toISOString(),
    resource: row.deleted || row.projection === null ? null : def.toResource(row.projection, { canonicalBase }),
  }));
}

/** GET [type]/[id]/_history: every version of one resource, newest first. */
export function instanceHistoryHandler(def: ResourceDefinition): Handler {
  return async (req, deps) => {
    const access = req.access!;
    const reach = rowAccess(access, def.type, 'r');
    const id = req.params.id;
    const params = historyParams(req);
    const base = `${deps.config.publicBaseUrl}/fhir`;
    const key = `${def.type}/${id}/_history?${new URLSearchParams(params.used)}`;
    const binding = cursorBinding(key, access);
    const keys = await deps.auth.keyring();
    let beforeVersion: number | null = null;
    if (params.cursor !== null) {
      const [v] = decodeCursor(keys.secret, binding, params.cursor);
      if (typeof v !== 'number') throw new InvalidSearch('_cursor is not valid', '_cursor');
      beforeVersion = v;
    }
    const rows = await withDbContext(deps.db.dataSource, dbIdentity(access), (tx) =>
      instanceVersions(tx, def, reach, id, { since: params.since, beforeVersion, limit: params.count }),
    );
    if (rows.length === 0 && beforeVersion === null && params.since === null) throw notFound(`${def.type}/${id} is not known`);
    const page = rows.slice(0, params.count);
    const self = `${base}/${key}`;
    const last = page.at(-1);
    const next = rows.length > params.count && last ? `${self}&_cursor=${encodeURIComponent(encodeCursor(keys.secret, binding, [last.version_id]))}` : undefined;
    const versions = toVersions(def, page, deps.config.canonicalBase);
    return { status: 200, body: historyBundle(base, versions, { self, next }), audit: factsOf(versions.flatMap((v) => (v.resource ? [v.resource] : [])), { entities: false }) };
  };
}

/** GET [type]/_history: versions of every resource of the type the caller may see, newest first. */
export function typeHistoryHandler(def: ResourceDefinition): Handler {
  return async (req, deps) => {
    const access = req.access!;
    const reach = rowAccess(access, def.type, 's');
    const params = historyParams(req);
    const base = `${deps.config.publicBaseUrl}/fhir`;
    const key = `${def.type}/_history?${new URLSearchParams(params.used)}`;
    const binding = cursorBinding(key, access);
    const keys = await deps.auth.keyring();
    let after: [string, string, number] | null = null;
    if (params.cursor !== null) {
      const position = decodeCursor(keys.secret, binding, params.cursor);
      const [time, id, version] = position;
      if (typeof time !== 'string' || typeof id !== 'string' || !UUID.test(id) || typeof version !== 'number') throw new InvalidSearch('_cursor is not valid', '_cursor');
      after = [time, id, version];
    }
    const rows = await withDbContext(deps.db.dataSource, dbIdentity(access), (tx) =>
      typeVersions(tx, def, reach, { since: params.since, after, limit: params.count }),
    );
    const page = rows.slice(0, params.count);
    const self = `${base}/${key}`;
    const last = page.at(-1);
    const next = rows.length > params.count && last ? `${self}&_cursor=${encodeURIComponent(encodeCursor(keys.secret, binding, [last.last_updated, last.id, last.version_id]))}` : undefined;
    const versions = toVersions(def, page, deps.config.canonicalBase);
    return { status: 200, body: historyBundle(base, versions, { self, next }), audit: factsOf(versions.flatMap((v) => (v.resource ? [v.resource] : [])), { entities: false }) };
  };
}
