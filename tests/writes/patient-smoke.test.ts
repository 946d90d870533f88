import request from 'supertest';
import type { Express } from 'express';
import type { Patient } from 'fhir/r4';
import { backendToken, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization } from '../support/fixtures';

const MRN = 'http://hospital.example/mrn';

describe(`Patient writes: smoke (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  let org: string;
  let token: string;

  beforeAll(async () => {
    db = await openTestDatabase({ poolSize: 40 });
    app = testApp(db);
    org = await insertOrganization(db.dataSource, 'Hospital A');
    const key = await keyClient(db, 'hospital-a', 'system/Patient.cruds', org);
    token = await backendToken(app, 'hospital-a', key, 'system/Patient.cruds');
  });
  afterAll(() => db.close());

  const rich = (mrn: string): Patient => ({
    resourceType: 'Patient',
    meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'] },
    identifier: [{ use: 'usual', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: MRN, value: mrn }],
    name: [{ use: 'official', family: 'Shaw', given: ['Amy', 'V.'] }, { use: 'maiden', family: 'Baxter' }],
    telecom: [{ system: 'phone', value: '555-555-5555', use: 'home' }, { system: 'email', value: `amy.${mrn}@example.com` }],
    gender: 'female',
    birthDate: '1987-02-20',
    address: [{ line: ['49 Meadow St'], city: 'Mounds', state: 'OK', postalCode: '74047', country: 'US' }],
    extension: [
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: 'F' },
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity', extension: [{ url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2186-5', display: 'Not Hispanic or Latino' } }, { url: 'text', valueString: 'Not Hispanic or Latino' }] },
    ],
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en-US' }] }, preferred: true }],
    maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] },
  });
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    request(app).post('/fhir/Patient').auth(token, { type: 'bearer' }).set({ 'Content-Type': 'application/fhir+json', ...headers }).send(JSON.stringify(body));

  it('creates, reads back every element, and keeps one Patient under a 32-way conditional create race', async () => {
    const res = await post(rich('MRN-1'));
    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(new RegExp(`/fhir/Patient/${res.body.id}/_history/1$`));
    const read = await request(app).get(`/fhir/Patient/${res.body.id}`).auth(token, { type: 'bearer' }).expect(200);
    const { meta, identifier, ...rest } = read.body;
    const { meta: sentMeta, identifier: sentIds, ...sent } = rich('MRN-1');
    // active was not sent: the server says it (is_active), as it says managingOrganization.
    expect(rest).toEqual({ ...sent, id: res.body.id, active: true, managingOrganization: { reference: `Organization/${org}` } });
    expect(meta.profile).toEqual(sentMeta!.profile);
    expect(identifier.slice(1)).toEqual(sentIds);

    const race = await Promise.all(Array.from({ length: 32 }, () => post(rich('MRN-RACE'), { 'If-None-Exist': `identifier=${MRN}|MRN-RACE` })));
    expect(race.map((r) => r.status).sort()).toEqual([...Array(31).fill(200), 201]);
    expect(new Set(race.map((r) => r.body.id)).size).toBe(1);
    const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM patient_identifiers WHERE value = 'MRN-RACE'`);
    expect(n).toBe(1);
  });

  it('If-Match: exactly one of two concurrent updates wins', async () => {
    const created = (await post(rich('MRN-2')).expect(201)).body as Patient;
    const put = (family: string) =>
      request(app).put(`/fhir/Patient/${created.id}`).auth(token, { type: 'bearer' }).set({ 'Content-Type': 'application/fhir+json', 'If-Match': 'W/"1"' })
        .send(JSON.stringify({ ...created, name: [{ family, given: ['X'] }] }));
    const [a, b] = await Promise.all([put('One'), put('Two')]);
    expect([a.status, b.status].sort()).toEqual([200, 412]);
    const read = await request(app).get(`/fhir/Patient/${created.id}`).auth(token, { type: 'bearer' }).expect(200);
    expect(read.body.meta.versionId).toBe('2');
  });

  it('patches, rejects an invalid patch result with 422, and deletes softly', async () => {
    const created = (await post(rich('MRN-3')).expect(201)).body as Patient;
    const patch = (ops: unknown) =>
      request(app).patch(`/fhir/Patient/${created.id}`).auth(token, { type: 'bearer' }).set('Content-Type', 'application/json-patch+json').send(JSON.stringify(ops));
    const ok = await patch([{ op: 'replace', path: '/birthDate', value: '1988-01-01' }]);
    expect(ok.status).toBe(200);
    expect(ok.body.birthDate).toBe('1988-01-01');
    expect(ok.body.meta.versionId).toBe('2');
    const bad = await patch([{ op: 'replace', path: '/gender', value: 'robot' }]);
    expect(bad.status).toBe(422);
    const del = await request(app).delete(`/fhir/Patient/${created.id}`).auth(token, { type: 'bearer' });
    expect(del.status).toBe(200);
    await request(app).get(`/fhir/Patient/${created.id}`).auth(token, { type: 'bearer' }).expect(410);
    const hist = await request(app).get(`/fhir/Patient/${created.id}/_history`).auth(token, { type: 'bearer' }).expect(200);
    expect(hist.body.entry.map((e: { request: { method: string } }) => e.request.method)).toEqual(['DELETE', 'PUT', 'POST']);
  });
});
