import request from 'supertest';
import type { DiagnosticReport, Observation } from 'fhir/r4';
import { medilensSystems } from '../../mappings/codes';
import { PIPELINES, type Pipeline } from '../../mappings/pipeline-result';
import { MODALITIES } from '../../src/ingest/schemas';
import { GATEWAY } from '../support/auth';
import { testBackend } from '../support/database';
import { biomarkers, completeDocument, RESULTS } from './documents';
import { ingestFixture, WRITE_SCOPE, type IngestFixture } from './fixture';

const base = 'https://fhir.medilens.ai';
const systems = medilensSystems({ canonicalBase: base });

/** conclusionCode the report of each complete document carries: risk level, then the modality's findings. */
const CONCLUSIONS: Record<Pipeline, [system: string, code: string][]> = {
  retinal: [['risk-level', 'moderate'], ['diabetic-retinopathy-severity', 'moderate'], ['macular-edema-severity', 'mild']],
  speech: [['risk-level', 'moderate']],
  cardiology: [['risk-level', 'moderate'], ['cardiac-rhythm', 'atrial_fibrillation'], ['arrhythmia', 'atrial_fibrillation'], ['arrhythmia', 'prolonged_qt']],
  radiology: [['risk-level', 'moderate'], ['radiology-finding', 'Pneumonia']],
  dermatology: [['risk-level', 'moderate'], ['melanoma-suspicion', 'moderate'], ['lesion-classification', 'dysplastic_nevus']],
  // The cognitive result's own risk level is the same code in the same system: listed once.
  cognitive: [['risk-level', 'moderate']],
};

