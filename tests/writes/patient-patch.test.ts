import crypto from 'node:crypto';
import type { Patient } from 'fhir/r4';
import { testBackend } from '../support/database';
import { expectNothingWritten, expectOutcome, newMrn, patient, writeFixture, type Api, type WriteFixture } from './support';

/**
 * PATCH /fhir/Patient/[id] with a JSON Patch (RFC 6902): each operation, results that are not a valid
 * Patient (422, nothing written), test operations (412), malformed documents (400), content types
 * (415), If-Match, unknown and deleted Patients.
 */
describe(`Patient patch (${testBackend()})`, () => {
  let f: WriteFixture;
  let a: Api;

  beforeAll(async () => {
    f = await writeFixture();
    a = await f.client();
  });
  afterAll(() => f?.db.close());

  const created = async (extra: Partial<Patient> = {}): Promise<Patient> => {
    const res = await a.create(patient(newMrn(), { address: [{ line: ['1 Main St'], city: 'Springfield' }], ...extra }));
    expect(res.status).toBe(201);
    return res.body as Patient;
  };

  /** The patch is refused with `status`, and the Patient stays at version 1 with nothing written. */
  const refused = async (id: string, ops: unknown, status: number, expected: Parameters<typeof expectOutcome>[2] = {}, headers: Record<string, string> = {}) => {
    const res = await expectNothingWritten(f, () => a.patch(id, ops, headers));
    expectOutcome(res, status, expected);
    expect(await f.historyRows(id)).toBe(0);
    const read = await a.read(id).expect(200);
    expect(read.body.meta.versionId).toBe('1');
    return res;
  };

  it('add, replace, remove and a passing test: each applied, a new version, and read back as patched', async () => {
    const p = await created();
    const steps: [unknown[], (q: Patient) => void][] = [
      [[{ op: 'add', path: '/maritalStatus', value: { text: 'Married' } }], (q) => expect(q.maritalStatus).toEqual({ text: 'Married' })],
      [[{ op: 'add', path: '/name/0/given/-', value: 'Marie' }], (q) => expect(q.name![0].given).toEqual(['Jane', 'Marie'])],
      [[{ op: 'replace', path: '/birthDate', value: '1981-05-06' }], (q) => expect(q.birthDate).toBe('1981-05-06')],
      [[{ op: 'remove', path: '/address' }], (q) => expect(q.address).toBeUndefined()],
      [
        [{ op: 'test', path: '/gender', value: 'female' }, { op: 'replace', path: '/gender', value: 'other' }],
        (q) => expect(q.gender).toBe('other'),
      ],
    ];
    for (const [i, [ops, check]] of steps.entries()) {
      const res = await a.patch(p.id!, ops);
      expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { id: p.id, meta: { versionId: String(i + 2) } } });
      expect(res.headers.etag).toBe(`W/"${i + 2}"`);
      check(res.body);
      const read = await a.read(p.id!).expect(200);
      expect(read.body).toEqual(res.body);
    }
    const [row] = await f.sql<{ first_name: string; date_of_birth: string; gender: string }>(
      `SELECT first_name, date_of_birth::text AS date_of_birth, gender FROM users WHERE id = $1`, [p.id]);
    expect(row).toEqual({ first_name: 'Jane Marie', date_of_birth: '1981-05-06', gender: 'other' });
  });

  it.each<[string, unknown[], RegExp]>([
    ['gender robot', [{ op: 'replace', path: '/gender', value: 'robot' }], /Patient\.gender/],
    ['name as a string', [{ op: 'replace', path: '/name', value: 'Jane Doe' }], /Patient\.name/],
    ['an unknown element', [{ op: 'add', path: '/favouriteColour', value: 'blue' }], /Patient\.favouriteColour/],
    ['birthDate not a date', [{ op: 'replace', path: '/birthDate', value: '01/02/1980' }], /Patient\.birthDate/],
    ['birthDate in the future', [{ op: 'replace', path: '/birthDate', value: '2999-01-01' }], /Patient\.birthDate/],
    ['Fitzpatrick type 9', [{ op: 'add', path: '/extension', value: [{ url: 'https://fhir.medilens.ai/StructureDefinition/fitzpatrick-skin-type', valueInteger: 9 }] }], /Patient\.extension/],
    ['an identifier without system', [{ op: 'add', path: '/identifier/-', value: { value: 'no-system' } }], /Patient\.identifier\[2\]/],
  ])('a patch giving an invalid Patient (%s): 422 naming the element, nothing written', async (_name, ops, expression) => {
    const p = await created();
    await refused(p.id!, ops, 422, { expression, anyIssue: true });
  });

  it('a patch changing the id or the resourceType: 422 naming Patient.id, nothing written', async () => {
    const p = await created();
    await refused(p.id!, [{ op: 'replace', path: '/id', value: crypto.randomUUID() }], 422, { expression: 'Patient.id' });
    await refused(p.id!, [{ op: 'remove', path: '/id' }], 422, { expression: 'Patient.id' });
    await refused(p.id!, [{ op: 'replace', path: '/resourceType', value: 'Practitioner' }], 422);
  });

  it('a test operation that fails: 412, nothing written (even when other operations came first)', async () => {
    const p = await created();
    await refused(p.id!, [{ op: 'test', path: '/gender', value: 'male' }], 412, { diagnostics: /test/ });
    await refused(p.id!, [{ op: 'replace', path: '/birthDate', value: '1970-01-01' }, { op: 'test', path: '/name/0/family', value: 'Smith' }], 412);
  });

  it('an operation that cannot apply (a path that does not exist): 422, nothing written', async () => {
    const p = await created();
    await refused(p.id!, [{ op: 'replace', path: '/telecom/3/value', value: 'x' }], 422);
    await refused(p.id!, [{ op: 'remove', path: '/photo' }], 422);
  });

  it.each<[string, unknown]>([
    ['an object instead of an array', { op: 'replace', path: '/gender', value: 'male' }],
    ['an unknown op', [{ op: 'merge', path: '/gender', value: 'male' }]],
    ['an operation without path', [{ op: 'replace', value: 'male' }]],
    ['a path without a leading slash', [{ op: 'replace', path: 'gender', value: 'male' }]],
    ['add without value', [{ op: 'add', path: '/gender' }]],
    ['move without from', [{ op: 'move', path: '/gender' }]],
    ['a string', '"replace gender"'],
    ['a prototype path', [{ op: 'add', path: '/__proto__/polluted', value: 'yes' }]],
  ])('a malformed patch document (%s): 400, nothing written', async (_name, ops) => {
    const p = await created();
    await refused(p.id!, ops, 400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('malformed JSON: 400 "not valid JSON"', async () => {
    const p = await created();
    await refused(p.id!, '[{"op": "replace", "path": "/gender", ', 400, { diagnostics: /not valid JSON/ });
  });

  it.each(['application/json', 'application/fhir+json', 'text/plain', 'application/merge-patch+json'])('content type %s: 415, nothing written', async (type) => {
    const p = await created();
    await refused(p.id!, [{ op: 'replace', path: '/gender', value: 'male' }], 415, { diagnostics: /application\/json-patch\+json/ }, { 'Content-Type': type });
  });

  it('If-Match: stale 412, current 200', async () => {
    const p = await created();
    await a.patch(p.id!, [{ op: 'replace', path: '/gender', value: 'male' }], { 'If-Match': 'W/"1"' }).expect(200);
    const stale = await expectNothingWritten(f, () => a.patch(p.id!, [{ op: 'replace', path: '/gender', value: 'other' }], { 'If-Match': 'W/"1"' }));
    expectOutcome(stale, 412);
    const ok = await a.patch(p.id!, [{ op: 'replace', path: '/gender', value: 'other' }], { 'If-Match': 'W/"2"' });
    expect({ status: ok.status, body: ok.body }).toMatchObject({ status: 200, body: { gender: 'other', meta: { versionId: '3' } } });
  });

  it('an unknown Patient: 404; a deleted one: 410; another organization\'s: 404; without Patient.u: 403', async () => {
    const ops = [{ op: 'replace', path: '/gender', value: 'male' }];
    expectOutcome(await expectNothingWritten(f, () => a.patch(crypto.randomUUID(), ops)), 404);
    expectOutcome(await expectNothingWritten(f, () => a.patch('not-a-uuid', ops)), 404);
    const gone = await created();
    await a.remove(gone.id!).expect(200);
    expectOutcome(await expectNothingWritten(f, () => a.patch(gone.id!, ops)), 410);
    const b = await f.client('system/Patient.cruds', f.orgB);
    const theirs = (await b.create(patient(newMrn())).expect(201)).body as Patient;
    expectOutcome(await expectNothingWritten(f, () => a.patch(theirs.id!, ops)), 404);
    const reader = await f.client('system/Patient.rs');
    const mine = await created();
    expectOutcome(await expectNothingWritten(f, () => reader.patch(mine.id!, ops)), 403, { diagnostics: /Patient\.u/ });
  });

  it('a patch adding profile-backed elements (communication, Fitzpatrick) to a Patient that had none keeps them', async () => {
    const p = await created();
    const communication = [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'de' }] }, preferred: true }];
    const extension = [{ url: 'https://fhir.medilens.ai/StructureDefinition/fitzpatrick-skin-type', valueInteger: 3 }];
    const res = await a.patch(p.id!, [{ op: 'add', path: '/communication', value: communication }, { op: 'add', path: '/extension', value: extension }]);
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { meta: { versionId: '2' } } });
    const read = (await a.read(p.id!).expect(200)).body as Patient;
    expect({ communication: read.communication, extension: read.extension }).toEqual({ communication, extension });
    const [profile] = await f.sql<{ language: string; fitzpatrick_type: number }>(`SELECT language, fitzpatrick_type FROM user_profiles WHERE user_id = $1`, [p.id]);
    expect(profile).toEqual({ language: 'de', fitzpatrick_type: 3 });
  });

  it('a patch that changes nothing makes no new version', async () => {
    const p = await created();
    const res = await expectNothingWritten(f, () => a.patch(p.id!, [{ op: 'replace', path: '/gender', value: 'female' }]));
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { meta: { versionId: '1' } } });
    expect(await f.historyRows(p.id!)).toBe(0);
  });
});
