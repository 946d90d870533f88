import crypto from 'node:crypto';
import type { Patient } from 'fhir/r4';
import { testBackend } from '../support/database';
import { userWithRole } from '../support/fixtures';
import { completeDocument } from '../ingest/documents';
import { api, bundle, expectOutcome, fixture, MRN, newMrn, patient, resultEntries, resultTemplate, type Api, type Fixture } from './writes-fixture';

/**
 * REVIEW: who may write which Patient (src/write/patients.ts, src/ingest/patient.ts, src/auth/access.ts).
 * Failing tests are findings; the passing ones record what held up.
 */
describe(`REVIEW write access (${testBackend()})`, () => {
  let f: Fixture;
  let a: Api;
  let b: Api;

  beforeAll(async () => {
    f = await fixture();
    a = await f.client();
    b = await f.client('system/Patient.cruds', f.orgB);
  });
  afterAll(() => f?.close());

  // FINDING: createPatient() answers a matched If-None-Exist with the stored Patient (write.ts writtenResponse),
  // whatever the token may read: a create-only client reads any Patient of its organization by MRN.
  it('a token with Patient.c but no Patient.r learns nothing of an existing Patient through If-None-Exist', async () => {
    const mrn = newMrn();
    await a.create(patient(mrn, { address: [{ text: '1 Secret Street' }], telecom: [{ system: 'phone', value: '555-0100' }] })).expect(201);
    const createOnly = await f.client('system/Patient.c');
    const res = await createOnly.create(patient(mrn, { name: [{ family: 'Guess' }] }), { 'If-None-Exist': `identifier=${MRN}|${mrn}` });
    expect(res.status).toBe(200);
    expect(res.text).not.toMatch(/Secret Street|555-0100|1980-04-01/);
  });

  // FINDING: a patient/ scope may PUT its own Patient with any identifiers (checkPatient/updateRows take
  // them as sent). A patient who adds a hospital's MRN captures that hospital's next conditional create.
  it('a patient (patient/Patient.u) cannot give themselves a hospital MRN that the hospital then matches', async () => {
    const me = await f.user('patient', 'patient/Patient.rus');
    const self = (await me.api.read(me.id).expect(200)).body as Patient;
    const mrn = newMrn('SQUAT');
    const res = await me.api.update(me.id, { ...self, identifier: [...(self.identifier ?? []), { system: MRN, value: mrn }] });
    expectOutcome(res, 403);
    const hospital = await a.create(patient(mrn, { name: [{ family: 'Real' }] }), { 'If-None-Exist': `identifier=${MRN}|${mrn}` });
    expect({ status: hospital.status, sameAsPatientUser: hospital.body.id === me.id }).toEqual({ status: 201, sameAsPatientUser: false });
  });

  // FINDING (same cause): the patient can also drop the MRN the hospital linked, so the hospital's next
  // conditional create registers a second Patient for the same person; and a taken MRN answers a 409
  // naming it, so a patient can probe which MRNs exist in the organization.
  it('a patient cannot remove or probe hospital identifiers on their own record', async () => {
    const me = await f.user('patient', 'patient/Patient.rus');
    const mrn = newMrn('LINKED');
    const linked = (await a.read(me.id).expect(200)).body as Patient;
    await a.update(me.id, { ...linked, identifier: [...(linked.identifier ?? []), { system: MRN, value: mrn }] }).expect(200);
    const self = (await me.api.read(me.id).expect(200)).body as Patient;
    expectOutcome(await me.api.update(me.id, { ...self, identifier: self.identifier!.filter((i) => i.system !== MRN) }), 403);
    const taken = newMrn('TAKEN');
    await a.create(patient(taken)).expect(201);
    const probe = await me.api.update(me.id, { ...self, identifier: [{ system: MRN, value: taken }] });
    expect(probe.status).toBe(403);
    expect(probe.text).not.toContain(taken);
    expect((await a.create(patient(mrn), { 'If-None-Exist': `identifier=${MRN}|${mrn}` })).body.id).toBe(me.id);
  });

  // FINDING: users.email is UNIQUE across every organization (seed), and Patient.telecom's first email
  // goes there: a 409 tells hospital A that an address is registered anywhere in MediLens (another
  // hospital's patient, a clinician), and A cannot register a patient B already has.
  it('an email registered by another organization neither blocks nor reveals anything', async () => {
    const email = `shared-${crypto.randomUUID().slice(0, 8)}@example.org`;
    await b.create(patient(newMrn('B'), { telecom: [{ system: 'email', value: email }] })).expect(201);
    const res = await a.create(patient(newMrn(), { telecom: [{ system: 'email', value: email }] }));
    expect({ status: res.status, text: res.status === 201 ? '' : res.text }).toEqual({ status: 201, text: '' });
    expect((await a.read(res.body.id).expect(200)).body.telecom).toEqual([{ system: 'email', value: email }]);
  });

  // FINDING: sameOrganization() only checks clients bound to an organization; a client of all
  // organizations gets 200 for a managingOrganization it did not write (users.organization_id is not updated).
  it('a client of all organizations cannot "move" a Patient by PUT: not a silent 200', async () => {
    const all = await f.client('system/Patient.cruds', null);
    const p = (await a.create(patient(newMrn())).expect(201)).body as Patient;
    const res = await all.update(p.id!, { ...p, managingOrganization: { reference: `Organization/${f.orgB}` } });
    expect([403, 422]).toContain(res.status);
    expect((await a.read(p.id!).expect(200)).body.managingOrganization).toEqual({ reference: `Organization/${f.orgA}` });
  });

  // FINDING: a researcher has no access to identifiable data (access.ts), yet with DiagnosticReport.c the
  // native ingestion resolves an MRN to the patient (src/ingest/patient.ts), and the report it wrote names
  // Patient/<id>: MRN -> MediLens id re-identifies the pseudonymous ids of research data.
  it('a researcher cannot resolve a hospital MRN to a patient through ingestion', async () => {
    const mrn = newMrn();
    const p = (await a.create(patient(mrn)).expect(201)).body as Patient;
    const rid = await userWithRole(f.db.dataSource, f.orgA, 'Rita', 'researcher' as 'clinician');
    const [{ sub }] = await f.sql<{ sub: string }>(`SELECT clerk_user_id AS sub FROM users WHERE id = $1`, [rid]);
    const researcher = api(f.app, await f.idp.token({ sub, scope: 'user/DiagnosticReport.cr user/Observation.cr' }));
    const { patient: _ignored, ...doc } = completeDocument('cardiology', p.id!);
    const res = await researcher.ingest({ ...doc, patient: { identifier: { system: MRN, value: mrn } } });
    expect(res.status).toBe(403);
    expect(res.text).not.toContain(p.id!);
  });

  // Held up: another organization's Patient is out of reach for every write, exactly like an unknown one.
  it('PATCH, DELETE and If-Match PUT of another organization\'s Patient: 404/412 as for an unknown id, nothing changed', async () => {
    const other = (await b.create(patient(newMrn('B'))).expect(201)).body as Patient;
    const unknown = crypto.randomUUID();
    const ops = [{ op: 'replace', path: '/gender', value: 'male' }];
    expect((await a.patch(other.id!, ops)).status).toBe((await a.patch(unknown, ops)).status);
    expect((await a.remove(other.id!)).status).toBe((await a.remove(unknown)).status);
    const ifMatch = { 'If-Match': 'W/"1"' };
    expect((await a.update(other.id!, { ...other, gender: 'male' }, ifMatch)).status).toBe(412);
    expect(await b.read(other.id!).expect(200).then((r) => [r.body.gender, r.body.meta.versionId])).toEqual(['female', '1']);
  });

  it('an MRN held in another organization: conditional create and update make a Patient of our own; a transaction finds nothing of theirs', async () => {
    const mrn = newMrn('XORG');
    const theirs = (await b.create(patient(mrn, { name: [{ family: 'Theirs' }] })).expect(201)).body as Patient;
    const tpl = await resultTemplate(f, a);
    const same = (r: { status: number; body: { issue?: { diagnostics?: string }[] } }) => [r.status, r.body.issue?.[0].diagnostics?.replace(/Patient[/?][^ ]+/g, 'P')];
    // Referenced by identifier or by id, their Patient answers as an unknown one does.
    const theirMrn = await a.bundle(bundle(resultEntries(tpl, `Patient?identifier=${MRN}|${mrn}`)));
    const unknownMrn = await a.bundle(bundle(resultEntries(tpl, `Patient?identifier=${MRN}|${newMrn('NONE')}`)));
    expect(same(theirMrn)).toEqual(same(unknownMrn));
    const theirId = await a.bundle(bundle(resultEntries(tpl, `Patient/${theirs.id}`)));
    const unknownId = await a.bundle(bundle(resultEntries(tpl, `Patient/${crypto.randomUUID()}`)));
    expect(same(theirId)).toEqual(same(unknownId));
    const created = await a.create(patient(mrn), { 'If-None-Exist': `identifier=${MRN}|${mrn}` });
    expect(created.status).toBe(201);
    const updated = await a.conditionalUpdate(`identifier=${MRN}|${mrn}`, patient(mrn, { gender: 'male' }));
    expect({ status: updated.status, id: updated.body.id }).toEqual({ status: 200, id: created.body.id });
    expect((await b.read(theirs.id!).expect(200)).body).toMatchObject({ gender: 'female', meta: { versionId: '1' } });
  });

  it('granular scopes (Patient.cru?gender=female): creating, updating or patching out of the filter is 403 and writes nothing', async () => {
    const g = await f.client('system/Patient.cru?gender=female');
    expectOutcome(await g.create(patient(newMrn(), { gender: 'male' })), 403);
    const p = (await g.create(patient(newMrn())).expect(201)).body as Patient;
    expectOutcome(await g.update(p.id!, { ...p, gender: 'male' }), 403);
    expectOutcome(await g.patch(p.id!, [{ op: 'replace', path: '/gender', value: 'male' }]), 403);
    expect(await a.read(p.id!).expect(200).then((r) => [r.body.gender, r.body.meta.versionId])).toEqual(['female', '1']);
  });

  it('a token without write scopes is refused before anything is looked up (same 403 for any id)', async () => {
    const ro = await f.client('system/Patient.rs');
    const other = (await b.create(patient(newMrn('B'))).expect(201)).body as Patient;
    const answers = await Promise.all([other.id!, crypto.randomUUID()].map((id) => ro.update(id, { ...patient(newMrn()), id })));
    expect(answers.map((r) => [r.status, r.body.issue[0].diagnostics])).toEqual([answers[1], answers[1]].map((r) => [403, r.body.issue[0].diagnostics]));
    expectOutcome(await ro.bundle(bundle([{ resource: patient(newMrn()), request: { method: 'POST', url: 'Patient' } }])), 403, /Patient\.c/);
  });
});
