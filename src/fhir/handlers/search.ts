import { dbIdentity, rowAccess } from '../../auth/access';
import { UUID, withDbContext } from '../../db/context';
import { decodeCursor, encodeCursor } from '../../search/cursor';
import type { ResourceDefinition } from '../../search/definition';
import { searchRows } from '../../search/query';
import { splitOr } from '../../search/token';

import { searchset } from '../bundle';
import type { FhirRequest, Handler } from '../interaction';
import { badRequest } from '../outcomes';

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;
/** Result parameters every search accepts besides the resource's own. */
const CONTROL = new Set(['_count', '_cursor', '_format', '_pretty']);

/**
 * GET [type]?params: the resource's search parameters (token type for now), AND across parameters,
 * OR within a comma-separated value, keyset paging by id with a signed cursor. An unknown parameter is
 * a 400 naming it, unless the client asked for Prefer: handling=lenient.
 */
export function searchHandler(def: ResourceDefinition): Handler {
  return async (req, deps) => {
    const access = req.access!;
    const reach = rowAccess(access, def.type, 's');
    const lenient = /(^|[;,\s])handling\s*=\s*lenient\b/i.test(String(req.headers.prefer ?? ''));
    const used: [string, string][] = [];
    const filters: { name: string; values: string[] }[] = [];
    for (const [name, values] of Object.entries(req.query)) {
      if (CONTROL.has(name)) continue;
      const parameter = def.parameters[name];
      if (!parameter) {
        if (lenient) continue;
        const known = Object.keys(def.parameters).join(', ');
        const modifier = name.includes(':') ? ` (modifiers are not supported on ${name.split(':')[0]} yet)` : '';
        throw badRequest(`Unknown search parameter ${name} for ${def.type}${modifier}; supported: ${known}, _count`, [name]);
      }
      for (const value of values) {
        if (value === '') throw badRequest(`Search parameter ${name} has an empty value`, [name]);
        filters.push({ name, values: splitOr(value) });
        used.push([name, value]);
      }
    }
    const count = countOf(req);
    used.push(['_count', String(count)]);

    const base = `${deps.config.publicBaseUrl}/fhir`;
    const query = new URLSearchParams(used).toString();
    const searchKey = `${def.type}?${query}`;
    const keys = await deps.auth.keyring();
    const cursor = req.query._cursor?.at(-1);
    let after: string | null = null;
    if (cursor !== undefined) {
      const [id] = decodeCursor(keys.secret, searchKey, cursor);
      if (typeof id !== 'string' || !UUID.test(id)) throw badRequest('_cursor is not valid', ['_cursor']);
      after = id;
    }

    const { rows, more } = await withDbContext(deps.db.dataSource, dbIdentity(access), (tx) =>
      searchRows(tx, def, reach, { filters, count, after }),
    );
    const ctx = { canonicalBase: deps.config.canonicalBase };
    const resources = rows.map((row) => def.toResource(row, ctx));
    const self = `${base}/${def.type}?${query}`;
    const last = resources.at(-1);
    const next = more && last ? `${self}&_cursor=${encodeURIComponent(encodeCursor(keys.secret, searchKey, [last.id]))}` : undefined;
    return { status: 200, body: searchset(base, resources, { self, next }) };
  };
}

function countOf(req: FhirRequest): number {
  const raw = req.query._count?.at(-1);
  if (raw === undefined) return DEFAULT_COUNT;
  if (!/^\d+$/.test(raw)) throw badRequest(`_count must be a whole number from 0 to ${MAX_COUNT}`, ['_count']);
  return Math.min(Number(raw), MAX_COUNT);
}
