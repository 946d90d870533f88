import crypto from 'node:crypto';
import type { Express } from 'express';
import type { Bundle, Patient } from 'fhir/r4';
import request from 'supertest';
import { testApp } from '../support/auth';
import { testBackend } from '../support/database';
import { api, expectNothingWritten, expectOutcome, FHIR_JSON, JSON_PATCH, newMrn, patient, SCOPE_ALL, writeFixture, type Api, type WriteFixture } from './support';

/**
 * One table of everything a client can get wrong, sent to each write endpoint: POST Patient, PUT
 * Patient/[id], PATCH Patient/[id] (the same change as a JSON Patch) and POST [base] (the Patient as
 * the entry of a transaction). Each is a 4xx OperationOutcome saying what and where, with no SQL or
 * stack in it, and every table is unchanged.
 */
type Endpoint = 'POST' | 'PUT' | 'PATCH' | 'Bundle';
const ENDPOINTS: Endpoint[] = ['POST', 'PUT', 'PATCH', 'Bundle'];

interface Case {
  name: string;
  /** Elements set on a valid Patient (as a JSON Patch: one add per element); a value TEXT is replaced by `text`. */
  set?: Record<string, unknown>;
  text?: string;
  /** The body as sent, to every endpoint. */
  raw?: string;
  contentType?: string;
  /** Sent to the app limited to MAX_BODY_BYTES=2048. */
  small?: boolean;
  only?: Endpoint[];
  /** A Bundle entry of its own instead of a Patient (Bundle only). */
  entry?: () => Bundle['entry'];
  /** Status for every endpoint, or per endpoint; several: any of them. */
  status: number | number[] | Partial<Record<Endpoint, number | number[]>>;
  /** Where, after the resource: ".birthDate" is Patient.birthDate, or Bundle.entry[0].resource.birthDate. */
  at?: string | Partial<Record<Endpoint, string>>;
  diagnostics?: RegExp;
}

const STRUCTURE = { POST: 400, PUT: 400, PATCH: 422, Bundle: 400 };
const long = (n: number) => 'x'.repeat(n);
const FITZPATRICK = 'https://fhir.medilens.ai/StructureDefinition/fitzpatrick-skin-type';
/** JSON text of extensions nested `depth` deep (too deep for JSON.stringify to build). */
const nested = (depth: number) => `[${'{"url":"level","extension":['.repeat(depth)}{"url":"leaf","valueString":"x"}${']}'.repeat(depth)}]`;
/** Stands for `Case.text` in a body before it is sent. */
const TEXT = '__TEXT__';
const unknownSubject = (reference: string): Bundle['entry'] => [{
  resource: {
    resourceType: 'DiagnosticReport',
    status: 'final',
    identifier: [{ system: 'https://fhir.medilens.ai/sid/session-id', value: `bad-${crypto.randomUUID()}` }],
    category: [{ coding: [{ system: 'https://fhir.medilens.ai/CodeSystem/pipeline', code: 'cardiology' }] }],
    code: { coding: [{ system: 'https://fhir.medilens.ai/CodeSystem/report', code: 'cardiology' }] },
    subject: { reference },
  },
  request: { method: 'POST', url: 'DiagnosticReport' },
}];

