import type { FhirResource } from 'fhir/r4';
import type { MappingContext } from '../../mappings/context';
import type { SqlParams } from './sql';
import type { Token } from './parameters/token';

/**
 * Search parameters are data: each names its FHIR type and the view column (or predicate) it reads.
 * Parsing, validation and SQL generation happen once per TYPE in search/parameters/. Inside a
 * predicate the resource's view row is `r`.
 */
interface ParameterBase {
  readonly description: string;
  /** Canonical URL of the SearchParameter (base spec, US Core or ours), for the CapabilityStatement. */
  readonly definition?: string;
  /** SQL that is true when the resource has no value for the parameter (:missing=true); default: never missing. */
  readonly missing?: string;
}

export interface TokenParameter extends ParameterBase {
  readonly type: 'token';
  where(params: SqlParams, token: Token): string;
  /** :text — matches the display text; absent when the parameter has none to match. */
  text?(params: SqlParams, text: string): string;
}

export interface DateParameter extends ParameterBase {
  readonly type: 'date';
  readonly column: string;
  /** An instant (timestamptz) or a whole day (date: a birthDate is a day, not a moment). */
  readonly precision: 'instant' | 'day';
}

export interface StringParameter extends ParameterBase {
  readonly type: 'string';
  /**
   * Matches when any of these columns matches. `folded` names a stored search_fold() of the column:
   * an indexed prefix search under row-level security needs a plain column.
   */
  readonly columns: readonly { column: string; folded?: string }[];
}

export interface ReferenceParameter extends ParameterBase {
  readonly type: 'reference';
  /** Resource types the reference may point at. */
  readonly targets: readonly string[];
  /** The uuid column holding the referenced id, when one target is stored in one column. */
  readonly column?: string;
  /** Otherwise: a predicate matching any of these references (one type each). */
  where?(params: SqlParams, refs: readonly SearchReference[]): string;
  /**
   * A bare value need not be a FHIR id (nor a UUID): it is handed to `where` as it was written, marked
   * bare, for parameters that also match identifiers held as text (an AuditEvent agent's OAuth client id
   * or token subject, its source). Type/id values still follow the reference rules.
   */
  readonly bareValues?: boolean;
}

/** One reference a reference parameter's value names; `bare` when it was written without a type. */
export interface SearchReference {
  readonly type: string;
  readonly id: string;
  readonly bare?: boolean;
}

export interface QuantityParameter extends ParameterBase {
  readonly type: 'quantity';
  readonly valueColumn: string;
  readonly unitColumn: string;
}

export type SearchParameter = TokenParameter | DateParameter | StringParameter | ReferenceParameter | QuantityParameter;

/** A _sort key: the SQL expression, and its type for the keyset cursor's bound values. */
export interface SortKey {
  readonly columns: readonly { expr: string; sqlType: 'timestamptz' | 'date' | 'text' }[];
}

/** _include=Type:param: the referenced resources, found from the mapped resource. */
export interface IncludeDefinition {
  readonly target: string;
  references(resource: FhirResource): string[];
}

/**
 * How one FHIR resource type is stored and searched: its projection view (see the ResourceVersions
 * migration; columns id, organization_id, patient_id, version_id, last_updated, deleted_at plus what
 * the mapping needs), its parameters, sorts and includes, and its mapping.
 */
export interface ResourceDefinition<Row = unknown> {
  readonly type: string;
  readonly view: string;
  /**
   * Whose data a row is: a patient's (tenant and patient compartment apply), an organization's (the
   * tenant applies; Organization itself), shared by every tenant (the AI models behind Device), or an
   * audit event (the tenant applies to every organization the event names, r.organizations; there is
   * no patient compartment: patients never reach the audit log).
   */
  readonly tenancy: 'patient' | 'organization' | 'shared' | 'audit';
  /**
   * false for a type without version history (AuditEvent: an event is written once and never changes):
   * it has read and search, but no vread and no _history interactions.
   */
  readonly history?: false;
  /** US Core (or base) profile the resources claim, for the CapabilityStatement. */
  readonly profile?: string;
  readonly parameters: Readonly<Record<string, SearchParameter>>;
  readonly sorts: Readonly<Record<string, SortKey>>;
  readonly includes: Readonly<Record<string, IncludeDefinition>>;
  /** Elements _summary=true keeps (besides id, meta and resourceType). */
  readonly summary: readonly string[];
  toResource(row: Row, ctx: MappingContext): FhirResource;
}

/** The columns every view has, as the access predicate and the history queries name them. */
export const ROW = {
  id: 'r.id',
  organization: 'r.organization_id',
  patient: 'r.patient_id',
  deleted: 'r.deleted_at',
  lastUpdated: 'r.last_updated',
  /** Audit events only (fhir_audit_event): every organization whose auditors may read the event. */
  organizations: 'r.organizations',
} as const;
