import request from 'supertest';
import type { Express } from 'express';
import type { Bundle } from 'fhir/r4';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, insertUser } from '../support/fixtures';

/** Formats (FHIR R4 http.html#mime-type): JSON in, JSON out; POST _search takes a form, nothing else. */
describe(`content negotiation and POST _search (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  let token: string;
  let patients: string[];

  const get = (path: string) => request(app).get(path).auth(token, { type: 'bearer' });
  const post = (path: string) => request(app).post(path).auth(token, { type: 'bearer' });
  const ids = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource!.id);
  const nextOf = (bundle: Bundle) => bundle.link?.find((l) => l.relation === 'next')?.url.replace('http://gateway.test', '');
  const withoutCursor = (bundle: Bundle): Bundle => ({
    ...bundle,
    link: bundle.link?.map((l) => ({ ...l, url: l.url.replace(/([?&]_cursor=)[^&]*/, '$1<cursor>') })),
  });

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
    const org = await insertOrganization(db.dataSource, 'Clinic');
    patients = [];
    for (const [first, last, gender] of [
      ['Ada', 'Lovelace', 'female'],
      ['Adam', 'Smith', 'male'],
      ['Adele', 'Smith', 'female'],
      ['Bob', 'Smith', 'male'],
      ['Carla', 'Jones', 'female'],
    ]) {
      const id = await insertUser(db.dataSource, org, first);
      await db.dataSource.query(`UPDATE users SET last_name = $2, gender = $3, date_of_birth = '1980-01-01' WHERE id = $1`, [id, last, gender]);
      patients.push(id);
    }
    token = await backendToken(app, 'negotiate', await keyClient(db, 'negotiate', 'system/*.rs', org), 'system/Patient.rs');
  });
  afterAll(() => db.close());

  describe('response format', () => {
    it('answers read, search, history, metadata and errors as application/fhir+json', async () => {
      for (const res of [
        await get(`/fhir/Patient/${patients[0]}`).expect(200),
        await get(`/fhir/Patient?_id=${patients[0]}`).expect(200),
        await get(`/fhir/Patient/${patients[0]}/_history`).expect(200),
        await request(app).get('/fhir/metadata').expect(200),
        await get('/fhir/Patient?shoe-size=1').expect(400),
        await get(`/fhir/Patient/7d0e4b1a-1111-4222-8333-944455556666`).expect(404),
      ]) {
        expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
        expect(typeof JSON.parse(res.text).resourceType).toBe('string');
      }
    });

    it('accepts Accept: application/json, application/fhir+json, */* and a browser Accept header', async () => {
      for (const accept of [
        'application/json',
        'application/fhir+json',
        '*/*',
        'application/*',
        'application/fhir+xml;q=0.9, application/fhir+json;q=0.8',
        'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
      ]) {
        const res = await get(`/fhir/Patient/${patients[0]}`).set('Accept', accept);
        expect([accept, res.status, res.body.id]).toEqual([accept, 200, patients[0]]);
      }
    });

    // R4 http.html#version-parameter: a client may name the FHIR version as a MIME parameter; a server
    // that speaks that version answers (406 is for a version it does not support).
    it('accepts MIME parameters on the JSON types: fhirVersion=4.0 and charset', async () => {
      const answered: Record<string, number> = {};
      for (const accept of ['application/fhir+json; fhirVersion=4.0', 'application/fhir+json;charset=utf-8', 'application/json; charset=UTF-8']) {
        answered[accept] = (await get(`/fhir/Patient/${patients[0]}`).set('Accept', accept)).status;
      }
      expect(answered).toEqual({
        'application/fhir+json; fhirVersion=4.0': 200,
        'application/fhir+json;charset=utf-8': 200,
        'application/json; charset=UTF-8': 200,
      });
    });

    it('_format=json (and the JSON MIME types) is ok', async () => {
      for (const format of ['json', 'application/json', 'application/fhir+json', 'application/fhir+json; fhirVersion=4.0']) {
        const res = await get(`/fhir/Patient/${patients[0]}?_format=${encodeURIComponent(format)}`);
        expect([format, res.status, res.body.id]).toEqual([format, 200, patients[0]]);
      }
      const search = await get(`/fhir/Patient?_id=${patients[1]}&_format=json`).expect(200);
      expect(ids(search.body)).toEqual([patients[1]]);
      // _format is not a search parameter: it stays out of the self link.
      expect(search.body.link[0].url).not.toContain('_format');
    });

    it('_format=xml and Accept: application/fhir+xml get 406 with an OperationOutcome (in JSON)', async () => {
      const cases: [string, (r: request.Test) => request.Test][] = [
        [`/fhir/Patient/${patients[0]}?_format=xml`, (r) => r],
        [`/fhir/Patient/${patients[0]}?_format=${encodeURIComponent('application/fhir+xml')}`, (r) => r],
        [`/fhir/Patient?_format=xml`, (r) => r],
        ['/fhir/metadata?_format=xml', (r) => r],
        [`/fhir/Patient/${patients[0]}`, (r) => r.set('Accept', 'application/fhir+xml')],
        [`/fhir/Patient/${patients[0]}`, (r) => r.set('Accept', 'application/xml')],
        ['/fhir/metadata', (r) => r.set('Accept', 'application/fhir+xml')],
      ];
      for (const [path, setup] of cases) {
        const res = await setup(get(path));
        expect([path, res.status, res.headers['content-type']]).toEqual([path, 406, 'application/fhir+json; charset=utf-8']);
        expect(JSON.parse(res.text)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-supported' }] });
      }
      expect((await get(`/fhir/Patient/${patients[0]}?_format=xml`)).body.issue[0].diagnostics).toMatch(/JSON only/);
      expect((await get(`/fhir/Patient/${patients[0]}?_format=turtle`).expect(406)).body.issue[0].diagnostics).toMatch(/turtle/);
    });

    it('_pretty=true indents; without it (or _pretty=false) the JSON is compact', async () => {
      const pretty = await get(`/fhir/Patient/${patients[0]}?_pretty=true`).expect(200);
      expect(pretty.text).toBe(JSON.stringify(JSON.parse(pretty.text), null, 2));
      expect(pretty.text.split('\n').length).toBeGreaterThan(5);
      for (const path of [`/fhir/Patient/${patients[0]}`, `/fhir/Patient/${patients[0]}?_pretty=false`]) {
        const compact = await get(path).expect(200);
        expect(compact.text).not.toContain('\n');
        expect(JSON.parse(compact.text)).toEqual(pretty.body);
      }
      const bundle = await get(`/fhir/Patient?_id=${patients[0]}&_pretty=true`).expect(200);
      expect(bundle.text).toContain('\n  "resourceType": "Bundle"');
      expect(bundle.body.link[0].url).not.toContain('_pretty');
    });
  });

  describe('POST [type]/_search', () => {
    it('with a form body equals the GET of the same parameters', async () => {
      const searches: Record<string, string>[] = [{ family: 'Smith' }, { name: 'ad', gender: 'female' }, { _id: `${patients[0]},${patients[4]}` }, { birthdate: '1980-01-01', _count: '2' }];
      for (const params of searches) {
        const query = new URLSearchParams(params).toString();
        const viaGet = await get(`/fhir/Patient?${query}`).expect(200);
        const viaPost = await post('/fhir/Patient/_search').type('form').send(query).expect(200);
        expect(viaPost.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
        // Cursors are encrypted with a fresh IV each time: equal up to the cursor, and both continue alike.
        expect(withoutCursor(viaPost.body)).toEqual(withoutCursor(viaGet.body));
        expect(ids(viaPost.body).length).toBeGreaterThan(0);
        const [postNext, getNext] = [nextOf(viaPost.body), nextOf(viaGet.body)];
        expect(postNext === undefined).toBe(getNext === undefined);
        if (postNext && getNext) expect(ids((await get(postNext).expect(200)).body)).toEqual(ids((await get(getNext).expect(200)).body));
      }
      expect(ids((await post('/fhir/Patient/_search').type('form').send('family=Smith').expect(200)).body).sort()).toEqual(
        [patients[1], patients[2], patients[3]].sort(),
      );
    });

    it('combines parameters from the URL and the body (they AND)', async () => {
      const combined = await post('/fhir/Patient/_search?family=Smith').type('form').send('gender=female').expect(200);
      expect(ids(combined.body)).toEqual([patients[2]]);
      expect(withoutCursor(combined.body)).toEqual(withoutCursor((await get('/fhir/Patient?family=Smith&gender=female').expect(200)).body));
      // The same parameter in both places is repeated, and repeated parameters AND.
      const repeated = await post(`/fhir/Patient/_search?_id=${patients[1]},${patients[2]}`).type('form').send(`_id=${patients[2]},${patients[3]}`).expect(200);
      expect(ids(repeated.body)).toEqual([patients[2]]);
      // URL parameters alone (no body) work too.
      expect(ids((await post(`/fhir/Patient/_search?_id=${patients[4]}`).expect(200)).body)).toEqual([patients[4]]);
    });

    it('pages: the next link of a POST search is a GET link that continues it', async () => {
      const first = await post('/fhir/Patient/_search').type('form').send('family=Smith&_count=2').expect(200);
      expect(ids(first.body)).toHaveLength(2);
      const second = await get(nextOf(first.body)!).expect(200);
      expect([...ids(first.body), ...ids(second.body)].sort()).toEqual([patients[1], patients[2], patients[3]].sort());
    });

    it('refuses a JSON (or any non-form) body with 415 and an OperationOutcome', async () => {
      for (const [type, body] of [
        ['application/json', JSON.stringify({ family: 'Smith' })],
        ['application/fhir+json', JSON.stringify({ resourceType: 'Parameters' })],
        ['text/plain', 'family=Smith'],
      ]) {
        const res = await post('/fhir/Patient/_search').set('Content-Type', type).send(body);
        expect([type, res.status, res.headers['content-type']]).toEqual([type, 415, 'application/fhir+json; charset=utf-8']);
        expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-supported' }] });
        expect(res.body.issue[0].diagnostics).toContain('application/x-www-form-urlencoded');
      }
    });

    it('validates body parameters like URL ones: an unknown parameter in the body is a 400 naming it', async () => {
      const res = await post('/fhir/Patient/_search').type('form').send('shoe-size=42').expect(400);
      expect(res.body.issue[0]).toMatchObject({ code: 'invalid', expression: ['shoe-size'] });
    });
  });
});
