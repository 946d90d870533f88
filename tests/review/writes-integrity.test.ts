import crypto from 'node:crypto';
import type { Bundle, Patient } from 'fhir/r4';
import request from 'supertest';
import { testApp } from '../support/auth';
import { testBackend } from '../support/database';
import { bundle, expectOutcome, fixture, MRN, newMrn, patient, resultEntries, resultTemplate, urn, type Api, type Fixture } from './writes-fixture';

/**
 * REVIEW: one Patient per identifier, idempotent PUTs, and identifiers after the MediLens backend
 * changes a patient directly (src/write/patient-rows.ts, migrations/1767225600006 patient_identifiers).
 */
describe(`REVIEW write integrity (${testBackend()})`, () => {
  let f: Fixture;
  let a: Api;
  const holders = async (mrn: string) =>
    (await f.sql<{ user_id: string; organization_id: string }>(`SELECT pi.user_id, u.organization_id FROM patient_identifiers pi JOIN users u ON u.id = pi.user_id WHERE pi.value = $1 AND u.deleted_at IS NULL`, [mrn]));

  beforeAll(async () => {
    f = await fixture();
    a = await f.client();
  });
  afterAll(() => f?.close());

  // FINDING (server; PGlite serialises requests): update-as-create of a new id is not conditional in
  // inWriteTransaction, so the loser of two identical PUTs hits users_pkey and answers 409 "This id is not
  // available for a new Patient" although PUT is idempotent and the id now holds exactly what it sent.
  it('8 concurrent identical PUTs to a new id: one 201, the rest 200, one Patient', async () => {
    const id = crypto.randomUUID();
    const body = { ...patient(newMrn('IDEM')), id };
    const answers = await Promise.all(Array.from({ length: 8 }, () => a.update(id, body)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect((await a.read(id).expect(200)).body.meta.versionId).toBe('1');
  });

  // FINDING: IdentifierTaken is turned into the 409 by inWriteTransaction, outside runTransaction's
  // located(): the OperationOutcome of a transaction does not name the entry (README: "its expression
  // names Bundle.entry[n]").
  it('a transaction whose second Patient takes a registered MRN: 409 naming Bundle.entry[1]', async () => {
    const mrn = newMrn('TAKEN');
    await a.create(patient(mrn)).expect(201);
    const before = await f.counts();
    const res = await a.bundle(bundle([
      { resource: patient(newMrn('FREE')), request: { method: 'POST', url: 'Patient' } },
      { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
    ]));
    const outcome = expectOutcome(res, 409);
    expect({ diagnostics: outcome.issue[0].diagnostics?.slice(0, 15), expression: outcome.issue[0].expression?.[0] }).toEqual({
      diagnostics: 'Bundle.entry[1]',
      expression: expect.stringMatching(/^Bundle\.entry\[1\]/),
    });
    expect(await f.counts()).toEqual(before);
  });

  // FINDING: patient_identifiers.organization_id is copied once, at write time. When MediLens moves a
  // patient (users.organization_id, README: "a patient moves between organizations only in MediLens"),
  // the MRN stays in the old organization's unique key: the old hospital can never register that MRN
  // again (409 about a Patient it cannot see), and the new one can give it to a second Patient.
  it('after MediLens moves a patient to another organization, each hospital still has one Patient per MRN', async () => {
    const b = await f.client('system/Patient.cruds', f.orgB);
    const mrn = newMrn('MOVED');
    const moved = (await a.create(patient(mrn)).expect(201)).body as Patient;
    await f.sql(`UPDATE users SET organization_id = $2 WHERE id = $1`, [moved.id, f.orgB]);
    const again = await a.create(patient(mrn, { name: [{ family: 'New' }] }), { 'If-None-Exist': `identifier=${MRN}|${mrn}` });
    expect({ status: again.status, text: again.status === 201 ? '' : again.text }).toEqual({ status: 201, text: '' });
    const second = await b.create(patient(mrn, { name: [{ family: 'Second' }] }));
    expect(second.status).toBe(409);
    expect((await holders(mrn)).filter((h) => h.organization_id === f.orgB)).toHaveLength(1);
  });

  // FINDING: only the gateway's DELETE frees the identifiers; a patient soft-deleted by MediLens directly
  // keeps them, and the hospital's conditional create of that MRN then fails (409) for ever.
  it('after MediLens soft-deletes a patient directly, the hospital can register its MRN again (as after a FHIR DELETE)', async () => {
    const mrn = newMrn('GONE');
    const gone = (await a.create(patient(mrn)).expect(201)).body as Patient;
    await f.sql(`UPDATE users SET deleted_at = now() WHERE id = $1`, [gone.id]);
    await a.read(gone.id!).expect(410);
    const res = await a.create(patient(mrn, { name: [{ family: 'Back' }] }), { 'If-None-Exist': `identifier=${MRN}|${mrn}` });
    expect({ status: res.status, text: res.status === 201 ? '' : res.text }).toEqual({ status: 201, text: '' });
    expect(res.body.id).not.toBe(gone.id);
  });

  // FINDING: the Patient is a view of users, which is also the MediLens account and, for staff who are
  // patients too, the Practitioner. A hospital's DELETE Patient soft-deletes the users row: the colleague's
  // Practitioner reads 410 and they can no longer sign in; a PUT without telecom erases the account's
  // e-mail (users.email NULL), and active:false disables the login (UserDirectory: is_active).
  it('Patient writes do not delete or disable the MediLens account behind the Patient (a clinician who is also a patient)', async () => {
    const doc = await f.user('clinician', 'user/Practitioner.rs');
    await f.sql(`INSERT INTO user_roles (user_id, role_id, organization_id) SELECT $1, id, $2 FROM roles WHERE name = 'patient'`, [doc.id, f.orgA]);
    const [{ email }] = await f.sql<{ email: string }>(`SELECT email FROM users WHERE id = $1`, [doc.id]);
    const asPatient = (await a.read(doc.id).expect(200)).body as Patient;
    await a.update(doc.id, { ...asPatient, telecom: undefined });
    await a.remove(doc.id);
    const [{ sub }] = await f.sql<{ sub: string }>(`SELECT clerk_user_id AS sub FROM users WHERE id = $1`, [doc.id]);
    const fresh = testApp(f.db, f.idp.env()); // no cached sign-in
    const practitioner = await request(fresh).get(`/fhir/Practitioner/${doc.id}`).auth(await f.idp.token({ sub, scope: 'user/Practitioner.rs' }), { type: 'bearer' });
    expect({ status: practitioner.status, email: (await f.sql<{ email: string }>(`SELECT email FROM users WHERE id = $1`, [doc.id]))[0].email }).toEqual({ status: 200, email });
  });

  // Held up: races on one MRN through every conditional path end in one Patient (both backends).
  it('conditional creates, conditional updates and transactions racing on one new MRN and session: one Patient, one report', async () => {
    const tpl = await resultTemplate(f, a);
    const mrn = newMrn('RACE');
    const session = `race-${crypto.randomUUID()}`;
    const viaBundle = () => {
      const u = urn();
      return a.bundle(bundle([{ fullUrl: u, resource: patient(mrn), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|${mrn}` } }, ...resultEntries(tpl, u, session)]));
    };
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      [() => a.create(patient(mrn), { 'If-None-Exist': `identifier=${MRN}|${mrn}` }), () => a.conditionalUpdate(`identifier=${MRN}|${mrn}`, patient(mrn)), viaBundle][i % 3](),
    ));
    expect(answers.map((r) => r.status).filter((s) => s >= 300)).toEqual([]);
    expect(await holders(mrn)).toHaveLength(1);
    expect(await f.sql(`SELECT id FROM assessments WHERE session_id = $1`, [session])).toHaveLength(1);
    const reports = answers.filter((r) => r.body.resourceType === 'Bundle').map((r) => (r.body as Bundle).entry![1].response!.status.slice(0, 3));
    expect(reports.sort()).toEqual(['200', '200', '200', '201']);
  });

  it('a DELETE racing with PUTs: every answer is 200 or 201, and the history is one unbroken line of versions', async () => {
    const p = (await a.create(patient(newMrn('DELRACE'))).expect(201)).body as Patient;
    const answers = await Promise.all([a.remove(p.id!), a.update(p.id!, { ...p, gender: 'male' }), a.remove(p.id!), a.update(p.id!, { ...p, gender: 'other' })]);
    expect(answers.map((r) => r.status).every((s) => s === 200 || s === 201)).toBe(true);
    const history = (await a.get(`Patient/${p.id}/_history`).expect(200)).body as Bundle;
    const versions = history.entry!.map((e) => Number(e.response!.etag!.replace(/\D/g, '')));
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => versions.length - i));
  });
});
