import type { FhirResource } from 'fhir/r4';
import type { MappingContext } from '../../mappings/context';
import type { SqlParams } from './sql';
import type { Token } from './token';

/** A token search parameter: how one token value becomes a predicate over the resource's columns. */
export interface TokenParameter {
  readonly type: 'token';
  readonly description: string;
  where(params: SqlParams, token: Token): string;
}

export type SearchParameter = TokenParameter;

/**
 * How one FHIR resource type is stored: the statement parts every read and search of it shares, the
 * columns access control constrains, its search parameters, and its mapping. Search parameters are
 * data here; parsing and SQL generation happen once per parameter type.
 */
export interface ResourceDefinition<Row = unknown> {
  readonly type: string;
  readonly select: string;
  readonly from: string;
  /** Which rows are this resource at all (e.g. users who are patients, not staff). */
  readonly where?: string;
  readonly idColumn: string;
  /** The tenant column. */
  readonly organizationColumn: string;
  /** The patient whose compartment the row belongs to. */
  readonly patientColumn: string;
  readonly deletedColumn: string;
  readonly parameters: Readonly<Record<string, SearchParameter>>;
  toResource(row: Row, ctx: MappingContext): FhirResource;
}
