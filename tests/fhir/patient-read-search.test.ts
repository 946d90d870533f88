import request from 'supertest';
import type { Express } from 'express';
import { backendToken, GATEWAY, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertAssessment, insertBiomarker, insertOrganization, insertUser } from '../support/fixtures';

const ID_SYSTEM = 'https://fhir.medilens.ai/sid/user-id';

describe(`Patient read and search (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  let token: string;
  let orgA: string;
  let patients: string[];
  let stranger: string;

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
    orgA = await insertOrganization(db.dataSource, 'A');
    const orgB = await insertOrganization(db.dataSource, 'B');
    patients = [];
    for (let i = 0; i < 7; i++) patients.push(await insertUser(db.dataSource, orgA, `P${i}`));
    patients.sort();
    stranger = await insertUser(db.dataSource, orgB, 'Stranger');
    const key = await keyClient(db, 'ehr', 'system/*.rs', orgA);
    token = await backendToken(app, 'ehr', key, 'system/Patient.rs system/Observation.rs');
  });
  afterAll(() => db.close());

  const get = (path: string) => request(app).get(path).auth(token, { type: 'bearer' });
  const ids = (bundle: { entry?: { resource: { id: string } }[] }) => (bundle.entry ?? []).map((e) => e.resource.id);

  describe('read', () => {
    it('answers with the Patient, FHIR JSON and Last-Modified', async () => {
      const res = await get(`/fhir/Patient/${patients[0]}`).expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect(res.body).toMatchObject({ resourceType: 'Patient', id: patients[0], identifier: [{ system: ID_SYSTEM, value: patients[0] }] });
      expect(new Date(res.headers['last-modified']).getTime()).toBe(Math.floor(new Date(res.body.meta.lastUpdated).getTime() / 1000) * 1000);
    });

    it('answers 404 for an unknown id, a malformed id and another organization alike', async () => {
      for (const id of ['7d0e4b1a-1111-4222-8333-944455556666', 'not-a-uuid', stranger]) {
        const res = await get(`/fhir/Patient/${id}`).expect(404);
        expect(res.body.issue[0]).toMatchObject({ code: 'not-found', diagnostics: `Patient/${id} is not known` });
      }
    });

    it('answers 410 for a deleted Patient within reach, 404 for one beyond it', async () => {
      const gone = await insertUser(db.dataSource, orgA, 'Gone');
      const goneElsewhere = await insertUser(db.dataSource, await insertOrganization(db.dataSource, 'C'), 'Elsewhere');
      await db.dataSource.query(`UPDATE users SET deleted_at = now() WHERE id = ANY($1)`, [[gone, goneElsewhere]]);
      expect((await get(`/fhir/Patient/${gone}`).expect(410)).body.issue[0].code).toBe('deleted');
      await get(`/fhir/Patient/${goneElsewhere}`).expect(404);
      expect(ids((await get(`/fhir/Patient?_id=${gone}`).expect(200)).body)).toEqual([]);
    });

    it('answers 410 for an Observation whose assessment was deleted', async () => {
      const assessment = await insertAssessment(db.dataSource, patients[1], orgA);
      const observation = await insertBiomarker(db.dataSource, assessment);
      await get(`/fhir/Observation/${observation}`).expect(200);
      await db.dataSource.query(`UPDATE assessments SET deleted_at = now() WHERE id = $1`, [assessment]);
      await get(`/fhir/Observation/${observation}`).expect(410);
    });

    it('answers a malformed percent-escape in the path with 400, with or without a token', async () => {
      expect((await get('/fhir/Patient/%E0%A4%A').expect(400)).body.issue[0].diagnostics).toMatch(/percent-encoded/);
      await request(app).get('/fhir/Patient/%E0%A4%A').expect(400);
    });

    it('speaks JSON only: _format=xml and an XML-only Accept get 406', async () => {
      expect((await get(`/fhir/Patient/${patients[0]}?_format=xml`).expect(406)).body.issue[0].diagnostics).toMatch(/XML is not supported/);
      await get(`/fhir/Patient/${patients[0]}`).set('Accept', 'application/fhir+xml').expect(406);
      await get(`/fhir/Patient/${patients[0]}?_format=json`).set('Accept', 'application/json').expect(200);
      const pretty = await get(`/fhir/Patient/${patients[0]}?_pretty=true`).expect(200);
      expect(pretty.text).toContain('\n  "resourceType": "Patient"');
    });
  });

  describe('search', () => {
    it('finds by _id (comma = OR) and identifier (system|value), repeated parameters AND', async () => {
      expect(ids((await get(`/fhir/Patient?_id=${patients[2]},${patients[0]},${stranger}`).expect(200)).body)).toEqual([patients[0], patients[2]]);
      expect(ids((await get(`/fhir/Patient?identifier=${encodeURIComponent(`${ID_SYSTEM}|${patients[3]}`)}`).expect(200)).body)).toEqual([patients[3]]);
      expect(ids((await get(`/fhir/Patient?identifier=${encodeURIComponent(`http://other.example|${patients[3]}`)}`).expect(200)).body)).toEqual([]);
      expect(ids((await get(`/fhir/Patient?_id=${patients[2]},${patients[4]}&_id=${patients[4]}`).expect(200)).body)).toEqual([patients[4]]);
    });

    it('pages with signed keyset cursors: every Patient once, even with inserts between pages', async () => {
      const first = (await get('/fhir/Patient?_count=3').expect(200)).body;
      expect(first.link[0]).toEqual({ relation: 'self', url: `${GATEWAY}/fhir/Patient?_count=3` });
      const seen = ids(first);
      // A Patient arriving mid-paging may show up (if it sorts after the cursor) but never shifts the others.
      await insertUser(db.dataSource, orgA, 'Latecomer');
      let next = first.link.find((l: { relation: string }) => l.relation === 'next')?.url;
      while (next) {
        const page = (await get(next.replace(GATEWAY, '')).expect(200)).body;
        seen.push(...ids(page));
        next = page.link.find((l: { relation: string }) => l.relation === 'next')?.url;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => patients.includes(id))).toEqual(patients);
      expect(seen).toEqual([...seen].sort());
    });

    it('refuses a tampered cursor or one from another search', async () => {
      const first = (await get('/fhir/Patient?_count=2').expect(200)).body;
      const next = new URL(first.link[1].url);
      const cursor = next.searchParams.get('_cursor')!;
      const tampered = (cursor[0] === 'A' ? 'B' : 'A') + cursor.slice(1);
      const res = await get(`/fhir/Patient?_count=2&_cursor=${encodeURIComponent(tampered)}`).expect(400);
      expect(res.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['_cursor'] });
      await get(`/fhir/Patient?_count=3&_cursor=${encodeURIComponent(cursor)}`).expect(400);
    });

    it('answers 400 naming an unknown parameter, unless handling=lenient, which drops it from the self link', async () => {
      const strict = await get('/fhir/Patient?shoe-size=42').expect(400);
      expect(strict.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['shoe-size'] });
      expect(strict.body.issue[0].diagnostics).toMatch(/Unknown search parameter shoe-size for Patient/);
      const lenient = await get(`/fhir/Patient?shoe-size=42&_id=${patients[0]}`).set('Prefer', 'handling=lenient').expect(200);
      expect(ids(lenient.body)).toEqual([patients[0]]);
      expect(lenient.body.link[0].url).toBe(`${GATEWAY}/fhir/Patient?_id=${patients[0]}&_count=50`);
      expect((await get('/fhir/Patient?_count=many').expect(400)).body.issue[0].expression).toEqual(['_count']);
      expect((await get('/fhir/Patient?_id=').expect(400)).body.issue[0].expression).toEqual(['_id']);
      expect((await get('/fhir/Patient?_count=5000').expect(200)).body.link[0].url).toContain('_count=1000');
    });
  });
});
