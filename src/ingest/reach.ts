import type { EntityManager } from 'typeorm';
import type { RowAccess } from '../auth/access';
import { forbidden } from '../fhir/outcomes';
import type { ResourceDefinition } from '../search/definition';
import { readRow, rowsById, type ViewRow } from '../search/query';
import type { IngestResult } from '../../mappings/pipeline-result';

/** What the caller may create: rowAccess(access, type, 'c') for the report, and for its Observations when it has any. */
export interface IngestReach {
  readonly report: RowAccess;
  readonly observations: RowAccess | null;
}

/** The two views a result is read back through (from the registry, src/search/registry.ts). */
export interface ResultDefinitions {
  readonly report: ResourceDefinition<ViewRow>;
  readonly observation: ResourceDefinition<ViewRow>;
}

/**
 * Whether what was just written (or found, for a repeat) lies within the scopes that allow creating it:
 * the same predicate a read applies (tenant, patient compartment, patient/ scopes, granular filters such
 * as `DiagnosticReport.c?category=...`), evaluated by the database on the rows in this transaction.
 * Outside it: 403, and the caller's transaction rolls back, so nothing stays written.
 */
export async function confirmReach(tx: EntityManager, written: IngestResult, reach: IngestReach, defs: ResultDefinitions): Promise<void> {
  const report = await readRow(tx, defs.report, reach.report, written.assessmentId);
  if (!report) throw forbidden('The token does not permit creating this DiagnosticReport: its patient, category or code is outside the granted scopes');
  if (reach.observations === null || written.observationIds.length === 0) return;
  const unique = new Set(written.observationIds);
  const found = await rowsById(tx, defs.observation, reach.observations, [...unique]);
  if (found.length !== unique.size) {
    throw forbidden('The token does not permit creating these Observations: a biomarker lies outside the granted scopes');
  }
}
