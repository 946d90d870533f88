import crypto from 'node:crypto';
import type { Bundle, Patient } from 'fhir/r4';
import { GATEWAY } from '../support/auth';
import { testBackend } from '../support/database';
import { expectNothingWritten, expectOutcome, MRN, newMrn, patient, writeFixture, type Api, type WriteFixture } from './support';

/**
 * PUT /fhir/Patient/[id] and PUT /fhir/Patient?identifier=: ids, If-Match, no version for an
 * unchanged PUT, update-as-create, conditional update, concurrency, version history and vread.
 */
describe(`Patient update (${testBackend()})`, () => {
  let f: WriteFixture;
  let a: Api;

  beforeAll(async () => {
    f = await writeFixture({ poolSize: 20 });
    a = await f.client();
  });
  afterAll(() => f?.db.close());

  const created = async (mrn = newMrn(), extra: Partial<Patient> = {}): Promise<Patient> => {
    const res = await a.create(patient(mrn, extra));
    expect(res.status).toBe(201);
    return res.body as Patient;
  };
  /** The Patient as sent back: what the client last saw, with a change. */
  const changed = (p: Patient, change: Partial<Patient>): Patient => ({ ...p, ...change });

  it('the id in the body must be the URL\'s: a different one or none is a 400 naming Patient.id', async () => {
    const p = await created();
    const other = await created();
    const mismatch = await expectNothingWritten(f, () => a.update(p.id!, { ...p, id: other.id }));
    expectOutcome(mismatch, 400, { expression: 'Patient.id', diagnostics: /does not match/ });
    const { id, ...withoutId } = p;
    void id;
    const missing = await expectNothingWritten(f, () => a.update(p.id!, withoutId));
    expectOutcome(missing, 400, { expression: 'Patient.id', diagnostics: /must carry its id/ });
    expect((await a.read(p.id!).expect(200)).body.meta.versionId).toBe('1');
  });

  it('If-Match: stale 412, malformed 400, current 200 with the next version', async () => {
    const p = await created();
    await a.update(p.id!, changed(p, { gender: 'male' }), { 'If-Match': 'W/"1"' }).expect(200);
    const stale = await expectNothingWritten(f, () => a.update(p.id!, changed(p, { gender: 'other' }), { 'If-Match': 'W/"1"' }));
    expectOutcome(stale, 412, { diagnostics: /version 2, not 1/ });
    for (const bad of ['1', 'W/"one"', 'W/"0"', '*', 'W/"1", W/"2"']) {
      const res = await expectNothingWritten(f, () => a.update(p.id!, changed(p, { gender: 'other' }), { 'If-Match': bad }));
      expectOutcome(res, 400, { diagnostics: /If-Match/ });
    }
    const ok = await a.update(p.id!, changed(p, { gender: 'other' }), { 'If-Match': '"2"' });
    expect({ status: ok.status, body: ok.body }).toMatchObject({ status: 200, body: { gender: 'other', meta: { versionId: '3' } } });
    expect(ok.headers.etag).toBe('W/"3"');
    expect(ok.headers['last-modified']).toBeDefined();
  });

  it('an identical PUT makes no new version', async () => {
    const mrn = newMrn();
    const p = await created(mrn);
    const same = await expectNothingWritten(f, () => a.update(p.id!, { ...patient(mrn), id: p.id }, { 'If-Match': 'W/"1"' }));
    expect(same.status).toBe(200);
    expect(same.body.meta).toEqual(p.meta);
    expect(same.headers.etag).toBe('W/"1"');
    expect(await f.historyRows(p.id!)).toBe(0);
    expect((await a.read(p.id!).expect(200)).body).toEqual(p);
  });

  it('a PUT of the Patient exactly as read back (server identifier, meta, managingOrganization) makes no new version', async () => {
    const p = await created();
    const read = (await a.read(p.id!).expect(200)).body as Patient;
    const asRead = await expectNothingWritten(f, () => a.update(p.id!, read, { 'If-Match': 'W/"1"' }));
    expect(asRead.status).toBe(200);
    expect(asRead.body).toEqual(read);
    expect(await f.historyRows(p.id!)).toBe(0);
  });

  it('update as create: an unknown UUID is created with that id (201); a non-UUID id is a 400', async () => {
    const id = crypto.randomUUID();
    const res = await a.update(id, { ...patient(newMrn()), id });
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 201, body: { id, meta: { versionId: '1' } } });
    expect(res.headers.location).toBe(`${GATEWAY}/fhir/Patient/${id}/_history/1`);
    expect((await a.read(id).expect(200)).body.id).toBe(id);
    const bad = await expectNothingWritten(f, () => a.update('not-a-uuid', { ...patient(newMrn()), id: 'not-a-uuid' }));
    expectOutcome(bad, 400, { expression: 'Patient.id', diagnostics: /UUID/ });
    // If-Match on a Patient that does not exist cannot hold.
    const unknown = crypto.randomUUID();
    const ifMatch = await expectNothingWritten(f, () => a.update(unknown, { ...patient(newMrn()), id: unknown }, { 'If-Match': 'W/"1"' }));
    expectOutcome(ifMatch, 412);
  });

  it('update as create needs create permission: system/Patient.u alone is a 403, nothing written; it still updates', async () => {
    const updater = await f.client('system/Patient.u');
    const id = crypto.randomUUID();
    const res = await expectNothingWritten(f, () => updater.update(id, { ...patient(newMrn()), id }));
    expectOutcome(res, 403, { diagnostics: /Patient\.c/ });
    const p = await created();
    const ok = await updater.update(p.id!, changed(p, { birthDate: '1979-12-31' }));
    expect({ status: ok.status, body: ok.body }).toMatchObject({ status: 200, body: { birthDate: '1979-12-31', meta: { versionId: '2' } } });
  });

  it('conditional update: no match creates (201), one match updates it (200), a body id of another Patient is a 400', async () => {
    const mrn = newMrn('COND');
    const query = `identifier=${encodeURIComponent(`${MRN}|${mrn}`)}`;
    const first = await a.conditionalUpdate(query, patient(mrn));
    expect({ status: first.status, body: first.body }).toMatchObject({ status: 201, body: { meta: { versionId: '1' } } });
    const id = first.body.id;
    const second = await a.conditionalUpdate(query, patient(mrn, { name: [{ family: 'Updated', given: ['Jane'] }] }));
    expect({ status: second.status, body: second.body }).toMatchObject({ status: 200, body: { id, name: [{ family: 'Updated' }], meta: { versionId: '2' } } });
    const withOwnId = await a.conditionalUpdate(query, { ...patient(mrn, { gender: 'male' }), id });
    expect({ status: withOwnId.status, body: withOwnId.body }).toMatchObject({ status: 200, body: { id, gender: 'male', meta: { versionId: '3' } } });
    const other = await created();
    const mismatch = await expectNothingWritten(f, () => a.conditionalUpdate(query, { ...patient(mrn), id: other.id }));
    expectOutcome(mismatch, 400, { expression: 'Patient.id' });
    const [{ n }] = await f.sql<{ n: number }>(`SELECT count(*)::int AS n FROM patient_identifiers WHERE value = $1`, [mrn]);
    expect(n).toBe(1);
    expect((await a.read(id).expect(200)).body).toMatchObject({ name: [{ family: 'Doe' }], gender: 'male', meta: { versionId: '3' } });
  });

  it('conditional update without criteria, or with criteria other than one identifier: 400', async () => {
    for (const query of ['', '_pretty=true', 'name=Doe', `identifier=${MRN}`]) {
      const res = await expectNothingWritten(f, () => a.conditionalUpdate(query, patient(newMrn())));
      expectOutcome(res, 400);
    }
  });

  it('two concurrent conditional updates of a new identifier make one Patient', async () => {
    const mrn = newMrn('PAIR');
    const query = `identifier=${encodeURIComponent(`${MRN}|${mrn}`)}`;
    const before = await f.counts();
    const [x, y] = await Promise.all([
      a.conditionalUpdate(query, patient(mrn, { name: [{ family: 'Left' }] })),
      a.conditionalUpdate(query, patient(mrn, { name: [{ family: 'Right' }] })),
    ]);
    expect({ statuses: [x.status, y.status].sort(), bodies: [x, y].filter((r) => r.status >= 300).map((r) => r.body) }).toEqual({ statuses: [200, 201], bodies: [] });
    expect(x.body.id).toBe(y.body.id);
    expect((await f.counts()).users - before.users).toBe(1);
    const [{ n }] = await f.sql<{ n: number }>(`SELECT count(*)::int AS n FROM patient_identifiers WHERE value = $1`, [mrn]);
    expect(n).toBe(1);
  });

  it('10 concurrent PUTs with the same If-Match: one 200, nine 412, and history holds versions 1 and 2 only', async () => {
    const p = await created();
    const puts = await Promise.all(
      Array.from({ length: 10 }, (_, i) => a.update(p.id!, changed(p, { name: [{ family: `Writer${i}` }] }), { 'If-Match': 'W/"1"' })),
    );
    const statuses = puts.map((r) => r.status).sort();
    expect(statuses).toEqual([200, ...Array(9).fill(412)]);
    const winner = puts.find((r) => r.status === 200)!;
    expect(winner.body.meta.versionId).toBe('2');
    for (const loser of puts.filter((r) => r.status === 412)) expectOutcome(loser, 412);
    const history = (await a.get(`Patient/${p.id}/_history`).expect(200)).body as Bundle;
    expect(history.entry!.map((e) => e.response!.etag)).toEqual(['W/"2"', 'W/"1"']);
    expect((history.entry![0].resource as Patient).name).toEqual(winner.body.name);
    expect(await f.historyRows(p.id!)).toBe(1);
    expect((await a.read(p.id!).expect(200)).body.name).toEqual(winner.body.name);
  });

  it('every update is a version: _history lists them newest first, vread gives each old version, a read right after each write sees it', async () => {
    const p = await created(newMrn(), { name: [{ use: 'official', family: 'V1', given: ['Jane'] }] });
    const families = ['V1', 'V2', 'V3', 'V4'];
    let current = p;
    for (const [i, family] of families.slice(1).entries()) {
      const res = await a.update(p.id!, changed(current, { name: [{ use: 'official', family, given: ['Jane'] }] }), { 'If-Match': `W/"${i + 1}"` });
      expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { meta: { versionId: String(i + 2) } } });
      current = res.body;
      // Read your writes: the very next GET shows the new version.
      const read = await a.read(p.id!).expect(200);
      expect(read.body.meta.versionId).toBe(String(i + 2));
      expect(read.body.name[0].family).toBe(family);
      expect(read.headers.etag).toBe(`W/"${i + 2}"`);
    }
    const history = (await a.get(`Patient/${p.id}/_history`).expect(200)).body as Bundle;
    expect(history.type).toBe('history');
    expect(history.entry!.map((e) => [e.request!.method, e.response!.etag, (e.resource as Patient).name![0].family])).toEqual([
      ['PUT', 'W/"4"', 'V4'],
      ['PUT', 'W/"3"', 'V3'],
      ['PUT', 'W/"2"', 'V2'],
      ['POST', 'W/"1"', 'V1'],
    ]);
    for (const [i, family] of families.entries()) {
      const vread = await a.get(`Patient/${p.id}/_history/${i + 1}`).expect(200);
      expect(vread.body.meta.versionId).toBe(String(i + 1));
      expect(vread.body.name).toEqual([{ use: 'official', family, given: ['Jane'] }]);
      expect(vread.headers.etag).toBe(`W/"${i + 1}"`);
    }
    await a.get(`Patient/${p.id}/_history/5`).expect(404);
  });

  it('an update changes what the Patient is found by: the new name and identifier, no longer the old', async () => {
    const oldMrn = newMrn();
    const newer = newMrn();
    const p = await created(oldMrn, { name: [{ family: 'Before', given: ['Quinn'] }] });
    await a.update(p.id!, { ...patient(newer, { name: [{ family: 'Afterwards', given: ['Quinn'] }] }), id: p.id }).expect(200);
    const ids = async (q: string) => ((await a.get(`Patient?${q}`).expect(200)).body as Bundle).entry?.map((e) => e.resource!.id) ?? [];
    expect(await ids(`identifier=${encodeURIComponent(`${MRN}|${newer}`)}`)).toEqual([p.id]);
    expect(await ids(`identifier=${encodeURIComponent(`${MRN}|${oldMrn}`)}`)).toEqual([]);
    expect(await ids('name=Afterwards')).toEqual([p.id]);
    expect(await ids('name=Before')).toEqual([]);
  });
});
