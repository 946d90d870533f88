import request from 'supertest';
import type { OperationOutcome } from 'fhir/r4';
import { testBackend } from '../support/database';
import { completeDocument } from './documents';
import { ingestFixture, WRITE_SCOPE, type IngestFixture } from './fixture';

/**
 * Everything a client can get wrong is a 4xx OperationOutcome naming the field, and writes nothing:
 * 400 when the document does not have the shape, 422 when a value breaks a rule it cannot be stored
 * with, 413/415 for the body itself. Never a 500, never SQL in a message.
 */

type Doc = Record<string, unknown> & { result: Record<string, unknown>; biomarkers: Record<string, unknown>[]; stages: Record<string, unknown>[] };

interface Case {
  name: string;
  /** A change to a complete document of `pipeline` (default cardiology), or a raw body. */
  change?: (doc: Doc) => void;
  pipeline?: Parameters<typeof completeDocument>[0];
  raw?: string;
  contentType?: string;
  status: number;
  /** [expression, diagnostics] of each issue, in order; omitted for body-level errors. */
  issues?: [string, RegExp][];
  diagnostics?: RegExp;
}

const long = (n: number) => 'x'.repeat(n);

const CASES: Case[] = [
  // The body itself.
  { name: 'malformed JSON', raw: '{"session_id": "s1", "pipeline": ', status: 400, diagnostics: /not valid JSON/ },
  { name: 'wrong content type', raw: 'session_id=s1', contentType: 'text/plain', status: 415, diagnostics: /application\/json/ },
  { name: 'form content type', raw: 'session_id=s1', contentType: 'application/x-www-form-urlencoded', status: 415, diagnostics: /application\/json/ },
  { name: 'XML', raw: '<assessment/>', contentType: 'application/fhir+xml', status: 415, diagnostics: /application\/json/ },
  { name: 'a JSON array', raw: '[]', status: 400, issues: [['$', /must be a JSON object/]] },
  { name: 'a body over MAX_BODY_BYTES', change: (d) => (d.review_reason = long(70_000)), status: 413, diagnostics: /larger than the configured limit/ },
  // Shape: 400.
  { name: 'missing session_id', change: (d) => delete d.session_id, status: 400, issues: [['session_id', /is required/]] },
  { name: 'missing patient and pipeline', change: (d) => (delete d.patient, delete d.pipeline), status: 400, issues: [['pipeline', /is required/], ['patient', /is required/]] },
  { name: 'unknown top-level field', change: (d) => (d.colour = 'blue'), status: 400, issues: [['colour', /not a field of the result document/]] },
  { name: 'unknown result column', change: (d) => (d.result.dr_grade = 2), status: 400, issues: [['result.dr_grade', /not a column of cardiology results/]] },
  { name: 'unknown biomarker field', change: (d) => (d.biomarkers[1].colour = 'red'), status: 400, issues: [['biomarkers[1].colour', /not a field/]] },
  { name: 'unknown stage field', change: (d) => (d.stages[0].gpu = 'A100'), status: 400, issues: [['stages[0].gpu', /not a field/]] },
  { name: 'risk_score as text', change: (d) => (d.risk_score = 'high'), status: 400, issues: [['risk_score', /must be a number or null/]] },
  { name: 'biomarker value as text', change: (d) => (d.biomarkers[2].value = '72'), status: 400, issues: [['biomarkers[2].value', /must be a number/]] },
  { name: 'biomarker without value', change: (d) => delete d.biomarkers[2].value, status: 400, issues: [['biomarkers[2].value', /is required/]] },
  { name: 'fractional percentile', change: (d) => (d.biomarkers[0].percentile = 50.5), status: 400, issues: [['biomarkers[0].percentile', /must be an integer/]] },
  { name: 'fractional heart_rate_bpm', change: (d) => (d.result.heart_rate_bpm = 72.5), status: 400, issues: [['result.heart_rate_bpm', /must be an integer/]] },
  { name: 'result as a list', change: (d) => ((d as Record<string, unknown>).result = [1]), status: 400, issues: [['result', /must be a JSON object or null/]] },
  { name: 'boolean as string', change: (d) => (d.result.arrhythmia_detected = 'yes'), status: 400, issues: [['result.arrhythmia_detected', /must be true or false or null/]] },
  { name: 'date-time without offset', change: (d) => (d.created_at = '2026-03-01T10:00:00'), status: 400, issues: [['created_at', /date-time with a UTC offset/]] },
  { name: 'impossible date', change: (d) => (d.completed_at = '2026-02-30T10:00:00Z'), status: 400, issues: [['completed_at', /date-time/]] },
  { name: 'year 0', change: (d) => (d.created_at = '0000-12-31T23:00:00Z'), status: 400, issues: [['created_at', /years 1 and 9999/]] },
  { name: 'patient without id or identifier', change: (d) => (d.patient = {}), status: 400, issues: [['patient', /by id or by identifier/]] },
  { name: 'patient with both', change: (d) => (d.patient = { id: '0b6efac4-0054-411e-9944-cfdf241b96a8', identifier: { system: 's', value: 'v' } }), status: 400, issues: [['patient', /not both/]] },
  { name: 'patient id not a uuid', change: (d) => (d.patient = { id: 'Patient/123' }), status: 400, issues: [['patient.id', /must be a UUID/]] },
  { name: 'patient identifier without value', change: (d) => (d.patient = { identifier: { system: 'urn:mrn' } }), status: 400, issues: [['patient.identifier.value', /is required/]] },
  { name: 'biomarker id not a uuid', change: (d) => (d.biomarkers[0].id = 'hr-1'), status: 400, issues: [['biomarkers[0].id', /must be a UUID/]] },
  // Rules: 422.
  { name: 'unknown pipeline', change: (d) => (d.pipeline = 'ophthalmology'), status: 422, issues: [['pipeline', /must be one of: retinal, speech/]] },
  { name: 'unknown status', change: (d) => (d.status = 'done'), status: 422, issues: [['status', /must be one of: pending, processing, completed, failed/]] },
  { name: 'empty session_id', change: (d) => (d.session_id = ''), status: 422, issues: [['session_id', /must not be empty/]] },
  { name: 'session_id over VARCHAR(255)', change: (d) => (d.session_id = long(256)), status: 422, issues: [['session_id', /at most 255 characters \(stored as VARCHAR\(255\)\)/]] },
  { name: 'pipeline_version over VARCHAR(20)', change: (d) => (d.pipeline_version = long(21)), status: 422, issues: [['pipeline_version', /at most 20 characters/]] },
  { name: 'biomarker unit over VARCHAR(20)', change: (d) => (d.biomarkers[4].unit = long(21)), status: 422, issues: [['biomarkers[4].unit', /at most 20 characters/]] },
  { name: 'risk_score above its CHECK', change: (d) => (d.risk_score = 100.01), status: 422, issues: [['risk_score', /at most 100/]] },
  { name: 'negative confidence', change: (d) => (d.confidence = -0.1), status: 422, issues: [['confidence', /at least 0/]] },
  { name: 'percentile above its CHECK', change: (d) => (d.biomarkers[1].percentile = 101), status: 422, issues: [['biomarkers[1].percentile', /at most 100/]] },
  { name: 'biomarker value beyond DECIMAL(12,6)', change: (d) => (d.biomarkers[0].value = 1_000_000), status: 422, issues: [['biomarkers[0].value', /DECIMAL\(12,6\)/]] },
  { name: 'quality_score that rounds to 10.000', change: (d) => (d.quality_score = 9.9995), status: 422, issues: [['quality_score', /between -9.999 and 9.999/]] },
  { name: 'stage index beyond SMALLINT', change: (d) => (d.stages[0].index = 40_000), status: 422, issues: [['stages[0].index', /at most 32767/]] },
  { name: 'processing_time_ms beyond INT', change: (d) => (d.processing_time_ms = 2 ** 31), status: 422, issues: [['processing_time_ms', /at most 2147483647/]] },
  { name: 'negative duration', change: (d) => (d.stages[1].duration_ms = -5), status: 422, issues: [['stages[1].duration_ms', /at least 0/]] },
  { name: 'NUL character', change: (d) => (d.review_reason = 'a\u0000b'), status: 422, issues: [['review_reason', /NUL character/]] },
  { name: 'NUL in stage metadata', change: (d) => (d.stages[0].metadata = { note: 'x\u0000' }), status: 422, issues: [['stages[0].metadata.note', /NUL character/]] },
  { name: 'JSON nested too deep', change: (d) => (d.stages[0].metadata = JSON.parse('{"a":'.repeat(80) + '1' + '}'.repeat(80))), status: 422, issues: [[`stages[0].metadata${'.a'.repeat(61)}`, /deeper than 64/]] },
  { name: 'the same biomarker id twice', change: (d) => (d.biomarkers[0].id = d.biomarkers[3].id = '0b6efac4-0054-411e-9944-cfdf241b96a9'), status: 422, issues: [['biomarkers[3].id', /repeats the id of biomarkers\[0\]/]] },
  // Each modality's CHECKs and precision.
  { name: 'retinal dr_grade 5', pipeline: 'retinal', change: (d) => (d.result.dr_grade = 5), status: 422, issues: [['result.dr_grade', /at most 4/]] },
  { name: 'retinal unknown dr_severity', pipeline: 'retinal', change: (d) => (d.result.dr_severity = 'extreme'), status: 422, issues: [['result.dr_severity', /must be one of: none, mild/]] },
  { name: 'retinal vessel_density beyond DECIMAL(5,4)', pipeline: 'retinal', change: (d) => (d.result.vessel_density = 10), status: 422, issues: [['result.vessel_density', /between -9.9999 and 9.9999/]] },
  { name: 'speech jitter beyond DECIMAL(8,6)', pipeline: 'speech', change: (d) => (d.result.jitter = 100), status: 422, issues: [['result.jitter', /DECIMAL\(8,6\)/]] },
  { name: 'cardiology heart_rate_bpm 301', change: (d) => (d.result.heart_rate_bpm = 301), status: 422, issues: [['result.heart_rate_bpm', /at most 300/]] },
  { name: 'cardiology heart_rate_bpm 19', change: (d) => (d.result.heart_rate_bpm = 19), status: 422, issues: [['result.heart_rate_bpm', /at least 20/]] },
  { name: 'cardiology empty arrhythmia type', change: (d) => (d.result.arrhythmia_types = ['']), status: 422, issues: [['result.arrhythmia_types[0]', /must not be empty/]] },
  { name: 'radiology primary_probability beyond DECIMAL(5,2)', pipeline: 'radiology', change: (d) => (d.result.primary_probability = 1000), status: 422, issues: [['result.primary_probability', /DECIMAL\(5,2\)/]] },
  { name: 'radiology unknown modality_type', pipeline: 'radiology', change: (d) => (d.result.modality_type = 'ultrasound'), status: 422, issues: [['result.modality_type', /chest_xray, ct, mri/]] },
  { name: 'dermatology fitzpatrick_type 7', pipeline: 'dermatology', change: (d) => (d.result.fitzpatrick_type = 7), status: 422, issues: [['result.fitzpatrick_type', /at most 6/]] },
  { name: 'dermatology body_location over VARCHAR(50)', pipeline: 'dermatology', change: (d) => (d.result.body_location = long(51)), status: 422, issues: [['result.body_location', /at most 50 characters/]] },
  { name: 'cognitive memory_score beyond DECIMAL(4,3)', pipeline: 'cognitive', change: (d) => (d.result.memory_score = 10), status: 422, issues: [['result.memory_score', /DECIMAL\(4,3\)/]] },
  { name: 'cognitive negative tasks_completed', pipeline: 'cognitive', change: (d) => (d.result.tasks_completed = -1), status: 422, issues: [['result.tasks_completed', /at least 0/]] },
  // Both kinds at once: one OperationOutcome with every issue, 400 for the shape.
  {
    name: 'several problems at once',
    change: (d) => ((d.risk_score = 101), (d.biomarkers[2].value = 'x'), (d.result.heart_rate_bpm = 400), (d.extra = 1)),
    status: 400,
    issues: [['extra', /not a field/], ['risk_score', /at most 100/], ['biomarkers[2].value', /must be a number/], ['result.heart_rate_bpm', /at most 300/]],
  },
];