const CASES: Case[] = [
  // The body itself.
  { name: 'malformed JSON', raw: '{"resourceType": "Patient", "name": [', status: 400, diagnostics: /not valid JSON/ },
  { name: 'a JSON array', raw: '[]', status: 400, only: ['POST', 'PUT', 'Bundle'] },
  { name: 'an empty body', raw: '', status: 400 },
  { name: 'a body over MAX_BODY_BYTES', set: { address: [{ text: long(3000) }] }, small: true, status: 413, diagnostics: /larger than the configured limit/ },
  { name: 'text/plain', set: {}, contentType: 'text/plain', status: 415 },
  { name: 'application/xml', raw: '<Patient xmlns="http://hl7.org/fhir"/>', contentType: 'application/xml', status: 415 },
  { name: 'application/fhir+xml', raw: '<Patient xmlns="http://hl7.org/fhir"/>', contentType: 'application/fhir+xml', status: 415 },
  { name: 'a form', raw: 'resourceType=Patient&gender=male', contentType: 'application/x-www-form-urlencoded', status: 415 },
  // Structure: 400 (the PATCH result breaking the schema: 422).
  { name: 'birthDate as a number', set: { birthDate: 12 }, status: STRUCTURE, at: '.birthDate', diagnostics: /birthDate must be a JSON string/ },
  { name: 'name as a string', set: { name: 'x' }, status: STRUCTURE, at: '.name', diagnostics: /must be an array/ },
  { name: 'active as a string', set: { active: 'yes' }, status: STRUCTURE, at: '.active', diagnostics: /boolean/ },
  { name: 'gender not a code', set: { gender: 'robot' }, status: STRUCTURE, at: '.gender', diagnostics: /must be one of/ },
  { name: 'birthDate not a date', set: { birthDate: '01/02/1980' }, status: STRUCTURE, at: '.birthDate' },
  { name: 'an unknown element', set: { colour: 'blue' }, status: STRUCTURE, at: '.colour', diagnostics: /Unknown element 'colour'/ },
  { name: 'an unknown element deep inside', set: { name: [{ family: 'Doe', nickname: 'JD' }] }, status: STRUCTURE, at: '.name[0].nickname' },
  { name: 'an empty string', set: { gender: 'female', birthDate: '' }, status: STRUCTURE, at: '.birthDate' },
  {
    name: 'the wrong resourceType', set: { resourceType: 'Observation' }, status: { POST: 400, PUT: 400, PATCH: 422, Bundle: 400 },
    at: { POST: '.resourceType', PUT: '.resourceType', PATCH: '.id', Bundle: '.resourceType' },
  },
  { name: 'a NUL character in a name', set: { name: [{ family: 'Nul\u0000l' }] }, status: [400, 422] },
  { name: 'extensions nested 3,000 deep', set: { extension: TEXT }, text: nested(3000), status: [400, 422] },
  // References.
  { name: 'managingOrganization not Organization/<uuid>', set: { managingOrganization: { reference: 'Organization/not-a-uuid' } }, status: 422, at: '.managingOrganization' },
  { name: 'managingOrganization an unknown organization', set: { managingOrganization: { reference: `Organization/${crypto.randomUUID()}` } }, status: 403 },
  { name: 'a report\'s subject Patient/unknown', entry: () => unknownSubject('Patient/unknown'), only: ['Bundle'], status: 422, at: '.subject' },
  { name: 'a report\'s subject an unknown Patient id', entry: () => unknownSubject(`Patient/${crypto.randomUUID()}`), only: ['Bundle'], status: 422, at: '.subject' },
  // MediLens rules: 422.
  { name: 'birthDate in the future', set: { birthDate: '2999-01-01' }, status: 422, at: '.birthDate', diagnostics: /future/ },
  { name: 'birthDate an impossible day', set: { birthDate: '1990-02-30' }, status: 422, at: '.birthDate' },
  { name: 'Fitzpatrick type 9', set: { extension: [{ url: FITZPATRICK, valueInteger: 9 }] }, status: 422, at: '.extension', diagnostics: /1 to 6/ },
  { name: 'a family name of 101 characters', set: { name: [{ family: long(101) }] }, status: 422, at: '.name.family', diagnostics: /100 characters/ },
  { name: 'given names of 101 characters in all', set: { name: [{ family: 'Doe', given: [long(50), long(50)] }] }, status: 422, at: '.name.given' },
  { name: 'a language tag longer than 10', set: { communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en-US-x-twain' }] } }] }, status: 422, at: '.communication.language' },
  { name: 'an identifier without system', set: { identifier: [{ value: 'no-system' }] }, status: 422, at: '.identifier[0]', diagnostics: /system and value/ },
  { name: 'an identifier without value', set: { identifier: [{ system: 'http://hospital.example/mrn' }] }, status: 422, at: '.identifier[0]' },
  { name: 'the same identifier twice', set: { identifier: [{ system: 'urn:x', value: 'dup' }, { system: 'urn:x', value: 'dup' }] }, status: 422, at: '.identifier[1]', diagnostics: /repeats/ },
  { name: 'an identifier system of 256 characters', set: { identifier: [{ system: `urn:${long(252)}`, value: 'v' }] }, status: 422, at: '.identifier[0]' },
];

describe(`Bad input to the write endpoints (${testBackend()})`, () => {
  let f: WriteFixture;
  let a: Api;
  let token: string;
  let small: Express;
  let existing: Patient;

  beforeAll(async () => {
    f = await writeFixture();
    token = await f.token(`${SCOPE_ALL} system/DiagnosticReport.cr system/Observation.cr`);
    a = api(f.app, token);
    small = testApp(f.db, { MAX_BODY_BYTES: '2048' });
    existing = (await a.create(patient(newMrn())).expect(201)).body;
  });
  afterAll(() => f?.db.close());

  /** The request a case makes to one endpoint. */
  function send(c: Case, endpoint: Endpoint): request.Test {
    const app = c.small ? small : f.app;
    const path = { POST: '/fhir/Patient', PUT: `/fhir/Patient/${existing.id}`, PATCH: `/fhir/Patient/${existing.id}`, Bundle: '/fhir' }[endpoint];
    const method = { POST: 'post', PUT: 'put', PATCH: 'patch', Bundle: 'post' }[endpoint] as 'post';
    let body: string;
    if (c.raw !== undefined) body = c.raw;
    else {
      const resource = { ...patient(newMrn()), ...c.set } as Patient;
      if (endpoint === 'PATCH') body = JSON.stringify(Object.entries(c.set!).map(([k, value]) => ({ op: 'add', path: `/${k}`, value })));
      else if (endpoint === 'PUT') body = JSON.stringify({ ...resource, id: existing.id });
      else if (endpoint === 'Bundle') body = JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: c.entry ? c.entry() : [{ resource, request: { method: 'POST', url: 'Patient' } }] });
      else body = JSON.stringify(resource);
    }
    if (c.text !== undefined) body = body.replace(`"${TEXT}"`, c.text);
    const type = c.contentType ?? (endpoint === 'PATCH' ? JSON_PATCH : FHIR_JSON);
    return request(app)[method](path).auth(token, { type: 'bearer' }).set('Content-Type', type).send(body);
  }

  const table = CASES.flatMap((c) => ENDPOINTS.filter((e) => !c.only || c.only.includes(e)).map((e): [string, Endpoint, Case] => [c.name, e, c]));

  it.each(table)('%s -> %s', async (_name, endpoint, c) => {
    const expectedStatus = typeof c.status === 'object' && !Array.isArray(c.status) ? c.status[endpoint]! : c.status;
    const statuses = Array.isArray(expectedStatus) ? expectedStatus : [expectedStatus];
    const res = await expectNothingWritten(f, () => send(c, endpoint));
    expect({ status: res.status, body: res.body }).toMatchObject({ status: statuses.includes(res.status) ? res.status : statuses[0] });
    const suffix = typeof c.at === 'object' ? c.at[endpoint] : c.at;
    const prefix = endpoint === 'Bundle' ? 'Bundle.entry[0].resource' : c.entry ? 'DiagnosticReport' : 'Patient';
    expectOutcome(res, res.status, { ...(c.diagnostics ? { diagnostics: c.diagnostics } : {}), ...(suffix ? { expression: `${prefix}${suffix}`, anyIssue: true } : {}) });
    if (endpoint === 'Bundle' && res.status !== 413 && res.status !== 415 && c.raw === undefined) {
      expect(res.body.issue[0].expression?.[0] ?? res.body.issue[0].diagnostics).toMatch(/^Bundle\.entry\[0\]/);
    }
    expect((await a.read(existing.id!).expect(200)).body.meta.versionId).toBe('1');
  });

  it('a PATCH that is valid JSON but not a patch (a JSON array of strings, an object): 400', async () => {
    for (const body of ['["add"]', '{"op": "add", "path": "/gender", "value": "male"}']) {
      const res = await expectNothingWritten(f, () => request(f.app).patch(`/fhir/Patient/${existing.id}`).auth(token, { type: 'bearer' }).set('Content-Type', JSON_PATCH).send(body));
      expectOutcome(res, 400);
    }
  });
});
