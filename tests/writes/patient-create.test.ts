import type { OperationOutcome, Patient } from 'fhir/r4';
import { ExternalIdp, GATEWAY } from '../support/auth';
import { testBackend } from '../support/database';
import { userWithRole } from '../support/fixtures';
import { api, expectNothingWritten, expectOutcome, MRN, newMrn, patient, SCOPE_ALL, USER_ID_SYSTEM, writeFixture, type Api, type WriteFixture } from './support';

/**
 * POST /fhir/Patient: 201 with Location/ETag/Last-Modified, Prefer return=, conditional create
 * (If-None-Exist 0/1/many matches, malformed criteria, a concurrent race), duplicate identifiers, and
 * who may create where. Every refusal writes nothing.
 */
describe(`Patient create (${testBackend()})`, () => {
  let idp: ExternalIdp;
  let f: WriteFixture;
  let a: Api;

  beforeAll(async () => {
    idp = await ExternalIdp.start();
    f = await writeFixture({ env: idp.env(), poolSize: 40 });
    a = await f.client();
  });
  afterAll(async () => {
    await idp?.stop();
    await f?.db.close();
  });

  const ifNoneExist = (mrn: string) => ({ 'If-None-Exist': `identifier=${MRN}|${mrn}` });
  const usersWith = async (mrn: string) =>
    (await f.sql<{ n: number }>(`SELECT count(DISTINCT user_id)::int AS n FROM patient_identifiers WHERE system = $1 AND value = $2`, [MRN, mrn]))[0].n;

  it('201 with Location .../_history/1, ETag W/"1", Last-Modified and the Patient as stored', async () => {
    const before = await f.counts();
    const mrn = newMrn();
    const res = await a.create(patient(mrn));
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 201 });
    const created = res.body as Patient;
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.location).toBe(`${GATEWAY}/fhir/Patient/${created.id}/_history/1`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(created.meta?.versionId).toBe('1');
    expect(new Date(res.headers['last-modified']).getTime()).toBe(Math.floor(new Date(created.meta!.lastUpdated!).getTime() / 1000) * 1000);
    expect(created.identifier).toEqual([{ use: 'secondary', system: USER_ID_SYSTEM, value: created.id }, { system: MRN, value: mrn }]);
    expect(created).toMatchObject({ name: [{ family: 'Doe', given: ['Jane'] }], gender: 'female', birthDate: '1980-04-01', managingOrganization: { reference: `Organization/${f.orgA}` } });
    const after = await f.counts();
    expect({ users: after.users - before.users, patient_identifiers: after.patient_identifiers - before.patient_identifiers }).toEqual({ users: 1, patient_identifiers: 1 });
    const [row] = await f.sql<{ organization_id: string; first_name: string; last_name: string; email: string | null }>(
      `SELECT organization_id, first_name, last_name, email FROM users WHERE id = $1`, [created.id]);
    expect(row).toEqual({ organization_id: f.orgA, first_name: 'Jane', last_name: 'Doe', email: null });
    const read = await a.read(created.id!).expect(200);
    expect(read.body).toEqual(created);
  });

  it('Prefer: return=minimal answers headers only; representation the Patient; OperationOutcome an informational outcome', async () => {
    const minimal = await a.create(patient(newMrn()), { Prefer: 'return=minimal' });
    expect(minimal.status).toBe(201);
    expect(minimal.text ?? '').toBe('');
    expect(minimal.headers.location).toMatch(new RegExp(`^${GATEWAY}/fhir/Patient/[0-9a-f-]{36}/_history/1$`));
    expect(minimal.headers.etag).toBe('W/"1"');
    expect(minimal.headers['last-modified']).toBeDefined();
    const id = minimal.headers.location.split('/').at(-3)!;
    await a.read(id).expect(200);

    const representation = await a.create(patient(newMrn()), { Prefer: 'return=representation' });
    expect(representation.status).toBe(201);
    expect(representation.body).toMatchObject({ resourceType: 'Patient', meta: { versionId: '1' } });
    expect(representation.headers.location).toContain(`/Patient/${representation.body.id}/_history/1`);

    const outcome = await a.create(patient(newMrn()), { Prefer: 'return=OperationOutcome' });
    expect(outcome.status).toBe(201);
    const body = outcome.body as OperationOutcome;
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]).toMatchObject({ severity: 'information', code: 'informational' });
    const created = outcome.headers.location.split('/').at(-3)!;
    expect(body.issue[0].diagnostics).toContain(`Patient/${created}`);
    expect(outcome.headers.etag).toBe('W/"1"');
  });

  it('If-None-Exist: no match creates (201); one match answers it (200) and writes nothing', async () => {
    const mrn = newMrn();
    const first = await a.create(patient(mrn), ifNoneExist(mrn));
    expect(first.status).toBe(201);
    const again = await expectNothingWritten(f, () => a.create(patient(mrn, { name: [{ family: 'Other' }] }), ifNoneExist(mrn)));
    expect({ status: again.status, body: again.body }).toMatchObject({ status: 200 });
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.meta.versionId).toBe('1');
    expect(again.body.name).toEqual([{ use: 'official', family: 'Doe', given: ['Jane'] }]);
    expect(again.headers.etag).toBe('W/"1"');
    expect(again.headers.location).toBeUndefined();
    // The criteria may carry the type, as FHIR writes them.
    const typed = await a.create(patient(mrn), { 'If-None-Exist': `Patient?identifier=${MRN}|${mrn}` });
    expect(typed.status).toBe(200);
    expect(typed.body.id).toBe(first.body.id);
    expect(await usersWith(mrn)).toBe(1);
  });

  it('If-None-Exist matching Patients of two organizations (a client of all organizations): 412, nothing written', async () => {
    const mrn = newMrn('SHARED');
    const b = await f.client(SCOPE_ALL, f.orgB);
    await a.create(patient(mrn)).expect(201);
    await b.create(patient(mrn)).expect(201);
    const all = await f.client(SCOPE_ALL, null);
    const body = patient(mrn, { managingOrganization: { reference: `Organization/${f.orgA}` } });
    const res = await expectNothingWritten(f, () => all.create(body, ifNoneExist(mrn)));
    expectOutcome(res, 412, { diagnostics: /more than one/ });
    // A client of one organization sees one of them: that one is the match.
    const onlyA = await expectNothingWritten(f, () => a.create(patient(mrn), ifNoneExist(mrn)));
    expect(onlyA.status).toBe(200);
    expect(onlyA.body.managingOrganization).toEqual({ reference: `Organization/${f.orgA}` });
  });

  it('If-None-Exist naming an identifier the Patient does not carry: 400 naming Patient.identifier', async () => {
    const res = await expectNothingWritten(f, () => a.create(patient(newMrn()), ifNoneExist('SOMEONE-ELSE')));
    expectOutcome(res, 400, { expression: 'Patient.identifier', diagnostics: /If-None-Exist/ });
  });

  it.each([
    ['no system|value bar', (m: string) => `identifier=${m}`],
    ['empty value', () => `identifier=${MRN}|`],
    ['empty system', (m: string) => `identifier=|${m}`],
    ['another parameter', () => 'name=Doe'],
    ['a second parameter', (m: string) => `identifier=${MRN}|${m}&name=Doe`],
    ['two identifiers', (m: string) => `identifier=${MRN}|${m}&identifier=${MRN}|x`],
    ['an OR list', (m: string) => `identifier=${MRN}|${m},${MRN}|x`],
    ['empty', () => ''],
  ])('malformed If-None-Exist (%s): 400, nothing written', async (_name, criteria) => {
    const mrn = newMrn();
    const res = await expectNothingWritten(f, () => a.create(patient(mrn), { 'If-None-Exist': criteria(mrn) }));
    expectOutcome(res, 400, { diagnostics: /If-None-Exist/ });
  });

  it('the same MRN again without If-None-Exist: 409 naming Patient.identifier, nothing written', async () => {
    const mrn = newMrn();
    await a.create(patient(mrn)).expect(201);
    const res = await expectNothingWritten(f, () => a.create(patient(mrn, { name: [{ family: 'Twin' }] })));
    expectOutcome(res, 409, { code: 'conflict', expression: 'Patient.identifier', diagnostics: /identifier/ });
    // Another organization may register the same MRN: the key is (organization, system, value).
    const b = await f.client(SCOPE_ALL, f.orgB);
    await b.create(patient(mrn)).expect(201);
  });

  it('a client without Patient.c: 403 naming the scope, nothing written', async () => {
    const readOnly = await f.client('system/Patient.rus');
    const res = await expectNothingWritten(f, () => readOnly.create(patient(newMrn())));
    expectOutcome(res, 403, { code: 'forbidden', diagnostics: /system\/Patient\.c/ });
    expect(res.headers['www-authenticate']).toMatch(/insufficient_scope.*system\/Patient\.c/);
  });

  it('patient/ scopes cannot register Patients: 403, nothing written', async () => {
    const pA = await userWithRole(f.db.dataSource, f.orgA, 'Pat', 'patient');
    const clinician = await userWithRole(f.db.dataSource, f.orgA, 'Doc', 'clinician');
    const clerk = async (id: string) => (await f.sql<{ c: string }>(`SELECT clerk_user_id AS c FROM users WHERE id = $1`, [id]))[0].c;
    const inContext = await idp.token({ sub: await clerk(clinician), scope: 'patient/Patient.cruds', patient: pA });
    const self = await idp.token({ sub: await clerk(pA), scope: 'patient/Patient.cruds' });
    for (const token of [inContext, self]) {
      const res = await expectNothingWritten(f, () => api(f.app, token).create(patient(newMrn())));
      expectOutcome(res, 403, { diagnostics: /patient-context scope cannot register/ });
    }
  });

  it('managingOrganization of another organization: 403, nothing written', async () => {
    const body = patient(newMrn(), { managingOrganization: { reference: `Organization/${f.orgB}` } });
    const res = await expectNothingWritten(f, () => a.create(body));
    expectOutcome(res, 403, { diagnostics: new RegExp(`Organization/${f.orgA}`) });
  });

  it('a client of all organizations must name managingOrganization (422), and creates in the one it names', async () => {
    const all = await f.client(SCOPE_ALL, null);
    const res = await expectNothingWritten(f, () => all.create(patient(newMrn())));
    expectOutcome(res, 422, { expression: 'Patient.managingOrganization' });
    const named = await all.create(patient(newMrn(), { managingOrganization: { reference: `Organization/${f.orgB}` } }));
    expect(named.status).toBe(201);
    const [row] = await f.sql<{ organization_id: string }>(`SELECT organization_id FROM users WHERE id = $1`, [named.body.id]);
    expect(row.organization_id).toBe(f.orgB);
  });

  it('32 concurrent conditional creates of a new MRN (Patients without email): one Patient, one 201 and 31 x 200 with its id', async () => {
    const mrn = newMrn('RACE');
    const before = await f.counts();
    const body = patient(mrn, { name: [{ family: 'Racer', given: ['No', 'Email'] }] });
    const race = await Promise.all(Array.from({ length: 32 }, () => a.create(body, ifNoneExist(mrn))));
    const statuses = race.map((r) => r.status);
    expect({ statuses: [...statuses].sort(), bodies: race.filter((r) => r.status >= 300).map((r) => r.body) }).toEqual({
      statuses: [...Array(31).fill(200), 201],
      bodies: [],
    });
    const ids = new Set(race.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(await usersWith(mrn)).toBe(1);
    const after = await f.counts();
    expect(after.users - before.users).toBe(1);
    expect(after.patient_identifiers - before.patient_identifiers).toBe(1);
    const [{ n }] = await f.sql<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE last_name = 'Racer'`);
    expect(n).toBe(1);
  });
});