describe(`bad input to POST /medilens/assessments (${testBackend()})`, () => {
  let f: IngestFixture;
  let token: string;

  beforeAll(async () => {
    f = await ingestFixture({ MAX_BODY_BYTES: '65536' });
    token = await f.token(WRITE_SCOPE);
  });
  afterAll(() => f?.db.close());

  it.each(CASES)('$name: $status', async (c) => {
    const before = await f.counts();
    let body: string;
    if (c.raw !== undefined) body = c.raw;
    else {
      const doc = completeDocument(c.pipeline ?? 'cardiology', f.patientA) as unknown as Doc;
      c.change!(doc);
      body = JSON.stringify(doc);
    }
    const res = await f.post(body, token, c.contentType ?? 'application/json');
    expect([res.status, res.text.slice(0, 300)]).toEqual([c.status, expect.any(String)]);
    const outcome = res.body as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    if (c.issues) {
      expect(outcome.issue.map((i) => i.expression?.[0])).toEqual(c.issues.map(([e]) => e));
      outcome.issue.forEach((issue, k) => expect(issue.diagnostics).toMatch(c.issues![k][1]));
      expect(outcome.issue.every((i) => i.code === (c.status === 400 ? 'structure' : 'processing'))).toBe(true);
    } else {
      expect(outcome.issue[0].diagnostics).toMatch(c.diagnostics!);
    }
    expect(res.text).not.toMatch(/INSERT|SELECT|violates|constraint|at .*\.ts:/);
    expect(await f.counts()).toEqual(before);
  });

  it('no body at all: 400', async () => {
    const res = await request(f.app).post('/medilens/assessments').auth(token, { type: 'bearer' }).expect(400);
    expect(res.body.issue[0].diagnostics).toMatch(/result document/);
  });

  it('a body just under the limit is accepted', async () => {
    const doc = completeDocument('speech', f.patientA, { review_reason: long(60_000) });
    await f.post(doc, token).expect(201);
  });
});
