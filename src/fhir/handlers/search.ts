import { factsOf } from '../../audit/facts';
import { dbIdentity, rowAccess, type AccessContext } from '../../auth/access';
import { withDbContext } from '../../db/context';
import { decodeCursor, encodeCursor } from '../../search/cursor';
import type { ResourceDefinition } from '../../search/definition';
import { countRows, estimateRows, searchPage, sortColumns } from '../../search/query';
import { parseSearch, type Definitions } from '../../search/request';
import { searchset } from '../bundle';
import type { FhirRequest, Handler } from '../interaction';
import { subset } from '../subset';
import { loadIncludes } from './includes';

/**
 * What a cursor is bound to besides its search: the caller. A next link handed to (or stolen by) another
 * client, user or organization is refused rather than resumed from a position it could not have reached.
 */
export const cursorBinding = (search: string, access: AccessContext): string =>
  [search, access.kind, access.clientId ?? '', access.subject, access.organizationId ?? '*', access.patientId ?? ''].join('\u0000');

export const isLenient = (req: FhirRequest): boolean => /(^|[;,\s])handling\s*=\s*lenient\b/i.test(String(req.headers.prefer ?? ''));

/**
 * GET [type]?... and POST [type]/_search: one statement for the page (the caller's reach, the filters
 * and the keyset position in its WHERE clause), one per included type, a count only when asked.
 */
export function searchHandler(def: ResourceDefinition, definitions: Definitions): Handler {
  return async (req, deps) => {
    const access = req.access!;
    const reach = rowAccess(access, def.type, 's');
    const base = `${deps.config.publicBaseUrl}/fhir`;
    const search = parseSearch(def, definitions, req.query, isLenient(req), base);
    const query = new URLSearchParams(search.used as [string, string][]).toString();
    const searchKey = cursorBinding(`${def.type}?${query}`, access);
    const keys = await deps.auth.keyring();
    const columns = sortColumns(def, search.sort);
    // Checked against the sort columns where it becomes SQL (keysetPredicate).
    const after = search.cursor === null ? null : decodeCursor(keys.secret, searchKey, search.cursor);
    const ctx = { canonicalBase: deps.config.canonicalBase };

    const result = await withDbContext(deps.db.dataSource, dbIdentity(access), async (tx) => {
      const wantsCount = search.summary === 'count' || search.total === 'accurate';
      const total = wantsCount
        ? await countRows(tx, def, reach, search.filters, base)
        : search.total === 'estimate'
          ? await estimateRows(tx, def, reach, search.filters, base)
          : undefined;
      if (search.summary === 'count' || search.count === 0) return { total, matches: [], included: [], next: null };
      const page = await searchPage(tx, def, reach, search.filters, columns, after, search.count, base);
      const matches = page.rows.map((row) => def.toResource(row, ctx));
      const included = await loadIncludes(tx, def, definitions, access, search, matches, ctx);
      return { total, matches, included, next: page.more ? page.rows.at(-1)!.sort__ : null };
    });

    const first = `${base}/${def.type}?${query}`;
    // The self link names this page: the first page's URL plus the cursor that led here.
    const self = search.cursor === null ? first : `${first}&_cursor=${encodeURIComponent(search.cursor)}`;
    const next = result.next ? `${first}&_cursor=${encodeURIComponent(encodeCursor(keys.secret, searchKey, result.next))}` : undefined;
    const matches = result.matches.map((r) => subset(r, search.summary, search.elements, def.summary));
    // ONE event for the page, naming each distinct patient whose data it returned (includes too).
    const audit = factsOf([...result.matches, ...result.included], { entities: false });
    return { status: 200, body: searchset(base, matches, result.included, { self, next }, result.total), audit };
  };
}
