import crypto from 'node:crypto';
import type { Bundle, BundleEntry, DiagnosticReport, Observation, Patient } from 'fhir/r4';
import { testBackend } from '../support/database';
import { bundle, expectOutcome, fixture, MRN, newMrn, patient, resultEntries, resultTemplate, urn, type Api, type Fixture } from './writes-fixture';

/**
 * REVIEW: transaction and batch Bundles (src/fhir/handlers/bundle.ts, src/write/bundle-entries.ts,
 * src/write/transaction.ts). Failing tests are findings; the passing ones record what held up.
 */
describe(`REVIEW write Bundles (${testBackend()})`, () => {
  let f: Fixture;
  let a: Api;
  let tpl: { report: DiagnosticReport; observations: Observation[] };
  const rows = async (mrn: string) => (await f.sql(`SELECT user_id FROM patient_identifiers WHERE value = $1`, [mrn])).length;

  beforeAll(async () => {
    f = await fixture();
    a = await f.client();
    tpl = await resultTemplate(f, a);
  });
  afterAll(() => f?.close());

  // FINDING: GET entries run after the commit (bundle.ts), and dispatched() calls findRoute(), whose
  // decodeURIComponent throws outside the try: the URIError becomes the whole answer, a 400, although
  // the writes were committed. A client that believes the 400 retries and registers the Patient twice.
  it('a transaction that answers 4xx has written nothing (a GET entry with a malformed %-escape)', async () => {
    const mrn = newMrn('TXGET');
    const res = await a.bundle(bundle([
      { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
      { request: { method: 'GET', url: 'Patient/%E0%A4%A' } },
    ]));
    if (res.status >= 400) expect({ status: res.status, written: await rows(mrn) }).toEqual({ status: res.status, written: 0 });
    else expect((res.body as Bundle).entry!.map((e) => e.response!.status.slice(0, 3))).toEqual(['201', '400']);
  });

  // FINDING (same cause): in a batch the malformed GET fails every entry's answer instead of its own.
  it('a batch answers a GET with a malformed %-escape in its own entry, and does the rest', async () => {
    const mrn = newMrn('BGET');
    const res = await a.bundle(bundle([
      { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
      { request: { method: 'GET', url: 'Patient/%' } },
    ], 'batch'));
    expect({ status: res.status, type: res.body.type }).toEqual({ status: 200, type: 'batch-response' });
    expect((res.body as Bundle).entry!.map((e) => e.response!.status.slice(0, 3))).toEqual(['201', '400']);
    expect(await rows(mrn)).toBe(1);
  });

  // FINDING: README "Transaction Bundles": "optionally the Patient (POST with ifNoneExist, or PUT)". PUTs
  // run after POSTs (transaction.ts ORDER), so the report's subject does not exist yet when it is written:
  // 422 "not a patient this token can write results for".
  it('a new Patient PUT (update as create) in the Bundle can be the report\'s subject', async () => {
    const id = crypto.randomUUID();
    const fullUrl = urn();
    const res = await a.bundle(bundle([
      { fullUrl, resource: { ...patient(newMrn('PUT')), id }, request: { method: 'PUT', url: `Patient/${id}` } },
      ...resultEntries(tpl, fullUrl),
    ]));
    expect({ status: res.status, issue: res.body.issue?.[0]?.diagnostics }).toEqual({ status: 200, issue: undefined });
    expect(((res.body as Bundle).entry![1].resource as DiagnosticReport).subject?.reference).toBe(`Patient/${id}`);
  });

  // FINDING: assignIds() gives a conditional PUT's fullUrl no id, so the report's urn:uuid subject is
  // "a reference that names no resource created or updated by this Bundle" (422).
  it('a Patient conditionally updated in the Bundle (PUT Patient?identifier=) can be the report\'s subject', async () => {
    const mrn = newMrn('CPUT');
    const fullUrl = urn();
    const res = await a.bundle(bundle([
      { fullUrl, resource: patient(mrn), request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}` } },
      ...resultEntries(tpl, fullUrl),
    ]));
    expect({ status: res.status, issue: res.body.issue?.[0]?.diagnostics }).toEqual({ status: 200, issue: undefined });
    const owner = (await f.sql<{ user_id: string }>(`SELECT user_id FROM patient_identifiers WHERE value = $1`, [mrn]))[0]?.user_id;
    expect(((res.body as Bundle).entry![1].resource as DiagnosticReport).subject?.reference).toBe(`Patient/${owner}`);
  });

  // FINDING: FHIR R4 http.html#trules: "If any resource identities (including resolved identities from
  // conditional update/delete) overlap in steps 1-3, then the transaction SHALL fail." Both run, silently.
  it.each<[string, (p: Patient) => BundleEntry[]]>([
    ['DELETE and PUT', (p) => [
      { request: { method: 'DELETE', url: `Patient/${p.id}` } },
      { resource: { ...p, gender: 'male' }, request: { method: 'PUT', url: `Patient/${p.id}` } },
    ]],
    ['two PUTs', (p) => [
      { resource: { ...p, gender: 'male' }, request: { method: 'PUT', url: `Patient/${p.id}` } },
      { resource: { ...p, gender: 'other' }, request: { method: 'PUT', url: `Patient/${p.id}` } },
    ]],
    ['a PUT by id and a conditional PUT resolving to the same Patient', (p) => [
      { resource: { ...p, gender: 'male' }, request: { method: 'PUT', url: `Patient/${p.id}` } },
      { resource: { ...p, id: undefined, gender: 'other' }, request: { method: 'PUT', url: `Patient?identifier=${MRN}|${p.identifier![1].value}` } },
    ]],
  ])('a transaction touching one Patient twice (%s): 400, nothing written', async (_name, entries) => {
    const p = (await a.create(patient(newMrn('TWICE'))).expect(201)).body as Patient;
    expectOutcome(await a.bundle(bundle(entries(p))), 400);
    expect((await a.read(p.id!).expect(200)).body).toMatchObject({ gender: 'female', meta: { versionId: '1' } });
  });

  // FINDING: correcting two swapped MRNs in one transaction is refused (409): each PUT is applied on its
  // own and checks the unique key against the other Patient's not-yet-updated identifiers, although the
  // transaction as a whole leaves every MRN on exactly one Patient.
  // Known limit (README, Writes): each entry claims its identifiers as it runs, so a swap within one
  // transaction meets the other Patient's not-yet-released MRN. Swap in two transactions.
  it.skip('a transaction that swaps two Patients\' MRNs succeeds', async () => {
    const [mx, my] = [newMrn('SWAPX'), newMrn('SWAPY')];
    const px = (await a.create(patient(mx)).expect(201)).body as Patient;
    const py = (await a.create(patient(my)).expect(201)).body as Patient;
    const res = await a.bundle(bundle([
      { resource: { ...patient(my), id: px.id }, request: { method: 'PUT', url: `Patient/${px.id}` } },
      { resource: { ...patient(mx), id: py.id }, request: { method: 'PUT', url: `Patient/${py.id}` } },
    ]));
    expect({ status: res.status, issue: res.body.issue?.[0]?.diagnostics }).toEqual({ status: 200, issue: undefined });
    expect((await a.read(px.id!).expect(200)).body.identifier[1].value).toBe(my);
  });

  // Held up.
  it('urn:uuid references between Patient entries (a cycle of Patient.link) resolve to the created ids', async () => {
    const [u1, u2] = [urn(), urn()];
    const link = (other: string) => [{ other: { reference: other }, type: 'seealso' as const }];
    const res = await a.bundle(bundle([
      { fullUrl: u1, resource: patient(newMrn('L1'), { link: link(u2) }), request: { method: 'POST', url: 'Patient' } },
      { fullUrl: u2, resource: patient(newMrn('L2'), { link: link(u1) }), request: { method: 'POST', url: 'Patient' } },
    ]));
    expect(res.status).toBe(200);
    const [p1, p2] = (res.body as Bundle).entry!.map((e) => e.resource as Patient);
    expect([p1.link![0].other.reference, p2.link![0].other.reference]).toEqual([`Patient/${p2.id}`, `Patient/${p1.id}`]);
  });

  it.each<[string, () => BundleEntry[], number, RegExp]>([
    ['a report whose result references a Patient entry', () => {
      const p = urn();
      const [report, ...observations] = resultEntries(tpl, p);
      (report.resource as DiagnosticReport).result = [{ reference: p }];
      return [{ fullUrl: p, resource: patient(newMrn()), request: { method: 'POST', url: 'Patient' } }, report, ...observations];
    }, 422, /entry\[1\]/],
    ['a PUT of a DiagnosticReport', () => {
      const id = crypto.randomUUID();
      return [{ resource: { ...tpl.report, id }, request: { method: 'PUT', url: `DiagnosticReport/${id}` } }];
    }, 422, /not supported/],
    ['a nested Bundle', () => [{ resource: bundle([{ resource: patient(newMrn()), request: { method: 'POST', url: 'Patient' } }]), request: { method: 'POST', url: 'Bundle' } }], 422, /not supported/],
    ['an absolute URL of another server', () => [{ resource: patient(newMrn()), request: { method: 'POST', url: 'https://other.example/fhir/Patient' } }], 400, /request\.url/],
    ['the same fullUrl twice', () => {
      const u = urn();
      return [0, 1].map(() => ({ fullUrl: u, resource: patient(newMrn()), request: { method: 'POST' as const, url: 'Patient' } }));
    }, 400, /appears twice/],
    ['1001 entries', () => Array.from({ length: 1001 }, () => ({ request: { method: 'GET' as const, url: 'Patient?_count=1' } })), 400, /at most 1000/],
  ])('a transaction with %s: a 4xx naming the problem, nothing written', async (_name, entries, status, diagnostics) => {
    const before = await f.counts();
    expectOutcome(await a.bundle(bundle(entries())), status, diagnostics);
    expect(await f.counts()).toEqual(before);
  });
});
