import { clientErrorOf } from '../../src/ingest/db-errors';
import { OutcomeError } from '../../src/fhir/outcomes';
import { testBackend } from '../support/database';
import { completeDocument } from './documents';
import { ingestFixture, WRITE_SCOPE, type IngestFixture } from './fixture';

/**
 * The schemas should make the database's constraints unreachable; should one slip through (a rule
 * added by a later migration), the database's refusal is still a 4xx naming the field, not a 500.
 * Simulated by constraints this test adds to its own database.
 */
describe(`database refusals that slip past the schemas are 4xx (${testBackend()})`, () => {
  let f: IngestFixture;
  let token: string;

  beforeAll(async () => {
    f = await ingestFixture();
    token = await f.token(WRITE_SCOPE);
    await f.sql(`
      ALTER TABLE assessments ADD CONSTRAINT assessments_processing_time_ms_check CHECK (processing_time_ms < 3600000);
      ALTER TABLE biomarker_values ADD CONSTRAINT biomarker_values_normal_range_min_check CHECK (normal_range_min > -1000);
      ALTER TABLE pipeline_stages ADD CONSTRAINT pipeline_stages_duration_ms_check CHECK (duration_ms < 600000);
      ALTER TABLE speech_results ADD CONSTRAINT speech_results_hnr_check CHECK (hnr < 60);
      ALTER TABLE ai_explanations ADD CONSTRAINT ai_explanations_tokens_used_check CHECK (tokens_used < 100000);
    `);
  });
  afterAll(() => f?.db.close());

  it.each([
    ['processing_time_ms', (d: ReturnType<typeof completeDocument>) => (d.processing_time_ms = 4_000_000)],
    ['biomarkers[*].normal_range_min', (d: ReturnType<typeof completeDocument>) => (d.biomarkers![0].normal_range_min = -5000)],
    ['stages[*].duration_ms', (d: ReturnType<typeof completeDocument>) => (d.stages![0].duration_ms = 700_000)],
    ['result.hnr', (d: ReturnType<typeof completeDocument>) => ((d.result as Record<string, unknown>).hnr = 61)],
    ['explanation.tokens_used', (d: ReturnType<typeof completeDocument>) => (d.explanation!.tokens_used = 200_000)],
  ])('a CHECK on %s: 422 naming it, nothing written', async (field, change) => {
    const doc = completeDocument('speech', f.patientA);
    change(doc);
    const before = await f.counts();
    const res = await f.post(doc, token).expect(422);
    expect(res.body.issue).toEqual([{ severity: 'error', code: 'processing', diagnostics: `${field} is outside the range MediLens can store`, expression: [field] }]);
    expect(await f.counts()).toEqual(before);
  });

  it('maps each kind of database error, and leaves the rest alone', () => {
    const status = (err: unknown) => (clientErrorOf(err) as OutcomeError).status;
    expect(status({ code: '23505', constraint: 'assessments_session_id_key' })).toBe(409);
    expect(status({ code: '23503' })).toBe(422);
    expect(status({ code: '23502', table: 'assessments', column: 'session_id' })).toBe(422);
    expect(status({ code: '22003' })).toBe(422);
    expect(status({ code: '42501' })).toBe(403);
    // TypeORM's QueryFailedError keeps the driver's error as driverError.
    expect(status({ driverError: { code: '23514', table: 'cardiology_results', constraint: 'cardiology_results_heart_rate_bpm_check' } })).toBe(422);
    const bug = new TypeError('not the client');
    expect(clientErrorOf(bug)).toBe(bug);
    expect(clientErrorOf({ code: '57014' })).toEqual({ code: '57014' });
  });
});
