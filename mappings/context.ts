import type { Meta } from 'fhir/r4';

/** What every mapping needs besides the row: where MediLens CodeSystems and extensions live. */
export interface MappingContext {
  /** e.g. https://fhir.medilens.ai; never hard-coded elsewhere. */
  readonly canonicalBase: string;
}

/**
 * A timestamp as a row carries it: a Date from the driver (live row), or a string when the row is read
 * back from a JSONB history snapshot (to_jsonb of the view row, e.g. "2026-01-01T10:00:00.123456+00:00").
 */
export type Timestamp = Date | string;

/** The columns every fhir_* view starts with: identity, access (organization, patient) and version. */
export interface ViewRow {
  id: string;
  organization_id: string | null;
  patient_id: string | null;
  version_id: number;
  last_updated: Timestamp;
  deleted_at: Timestamp | null;
}

/**
 * An instant with millisecond precision. Postgres keeps microseconds; the driver's Date truncates them
 * and so does this for strings, so a live row and its JSONB snapshot map to the same instant.
 */
export function iso(value: Timestamp): string {
  if (value instanceof Date) return value.toISOString();
  const truncated = value.replace(/(\.\d{3})\d+/, '$1');
  const date = new Date(truncated);
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a timestamp: ${value}`);
  return date.toISOString();
}

/** meta.versionId / meta.lastUpdated from the version the database recorded. */
export function versionMeta(row: ViewRow): Meta {
  return { versionId: String(row.version_id), lastUpdated: iso(row.last_updated) };
}

/** URL of a MediLens extension (StructureDefinition) under the canonical base. */
export function extensionUrl(ctx: MappingContext, name: string): string {
  return `${ctx.canonicalBase}/StructureDefinition/${name}`;
}

/** Why a resource cannot be stored as MediLens rows: what is wrong, and where (FHIRPath). */
export interface MappingIssue {
  readonly diagnostics: string;
  readonly expression: string[];
}
