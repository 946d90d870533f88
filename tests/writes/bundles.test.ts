import crypto from 'node:crypto';
import request from 'supertest';
import type { Bundle, BundleEntry, DiagnosticReport, Observation, OperationOutcome, Patient } from 'fhir/r4';
import { testBackend } from '../support/database';
import { completeDocument } from '../ingest/documents';
import { expectNothingWritten, expectOutcome, MRN, newMrn, patient, writeFixture, type Api, type WriteFixture } from './support';

/**
 * POST /fhir with transaction and batch Bundles: a transaction is all or nothing (the failing entry
 * named, every table unchanged), its response has each entry's status, location and etag, urn:uuid
 * and conditional references resolve, scopes apply per entry, a repeated session writes nothing; a
 * batch answers each entry on its own.
 */
const ALL = 'system/Patient.cruds system/DiagnosticReport.cr system/Observation.cr';
const SESSION_SYSTEM = 'https://fhir.medilens.ai/sid/session-id';
const urn = () => `urn:uuid:${crypto.randomUUID()}`;
const tx = (entry: BundleEntry[], type: 'transaction' | 'batch' = 'transaction'): Bundle => ({ resourceType: 'Bundle', type, entry });

describe(`Transaction and batch Bundles (${testBackend()})`, () => {
  let f: WriteFixture;
  let a: Api;
  let report: DiagnosticReport;
  let observations: Observation[];

  beforeAll(async () => {
    f = await writeFixture();
    a = await f.client(ALL);
    // A result delivered natively, read as FHIR: the template of the resources the Bundles carry.
    const owner = (await a.create(patient(newMrn())).expect(201)).body as Patient;
    const native = await request(f.app).post('/medilens/assessments').auth(await f.token('system/DiagnosticReport.cr system/Observation.cr'), { type: 'bearer' })
      .set('Content-Type', 'application/json').send(JSON.stringify(completeDocument('cardiology', owner.id!)));
    expect(native.status).toBe(201);
    report = (await a.get(`DiagnosticReport/${native.body.assessment_id}`).expect(200)).body;
    observations = await Promise.all(report.result!.map(async (r) => (await a.get(r.reference!).expect(200)).body as Observation));
  });
  afterAll(() => f?.db.close());

  interface Built { bundle: Bundle; mrn: string; session: string; patientUrl: string; observationUrls: string[] }

  /** [0] Patient (conditional create), [1] DiagnosticReport, [2..9] its eight Observations; `subject` overrides the Patient entry. */
  function resultBundle(opts: { subject?: string; mrn?: string; session?: string } = {}): Built {
    const mrn = opts.mrn ?? newMrn('TX');
    const session = opts.session ?? `tx-${crypto.randomUUID()}`;
    const patientUrl = urn();
    const subject = opts.subject ?? patientUrl;
    const observationUrls = observations.map(() => urn());
    const entries: BundleEntry[] = [];
    if (!opts.subject) {
      entries.push({ fullUrl: patientUrl, resource: patient(mrn, { name: [{ family: 'Bundled' }] }), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|${mrn}` } });
    }
    entries.push({
      fullUrl: urn(),
      resource: { ...report, id: undefined, meta: undefined, identifier: [{ system: SESSION_SYSTEM, value: session }], subject: { reference: subject }, result: observationUrls.map((u) => ({ reference: u })) } as DiagnosticReport,
      request: { method: 'POST', url: 'DiagnosticReport' },
    });
    observations.forEach((o, i) =>
      entries.push({ fullUrl: observationUrls[i], resource: { ...o, id: undefined, meta: undefined, subject: { reference: subject } } as Observation, request: { method: 'POST', url: 'Observation' } }),
    );
    return { bundle: JSON.parse(JSON.stringify(tx(entries))), mrn, session, patientUrl, observationUrls };
  }
  const strip = (location: string) => location.replace(/\/_history\/\d+$/, '');

  it.each<[string, (o: Observation) => void, number, RegExp]>([
    ['structurally invalid (status "bogus")', (o) => ((o as { status: string }).status = 'bogus'), 400, /^Bundle\.entry\[4\]\.resource\.status$/],
    ['a value out of range (confidence extension 5)', (o) => {
      o.extension = o.extension!.map((e) => (e.url.endsWith('/confidence') ? { url: e.url, valueDecimal: 5 } : e));
    }, 422, /^Bundle\.entry\[4\]/],
    ['a value out of range (percentile extension 150)', (o) => {
      o.extension = o.extension!.map((e) => (e.url.endsWith('/percentile') ? { url: e.url, valueDecimal: 150 } : e));
    }, 422, /^Bundle\.entry\[4\]/],
    ['a reference to a urn:uuid not in the Bundle', (o) => (o.subject = { reference: urn() }), 422, /^Bundle\.entry\[4\]/],
  ])('a transaction whose 5th entry is invalid (%s): 4xx naming Bundle.entry[4], every table unchanged', async (_name, spoil, status, expression) => {
    const { bundle, mrn } = resultBundle();
    spoil(bundle.entry![4].resource as Observation);
    const res = await expectNothingWritten(f, () => a.bundle(bundle));
    expectOutcome(res, status, { expression, diagnostics: /Bundle\.entry\[4\]/ });
    expect(await f.sql(`SELECT 1 FROM patient_identifiers WHERE value = $1`, [mrn])).toEqual([]);
  });

  it('transaction-response: each entry\'s status, location and etag; urn:uuid references resolved to the created resources', async () => {
    const before = await f.counts();
    const { bundle, session } = resultBundle();
    const res = await a.bundle(bundle);
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { resourceType: 'Bundle', type: 'transaction-response' } });
    const entries = (res.body as Bundle).entry!;
    expect(entries).toHaveLength(10);
    const types = ['Patient', 'DiagnosticReport', ...Array(8).fill('Observation')];
    entries.forEach((e, i) => {
      expect(e.response!.status).toMatch(/^201\b/);
      expect(e.response!.location).toMatch(new RegExp(`^${types[i]}/[0-9a-f-]{36}/_history/1$`));
      expect(e.response!.etag).toBe('W/"1"');
      expect(Number.isNaN(Date.parse(e.response!.lastModified!))).toBe(false);
    });
    const [patientRef, reportRef, ...observationRefs] = entries.map((e) => strip(e.response!.location!));
    const stored = (await a.get(reportRef).expect(200)).body as DiagnosticReport;
    expect(stored.subject!.reference).toBe(patientRef);
    expect([...stored.result!.map((r) => r.reference)].sort()).toEqual([...observationRefs].sort());
    expect(stored.identifier).toEqual(expect.arrayContaining([expect.objectContaining({ system: SESSION_SYSTEM, value: session })]));
    for (const ref of observationRefs) expect(((await a.get(ref).expect(200)).body as Observation).subject!.reference).toBe(patientRef);
    expect(((await a.get(patientRef).expect(200)).body as Patient).name).toEqual([{ family: 'Bundled' }]);
    const after = await f.counts();
    expect({ users: after.users - before.users, assessments: after.assessments - before.assessments, biomarker_values: after.biomarker_values - before.biomarker_values })
      .toEqual({ users: 1, assessments: 1, biomarker_values: 8 });
  });

  it('the same session sent twice: the second answers 200 with the same locations and writes nothing', async () => {
    const built = resultBundle();
    const first = await a.bundle(built.bundle);
    expect(first.status).toBe(200);
    const again = await expectNothingWritten(f, () => a.bundle(resultBundle({ mrn: built.mrn, session: built.session }).bundle, { Prefer: 'return=representation' }));
    expect({ status: again.status, body: again.body }).toMatchObject({ status: 200, body: { type: 'transaction-response' } });
    const firstEntries = (first.body as Bundle).entry!;
    const entries = (again.body as Bundle).entry!;
    expect(entries.map((e) => e.response!.status.slice(0, 3))).toEqual(Array(10).fill('200'));
    expect(entries.map((e) => e.response!.location).sort()).toEqual(firstEntries.map((e) => e.response!.location).sort());
    expect(entries.map((e) => e.resource?.resourceType)).toEqual(['Patient', 'DiagnosticReport', ...Array(8).fill('Observation')]);
  });

  it('results keep the Bundle\'s order: the report lists entry k\'s Observation k-th, on the first delivery and on a repeat', async () => {
    const built = resultBundle();
    const codeOf = (o: Observation) => o.code.coding!.find((c) => c.system === 'https://fhir.medilens.ai/CodeSystem/biomarker')!.code;
    const sentCodes = built.bundle.entry!.slice(2).map((e) => codeOf(e.resource as Observation));
    const first = (await a.bundle(built.bundle).expect(200)).body as Bundle;
    const reportRef = strip(first.entry![1].response!.location!);
    const stored = (await a.get(reportRef).expect(200)).body as DiagnosticReport;
    const storedCodes = await Promise.all(stored.result!.map(async (r) => codeOf((await a.get(r.reference!).expect(200)).body)));
    expect(storedCodes).toEqual(sentCodes);
    // Each Observation entry's location is the Observation made from that entry.
    const entryCodes = await Promise.all(first.entry!.slice(2).map(async (e) => codeOf((await a.get(strip(e.response!.location!)).expect(200)).body)));
    expect(entryCodes).toEqual(sentCodes);
    const again = (await a.bundle(resultBundle({ mrn: built.mrn, session: built.session }).bundle).expect(200)).body as Bundle;
    expect(again.entry!.map((e) => e.response!.location)).toEqual(first.entry!.map((e) => e.response!.location));
  });

  it('a conditional reference Patient?identifier=: no match is a 412 (nothing written), one match is resolved', async () => {
    const mrn = newMrn('COND');
    const reference = `Patient?identifier=${MRN}|${mrn}`;
    const missing = await expectNothingWritten(f, () => a.bundle(resultBundle({ subject: reference }).bundle));
    expectOutcome(missing, 412, { diagnostics: /Bundle\.entry\[0\].*matches no Patient/ });
    const owner = (await a.create(patient(mrn)).expect(201)).body as Patient;
    const res = await a.bundle(resultBundle({ subject: reference }).bundle);
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200 });
    const reportRef = strip((res.body as Bundle).entry![0].response!.location!);
    expect(((await a.get(reportRef).expect(200)).body as DiagnosticReport).subject!.reference).toBe(`Patient/${owner.id}`);
  });

  it('scopes apply per entry: Patient.c without DiagnosticReport.c is a 403 naming that entry; nothing written', async () => {
    const noReport = await f.client('system/Patient.cruds system/Observation.cr');
    const res = await expectNothingWritten(f, () => noReport.bundle(resultBundle().bundle));
    expectOutcome(res, 403, { diagnostics: /Bundle\.entry\[1\].*DiagnosticReport\.c/ });
    const noPatient = await f.client('system/Patient.rs system/DiagnosticReport.cr system/Observation.cr');
    const res2 = await expectNothingWritten(f, () => noPatient.bundle(resultBundle().bundle));
    expectOutcome(res2, 403, { diagnostics: /Bundle\.entry\[0\].*Patient\.c/ });
  });

  it('batch: each entry on its own (create 201, invalid Patient 400 with its outcome, read 200, unknown 404, delete 200); the good ones persist', async () => {
    const existing = (await a.create(patient(newMrn())).expect(201)).body as Patient;
    const doomed = (await a.create(patient(newMrn())).expect(201)).body as Patient;
    const mrn = newMrn('BATCH');
    const res = await a.bundle(tx([
      { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
      { resource: { ...patient(newMrn()), gender: 'robot' } as unknown as Patient, request: { method: 'POST', url: 'Patient' } },
      { request: { method: 'GET', url: `Patient/${existing.id}` } },
      { request: { method: 'GET', url: `Patient/${crypto.randomUUID()}` } },
      { request: { method: 'DELETE', url: `Patient/${doomed.id}` } },
    ], 'batch'));
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { type: 'batch-response' } });
    const entries = (res.body as Bundle).entry!;
    expect(entries.map((e) => e.response!.status.slice(0, 3))).toEqual(['201', '400', '200', '404', '200']);
    expect(entries[0].response!.location).toMatch(/^Patient\/[0-9a-f-]{36}\/_history\/1$/);
    expect(entries[1].response!.outcome).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', expression: ['Bundle.entry[1].resource.gender'] }] });
    expect(entries[2].resource).toMatchObject({ resourceType: 'Patient', id: existing.id });
    expect(entries[3].response!.outcome).toMatchObject({ resourceType: 'OperationOutcome' });
    await a.read(strip(entries[0].response!.location!).split('/')[1]).expect(200);
    await a.read(doomed.id!).expect(410);
  });

  it('batch: a Patient that breaks a MediLens rule is that entry\'s 422; a DiagnosticReport POST is a per-entry 422; the rest is done', async () => {
    const mrn = newMrn('BATCH2');
    const { bundle } = resultBundle({ subject: `Patient?identifier=${MRN}|${mrn}` });
    const res = await a.bundle(tx([
      { resource: patient(newMrn(), { birthDate: '2999-01-01' }), request: { method: 'POST', url: 'Patient' } },
      bundle.entry![0],
      { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
    ], 'batch'));
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { type: 'batch-response' } });
    const entries = (res.body as Bundle).entry!;
    expect(entries.map((e) => e.response!.status.slice(0, 3))).toEqual(['422', '422', '201']);
    expect((entries[0].response!.outcome as OperationOutcome).issue[0]).toMatchObject({ expression: ['Patient.birthDate'] });
    expect((entries[1].response!.outcome as OperationOutcome).issue[0].diagnostics).toMatch(/transaction Bundle/);
    expect(await f.sql(`SELECT 1 FROM patient_identifiers WHERE value = $1`, [mrn])).toHaveLength(1);
  });

  it.each(['collection', 'document', 'searchset', 'history', 'message', undefined])('a Bundle of type %s: 400 naming Bundle.type', async (type) => {
    const body = { resourceType: 'Bundle', ...(type ? { type } : {}), entry: [{ resource: patient(newMrn()), request: { method: 'POST', url: 'Patient' } }] };
    expectOutcome(await expectNothingWritten(f, () => a.bundle(body)), 400, { expression: 'Bundle.type' });
  });

  it.each<[string, unknown, string | undefined]>([
    ['a Patient', patient('NOT-A-BUNDLE'), 'Bundle.resourceType'],
    ['an object without resourceType', { type: 'transaction', entry: [] }, 'Bundle.resourceType'],
    ['an array', [], undefined],
    ['a string', '"transaction"', undefined],
  ])('not a Bundle (%s): 400', async (_name, body, expression) => {
    const res = await expectNothingWritten(f, () => a.bundle(body));
    expectOutcome(res, 400, expression ? { expression } : {});
  });

  it('an entry without request, or with a urn:uuid fullUrl that is not a UUID: 400 naming the entry', async () => {
    const noRequest = tx([{ resource: patient(newMrn()) }]);
    expectOutcome(await expectNothingWritten(f, () => a.bundle(noRequest)), 400, { expression: 'Bundle.entry[0].request' });
    const badUrn = tx([{ fullUrl: 'urn:uuid:not-a-uuid', resource: patient(newMrn()), request: { method: 'POST', url: 'Patient' } }]);
    expectOutcome(await expectNothingWritten(f, () => a.bundle(badUrn)), 400, { expression: 'Bundle.entry[0].fullUrl' });
  });
});
