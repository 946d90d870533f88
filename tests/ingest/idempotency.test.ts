import { testBackend } from '../support/database';
import { completeDocument } from './documents';
import { ingestFixture, WRITE_SCOPE, type IngestFixture } from './fixture';

/** A session is stored once, whoever delivers it how often, and never silently reused for something else. */
describe(`ingestion is idempotent by session_id (${testBackend()})`, () => {
  let f: IngestFixture;
  let token: string;

  beforeAll(async () => {
    f = await ingestFixture();
    token = await f.token(WRITE_SCOPE);
  });
  afterAll(() => f?.db.close());

  /** Rows of one session: the assessment and everything hanging off it. */
  async function sessionRows(session: string) {
    const [row] = await f.sql<Record<string, number>>(
      `SELECT count(*)::int AS assessments,
              (SELECT count(*) FROM biomarker_values b JOIN assessments a ON a.id = b.assessment_id WHERE a.session_id = $1)::int AS biomarkers,
              (SELECT count(*) FROM pipeline_stages s JOIN assessments a ON a.id = s.assessment_id WHERE a.session_id = $1)::int AS stages,
              (SELECT count(*) FROM cardiology_results r JOIN assessments a ON a.id = r.assessment_id WHERE a.session_id = $1)::int AS results,
              (SELECT count(*) FROM ai_explanations e JOIN assessments a ON a.id = e.assessment_id WHERE a.session_id = $1)::int AS explanations
         FROM assessments WHERE session_id = $1`,
      [session],
    );
    return row;
  }

  it('a repeated delivery is 200 with the same ids, and writes nothing', async () => {
    const doc = completeDocument('cardiology', f.patientA);
    const first = await f.post(doc, token).expect(201);
    const before = await f.counts();
    const again = await f.post(doc, token).expect(200);
    expect(again.body).toEqual({ ...first.body, created: false });
    expect(again.headers.location).toBe(first.headers.location);
    expect(await f.counts()).toEqual(before);
    // Even when the repeat differs in its details: the session was delivered; the first delivery stands.
    const changed = await f.post({ ...doc, risk_score: 99 }, token).expect(200);
    expect(changed.body.assessment_id).toBe(first.body.assessment_id);
    const [row] = await f.sql<{ risk_score: string }>(`SELECT risk_score::text FROM assessments WHERE id = $1`, [first.body.assessment_id]);
    expect(row.risk_score).toBe('42.50');
  });

  it('8 concurrent duplicate deliveries store exactly one assessment with one set of children', async () => {
    const doc = completeDocument('cardiology', f.patientA);
    const responses = await Promise.all(Array.from({ length: 8 }, () => f.post(doc, token)));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    const ids = new Set(responses.map((r) => r.body.assessment_id));
    expect(ids.size).toBe(1);
    const observations = new Set(responses.map((r) => JSON.stringify(r.body.observations)));
    expect(observations.size).toBe(1);
    expect(await sessionRows(doc.session_id)).toEqual({
      assessments: 1, biomarkers: doc.biomarkers!.length, stages: doc.stages!.length, results: 1, explanations: 1,
    });
  });

  it('the same session for another patient, or another pipeline, is 409 naming session_id', async () => {
    const other = await f.sql<{ id: string }>(`INSERT INTO users (first_name, organization_id) VALUES ('Cy', $1) RETURNING id`, [f.orgA]);
    const doc = completeDocument('cardiology', f.patientA);
    await f.post(doc, token).expect(201);
    const before = await f.counts();
    for (const body of [{ ...doc, patient: { id: other[0].id } }, { ...completeDocument('speech', f.patientA), session_id: doc.session_id }]) {
      const res = await f.post(body, token).expect(409);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0]).toMatchObject({ code: 'conflict', expression: ['session_id'] });
    }
    expect(await f.counts()).toEqual(before);
  });

  it('a session taken in another organization (invisible here) is 409 too, revealing nothing of it', async () => {
    const tokenB = await f.token(WRITE_SCOPE, f.orgB);
    const doc = completeDocument('retinal', f.patientB);
    await f.post(doc, tokenB).expect(201);
    const before = await f.counts();
    const res = await f.post({ ...doc, patient: { id: f.patientA } }, token).expect(409);
    expect(res.body.issue[0].expression).toEqual(['session_id']);
    expect(JSON.stringify(res.body)).not.toContain(f.patientB);
    expect(await f.counts()).toEqual(before);
  });

  it('an assessment id or biomarker id already taken is 409 naming it', async () => {
    const first = completeDocument('cardiology', f.patientA);
    const stored = await f.post(first, token).expect(201);
    const before = await f.counts();
    const sameId = await f.post(completeDocument('cardiology', f.patientA, { id: stored.body.assessment_id }), token).expect(409);
    expect(sameId.body.issue[0].expression).toEqual(['id']);
    const doc = completeDocument('cardiology', f.patientA);
    doc.biomarkers![3].id = stored.body.observations[0].replace('Observation/', '');
    const sameBiomarker = await f.post(doc, token).expect(409);
    expect(sameBiomarker.body.issue[0].expression).toEqual(['biomarkers[3].id']);
    expect(await f.counts()).toEqual(before);
  });

  it('a session whose assessment was deleted is 409, not a silent re-creation', async () => {
    const doc = completeDocument('speech', f.patientA);
    const res = await f.post(doc, token).expect(201);
    await f.sql(`UPDATE assessments SET deleted_at = now() WHERE id = $1`, [res.body.assessment_id]);
    const again = await f.post(doc, token).expect(409);
    expect(again.body.issue[0].diagnostics).toMatch(/deleted/);
  });
});
