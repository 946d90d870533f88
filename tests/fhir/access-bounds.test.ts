import crypto from 'node:crypto';
import type { Bundle } from 'fhir/r4';
import type { Express } from 'express';
import { REFERENCE_MODELS, seedReferenceData } from '../../src/db/seed';
import { backendToken, ExternalIdp, keyClient, testApp, type ClientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, userWithRole } from '../support/fixtures';
import { caller, entryRefs, type Caller } from '../support/search';

/**
 * Searches never reach past the token: a system token bound to organization A never sees B's rows,
 * not in matches, totals, _include or _revinclude; a patient's token sees their compartment; a
 * clinician's user/ token sees their organization; a granular scope (?category=...) filters searches
 * and includes alike. Real tokens: the gateway's token endpoint for backend clients, a stand-in
 * external identity provider for users.
 *
 * pB is a patient of B who was also seen at A once (assessment xBinA, recorded by A): A reaches that
 * assessment and its Observation, never pB's Patient record or B's own assessment xB.
 */

const VITALS = 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';
const IMAGING = 'http://terminology.hl7.org/CodeSystem/observation-category|imaging';
const ECG_MODEL = REFERENCE_MODELS.find((m) => m.pipeline === 'cardiology')!;

describe(`search results are bounded by the token (${testBackend()})`, () => {
  let db: TestDatabase;
  let idp: ExternalIdp;
  let app: Express;
  let keyA: ClientKey;
  let keyB: ClientKey;
  const id: Record<string, string> = {};
  const nameOf = new Map<string, string>();
  const sub: Record<string, string> = {};

  async function assessment(name: string, user: string, org: string, pipeline: string, biomarkers: [string, string][]): Promise<void> {
    const version = REFERENCE_MODELS.find((m) => m.pipeline === pipeline)!.version;
    await db.dataSource.transaction(async (tx) => {
      [{ id: id[name] }] = await tx.query(
        `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, pipeline_version, status, risk_score, completed_at)
         VALUES ($1, $2, $3, $4, $5, 'completed', 10, now()) RETURNING id`,
        [`session_${crypto.randomUUID()}`, id[user], id[org], pipeline, version],
      );
      for (const [key, biomarker] of biomarkers) {
        [{ id: id[key] }] = await tx.query(`INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit) VALUES ($1, $2, 1, '1') RETURNING id`, [
          id[name],
          biomarker,
        ]);
      }
    });
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    const ds = db.dataSource;
    await seedReferenceData(ds);
    idp = await ExternalIdp.start();
    app = testApp(db, idp.env());
    id.orgA = await insertOrganization(ds, 'Clinic A');
    id.orgB = await insertOrganization(ds, 'Clinic B');
    id.pA1 = await userWithRole(ds, id.orgA, 'PatientA1', 'patient');
    id.pA2 = await userWithRole(ds, id.orgA, 'PatientA2', 'patient');
    id.pB = await userWithRole(ds, id.orgB, 'PatientB', 'patient');
    id.cA = await userWithRole(ds, id.orgA, 'ClinicianA', 'clinician');
    for (const user of ['pA1', 'cA']) [{ clerk_user_id: sub[user] }] = await ds.query(`SELECT clerk_user_id FROM users WHERE id = $1`, [id[user]]);
    await assessment('xA1c', 'pA1', 'orgA', 'cardiology', [['hrA1', 'heart_rate'], ['qrsA1', 'qrs_duration']]);
    await assessment('xA1r', 'pA1', 'orgA', 'retinal', [['vesA1', 'vessel_density']]);
    await assessment('xA2c', 'pA2', 'orgA', 'cardiology', [['hrA2', 'heart_rate']]);
    await assessment('xB', 'pB', 'orgB', 'cardiology', [['hrB', 'heart_rate']]);
    await assessment('xBinA', 'pB', 'orgA', 'cardiology', [['hrBinA', 'heart_rate']]);
    id.ecgModel = ECG_MODEL.id;
    for (const [name, value] of Object.entries(id)) nameOf.set(value, name);
    keyA = await keyClient(db, 'bounds-org-a', 'system/*.rs', id.orgA);
    keyB = await keyClient(db, 'bounds-org-b', 'system/*.rs', id.orgB);
  });
  afterAll(async () => {
    await idp?.stop();
    await db?.close();
  });

  const systemA = async (scope = 'system/*.rs') => caller(app, await backendToken(app, 'bounds-org-a', keyA, scope));
  const systemB = async () => caller(app, await backendToken(app, 'bounds-org-b', keyB, 'system/*.rs'));
  const user = async (name: string, scope: string, claims: Record<string, unknown> = {}) => caller(app, await idp.token({ sub: sub[name], scope, ...claims }));

  /** The bundle as `Type/name` of matches and of included resources, each sorted. */
  async function found(who: Caller, path: string): Promise<{ match: string[]; include: string[] }> {
    const res = await who.get(`${path}${path.includes('?') ? '&' : '?'}_count=1000`);
    expect({ status: res.status, issue: res.body.issue }).toEqual({ status: 200, issue: undefined });
    const named = (mode: 'match' | 'include') =>
      entryRefs(res.body as Bundle, mode)
        .map((ref) => {
          const [type, value] = ref.split('/');
          return `${type}/${nameOf.get(value) ?? value}`;
        })
        .sort();
    return { match: named('match'), include: named('include') };
  }
  const obs = (...names: string[]) => names.map((n) => `Observation/${n}`).sort();
  const pat = (...names: string[]) => names.map((n) => `Patient/${n}`).sort();

  describe('a system token bound to organization A', () => {
    it("finds A's Patients and Observations only", async () => {
      const a = await systemA();
      expect((await found(a, '/fhir/Patient')).match).toEqual(pat('pA1', 'pA2'));
      expect((await found(a, '/fhir/Observation')).match).toEqual(obs('hrA1', 'qrsA1', 'vesA1', 'hrA2', 'hrBinA'));
      expect((await found(a, `/fhir/Observation?patient=${id.pB}`)).match).toEqual(obs('hrBinA'));
      expect((await found(a, `/fhir/Observation?_id=${id.hrB},${id.hrA2}`)).match).toEqual(obs('hrA2'));
      expect((await found(a, `/fhir/Patient?_id=${id.pB}`)).match).toEqual([]);
      expect((await found(a, '/fhir/Practitioner')).match).toEqual(['Practitioner/cA']);
      expect((await found(a, '/fhir/Organization')).match).toEqual(['Organization/orgA']);
    });

    it("counts A's rows only (_total=accurate, _summary=count)", async () => {
      const a = await systemA();
      expect((await a.get('/fhir/Observation?_summary=count').expect(200)).body.total).toBe(5);
      expect((await a.get('/fhir/Observation?code=8867-4&_total=accurate').expect(200)).body.total).toBe(3);
      expect((await a.get(`/fhir/DiagnosticReport?patient=${id.pB}&_total=accurate`).expect(200)).body.total).toBe(1);
    });

    it("never includes B's Patient, even when one of A's Observations refers to it", async () => {
      const a = await systemA();
      expect(await found(a, '/fhir/Observation?_include=Observation:patient')).toEqual({
        match: obs('hrA1', 'qrsA1', 'vesA1', 'hrA2', 'hrBinA'),
        include: pat('pA1', 'pA2'),
      });
      expect(await found(a, `/fhir/DiagnosticReport?patient=${id.pB}&_include=DiagnosticReport:patient&_include=DiagnosticReport:result`)).toEqual({
        match: ['DiagnosticReport/xBinA'],
        include: obs('hrBinA'),
      });
    });

    it("revincludes the Provenance of A's reports only", async () => {
      const a = await systemA();
      expect(await found(a, '/fhir/DiagnosticReport?_revinclude=Provenance:target')).toEqual({
        match: ['xA1c', 'xA1r', 'xA2c', 'xBinA'].map((n) => `DiagnosticReport/${n}`).sort(),
        include: ['xA1c', 'xA1r', 'xA2c', 'xBinA'].map((n) => `Provenance/${n}`).sort(),
      });
      expect((await found(a, `/fhir/Provenance?patient=${id.pB}`)).match).toEqual(['Provenance/xBinA']);
    });

    it('reaches the AI model Devices its Observations name (shared reference data, in no organization)', async () => {
      const a = await systemA();
      const observation = await a.get(`/fhir/Observation/${id.hrA2}`).expect(200);
      expect(observation.body.device).toEqual({ reference: `Device/${ECG_MODEL.id}` });
      expect({
        read: (await a.get(`/fhir/Device/${ECG_MODEL.id}`)).status,
        search: (await found(a, `/fhir/Device?_id=${ECG_MODEL.id}`)).match,
        include: (await found(a, `/fhir/Observation?patient=${id.pA2}&_include=Observation:device`)).include,
      }).toEqual({ read: 200, search: ['Device/ecgModel'], include: ['Device/ecgModel'] });
    });
  });

  it("a system token bound to organization B finds B's rows only", async () => {
    const b = await systemB();
    expect((await found(b, '/fhir/Patient')).match).toEqual(pat('pB'));
    expect(await found(b, '/fhir/Observation?_include=Observation:patient')).toEqual({ match: obs('hrB'), include: pat('pB') });
    expect((await found(b, '/fhir/DiagnosticReport?_revinclude=Provenance:target')).include).toEqual(['Provenance/xB']);
    expect((await found(b, '/fhir/Organization')).match).toEqual(['Organization/orgB']);
  });

  describe("a patient's token", () => {
    it('finds their own compartment only, by any parameter', async () => {
      const me = await user('pA1', 'patient/*.rs');
      expect((await found(me, '/fhir/Patient')).match).toEqual(pat('pA1'));
      expect((await found(me, '/fhir/Observation')).match).toEqual(obs('hrA1', 'qrsA1', 'vesA1'));
      expect((await found(me, `/fhir/Observation?patient=${id.pA2}`)).match).toEqual([]);
      expect((await found(me, `/fhir/Observation?_id=${id.hrA2},${id.hrA1}`)).match).toEqual(obs('hrA1'));
      expect((await me.get('/fhir/Observation?_summary=count').expect(200)).body.total).toBe(3);
    });

    it('includes and revincludes within the compartment only (their organization and the shared AI models aside)', async () => {
      const me = await user('pA1', 'patient/*.rs');
      expect((await found(me, '/fhir/Observation?_include=Observation:patient')).include).toEqual(pat('pA1'));
      expect(await found(me, '/fhir/Patient?_include=Patient:organization')).toEqual({ match: pat('pA1'), include: ['Organization/orgA'] });
      expect((await found(me, `/fhir/Observation?code=8867-4&_include=Observation:device`)).include).toEqual(['Device/ecgModel']);
      expect((await found(me, `/fhir/Organization?_id=${id.orgA},${id.orgB}`)).match).toEqual(['Organization/orgA']);
      expect(await found(me, '/fhir/DiagnosticReport?_revinclude=Provenance:target')).toEqual({
        match: ['DiagnosticReport/xA1c', 'DiagnosticReport/xA1r'],
        include: ['Provenance/xA1c', 'Provenance/xA1r'],
      });
    });

    it("a clinician's token in a patient context is confined to that patient", async () => {
      const inContext = await user('cA', 'patient/*.rs', { patient: id.pA2 });
      expect((await found(inContext, '/fhir/Observation')).match).toEqual(obs('hrA2'));
      expect((await found(inContext, '/fhir/Patient')).match).toEqual(pat('pA2'));
    });
  });

  it("a clinician's user/ token finds their organization's rows, and includes none of B's", async () => {
    const clinician = await user('cA', 'user/*.rs');
    expect((await found(clinician, '/fhir/Patient')).match).toEqual(pat('pA1', 'pA2'));
    expect(await found(clinician, '/fhir/Observation?_include=Observation:patient')).toEqual({
      match: obs('hrA1', 'qrsA1', 'vesA1', 'hrA2', 'hrBinA'),
      include: pat('pA1', 'pA2'),
    });
  });

  describe('granular scopes', () => {
    it('system/Observation.rs?category=vital-signs finds vital signs only, whatever the search asks', async () => {
      const vitals = await systemA(`system/Observation.rs?category=${VITALS}`);
      expect((await found(vitals, '/fhir/Observation')).match).toEqual(obs('hrA1', 'hrA2', 'hrBinA'));
      expect((await found(vitals, '/fhir/Observation?category=procedure')).match).toEqual([]);
      expect((await found(vitals, `/fhir/Observation?_id=${id.qrsA1},${id.hrA1}`)).match).toEqual(obs('hrA1'));
      expect((await vitals.get('/fhir/Observation?_summary=count').expect(200)).body.total).toBe(3);
    });

    it("filters a report's included results the same way", async () => {
      const token = await systemA(`system/DiagnosticReport.rs system/Observation.rs?category=${VITALS}`);
      expect(await found(token, `/fhir/DiagnosticReport?patient=${id.pA1}&_include=DiagnosticReport:result`)).toEqual({
        match: ['DiagnosticReport/xA1c', 'DiagnosticReport/xA1r'],
        include: obs('hrA1'),
      });
    });

    it('two granular scopes reach what either allows', async () => {
      const token = await systemA(`system/Observation.rs?category=${VITALS} system/Observation.rs?category=${IMAGING}`);
      expect((await found(token, `/fhir/Observation?patient=${id.pA1}`)).match).toEqual(obs('hrA1', 'vesA1'));
    });

    it('a type the token cannot read is left out of the includes, and searching it is a 403', async () => {
      const token = await systemA('system/Observation.rs');
      expect(await found(token, `/fhir/Observation?patient=${id.pA1}&_include=Observation:patient`)).toEqual({
        match: obs('hrA1', 'qrsA1', 'vesA1'),
        include: [],
      });
      const res = await token.get('/fhir/DiagnosticReport').expect(403);
      expect(res.body.issue[0].diagnostics).toContain('system/DiagnosticReport.s');
    });
  });
});
