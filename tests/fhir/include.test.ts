import crypto from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import type { Bundle, DiagnosticReport, FhirResource, Observation, Provenance } from 'fhir/r4';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, insertUser } from '../support/fixtures';

const LOINC_HEART_RATE = encodeURIComponent('http://loinc.org|8867-4');

/**
 * _include and _revinclude: the referenced resources come back as search.mode=include, each once, and
 * never beyond what the caller's token and tenant reach.
 */
describe(`_include and _revinclude (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  let orgA: string;
  let orgB: string;
  let tokenA: string;
  let tokenReportsOnly: string;
  let tokenB: string;
  let tokenAll: string;
  let ecgModel: string;
  let voiceModel: string;
  /** Patient 1 of organization A: a completed ECG, a completed voice assessment, an ECG still processing. */
  let p1: string;
  let p1Reports: { ecg: Ingested; voice: Ingested; processing: Ingested };
  let p2: string;
  let p2Report: Ingested;
  /** Patient of organization B. */
  let q: string;
  let qReport: Ingested;

  interface Ingested {
    report: string;
    observations: string[];
  }

  const sql = (text: string, params: unknown[] = []) => db.dataSource.query(text, params);
  const get = (path: string, token = tokenA) => request(app).get(path).auth(token, { type: 'bearer' });
  const search = async (path: string, token = tokenA): Promise<Bundle> => {
    const res = await get(path, token);
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const key = (r: FhirResource) => `${r.resourceType}/${r.id}`;
  const byMode = (bundle: Bundle, mode: 'match' | 'include') => (bundle.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => e.resource!);
  const keys = (bundle: Bundle, mode: 'match' | 'include') => byMode(bundle, mode).map(key).sort();
  const sorted = (list: string[]) => [...list].sort();

  async function ingest(userId: string, organizationId: string, pipeline: string, status: string, biomarkers: string[]): Promise<Ingested> {
    return db.dataSource.transaction(async (m) => {
      const [a] = await m.query(
        `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, status, risk_score, completed_at)
         VALUES ($1, $2, $3, $4, $5::varchar, 30, CASE WHEN $5::varchar = 'completed' THEN now() END) RETURNING id`,
        [`session_${crypto.randomUUID()}`, userId, organizationId, pipeline, status],
      );
      const observations: string[] = [];
      for (const [i, name] of biomarkers.entries()) {
        const [b] = await m.query(`INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit) VALUES ($1, $2, $3, 'ms') RETURNING id`, [
          a.id,
          name,
          50 + i,
        ]);
        observations.push(b.id);
      }
      return { report: a.id, observations };
    });
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
    orgA = await insertOrganization(db.dataSource, 'Clinic A');
    orgB = await insertOrganization(db.dataSource, 'Clinic B');
    [{ id: ecgModel }] = await sql(`INSERT INTO model_registry (pipeline_type, model_name, version, is_active) VALUES ('cardiology', 'ecg-net', '1.0.0', true) RETURNING id`);
    [{ id: voiceModel }] = await sql(`INSERT INTO model_registry (pipeline_type, model_name, version, is_active) VALUES ('speech', 'voice-net', '1.0.0', true) RETURNING id`);
    p1 = await insertUser(db.dataSource, orgA, 'One');
    p1Reports = {
      ecg: await ingest(p1, orgA, 'cardiology', 'completed', ['heart_rate', 'qtc', 'sdnn']),
      voice: await ingest(p1, orgA, 'speech', 'completed', ['jitter', 'shimmer']),
      processing: await ingest(p1, orgA, 'cardiology', 'processing', ['heart_rate']),
    };
    p2 = await insertUser(db.dataSource, orgA, 'Two');
    p2Report = await ingest(p2, orgA, 'cardiology', 'completed', ['heart_rate', 'qtc']);
    q = await insertUser(db.dataSource, orgB, 'Quinn');
    qReport = await ingest(q, orgB, 'cardiology', 'completed', ['heart_rate', 'pr_interval']);

    const keyA = await keyClient(db, 'inc-a', 'system/*.rs', orgA);
    tokenA = await backendToken(app, 'inc-a', keyA, 'system/*.rs');
    tokenReportsOnly = await backendToken(app, 'inc-a', keyA, 'system/DiagnosticReport.rs system/Patient.rs');
    tokenB = await backendToken(app, 'inc-b', await keyClient(db, 'inc-b', 'system/*.rs', orgB), 'system/*.rs');
    tokenAll = await backendToken(app, 'inc-all', await keyClient(db, 'inc-all', 'system/*.rs', null), 'system/*.rs');
  });
  afterAll(() => db.close());

  const p1Observations = () => [...p1Reports.ecg.observations, ...p1Reports.voice.observations, ...p1Reports.processing.observations];
  const p1ReportIds = () => [p1Reports.ecg.report, p1Reports.voice.report, p1Reports.processing.report];

  describe('_include', () => {
    it("DiagnosticReport?patient=X&_include=DiagnosticReport:result returns exactly the reports' Observations as includes", async () => {
      const bundle = await search(`/fhir/DiagnosticReport?patient=${p1}&_include=DiagnosticReport:result`);
      expect(keys(bundle, 'match')).toEqual(sorted(p1ReportIds().map((id) => `DiagnosticReport/${id}`)));
      expect(keys(bundle, 'include')).toEqual(sorted(p1Observations().map((id) => `Observation/${id}`)));
      // Matches come first, then includes; every include is the Observation as a read returns it.
      const modes = bundle.entry!.map((e) => e.search!.mode);
      expect(modes).toEqual([...modes].sort((x, y) => (x === y ? 0 : x === 'match' ? -1 : 1)));
      for (const included of byMode(bundle, 'include')) {
        expect(included).toEqual((await get(`/fhir/Observation/${included.id}`).expect(200)).body);
      }
      const entry = bundle.entry!.find((e) => e.search!.mode === 'include')!;
      expect(entry.fullUrl).toBe(`http://gateway.test/fhir/Observation/${entry.resource!.id}`);
      // Each report's result list is what was included for it.
      for (const report of byMode(bundle, 'match') as DiagnosticReport[]) {
        for (const ref of report.result ?? []) expect(keys(bundle, 'include')).toContain(ref.reference);
      }
      // The explicit target form means the same.
      const targeted = await search(`/fhir/DiagnosticReport?patient=${p1}&_include=DiagnosticReport:result:Observation`);
      expect(keys(targeted, 'include')).toEqual(keys(bundle, 'include'));
    });

    it('includes only what the page references: _count=1 brings one report and its Observations only', async () => {
      const bundle = await search(`/fhir/DiagnosticReport?patient=${p1}&_count=1&_include=DiagnosticReport:result`);
      const [report] = byMode(bundle, 'match') as DiagnosticReport[];
      const ingested = Object.values(p1Reports).find((r) => r.report === report.id)!;
      expect(keys(bundle, 'include')).toEqual(sorted(ingested.observations.map((id) => `Observation/${id}`)));
    });

    it('DiagnosticReport:patient and DiagnosticReport:subject include the Patient, once', async () => {
      for (const include of ['DiagnosticReport:patient', 'DiagnosticReport:subject', 'DiagnosticReport:patient&_include=DiagnosticReport:subject']) {
        const bundle = await search(`/fhir/DiagnosticReport?patient=${p1}&_include=${include}`);
        expect([include, byMode(bundle, 'match').length, keys(bundle, 'include')]).toEqual([include, 3, [`Patient/${p1}`]]);
      }
      const included = byMode(await search(`/fhir/DiagnosticReport?patient=${p1}&_include=DiagnosticReport:patient`), 'include')[0];
      expect(included).toEqual((await get(`/fhir/Patient/${p1}`).expect(200)).body);
    });

    it('Observation:patient includes the Patient, Observation:device the model Devices that produced them', async () => {
      const patient = await search(`/fhir/Observation?patient=${p1}&_include=Observation:patient`);
      expect(keys(patient, 'match')).toEqual(sorted(p1Observations().map((id) => `Observation/${id}`)));
      expect(keys(patient, 'include')).toEqual([`Patient/${p1}`]);

      // The models are global (no tenant): a client of every organization and one of a single organization
      // both get them.
      const models = sorted([`Device/${ecgModel}`, `Device/${voiceModel}`]);
      const everywhere = await search(`/fhir/Observation?patient=${p1}&_include=Observation:device`, tokenAll);
      expect(keys(everywhere, 'include')).toEqual(models);
      const ecg = byMode(everywhere, 'include').find((r) => r.id === ecgModel)!;
      expect(ecg).toMatchObject({ resourceType: 'Device', deviceName: [{ name: 'ecg-net', type: 'model-name' }], version: [{ value: '1.0.0' }] });

      const tenant = await search(`/fhir/Observation?patient=${p1}&_include=Observation:device`);
      const deviceRead = (await get(`/fhir/Device/${ecgModel}`)).status;
      expect({ included: keys(tenant, 'include'), deviceRead }).toEqual({ included: models, deviceRead: 200 });
    });

    it('Patient:organization includes the managing Organization, once for several Patients', async () => {
      const bundle = await search(`/fhir/Patient?_id=${p1},${p2}&_include=Patient:organization`);
      expect(keys(bundle, 'match')).toEqual(sorted([`Patient/${p1}`, `Patient/${p2}`]));
      expect(keys(bundle, 'include')).toEqual([`Organization/${orgA}`]);
      expect(byMode(bundle, 'include')[0]).toMatchObject({ resourceType: 'Organization', name: 'Clinic A' });
    });

    it('_include=* follows every include of the type', async () => {
      const bundle = await search(`/fhir/DiagnosticReport?patient=${p1}&_include=*`);
      expect(keys(bundle, 'include')).toEqual(sorted([...p1Observations().map((id) => `Observation/${id}`), `Patient/${p1}`]));
    });
  });

  describe('_revinclude=Provenance:target', () => {
    /** The AI Provenance of an ingested report: it and its Observations as targets, the model as author. */
    const expectProvenanceOf = (provenance: Provenance | undefined, ingested: Ingested, device: string) => {
      expect(provenance).toMatchObject({
        resourceType: 'Provenance',
        id: ingested.report,
        agent: expect.arrayContaining([expect.objectContaining({ who: expect.objectContaining({ reference: `Device/${device}` }) })]),
      });
      const targets = provenance!.target.map((t) => t.reference!);
      expect(targets[0]).toBe(`DiagnosticReport/${ingested.report}`);
      expect(sorted(targets.slice(1))).toEqual(sorted(ingested.observations.map((o) => `Observation/${o}`)));
    };

    it('on a DiagnosticReport search: the Provenance of each completed report, targeting it and its Observations, agent the model', async () => {
      const bundle = await search(`/fhir/DiagnosticReport?patient=${p1}&_revinclude=Provenance:target`);
      expect(byMode(bundle, 'match')).toHaveLength(3);
      // The report still processing has no provenance yet.
      expect(keys(bundle, 'include')).toEqual(sorted([`Provenance/${p1Reports.ecg.report}`, `Provenance/${p1Reports.voice.report}`]));
      const provenances = byMode(bundle, 'include') as Provenance[];
      expectProvenanceOf(provenances.find((p) => p.id === p1Reports.ecg.report), p1Reports.ecg, ecgModel);
      expectProvenanceOf(provenances.find((p) => p.id === p1Reports.voice.report), p1Reports.voice, voiceModel);
    });

    it('on an Observation search: the Provenance whose targets hold the Observations, each once', async () => {
      const heartRates = await search(`/fhir/Observation?patient=${p1}&code=${LOINC_HEART_RATE}&_revinclude=Provenance:target`);
      expect(keys(heartRates, 'match')).toEqual(sorted([p1Reports.ecg.observations[0], p1Reports.processing.observations[0]].map((id) => `Observation/${id}`)));
      expect(keys(heartRates, 'include')).toEqual([`Provenance/${p1Reports.ecg.report}`]);
      const [provenance] = byMode(heartRates, 'include') as Provenance[];
      expectProvenanceOf(provenance, p1Reports.ecg, ecgModel);
      for (const match of byMode(heartRates, 'match') as Observation[]) {
        if (match.status === 'final') expect(provenance.target.map((t) => t.reference)).toContain(`Observation/${match.id}`);
      }

      // Six Observations of two completed reports: two Provenances, not six.
      const all = await search(`/fhir/Observation?patient=${p1}&_revinclude=Provenance:target`);
      expect(byMode(all, 'match')).toHaveLength(6);
      expect(keys(all, 'include')).toEqual(sorted([`Provenance/${p1Reports.ecg.report}`, `Provenance/${p1Reports.voice.report}`]));
    });
  });

  describe('deduplication and access', () => {
    it('repeated and overlapping includes bring each resource once', async () => {
      const bundle = await search(
        `/fhir/DiagnosticReport?patient=${p1}&_include=DiagnosticReport:result&_include=DiagnosticReport:result` +
          `&_include=DiagnosticReport:patient&_include=DiagnosticReport:subject&_include=*&_revinclude=Provenance:target&_revinclude=Provenance:target`,
      );
      const all = bundle.entry!.map((e) => key(e.resource!));
      expect(all.length).toBe(new Set(all).size);
      expect(keys(bundle, 'include')).toEqual(
        sorted([
          ...p1Observations().map((id) => `Observation/${id}`),
          `Patient/${p1}`,
          `Provenance/${p1Reports.ecg.report}`,
          `Provenance/${p1Reports.voice.report}`,
        ]),
      );
    });

    it('a token without Observation (or Provenance) scope gets the reports but no included Observations', async () => {
      const bundle = await search(
        `/fhir/DiagnosticReport?patient=${p1}&_include=DiagnosticReport:result&_include=DiagnosticReport:patient&_revinclude=Provenance:target`,
        tokenReportsOnly,
      );
      expect(keys(bundle, 'match')).toEqual(sorted(p1ReportIds().map((id) => `DiagnosticReport/${id}`)));
      expect(keys(bundle, 'include')).toEqual([`Patient/${p1}`]);
      // The reports still name their results: only the included resources are withheld.
      expect(byMode(bundle, 'match').flatMap((r) => (r as DiagnosticReport).result ?? [])).toHaveLength(6);
    });

    it("an organization-bound client never gets another organization's resources through an include", async () => {
      // Organization B's view: its own patient's report, observations and provenance, nothing of A.
      const b = await search(
        `/fhir/DiagnosticReport?_include=DiagnosticReport:result&_include=DiagnosticReport:patient&_revinclude=Provenance:target`,
        tokenB,
      );
      expect(keys(b, 'match')).toEqual([`DiagnosticReport/${qReport.report}`]);
      expect(keys(b, 'include')).toEqual(
        sorted([...qReport.observations.map((id) => `Observation/${id}`), `Patient/${q}`, `Provenance/${qReport.report}`]),
      );

      // A record that crosses tenants (an assessment of organization A about organization B's patient):
      // A's client gets A's report and observations, but not B's Patient, however it asks.
      const crossed = await ingest(q, orgA, 'cardiology', 'completed', ['heart_rate']);
      const a = await search(`/fhir/DiagnosticReport?patient=${q}&_include=DiagnosticReport:patient&_include=DiagnosticReport:result&_revinclude=Provenance:target`);
      expect(keys(a, 'match')).toEqual([`DiagnosticReport/${crossed.report}`]);
      expect(keys(a, 'include')).toEqual(sorted([`Observation/${crossed.observations[0]}`, `Provenance/${crossed.report}`]));
      const aObs = await search(`/fhir/Observation?patient=${q}&_include=Observation:patient&_revinclude=Provenance:target`);
      expect(keys(aObs, 'match')).toEqual([`Observation/${crossed.observations[0]}`]);
      expect(keys(aObs, 'include')).toEqual([`Provenance/${crossed.report}`]);
      // And B's client does not get A's crossing report's results through its own patient.
      const bAgain = await search(`/fhir/Observation?patient=${q}&_revinclude=Provenance:target`, tokenB);
      expect(keys(bAgain, 'match')).toEqual(sorted(qReport.observations.map((id) => `Observation/${id}`)));
      expect(keys(bAgain, 'include')).toEqual([`Provenance/${qReport.report}`]);
      await sql(`DELETE FROM assessments WHERE id = $1`, [crossed.report]);
    });

    it('never includes Patient 2 or organization B when asked about Patient 1', async () => {
      const bundle = await search(`/fhir/Observation?patient=${p1}&_include=Observation:patient&_revinclude=Provenance:target`);
      const all = bundle.entry!.map((e) => key(e.resource!));
      for (const foreign of [`Patient/${p2}`, `Patient/${q}`, `Provenance/${p2Report.report}`, `Provenance/${qReport.report}`]) expect(all).not.toContain(foreign);
    });
  });

  describe('unsupported includes', () => {
    it('answers 400 naming _include (or _revinclude) for what the type does not support', async () => {
      for (const value of ['DiagnosticReport:performer', 'Observation:patient', 'DiagnosticReport:result:Patient', 'DiagnosticReport', 'DiagnosticReport:result:Observation:extra']) {
        const res = await get(`/fhir/DiagnosticReport?_include=${encodeURIComponent(value)}`);
        expect([value, res.status, res.body.resourceType, res.body.issue?.[0].code, res.body.issue?.[0].expression]).toEqual([
          value,
          400,
          'OperationOutcome',
          'invalid',
          ['_include'],
        ]);
        expect(res.body.issue[0].diagnostics).toContain('DiagnosticReport:result');
      }
      const rev = await get(`/fhir/DiagnosticReport?_revinclude=Observation:subject`).expect(400);
      expect(rev.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['_revinclude'] });
      await get(`/fhir/Organization?_include=Organization:partof`).expect(400);
    });
  });
});
