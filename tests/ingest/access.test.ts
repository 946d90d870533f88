import request from 'supertest';
import { medilensSystems } from '../../mappings/codes';
import { ExternalIdp } from '../support/auth';
import { testBackend } from '../support/database';
import { insertUser, userWithRole } from '../support/fixtures';
import { completeDocument } from './documents';
import { ingestFixture, WRITE_SCOPE, type IngestFixture } from './fixture';

const pipelineSystem = medilensSystems({ canonicalBase: 'https://fhir.medilens.ai' }).pipeline;

/** Who may ingest for whom: scopes, organizations, patient identifiers and patient/ scopes. */
describe(`ingestion access (${testBackend()})`, () => {
  let f: IngestFixture;
  let idp: ExternalIdp;
  let token: string;

  beforeAll(async () => {
    idp = await ExternalIdp.start();
    f = await ingestFixture(idp.env());
    token = await f.token(WRITE_SCOPE);
  });
  afterAll(async () => {
    await f?.db.close();
    await idp?.stop();
  });

  /** Asserts the request wrote nothing at all. */
  async function unchanged(run: () => Promise<unknown>): Promise<void> {
    const before = await f.counts();
    await run();
    expect(await f.counts()).toEqual(before);
  }

  it('no token: 401', async () => {
    await unchanged(() => request(f.app).post('/medilens/assessments').send(completeDocument('speech', f.patientA)).expect(401));
  });

  it('without DiagnosticReport.c: 403 naming the scope, nothing written', async () => {
    const readOnly = await f.token('system/DiagnosticReport.rs system/Observation.c');
    await unchanged(async () => {
      const res = await f.post(completeDocument('speech', f.patientA), readOnly).expect(403);
      expect(res.body.issue[0].code).toBe('forbidden');
      expect(res.headers['www-authenticate']).toContain('scope="system/DiagnosticReport.c"');
    });
  });

  it('without Observation.c: 403 for a document with biomarkers, 201 for one without', async () => {
    const reportsOnly = await f.token('system/DiagnosticReport.c');
    await unchanged(async () => {
      const res = await f.post(completeDocument('speech', f.patientA), reportsOnly).expect(403);
      expect(res.headers['www-authenticate']).toContain('scope="system/Observation.c"');
    });
    await f.post(completeDocument('speech', f.patientA, { biomarkers: [] }), reportsOnly).expect(201);
  });

  it('another organization\'s patient, a deleted or unknown one: the same 422 naming patient, nothing written', async () => {
    const deleted = await insertUser(f.db.dataSource, f.orgA, 'Gone');
    await f.sql(`UPDATE users SET deleted_at = now() WHERE id = $1`, [deleted]);
    for (const patient of [f.patientB, deleted, '0b6efac4-0054-411e-9944-cfdf241b96a8']) {
      await unchanged(async () => {
        const res = await f.post(completeDocument('cardiology', patient), token).expect(422);
        expect(res.body.issue).toEqual([
          { severity: 'error', code: 'processing', diagnostics: `Patient/${patient} is not a patient this token can write results for`, expression: ['patient.id'] },
        ]);
      });
    }
  });

  it('a patient named by a pushed identifier is found within the caller\'s organization only', async () => {
    const mrn = 'http://hospital.example/mrn';
    await f.sql(`INSERT INTO patient_identifiers (user_id, organization_id, system, value) VALUES ($1, $2, $3, 'MRN-A'), ($4, $5, $3, 'MRN-B')`, [
      f.patientA, f.orgA, mrn, f.patientB, f.orgB,
    ]);
    const res = await f.post(completeDocument('radiology', f.patientA, { patient: { identifier: { system: mrn, value: 'MRN-A' } } }), token).expect(201);
    const [row] = await f.sql(`SELECT user_id, organization_id FROM assessments WHERE id = $1`, [res.body.assessment_id]);
    expect(row).toEqual({ user_id: f.patientA, organization_id: f.orgA });
    for (const value of ['MRN-B', 'MRN-404']) {
      await unchanged(async () => {
        const bad = await f.post(completeDocument('radiology', f.patientA, { patient: { identifier: { system: mrn, value } } }), token).expect(422);
        expect(bad.body.issue[0].expression).toEqual(['patient.identifier']);
      });
    }
  });

  it('a client bound to no organization writes into the patient\'s organization', async () => {
    const platform = await f.token(WRITE_SCOPE, null);
    const res = await f.post(completeDocument('dermatology', f.patientB), platform).expect(201);
    const rows = await f.sql(
      `SELECT a.organization_id AS a_org, b.organization_id AS b_org, b.user_id FROM assessments a JOIN biomarker_values b ON b.assessment_id = a.id WHERE a.id = $1`,
      [res.body.assessment_id],
    );
    expect(new Set(rows.map((r) => JSON.stringify(r)))).toEqual(new Set([JSON.stringify({ a_org: f.orgB, b_org: f.orgB, user_id: f.patientB })]));
  });

  it('a granular scope (DiagnosticReport.c?category=...) admits its category only; outside it: 403, nothing written', async () => {
    const cardiologyOnly = await f.token(`system/DiagnosticReport.c?category=${pipelineSystem}|cardiology system/Observation.c`);
    await f.post(completeDocument('cardiology', f.patientA), cardiologyOnly).expect(201);
    await unchanged(async () => {
      const res = await f.post(completeDocument('retinal', f.patientA), cardiologyOnly).expect(403);
      expect(res.body.issue[0].diagnostics).toMatch(/outside the granted scopes/);
    });
  });

  it('patient/ scopes confine to the patient in context; a patient writes only their own results', async () => {
    const clinician = await userWithRole(f.db.dataSource, f.orgA, 'Cleo', 'clinician');
    const other = await insertUser(f.db.dataSource, f.orgA, 'Otto');
    const sub = async (id: string) => (await f.sql<{ s: string }>(`SELECT clerk_user_id AS s FROM users WHERE id = $1`, [id]))[0].s;
    const launch = await idp.token({ sub: await sub(clinician), scope: 'patient/DiagnosticReport.c patient/Observation.c', patient: f.patientA });
    await f.post(completeDocument('cognitive', f.patientA), launch).expect(201);
    await unchanged(() => f.post(completeDocument('cognitive', other), launch).expect(422));

    const self = await userWithRole(f.db.dataSource, f.orgA, 'Pat', 'patient');
    const own = await idp.token({ sub: await sub(self), scope: 'patient/DiagnosticReport.c patient/Observation.c' });
    const res = await f.post(completeDocument('speech', self), own).expect(201);
    const [row] = await f.sql(`SELECT user_id, organization_id FROM assessments WHERE id = $1`, [res.body.assessment_id]);
    expect(row).toEqual({ user_id: self, organization_id: f.orgA });
    await unchanged(() => f.post(completeDocument('speech', f.patientA), own).expect(422));
  });
});