describe(`POST /medilens/assessments stores a complete document of every pipeline (${testBackend()})`, () => {
  let f: IngestFixture;
  let token: string;

  beforeAll(async () => {
    f = await ingestFixture();
    token = await f.token(WRITE_SCOPE);
  });
  afterAll(() => f?.db.close());

  const read = <T>(path: string) => request(f.app).get(path).auth(token, { type: 'bearer' }).expect(200).then((r) => r.body as T);

  it.each(PIPELINES)('%s: 201, a DiagnosticReport with its Observations, and consistent rows', async (pipeline) => {
    const doc = completeDocument(pipeline, f.patientA);
    const res = await f.post(doc, token).expect(201);
    const id: string = res.body.assessment_id;
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers.location).toBe(`${GATEWAY}/fhir/DiagnosticReport/${id}`);
    expect(res.body).toEqual({
      assessment_id: id,
      diagnostic_report: `DiagnosticReport/${id}`,
      observations: expect.any(Array),
      created: true,
    });
    const observationIds = (res.body.observations as string[]).map((ref) => ref.replace('Observation/', ''));
    expect(observationIds).toHaveLength(doc.biomarkers!.length);

    const report = await read<DiagnosticReport>(`/fhir/DiagnosticReport/${id}`);
    expect(report).toMatchObject({
      id,
      identifier: [{ system: systems.sessionId, value: doc.session_id }],
      status: 'final',
      subject: { reference: `Patient/${f.patientA}` },
      performer: [{ reference: `Organization/${f.orgA}` }],
      effectiveDateTime: '2026-03-01T10:00:00.000Z',
      issued: '2026-03-01T10:00:09.000Z',
      conclusion: doc.explanation!.text,
      meta: { versionId: '1' },
    });
    expect(report.category).toContainEqual({ coding: [{ system: systems.pipeline, code: pipeline }] });
    expect(report.code.coding).toContainEqual(expect.objectContaining({ system: systems.report, code: pipeline }));
    // Results in the order the pipeline reported them.
    expect(report.result).toEqual(observationIds.map((o) => ({ reference: `Observation/${o}` })));
    expect(report.conclusionCode!.map((c) => [c.coding![0].system!.replace(`${base}/CodeSystem/`, ''), c.coding![0].code])).toEqual(CONCLUSIONS[pipeline]);
    expect(report.extension).toEqual([
      { url: `${base}/StructureDefinition/risk-score`, valueDecimal: 42.5 },
      { url: `${base}/StructureDefinition/confidence`, valueDecimal: 0.913 },
      { url: `${base}/StructureDefinition/quality-score`, valueDecimal: 0.88 },
      { url: `${base}/StructureDefinition/pipeline-version`, valueString: '1.0.0' },
      { url: `${base}/StructureDefinition/processing-time`, valueDuration: { value: 9000, unit: 'ms', system: 'http://unitsofmeasure.org', code: 'ms' } },
    ]);

    const expected = biomarkers(pipeline);
    for (const [i, observationId] of observationIds.entries()) {
      const o = await read<Observation>(`/fhir/Observation/${observationId}`);
      const b = expected[i];
      expect(o.status).toBe('final');
      expect(o.subject).toEqual({ reference: `Patient/${f.patientA}` });
      expect(o.code.coding).toContainEqual(expect.objectContaining({ system: systems.biomarker, code: b.name }));
      expect(o.valueQuantity).toMatchObject({ value: b.value, unit: b.unit });
      expect(o.referenceRange).toEqual([{ low: expect.objectContaining({ value: b.normal_range_min }), high: expect.objectContaining({ value: b.normal_range_max }) }]);
      expect(o.interpretation?.[0].coding?.[0].code).toBe('N');
      expect(o.category).toContainEqual({ coding: [{ system: systems.biomarkerCategory, code: b.category }] });
      expect(o.extension).toContainEqual({ url: `${base}/StructureDefinition/confidence`, valueDecimal: 0.9 });
      if (b.name === 'heart_rate') expect(o.code.coding).toContainEqual(expect.objectContaining({ system: 'http://loinc.org', code: '8867-4' }));
    }

    const [assessment] = await f.sql<Record<string, unknown>>(
      `SELECT user_id, organization_id, pipeline_type, status, current_stage, session_id FROM assessments WHERE id = $1`,
      [id],
    );
    expect(assessment).toEqual({
      user_id: f.patientA, organization_id: f.orgA, pipeline_type: pipeline, status: 'completed',
      current_stage: doc.stages!.at(-1)!.name, session_id: doc.session_id,
    });
    // The owner columns are the trigger's copy of the assessment's, for every biomarker.
    const owners = await f.sql<{ user_id: string; organization_id: string; n: number }>(
      `SELECT user_id, organization_id, count(*)::int AS n FROM biomarker_values WHERE assessment_id = $1 GROUP BY 1, 2`,
      [id],
    );
    expect(owners).toEqual([{ user_id: f.patientA, organization_id: f.orgA, n: doc.biomarkers!.length }]);
    const stages = await f.sql<{ stage_name: string; stage_index: number; metadata: unknown }>(
      `SELECT stage_name, stage_index, metadata FROM pipeline_stages WHERE assessment_id = $1 ORDER BY stage_index`,
      [id],
    );
    expect(stages.map((s) => [s.stage_name, s.stage_index])).toEqual(doc.stages!.map((s) => [s.name, s.index]));
    expect(stages[0].metadata).toEqual({ model_version: '1.0.0' });
    const [row] = await f.sql<{ r: Record<string, unknown> }>(
      `SELECT to_jsonb(x) - 'id' - 'assessment_id' - 'created_at' AS r FROM ${MODALITIES[pipeline].table} x WHERE assessment_id = $1`,
      [id],
    );
    expect(row.r).toEqual(RESULTS[pipeline]);
    const explanations = await f.sql(`SELECT explanation_text, model_used, tokens_used FROM ai_explanations WHERE assessment_id = $1`, [id]);
    expect(explanations).toEqual([{ explanation_text: doc.explanation!.text, model_used: 'medilens-explainer-2.1', tokens_used: 120 }]);
  });

  it('a minimal document (no stages, biomarkers, result or explanation) takes the defaults', async () => {
    const session = `minimal_${Date.now()}`;
    const res = await f.post({ session_id: session, pipeline: 'speech', patient: { id: f.patientA } }, token).expect(201);
    const [row] = await f.sql(`SELECT pipeline_version, status, requires_review, risk_score, completed_at FROM assessments WHERE id = $1`, [res.body.assessment_id]);
    expect(row).toEqual({ pipeline_version: '1.0.0', status: 'completed', requires_review: false, risk_score: null, completed_at: null });
    expect(res.body.observations).toEqual([]);
    const report = await read<DiagnosticReport>(`/fhir/DiagnosticReport/${res.body.assessment_id}`);
    expect(report.status).toBe('final');
    expect(report.result).toBeUndefined();
  });

  it('a pending assessment (partial delivery) reads as registered; a review request as preliminary', async () => {
    const pending = await f.post({ session_id: `pending_${Date.now()}`, pipeline: 'retinal', patient: { id: f.patientA }, status: 'pending' }, token).expect(201);
    expect((await read<DiagnosticReport>(`/fhir/DiagnosticReport/${pending.body.assessment_id}`)).status).toBe('registered');
    const review = completeDocument('dermatology', f.patientA, { requires_review: true, review_reason: 'Model confidence below 0.80' });
    const res = await f.post(review, token).expect(201);
    expect((await read<DiagnosticReport>(`/fhir/DiagnosticReport/${res.body.assessment_id}`)).status).toBe('preliminary');
    const o = await read<Observation>(`/fhir/${res.body.observations[0]}`);
    expect(o.status).toBe('preliminary');
  });

  it('fixed ids are kept: the assessment id and each biomarker id', async () => {
    const doc = completeDocument('cardiology', f.patientA, { id: '0f5b7d64-3c61-4a4b-9a55-0b1b2f1e0c01' });
    doc.biomarkers![0].id = '0f5b7d64-3c61-4a4b-9a55-0b1b2f1e0c02';
    const res = await f.post(doc, token, 'application/fhir+json').expect(201);
    expect(res.body.assessment_id).toBe(doc.id);
    expect(res.body.observations[0]).toBe(`Observation/${doc.biomarkers![0].id}`);
  });
});
