import request from 'supertest';
import type { Bundle, DiagnosticReport, Observation, Resource } from 'fhir/r4';
import { fromDiagnosticReport } from '../../mappings/result-document';
import { PIPELINES } from '../../mappings/pipeline-result';
import { generateDemoData } from '../../src/demo/generator';
import { testBackend } from '../support/database';
import { ingestFixture, type IngestFixture } from './fixture';

const ctx = { canonicalBase: 'https://fhir.medilens.ai' };

/**
 * The property that matters most for FHIR writes: for demo reports of all six pipelines, in every
 * state, toDiagnosticReport/toObservation -> fromDiagnosticReport -> ingest -> toDiagnosticReport/
 * toObservation gives the same resources, apart from ids, the session identifier, meta and timestamps.
 * Reports are read and ingested through the gateway, as a client would.
 */
describe(`FHIR -> result document -> ingestion -> FHIR round trip on demo data (${testBackend()})`, () => {
  let f: IngestFixture;
  let token: string;

  beforeAll(async () => {
    f = await ingestFixture();
    await generateDemoData(f.db.dataSource, { patients: 12, assessmentsPerPatient: 4, organizations: 2, clinicians: 2, seed: 31 });
    // Reports still in flight, which this small dataset happens not to have: one partial, one registered.
    for (const [pipeline, status] of [['cardiology', 'processing'], ['retinal', 'pending']]) {
      await f.sql(
        `UPDATE assessments SET status = $2, completed_at = NULL
          WHERE id = (SELECT id FROM assessments WHERE pipeline_type = $1 AND status = 'completed' ORDER BY id LIMIT 1)`,
        [pipeline, status],
      );
    }
    token = await f.token('system/DiagnosticReport.crs system/Observation.crs', null);
  }, 120_000);
  afterAll(() => f?.db.close());

  /** A report and its result Observations, in the report's order, through the gateway. */
  async function readReport(id: string): Promise<{ report: DiagnosticReport; observations: Observation[] }> {
    const res = await request(f.app).get(`/fhir/DiagnosticReport?_id=${id}&_include=DiagnosticReport:result&_count=1`).auth(token, { type: 'bearer' }).expect(200);
    const resources = ((res.body as Bundle).entry ?? []).map((e) => e.resource as Resource);
    const report = resources.find((r): r is DiagnosticReport => r.resourceType === 'DiagnosticReport')!;
    const byRef = new Map(resources.filter((r) => r.resourceType === 'Observation').map((o) => [`Observation/${o.id}`, o as Observation]));
    return { report, observations: (report.result ?? []).map((ref) => byRef.get(ref.reference!)!) };
  }

  /** Without what is the server's (ids, meta, the session identifier) or the moment's (timestamps). */
  function comparable({ report, observations }: { report: DiagnosticReport; observations: Observation[] }) {
    const { id, meta, identifier, effectiveDateTime, issued, result, ...rest } = report;
    void [id, meta, identifier, effectiveDateTime, issued];
    return {
      report: rest,
      results: result?.length ?? 0,
      observations: observations.map(({ id: oid, meta: ometa, effectiveDateTime: oe, issued: oi, ...o }) => (void [oid, ometa, oe, oi], o)),
    };
  }

  it('gives the same resources for every demo report of all six pipelines', async () => {
    const reports: { id: string; pipeline_type: string; status: string }[] = await f.sql(
      `SELECT a.id, a.pipeline_type, a.status FROM assessments a JOIN organizations o ON o.id = a.organization_id
        WHERE o.name NOT IN ('Clinic A', 'Clinic B') ORDER BY a.created_at, a.id`,
    );
    const completed = new Set(reports.filter((r) => r.status === 'completed').map((r) => r.pipeline_type));
    expect([...completed].sort()).toEqual([...PIPELINES].sort());
    const statuses = new Set<string>();
    for (const { id } of reports) {
      const original = await readReport(id);
      const doc = fromDiagnosticReport(original.report, original.observations, ctx);
      const patient = original.report.subject!.reference!.replace('Patient/', '');
      const res = await request(f.app)
        .post('/medilens/assessments')
        .auth(token, { type: 'bearer' })
        .send({ ...doc, session_id: `copy_${doc.session_id}`, patient: { id: patient } });
      expect([id, res.status]).toEqual([id, 201]);
      const copy = await readReport(res.body.assessment_id);
      expect(comparable(copy)).toEqual(comparable(original));
      expect(copy.report.identifier).toEqual([{ ...original.report.identifier![0], value: `copy_${doc.session_id}` }]);
      expect(copy.report.effectiveDateTime).toBe(original.report.effectiveDateTime);
      statuses.add(original.report.status);
    }
    expect(reports.length).toBeGreaterThanOrEqual(40);
    expect([...statuses].sort()).toEqual(['cancelled', 'final', 'partial', 'preliminary', 'registered']);
  }, 120_000);
});
