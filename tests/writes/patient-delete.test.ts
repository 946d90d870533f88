import crypto from 'node:crypto';
import type { Bundle, OperationOutcome, Patient } from 'fhir/r4';
import { testBackend } from '../support/database';
import { expectNothingWritten, expectOutcome, MRN, newMrn, patient, writeFixture, type Api, type WriteFixture } from './support';

/**
 * DELETE /fhir/Patient/[id]: a soft delete. Reads 410, searches no longer find it, history keeps
 * every version plus the deletion, a repeat changes nothing, the MRN is free again; scopes and
 * organizations bound who may delete.
 */
describe(`Patient delete (${testBackend()})`, () => {
  let f: WriteFixture;
  let a: Api;

  beforeAll(async () => {
    f = await writeFixture();
    a = await f.client();
  });
  afterAll(() => f?.db.close());

  const family = () => `Gone${crypto.randomUUID().slice(0, 6).replace(/\d/g, 'x')}`;
  const ids = async (query: string) => ((await a.get(`Patient?${query}`).expect(200)).body as Bundle).entry?.map((e) => e.resource!.id) ?? [];
  const byMrn = (mrn: string) => `identifier=${encodeURIComponent(`${MRN}|${mrn}`)}`;

  it('200 with an OperationOutcome; then read 410, and no search finds it', async () => {
    const mrn = newMrn();
    const name = family();
    const p = (await a.create(patient(mrn, { name: [{ family: name, given: ['Del'] }] })).expect(201)).body as Patient;
    expect(await ids(byMrn(mrn))).toEqual([p.id]);
    expect(await ids(`name=${name}`)).toEqual([p.id]);

    const res = await a.remove(p.id!);
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200 });
    const outcome = res.body as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]).toMatchObject({ severity: 'information', code: 'informational' });
    expect(outcome.issue[0].diagnostics).toContain(`Patient/${p.id} deleted`);

    expectOutcome(await a.read(p.id!), 410, { code: 'deleted' });
    expect(await ids(byMrn(mrn))).toEqual([]);
    expect(await ids(`name=${name}`)).toEqual([]);
    expect(await ids(`family=${name}`)).toEqual([]);
    expect(await ids(`_id=${p.id}`)).toEqual([]);
    const post = (await a.get(`Patient?_id=${p.id}&_total=accurate`).expect(200)).body as Bundle;
    expect(post.total).toBe(0);
    const [row] = await f.sql<{ deleted: boolean }>(`SELECT deleted_at IS NOT NULL AS deleted FROM users WHERE id = $1`, [p.id]);
    expect(row.deleted).toBe(true);
  });

  it('history keeps a DELETE entry and every older version stays readable by vread', async () => {
    const p = (await a.create(patient(newMrn(), { name: [{ family: 'First' }] })).expect(201)).body as Patient;
    await a.update(p.id!, { ...p, name: [{ family: 'Second' }] }).expect(200);
    await a.remove(p.id!).expect(200);
    const history = (await a.get(`Patient/${p.id}/_history`).expect(200)).body as Bundle;
    expect(history.entry!.map((e) => [e.request!.method, e.response!.etag, (e.resource as Patient | undefined)?.name?.[0].family])).toEqual([
      ['DELETE', 'W/"3"', undefined],
      ['PUT', 'W/"2"', 'Second'],
      ['POST', 'W/"1"', 'First'],
    ]);
    expect((await a.get(`Patient/${p.id}/_history/1`).expect(200)).body.name).toEqual([{ family: 'First' }]);
    expect((await a.get(`Patient/${p.id}/_history/2`).expect(200)).body.name).toEqual([{ family: 'Second' }]);
    expectOutcome(await a.get(`Patient/${p.id}/_history/3`), 410);
  });

  it('deleting again: 200, and no new version', async () => {
    const p = (await a.create(patient(newMrn())).expect(201)).body as Patient;
    await a.remove(p.id!).expect(200);
    const versions = await f.historyRows(p.id!);
    const again = await expectNothingWritten(f, () => a.remove(p.id!));
    expect({ status: again.status, body: again.body }).toMatchObject({ status: 200, body: { resourceType: 'OperationOutcome' } });
    expect(again.body.issue[0].diagnostics).toMatch(/already deleted/);
    expect(await f.historyRows(p.id!)).toBe(versions);
    const history = (await a.get(`Patient/${p.id}/_history`).expect(200)).body as Bundle;
    expect(history.entry!.map((e) => e.request!.method)).toEqual(['DELETE', 'POST']);
  });

  it('the deleted Patient\'s MRN can be registered again: a new Patient (201), also by conditional create', async () => {
    const mrn = newMrn();
    const old = (await a.create(patient(mrn)).expect(201)).body as Patient;
    await a.remove(old.id!).expect(200);
    const again = await a.create(patient(mrn), { 'If-None-Exist': `identifier=${MRN}|${mrn}` });
    expect({ status: again.status, body: again.body }).toMatchObject({ status: 201 });
    expect(again.body.id).not.toBe(old.id);
    expect(await ids(byMrn(mrn))).toEqual([again.body.id]);
    // The deleted one keeps its identifier in history.
    const v1 = (await a.get(`Patient/${old.id}/_history/1`).expect(200)).body as Patient;
    expect(v1.identifier!.map((i) => i.value)).toContain(mrn);
  });

  it('without a delete scope: 403 naming Patient.d, nothing deleted', async () => {
    const p = (await a.create(patient(newMrn())).expect(201)).body as Patient;
    const writer = await f.client('system/Patient.cru');
    const res = await expectNothingWritten(f, () => writer.remove(p.id!));
    expectOutcome(res, 403, { diagnostics: /system\/Patient\.d/ });
    expect(res.headers['www-authenticate']).toMatch(/insufficient_scope/);
    await a.read(p.id!).expect(200);
  });

  it('another organization\'s Patient, an unknown id and a non-UUID: 404, nothing deleted', async () => {
    const b = await f.client('system/Patient.cruds', f.orgB);
    const theirs = (await b.create(patient(newMrn())).expect(201)).body as Patient;
    expectOutcome(await expectNothingWritten(f, () => a.remove(theirs.id!)), 404);
    await b.read(theirs.id!).expect(200);
    expectOutcome(await expectNothingWritten(f, () => a.remove(crypto.randomUUID())), 404);
    expectOutcome(await expectNothingWritten(f, () => a.remove('not-a-uuid')), 404);
  });

  it('a deleted Patient is no longer a conditional update\'s match: the PUT creates a new Patient', async () => {
    const mrn = newMrn();
    const old = (await a.create(patient(mrn)).expect(201)).body as Patient;
    await a.remove(old.id!).expect(200);
    const res = await a.conditionalUpdate(byMrn(mrn), patient(mrn));
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 201 });
    expect(res.body.id).not.toBe(old.id);
    expectOutcome(await a.read(old.id!), 410);
  });
});
