import crypto from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import type { Bundle, BundleEntry, DiagnosticReport, Observation, Organization, Patient } from 'fhir/r4';
import { withDbContext } from '../../src/db/context';
import { backendToken, GATEWAY, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, insertUser } from '../support/fixtures';

/**
 * Versions are real: a row changed directly in the database (as the MediLens backend does) gets a new
 * version id, and its old version stays readable. Every change here is plain SQL on the superuser
 * connection, never through the gateway; the gateway is only ever asked to read.
 */
describe(`Versions are real: direct database changes make new versions, old versions stay readable (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  let orgA: string;
  let orgB: string;
  let tokenA: string;
  let tokenB: string;
  let tokenAll: string;

  const sql = (text: string, params: unknown[] = []) => db.dataSource.query(text, params);
  const get = (path: string, token = tokenA) => request(app).get(path).auth(token, { type: 'bearer' });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** The database clock as a FHIR instant (millisecond precision, UTC). */
  const dbInstant = async (): Promise<string> =>
    (await sql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS t`))[0].t;

  /** An assessment and its biomarkers written in one transaction, the way ingestion writes them. */
  async function ingest(
    userId: string,
    organizationId: string,
    opts: { pipeline?: string; status?: string; biomarkers?: [string, number][] } = {},
  ): Promise<{ report: string; observations: string[] }> {
    return db.dataSource.transaction(async (m) => {
      const [a] = await m.query(
        `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, status, risk_score)
         VALUES ($1, $2, $3, $4, $5, 42) RETURNING id`,
        [`session_${crypto.randomUUID()}`, userId, organizationId, opts.pipeline ?? 'cardiology', opts.status ?? 'completed'],
      );
      const observations: string[] = [];
      for (const [name, value] of opts.biomarkers ?? [['heart_rate', 72], ['qtc', 410]]) {
        const [b] = await m.query(`INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit) VALUES ($1, $2, $3, 'ms') RETURNING id`, [
          a.id,
          name,
          value,
        ]);
        observations.push(b.id);
      }
      return { report: a.id as string, observations };
    });
  }

  const versionOf = async (path: string, token = tokenA): Promise<string> => (await get(path, token).expect(200)).body.meta.versionId;
  const history = async (path: string, token = tokenA): Promise<Bundle> => (await get(path, token).expect(200)).body;
  const summary = (bundle: Bundle) => (bundle.entry ?? []).map((e) => [e.request!.method, e.response!.etag]);
  const nextLink = (bundle: Bundle) => bundle.link?.find((l) => l.relation === 'next')?.url;

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
    orgA = await insertOrganization(db.dataSource, 'Clinic A');
    orgB = await insertOrganization(db.dataSource, 'Clinic B');
    await sql(`INSERT INTO model_registry (pipeline_type, model_name, version, is_active, accuracy) VALUES ('cardiology', 'ecg-net', '1.0.0', true, 0.93)`);
    tokenA = await backendToken(app, 'hist-a', await keyClient(db, 'hist-a', 'system/*.rs', orgA), 'system/*.rs');
    tokenB = await backendToken(app, 'hist-b', await keyClient(db, 'hist-b', 'system/*.rs', orgB), 'system/*.rs');
    tokenAll = await backendToken(app, 'hist-all', await keyClient(db, 'hist-all', 'system/*.rs', null), 'system/*.rs');
  });
  afterAll(() => db.close());

  describe('read carries the version', () => {
    it('has meta.versionId 1, ETag W/"1" and Last-Modified of the row as created', async () => {
      const id = await insertUser(db.dataSource, orgA, 'Ada');
      const res = await get(`/fhir/Patient/${id}`).expect(200);
      expect(res.body.meta.versionId).toBe('1');
      expect(res.headers.etag).toBe('W/"1"');
      const [row] = await sql(`SELECT created_at FROM users WHERE id = $1`, [id]);
      expect(res.body.meta.lastUpdated).toBe(new Date(row.created_at).toISOString());
      expect(res.headers['last-modified']).toBe(new Date(row.created_at).toUTCString());

      const { report, observations } = await ingest(id, orgA);
      for (const path of [`/fhir/DiagnosticReport/${report}`, `/fhir/Observation/${observations[0]}`, `/fhir/Organization/${orgA}`]) {
        const r = await get(path).expect(200);
        expect([path, r.body.meta.versionId, r.headers.etag]).toEqual([path, '1', 'W/"1"']);
      }
    });
  });

  describe('changes made directly in the database', () => {
    it('UPDATE users (name) makes version 2; vread of 1 returns the old name, of 2 the new', async () => {
      const id = await insertUser(db.dataSource, orgA, 'Grace');
      const before = (await get(`/fhir/Patient/${id}`).expect(200)).body as Patient;
      await sleep(5);
      await sql(`UPDATE users SET first_name = 'Gracie', last_name = 'Hopper' WHERE id = $1`, [id]);

      const now = await get(`/fhir/Patient/${id}`).expect(200);
      expect(now.body.meta.versionId).toBe('2');
      expect(now.headers.etag).toBe('W/"2"');
      expect(now.body.name).toEqual([{ use: 'official', family: 'Hopper', given: ['Gracie'] }]);
      expect(new Date(now.body.meta.lastUpdated).getTime()).toBeGreaterThan(new Date(before.meta!.lastUpdated!).getTime());

      const v1 = await get(`/fhir/Patient/${id}/_history/1`).expect(200);
      expect(v1.headers.etag).toBe('W/"1"');
      expect(v1.body).toEqual(before);
      expect(v1.body.name).toEqual([{ use: 'official', family: 'Test', given: ['Grace'] }]);
      const v2 = await get(`/fhir/Patient/${id}/_history/2`).expect(200);
      expect(v2.body).toEqual(now.body);
    });

    it('a change of user_profiles or of a pushed identifier is a new Patient version', async () => {
      const id = await insertUser(db.dataSource, orgA, 'Linus');
      await sql(`INSERT INTO user_profiles (user_id, language) VALUES ($1, 'en')`, [id]);
      expect(await versionOf(`/fhir/Patient/${id}`)).toBe('2');
      await sql(`UPDATE user_profiles SET language = 'fi' WHERE user_id = $1`, [id]);
      expect(await versionOf(`/fhir/Patient/${id}`)).toBe('3');
      await sql(`INSERT INTO patient_identifiers (user_id, organization_id, system, value) VALUES ($1, $2, 'urn:mrn', 'MRN-1')`, [id, orgA]);
      const v4 = (await get(`/fhir/Patient/${id}`).expect(200)).body as Patient;
      expect(v4.meta!.versionId).toBe('4');
      expect(v4.identifier).toContainEqual({ system: 'urn:mrn', value: 'MRN-1' });

      const language = (p: Patient) => p.communication?.[0].language.coding?.[0].code;
      expect(language((await get(`/fhir/Patient/${id}/_history/1`).expect(200)).body)).toBeUndefined();
      expect(language((await get(`/fhir/Patient/${id}/_history/2`).expect(200)).body)).toBe('en');
      const v3 = (await get(`/fhir/Patient/${id}/_history/3`).expect(200)).body as Patient;
      expect(language(v3)).toBe('fi');
      expect(v3.identifier!.map((i) => i.system)).not.toContain('urn:mrn');
    });

    it('bookkeeping-only updates (last login, verification flags, a no-op write) are not versions', async () => {
      const id = await insertUser(db.dataSource, orgA, 'Barbara');
      await sql(`INSERT INTO user_profiles (user_id, language) VALUES ($1, 'en')`, [id]);
      const before = await get(`/fhir/Patient/${id}`).expect(200);
      expect(before.body.meta.versionId).toBe('2');
      await sql(`UPDATE users SET last_login_at = now() WHERE id = $1`, [id]);
      await sql(`UPDATE users SET email_verified = true, is_verified = true WHERE id = $1`, [id]);
      await sql(`UPDATE users SET first_name = first_name WHERE id = $1`, [id]);
      await sql(`UPDATE user_profiles SET language = language WHERE user_id = $1`, [id]);
      const after = await get(`/fhir/Patient/${id}`).expect(200);
      expect(after.headers.etag).toBe('W/"2"');
      expect(after.body.meta).toEqual(before.body.meta);
      expect(summary(await history(`/fhir/Patient/${id}/_history`))).toEqual([
        ['PUT', 'W/"2"'],
        ['POST', 'W/"1"'],
      ]);
    });

    it('several changes in one transaction (user, then profile and identifier) are one version', async () => {
      const id = await insertUser(db.dataSource, orgA, 'Edsger');
      await db.dataSource.transaction(async (m) => {
        await m.query(`UPDATE users SET last_name = 'Dijkstra' WHERE id = $1`, [id]);
        await m.query(`INSERT INTO user_profiles (user_id, language) VALUES ($1, 'nl')`, [id]);
        await m.query(`INSERT INTO patient_identifiers (user_id, organization_id, system, value) VALUES ($1, $2, 'urn:mrn', $3)`, [id, orgA, `MRN-${id}`]);
      });
      const now = (await get(`/fhir/Patient/${id}`).expect(200)).body as Patient;
      expect(now.meta!.versionId).toBe('2');
      expect(now).toMatchObject({ name: [{ family: 'Dijkstra' }], communication: [{ language: { coding: [{ code: 'nl' }] } }] });
      expect(summary(await history(`/fhir/Patient/${id}/_history`))).toEqual([
        ['PUT', 'W/"2"'],
        ['POST', 'W/"1"'],
      ]);
      expect((await get(`/fhir/Patient/${id}/_history/1`).expect(200)).body.name[0].family).toBe('Test');
    });

    // The migration's rule is "at most once per transaction": an uncommitted intermediate state is
    // nobody's version, whichever row the transaction happens to write first or how often.
    it('several changes in one transaction are one version in any order (profile first, or the same row twice)', async () => {
      const profileFirst = await insertUser(db.dataSource, orgA, 'Tony');
      await db.dataSource.transaction(async (m) => {
        await m.query(`INSERT INTO user_profiles (user_id, language) VALUES ($1, 'en')`, [profileFirst]);
        await m.query(`UPDATE users SET last_name = 'Hoare' WHERE id = $1`, [profileFirst]);
      });
      const twice = await insertUser(db.dataSource, orgA, 'Niklaus');
      await db.dataSource.transaction(async (m) => {
        await m.query(`UPDATE users SET last_name = 'Wirth' WHERE id = $1`, [twice]);
        await m.query(`UPDATE users SET gender = 'male' WHERE id = $1`, [twice]);
      });
      const { report } = await ingest(twice, orgA, { status: 'processing' });
      await db.dataSource.transaction(async (m) => {
        await m.query(`UPDATE assessments SET status = 'completed' WHERE id = $1`, [report]);
        await m.query(`UPDATE assessments SET completed_at = now(), risk_level = 'low' WHERE id = $1`, [report]);
      });
      expect({
        profileFirst: await versionOf(`/fhir/Patient/${profileFirst}`),
        twice: await versionOf(`/fhir/Patient/${twice}`),
        report: await versionOf(`/fhir/DiagnosticReport/${report}`),
      }).toEqual({ profileFirst: '2', twice: '2', report: '2' });
    });

    it('an assessment status change is a new version of the DiagnosticReport and of each of its Observations', async () => {
      const patient = await insertUser(db.dataSource, orgA, 'Alan');
      const { report, observations } = await ingest(patient, orgA, { status: 'processing', biomarkers: [['heart_rate', 70], ['qtc', 400], ['sdnn', 50]] });
      const untouched = await ingest(patient, orgA, { status: 'processing' });
      for (const o of observations) expect(await versionOf(`/fhir/Observation/${o}`)).toBe('1');
      expect(((await get(`/fhir/DiagnosticReport/${report}`).expect(200)).body as DiagnosticReport).status).toBe('partial');

      await sql(`UPDATE assessments SET status = 'completed', completed_at = now() WHERE id = $1`, [report]);

      const now = (await get(`/fhir/DiagnosticReport/${report}`).expect(200)).body as DiagnosticReport;
      expect([now.meta!.versionId, now.status]).toEqual(['2', 'final']);
      expect(((await get(`/fhir/DiagnosticReport/${report}/_history/1`).expect(200)).body as DiagnosticReport).status).toBe('partial');
      for (const o of observations) {
        const current = (await get(`/fhir/Observation/${o}`).expect(200)).body as Observation;
        expect([o, current.meta!.versionId, current.status]).toEqual([o, '2', 'final']);
        const old = (await get(`/fhir/Observation/${o}/_history/1`).expect(200)).body as Observation;
        expect([o, old.meta!.versionId, old.status]).toEqual([o, '1', 'preliminary']);
      }
      // Another assessment's observations, and bookkeeping of this one (current_stage), are not versions.
      await sql(`UPDATE assessments SET current_stage = 'report_generation' WHERE id = $1`, [report]);
      expect(await versionOf(`/fhir/DiagnosticReport/${report}`)).toBe('2');
      expect(await versionOf(`/fhir/DiagnosticReport/${untouched.report}`)).toBe('1');
      for (const o of untouched.observations) expect(await versionOf(`/fhir/Observation/${o}`)).toBe('1');
    });

    it('a biomarker inserted later into an existing assessment is a new version of the report (its result list)', async () => {
      const patient = await insertUser(db.dataSource, orgA, 'Donald');
      const { report, observations } = await ingest(patient, orgA);
      const v1 = (await get(`/fhir/DiagnosticReport/${report}`).expect(200)).body as DiagnosticReport;
      expect(v1.meta!.versionId).toBe('1');
      const [late] = await sql(`INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit) VALUES ($1, 'pr_interval', 160, 'ms') RETURNING id`, [report]);

      const v2 = (await get(`/fhir/DiagnosticReport/${report}`).expect(200)).body as DiagnosticReport;
      expect(v2.meta!.versionId).toBe('2');
      const results = (r: DiagnosticReport) => (r.result ?? []).map((x) => x.reference).sort();
      expect(results(v2)).toEqual([...observations, late.id].map((o) => `Observation/${o}`).sort());
      expect(results((await get(`/fhir/DiagnosticReport/${report}/_history/1`).expect(200)).body)).toEqual(observations.map((o) => `Observation/${o}`).sort());
      expect(await versionOf(`/fhir/Observation/${late.id}`)).toBe('1');
    });
  });

  describe('deletions', () => {
    it('soft delete (deleted_at): read 410, history ends with a DELETE entry, the earlier version stays readable', async () => {
      const id = await insertUser(db.dataSource, orgA, 'Deleted');
      await sql(`UPDATE users SET deleted_at = now() WHERE id = $1`, [id]);
      expect((await get(`/fhir/Patient/${id}`).expect(410)).body.issue[0].code).toBe('deleted');
      const bundle = await history(`/fhir/Patient/${id}/_history`);
      expect(summary(bundle)).toEqual([
        ['DELETE', 'W/"2"'],
        ['POST', 'W/"1"'],
      ]);
      expect(bundle.entry![0]).toMatchObject({ request: { method: 'DELETE', url: `Patient/${id}` }, response: { status: '204' } });
      expect(bundle.entry![0].resource).toBeUndefined();
      expect((await get(`/fhir/Patient/${id}/_history/1`).expect(200)).body.name[0].given).toEqual(['Deleted']);
      await get(`/fhir/Patient/${id}/_history/2`).expect(410);
    });

    it('soft delete of an assessment: its report and its Observations read 410, with a DELETE in their history', async () => {
      const patient = await insertUser(db.dataSource, orgA, 'Soft');
      const { report, observations } = await ingest(patient, orgA);
      await sql(`UPDATE assessments SET deleted_at = now() WHERE id = $1`, [report]);
      await get(`/fhir/DiagnosticReport/${report}`).expect(410);
      expect(summary(await history(`/fhir/DiagnosticReport/${report}/_history`))).toEqual([
        ['DELETE', 'W/"2"'],
        ['POST', 'W/"1"'],
      ]);
      for (const o of observations) {
        await get(`/fhir/Observation/${o}`).expect(410);
        expect(summary(await history(`/fhir/Observation/${o}/_history`))).toEqual([
          ['DELETE', 'W/"2"'],
          ['POST', 'W/"1"'],
        ]);
        expect((await get(`/fhir/Observation/${o}/_history/1`).expect(200)).body.status).toBe('final');
      }
    });

    it('hard DELETE of a model_registry row: Device reads 410 (tombstone), its old versions stay readable', async () => {
      const [model] = await sql(
        `INSERT INTO model_registry (pipeline_type, model_name, version, is_active, accuracy) VALUES ('dermatology', 'lesion-net', '9.9.9', true, 0.8) RETURNING id`,
      );
      const device = `/fhir/Device/${model.id}`;
      expect((await get(device, tokenAll).expect(200)).body.deviceName).toEqual([{ name: 'lesion-net', type: 'model-name' }]);
      await sql(`UPDATE model_registry SET accuracy = 0.85 WHERE id = $1`, [model.id]);
      await sql(`DELETE FROM model_registry WHERE id = $1`, [model.id]);

      expect((await get(device, tokenAll).expect(410)).body.issue[0].code).toBe('deleted');
      expect(summary(await history(`${device}/_history`, tokenAll))).toEqual([
        ['DELETE', 'W/"3"'],
        ['PUT', 'W/"2"'],
        ['POST', 'W/"1"'],
      ]);
      const accuracy = (body: { property?: { type: { coding?: { code?: string }[] }; valueQuantity?: { value?: number }[] }[] }) =>
        body.property?.find((p) => p.type.coding?.[0].code === 'accuracy')?.valueQuantity?.[0].value;
      expect(accuracy((await get(`${device}/_history/1`, tokenAll).expect(200)).body)).toBe(0.8);
      expect(accuracy((await get(`${device}/_history/2`, tokenAll).expect(200)).body)).toBe(0.85);
      await get(`${device}/_history/3`, tokenAll).expect(410);
    });

    it('hard DELETE of an organization: read 410 (tombstone), vread of its old versions works', async () => {
      const org = await insertOrganization(db.dataSource, 'Before');
      await sql(`UPDATE organizations SET settings = '{"theme": "dark"}', subscription_tier = 'pro' WHERE id = $1`, [org]);
      expect(await versionOf(`/fhir/Organization/${org}`, tokenAll)).toBe('1');
      await sql(`UPDATE organizations SET name = 'After' WHERE id = $1`, [org]);
      await sql(`DELETE FROM organizations WHERE id = $1`, [org]);

      expect((await get(`/fhir/Organization/${org}`, tokenAll).expect(410)).body.issue[0].code).toBe('deleted');
      expect(summary(await history(`/fhir/Organization/${org}/_history`, tokenAll))).toEqual([
        ['DELETE', 'W/"3"'],
        ['PUT', 'W/"2"'],
        ['POST', 'W/"1"'],
      ]);
      expect(((await get(`/fhir/Organization/${org}/_history/1`, tokenAll).expect(200)).body as Organization).name).toBe('Before');
      expect(((await get(`/fhir/Organization/${org}/_history/2`, tokenAll).expect(200)).body as Organization).name).toBe('After');
      await get(`/fhir/Organization/${org}/_history/3`, tokenAll).expect(410);
      // Another tenant's client never learns it existed.
      await get(`/fhir/Organization/${org}`, tokenB).expect(404);
    });

    it('hard DELETE of an assessment: its report and each of its Observations read 410 and keep their history', async () => {
      const patient = await insertUser(db.dataSource, orgA, 'Hard');
      const { report, observations } = await ingest(patient, orgA);
      await sql(`DELETE FROM assessments WHERE id = $1`, [report]);
      await get(`/fhir/DiagnosticReport/${report}`).expect(410);
      expect((await get(`/fhir/DiagnosticReport/${report}/_history/1`).expect(200)).body.id).toBe(report);
      const outcome: Record<string, number> = {};
      for (const o of observations) outcome[o] = (await get(`/fhir/Observation/${o}`)).status;
      const versionOne: Record<string, number> = {};
      for (const o of observations) versionOne[o] = (await get(`/fhir/Observation/${o}/_history/1`)).status;
      expect({ read: outcome, vread1: versionOne }).toEqual({
        read: Object.fromEntries(observations.map((o) => [o, 410])),
        vread1: Object.fromEntries(observations.map((o) => [o, 200])),
      });
    });
  });

  describe('a user who leaves the Patient type', () => {
    // fhir_patient holds users with the patient role or no role at all, so a clinician whose role row is
    // written in a second statement (as userWithRole does) was "a Patient" for one version. Read and
    // history must then agree: either the Patient is gone (410, a DELETE in its history) or it never was
    // one (404 for read, history and vread alike), not a 404 read with a readable Patient history.
    it('read, history and vread agree on whether the Patient exists once the user became a Practitioner', async () => {
      const [role] = await sql(`INSERT INTO roles (name) VALUES ('clinician') ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`);
      const doc = await insertUser(db.dataSource, orgA, 'Doc');
      await sql(`INSERT INTO user_roles (user_id, role_id, organization_id) VALUES ($1, $2, $3)`, [doc, role.id, orgA]);
      await get(`/fhir/Practitioner/${doc}`).expect(200);

      const read = (await get(`/fhir/Patient/${doc}`)).status;
      const instance = (await get(`/fhir/Patient/${doc}/_history`)).status;
      const vread = (await get(`/fhir/Patient/${doc}/_history/1`)).status;
      expect({ read, instance, vread }).toEqual(read === 410 ? { read: 410, instance: 200, vread: 200 } : { read: 404, instance: 404, vread: 404 });
    });
  });

  describe('history bundles', () => {
    let patient: string;
    const times: string[] = [];

    beforeAll(async () => {
      patient = await insertUser(db.dataSource, orgA, 'Hedy');
      await sleep(20);
      times.push(await dbInstant()); // before v2
      await sleep(20);
      await sql(`UPDATE users SET last_name = 'Lamarr' WHERE id = $1`, [patient]);
      await sleep(20);
      times.push(await dbInstant()); // before v3
      await sleep(20);
      await sql(`INSERT INTO user_profiles (user_id, language) VALUES ($1, 'de')`, [patient]);
      await sleep(20);
      await sql(`UPDATE users SET deleted_at = now() WHERE id = $1`, [patient]);
    });

    it('instance _history: a history Bundle, newest first, with request method/url and response etag per version', async () => {
      const bundle = await history(`/fhir/Patient/${patient}/_history`);
      expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'history' });
      expect(bundle.link![0]).toEqual({ relation: 'self', url: `${GATEWAY}/fhir/Patient/${patient}/_history?_count=50` });
      expect(bundle.entry!.map((e: BundleEntry) => [e.fullUrl, e.request, e.response!.etag, e.response!.status])).toEqual([
        [`${GATEWAY}/fhir/Patient/${patient}`, { method: 'DELETE', url: `Patient/${patient}` }, 'W/"4"', '204'],
        [`${GATEWAY}/fhir/Patient/${patient}`, { method: 'PUT', url: `Patient/${patient}` }, 'W/"3"', '200'],
        [`${GATEWAY}/fhir/Patient/${patient}`, { method: 'PUT', url: `Patient/${patient}` }, 'W/"2"', '200'],
        [`${GATEWAY}/fhir/Patient/${patient}`, { method: 'POST', url: 'Patient' }, 'W/"1"', '201'],
      ]);
      // Each entry's resource is that version, its lastModified that version's lastUpdated, times descending.
      for (const e of bundle.entry!.slice(1)) {
        expect(e.resource!.meta!.versionId).toBe(e.response!.etag!.slice(3, -1));
        expect(e.response!.lastModified).toBe(e.resource!.meta!.lastUpdated);
      }
      const modified = bundle.entry!.map((e) => new Date(e.response!.lastModified!).getTime());
      expect(modified).toEqual([...modified].sort((x, y) => y - x));
      expect(new Set(modified).size).toBe(4);
      expect((bundle.entry![1].resource as Patient).communication?.[0].language.coding?.[0].code).toBe('de');
      expect((bundle.entry![3].resource as Patient).name?.[0].family).toBe('Test');
    });

    it('_since keeps the versions recorded at or after it; _count pages with next links', async () => {
      const since = await history(`/fhir/Patient/${patient}/_history?_since=${encodeURIComponent(times[1])}`);
      expect(summary(since)).toEqual([
        ['DELETE', 'W/"4"'],
        ['PUT', 'W/"3"'],
      ]);
      expect(summary(await history(`/fhir/Patient/${patient}/_history?_since=${encodeURIComponent(times[0])}`)).map((s) => s[1])).toEqual([
        'W/"4"',
        'W/"3"',
        'W/"2"',
      ]);

      const first = await history(`/fhir/Patient/${patient}/_history?_count=3`);
      expect(summary(first).map((s) => s[1])).toEqual(['W/"4"', 'W/"3"', 'W/"2"']);
      const next = nextLink(first);
      expect(next).toMatch(new RegExp(`^${GATEWAY}/fhir/Patient/${patient}/_history\\?_count=3&_cursor=`));
      const second = await history(next!.replace(GATEWAY, ''));
      expect(summary(second)).toEqual([['POST', 'W/"1"']]);
      expect(nextLink(second)).toBeUndefined();

      // Paging and _since together, two at a time.
      const seen: string[] = [];
      let url: string | undefined = `/fhir/Patient/${patient}/_history?_since=${encodeURIComponent(times[0])}&_count=2`;
      let pages = 0;
      while (url) {
        const page = await history(url);
        pages++;
        seen.push(...summary(page).map((s) => s[1]!));
        url = nextLink(page)?.replace(GATEWAY, '');
      }
      expect([seen, pages]).toEqual([['W/"4"', 'W/"3"', 'W/"2"'], 2]);
    });

    it('type _history with _since holds exactly the versions recorded after it, newest first, also when paged', async () => {
      const orgT = await insertOrganization(db.dataSource, 'Clinic T');
      const tokenT = await backendToken(app, 'hist-t', await keyClient(db, 'hist-t', 'system/*.rs', orgT), 'system/*.rs');
      const p = await insertUser(db.dataSource, orgT, 'Tess');
      const changed = await ingest(p, orgT, { status: 'processing', biomarkers: [['heart_rate', 60], ['qtc', 420], ['sdnn', 40]] });
      const quiet = await ingest(p, orgT, { biomarkers: [['heart_rate', 80], ['rmssd', 30]] });
      await sleep(25);
      const since = await dbInstant();
      await sleep(25);

      // A few milliseconds apart, so that the order is the clock's whatever its resolution.
      await sql(`UPDATE assessments SET status = 'completed', completed_at = now() WHERE id = $1`, [changed.report]); // each: v2
      await sleep(5);
      await sql(`UPDATE biomarker_values SET value = 61 WHERE id = $1`, [changed.observations[0]]); // v3
      await sleep(5);
      const [late] = await sql(`INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit) VALUES ($1, 'pnn50', 12, '%') RETURNING id`, [
        quiet.report,
      ]); // new: v1

      const expected = [
        `${changed.observations[0]}@3`,
        `${changed.observations[0]}@2`,
        `${changed.observations[1]}@2`,
        `${changed.observations[2]}@2`,
        `${late.id}@1`,
      ].sort();
      const versions = (bundle: Bundle) => (bundle.entry ?? []).map((e) => `${e.fullUrl!.split('/').pop()}@${e.response!.etag!.slice(3, -1)}`);

      const all = await history(`/fhir/Observation/_history?_since=${encodeURIComponent(since)}`, tokenT);
      expect(all.type).toBe('history');
      expect([...versions(all)].sort()).toEqual(expected);
      const modified = all.entry!.map((e) => new Date(e.response!.lastModified!).getTime());
      expect(modified).toEqual([...modified].sort((x, y) => y - x));
      expect(versions(all)[0]).toBe(`${late.id}@1`);

      const paged: string[] = [];
      let url: string | undefined = `/fhir/Observation/_history?_since=${encodeURIComponent(since)}&_count=2`;
      while (url) {
        const page = await history(url, tokenT);
        expect(page.entry!.length).toBeLessThanOrEqual(2);
        paged.push(...versions(page));
        url = nextLink(page)?.replace(GATEWAY, '');
      }
      expect(paged).toEqual(versions(all));

      // Without _since: every version of the tenant's Observations, the untouched ones at version 1.
      const everything = versions(await history(`/fhir/Observation/_history?_count=1000`, tokenT));
      expect([...everything].sort()).toEqual([...expected, ...quiet.observations.map((o) => `${o}@1`), ...changed.observations.map((o) => `${o}@1`)].sort());
    });
  });

  describe('vread and access', () => {
    it('vread of an unknown version, a malformed version or an unknown id is 404', async () => {
      const id = await insertUser(db.dataSource, orgA, 'Known');
      await get(`/fhir/Patient/${id}/_history/1`).expect(200);
      for (const path of [`/fhir/Patient/${id}/_history/2`, `/fhir/Patient/${id}/_history/0`, `/fhir/Patient/${id}/_history/abc`, `/fhir/Patient/${crypto.randomUUID()}/_history/1`]) {
        const res = await get(path).expect(404);
        expect([path, res.body.resourceType, res.body.issue[0].code]).toEqual([path, 'OperationOutcome', 'not-found']);
      }
      await get(`/fhir/Patient/${crypto.randomUUID()}/_history`).expect(404);
    });

    it('history is bounded by access: a client of organization B sees nothing of organization A', async () => {
      const a = await insertUser(db.dataSource, orgA, 'Alpha');
      await sql(`UPDATE users SET last_name = 'Changed' WHERE id = $1`, [a]);
      const removed = await insertUser(db.dataSource, orgA, 'Removed');
      await sql(`DELETE FROM users WHERE id = $1`, [removed]);
      const b = await insertUser(db.dataSource, orgB, 'Beta');
      await sql(`UPDATE users SET last_name = 'Changed' WHERE id = $1`, [b]);

      // Organization A's own client sees both, the hard-deleted one as gone with its history kept.
      await get(`/fhir/Patient/${removed}`).expect(410);
      expect(summary(await history(`/fhir/Patient/${removed}/_history`))).toEqual([
        ['DELETE', 'W/"2"'],
        ['POST', 'W/"1"'],
      ]);

      for (const id of [a, removed]) {
        for (const path of [`/fhir/Patient/${id}`, `/fhir/Patient/${id}/_history`, `/fhir/Patient/${id}/_history/1`, `/fhir/Patient/${id}/_history/2`]) {
          const res = await get(path, tokenB);
          expect([path, res.status]).toEqual([path, 404]);
        }
      }
      const ids = (bundle: Bundle) => new Set((bundle.entry ?? []).map((e) => e.fullUrl!.split('/').pop()));
      const seenByB = ids(await history(`/fhir/Patient/_history?_count=1000`, tokenB));
      expect(seenByB.has(b)).toBe(true);
      expect(seenByB.has(a)).toBe(false);
      expect(seenByB.has(removed)).toBe(false);
      const [{ count }] = await sql(`SELECT count(*)::int AS count FROM users WHERE organization_id = $1`, [orgA]);
      expect(count).toBeGreaterThan(0);
      const seenByA = ids(await history(`/fhir/Patient/_history?_count=1000`));
      expect([seenByA.has(a), seenByA.has(removed), seenByA.has(b)]).toEqual([true, true, false]);
    });
  });

  describe('the archive cannot be forged by the application role', () => {
    const asApp = <T>(work: (tx: import('typeorm').EntityManager) => Promise<T>) =>
      withDbContext(db.dataSource, { role: 'system', organizationId: orgA }, work);

    it('medilens_app may read resource_history (within its tenant) but not INSERT, UPDATE or DELETE it', async () => {
      const id = await insertUser(db.dataSource, orgA, 'Archived');
      await sql(`UPDATE users SET last_name = 'Twice' WHERE id = $1`, [id]);
      const rows = await asApp((tx) => tx.query(`SELECT version_id FROM resource_history WHERE resource_type = 'Patient' AND resource_id = $1`, [id]));
      expect(rows).toEqual([{ version_id: 1 }]);

      const attempts: Record<string, string> = {
        insert: `INSERT INTO resource_history (resource_type, resource_id, version_id, last_updated, deleted, organization_id, patient_id)
                 VALUES ('Patient', '${id}', 99, now(), true, '${orgA}', '${id}')`,
        update: `UPDATE resource_history SET deleted = true WHERE resource_id = '${id}'`,
        delete: `DELETE FROM resource_history WHERE resource_id = '${id}'`,
      };
      for (const [name, statement] of Object.entries(attempts)) {
        const error = await asApp((tx) => tx.query(statement)).then(
          () => null,
          (err: Error) => err.message,
        );
        expect([name, error]).toEqual([name, expect.stringMatching(/permission denied for (table|relation) resource_history/)]);
      }
      const [{ count }] = await sql(`SELECT count(*)::int AS count FROM resource_history WHERE resource_type = 'Patient' AND resource_id = $1`, [id]);
      expect(count).toBe(1);
    });

    it('medilens_app cannot forge a version through the archiving function either', async () => {
      const id = await insertUser(db.dataSource, orgA, 'Forged');
      const error = await asApp((tx) => tx.query(`SELECT archive_resource('Patient=fhir_patient', $1::uuid, 41, true)`, [id])).then(
        () => null,
        (err: Error) => err.message,
      );
      const [{ count }] = await sql(`SELECT count(*)::int AS count FROM resource_history WHERE resource_id = $1`, [id]);
      const shown = summary(await history(`/fhir/Patient/${id}/_history`));
      expect({ error, archived: count, history: shown }).toEqual({
        error: expect.stringMatching(/permission denied for function archive_resource/),
        archived: 0,
        history: [['POST', 'W/"1"']],
      });
    });
  });
});
