import type { Coding, FhirResource, Reference } from 'fhir/r4';
import { UUID } from '../../db/context';
import type { SqlParams } from '../sql';
import { ROW, type DateParameter, type SortKey, type TokenParameter } from '../definition';
import { idPredicate, type Token } from '../parameters/token';

/** Parameters every resource type has. */
export const commonParameters = (): { _id: TokenParameter; _lastUpdated: DateParameter } => ({
  _id: {
    type: 'token',
    description: 'Logical id of the resource',
    definition: 'http://hl7.org/fhir/SearchParameter/Resource-id',
    where: (params, token) => idPredicate(params, token, ROW.id),
  },
  _lastUpdated: {
    type: 'date',
    description: 'When the current version was recorded',
    definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated',
    column: ROW.lastUpdated,
    precision: 'instant',
  },
});

export const lastUpdatedSort: SortKey = { columns: [{ expr: ROW.lastUpdated, sqlType: 'timestamptz' }] };

/** Does a token (code, system|code, |code, system|) match one of these codings? */
export function tokenMatches(token: Token, codings: readonly Coding[]): boolean {
  return codings.some(
    (c) =>
      (token.system === undefined || (token.system === null ? c.system === undefined : c.system === token.system)) &&
      (token.code === null || c.code === token.code),
  );
}

/**
 * A token over a value the code map computes from one column (a pipeline's report category, a
 * gender's code): the column values whose codings match, as one ANY() predicate.
 */
export function codedColumnPredicate(column: string, codingsByValue: Readonly<Record<string, readonly Coding[]>>) {
  return (params: { add(v: unknown): string }, token: Token): string => {
    const values = Object.entries(codingsByValue)
      .filter(([, codings]) => tokenMatches(token, codings))
      .map(([value]) => value);
    return values.length === 0 ? 'FALSE' : `${column} = ANY(${params.add(values)}::text[])`;
  };
}

/** The references an element holds (one Reference or a list of them), for _include. */
export const referencesAt =
  (element: string) =>
  (resource: FhirResource): string[] => {
    const value = (resource as unknown as Record<string, unknown>)[element];
    const list = Array.isArray(value) ? value : value ? [value] : [];
    return list.map((r) => (r as Reference).reference).filter((r): r is string => typeof r === 'string');
  };

/**
 * An identifier that is the resource id under a MediLens system (`system|id`, `id`, `system|`): how
 * Practitioner and Organization identifiers are searched, and the first of a Patient's.
 */
export function idIdentifierPredicate(params: SqlParams, token: Token, system: string): string {
  if (token.system !== undefined && token.system !== system) return 'FALSE';
  if (token.code === null) return 'TRUE';
  return UUID.test(token.code) ? `${ROW.id} = ${params.add(token.code)}::uuid` : 'FALSE';
}
