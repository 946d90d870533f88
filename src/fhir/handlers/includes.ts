import type { FhirResource } from 'fhir/r4';
import type { EntityManager } from 'typeorm';
import { rowAccess, type AccessContext, type RowAccess } from '../../auth/access';
import { AccessDenied } from '../../auth/errors';
import type { MappingContext } from '../../../mappings/context';
import type { ReferenceParameter, ResourceDefinition } from '../../search/definition';
import { referencesPredicate } from '../../search/parameters/reference';
import { rowsById, rowsWhere } from '../../search/query';
import type { Definitions, SearchRequest } from '../../search/request';

/** Included resources per _revinclude at most: a page of 1,000 reports has about that many provenances. */
const MAX_REVINCLUDE = 5000;

/** The reach for included resources: reading them is enough (a search scope also does). */
function includeReach(access: AccessContext, type: string): RowAccess | null {
  for (const interaction of ['r', 's'] as const) {
    try {
      return rowAccess(access, type, interaction);
    } catch (err) {
      if (!(err instanceof AccessDenied)) throw err;
    }
  }
  return null;
}

/**
 * _include and _revinclude: one statement per included type, each bounded by the caller's reach like
 * the search itself. A type the token cannot read is left out rather than failing the search.
 */
export async function loadIncludes(
  tx: EntityManager,
  def: ResourceDefinition,
  definitions: Definitions,
  access: AccessContext,
  search: SearchRequest,
  matches: readonly FhirResource[],
  ctx: MappingContext,
): Promise<FhirResource[]> {
  const seen = new Set(matches.map((r) => `${r.resourceType}/${r.id}`));
  const out: FhirResource[] = [];
  const add = (resources: FhirResource[]) => {
    for (const r of resources) {
      const key = `${r.resourceType}/${r.id}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(r);
      }
    }
  };
  const params = search.include.includes('*') ? Object.keys(def.includes) : [...new Set(search.include)];
  const idsByType = new Map<string, Set<string>>();
  for (const param of params) {
    const include = def.includes[param];
    const ids = idsByType.get(include.target) ?? new Set<string>();
    for (const resource of matches) {
      for (const reference of include.references(resource)) {
        if (reference.startsWith(`${include.target}/`)) ids.add(reference.slice(include.target.length + 1));
      }
    }
    idsByType.set(include.target, ids);
  }
  for (const [type, ids] of idsByType) {
    const target = definitions.get(type)!;
    const reach = includeReach(access, type);
    if (!reach || ids.size === 0) continue;
    add((await rowsById(tx, target, reach, [...ids])).map((row) => target.toResource(row, ctx)));
  }
  for (const { type, param } of search.revinclude) {
    const source = definitions.get(type)!;
    const reach = includeReach(access, type);
    if (!reach || matches.length === 0) continue;
    const refs = matches.map((r) => ({ type: r.resourceType, id: r.id! }));
    const parameter = source.parameters[param] as ReferenceParameter;
    const rows = await rowsWhere(tx, source, reach, (p) => referencesPredicate(p, parameter, refs), MAX_REVINCLUDE);
    add(rows.map((row) => source.toResource(row, ctx)));
  }
  return out;
}
