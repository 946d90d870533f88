import crypto from 'node:crypto';
import type { AuditEvent, Bundle, BundleEntry, DiagnosticReport, Observation, Patient } from 'fhir/r4';
import type { Express } from 'express';
import request from 'supertest';
import type { AuditTrail } from '../../src/audit/trail';
import { seedReferenceData } from '../../src/db/seed';
import { completeDocument } from '../ingest/documents';
import { assertion, backendToken, clientKey, ExternalIdp, keyClient, tokenRequest, type ClientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, userWithRole } from '../support/fixtures';
import { allPages, caller, type Caller } from '../support/search';
import { validateR4 } from '../support/validate';
import { auditedApp, auditTrail, DCM, queryParams, summarize, type EventSummary } from './support';

/**
 * The audit trail of a scripted scenario, read back as an auditor does (AuditEvent searches with real
 * tokens): a hospital client pushes two Patients, a lab delivers a result, an EHR client searches
 * DiagnosticReports with _include, a patient's token reads their record and is refused another's, a
 * forged token and a forged client assertion are refused, a clinician tries the audit log, a lab sends
 * a transaction and a batch. Every event is checked by what it says (subtype, action, outcome, agents,
 * entities, request id), not by counts, and validated against FHIR R4.
 */

const MRN = 'http://hospital.example/mrn';
const FHIR_JSON = 'application/fhir+json';
const HOSPITAL_SCOPE = 'system/Patient.cud system/Patient.rs';
const LAB_SCOPE = 'system/Patient.cruds system/DiagnosticReport.cr system/Observation.cr';
const EHR_SCOPE = 'system/*.rs';
const AUDIT_SCOPE = 'system/AuditEvent.rs';

const patientBody = (mrn: string, extra: Partial<Patient> = {}): Patient => ({
  resourceType: 'Patient',
  identifier: [{ system: MRN, value: mrn }],
  name: [{ family: 'Audit', given: [mrn] }],
  gender: 'female',
  birthDate: '1979-05-06',
  ...extra,
});
const urn = () => `urn:uuid:${crypto.randomUUID()}`;

describe(`audit trail of a scripted scenario (${testBackend()})`, () => {
  let db: TestDatabase;
  let idp: ExternalIdp;
  let audit: AuditTrail;
  let app: Express;
  const SOURCE = `scenario-${crypto.randomBytes(3).toString('hex')}@audit-test`;
  const keys: Record<string, ClientKey> = {};
  const id: Record<string, string> = {};
  /** X-Request-Id of each step. */
  const rid: Record<string, string> = {};
  const mrnP = `MRN-P-${crypto.randomUUID().slice(0, 8)}`;
  const mrnQ = `MRN-Q-${crypto.randomUUID().slice(0, 8)}`;
  let patientReadVersion: string;
  let refusedRead: number;
  let otherSearch: { status: number; entries: number };
  let transactionLocations: string[];
  let batchPatient: string;
  let ehrQuery: string;
  let ehrIncluded: number;
  let anonymousQuery: string;
  let start: string;

  /** A token from the app's own endpoint, and the request id of the token request. */
  async function token(clientId: string, scope: string): Promise<{ token: string; requestId: string }> {
    const res = await tokenRequest(app, {
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await assertion(clientId, keys[clientId]),
    });
    expect(res.status).toBe(200);
    return { token: res.body.access_token, requestId: res.headers['x-request-id'] };
  }
  const as = (bearer: string) => ({
    get: (path: string) => request(app).get(path).auth(bearer, { type: 'bearer' }),
    post: (path: string, body: unknown, headers: Record<string, string> = {}) =>
      request(app).post(path).auth(bearer, { type: 'bearer' }).set({ 'Content-Type': FHIR_JSON, ...headers }).send(JSON.stringify(body)),
  });

  /** The transaction's resources, copied from a result delivered natively for patient T (setup, not part of the scenario). */
  let template: { report: DiagnosticReport; observations: Observation[] };

  beforeAll(async () => {
    db = await openTestDatabase();
    const ds = db.dataSource;
    await seedReferenceData(ds);
    idp = await ExternalIdp.start();
    audit = auditTrail(db, SOURCE);
    app = auditedApp(db, audit, idp.env());
    id.orgA = await insertOrganization(ds, 'Hospital A');
    id.orgB = await insertOrganization(ds, 'Hospital B');
    id.clinician = await userWithRole(ds, id.orgA, 'Clinician', 'clinician');
    id.T = await userWithRole(ds, id.orgA, 'Template', 'patient');
    keys['hospital-a'] = await keyClient(db, 'hospital-a', HOSPITAL_SCOPE, id.orgA);
    keys['lab-a'] = await keyClient(db, 'lab-a', LAB_SCOPE, id.orgA);
    keys['ehr-a'] = await keyClient(db, 'ehr-a', EHR_SCOPE, id.orgA);
    keys['auditor-a'] = await keyClient(db, 'auditor-a', AUDIT_SCOPE, id.orgA);
    keys['auditor-b'] = await keyClient(db, 'auditor-b', AUDIT_SCOPE, id.orgB);
    keys['auditor-all'] = await keyClient(db, 'auditor-all', AUDIT_SCOPE, null);

    // Setup: a result for T, read back as FHIR, is the template of the transaction's resources.
    const setup = as(await backendToken(app, 'lab-a', keys['lab-a'], LAB_SCOPE));
    const native = await setup.post('/medilens/assessments', completeDocument('cardiology', id.T), { 'Content-Type': 'application/json' });
    expect(native.status).toBe(201);
    const report = (await setup.get(`/fhir/DiagnosticReport/${native.body.assessment_id}`).expect(200)).body as DiagnosticReport;
    const observations = await Promise.all(report.result!.map(async (r) => (await setup.get(`/fhir/${r.reference}`).expect(200)).body as Observation));
    template = { report, observations };
    await audit.flush();
    [{ now: start }] = await ds.query(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`);

    // 1. The hospital registers P (conditionally, twice: the second matches) and Q.
    const hospital = await token('hospital-a', HOSPITAL_SCOPE);
    rid.hospitalLogin = hospital.requestId;
    const h = as(hospital.token);
    const createP = await h.post('/fhir/Patient', patientBody(mrnP), { 'If-None-Exist': `identifier=${MRN}|${mrnP}` });
    expect(createP.status).toBe(201);
    id.P = createP.body.id;
    rid.createP = createP.headers['x-request-id'];
    const againP = await h.post('/fhir/Patient', patientBody(mrnP), { 'If-None-Exist': `identifier=${MRN}|${mrnP}` });
    expect([againP.status, againP.body.id]).toEqual([200, id.P]);
    rid.againP = againP.headers['x-request-id'];
    const createQ = await h.post('/fhir/Patient', patientBody(mrnQ));
    expect(createQ.status).toBe(201);
    id.Q = createQ.body.id;
    rid.createQ = createQ.headers['x-request-id'];

    // 2. The lab delivers a cardiology result for P (the MediLens native endpoint: a DiagnosticReport create).
    const lab = await token('lab-a', LAB_SCOPE);
    rid.labLogin = lab.requestId;
    const l = as(lab.token);
    const ingest = await l.post('/medilens/assessments', completeDocument('cardiology', id.P), { 'Content-Type': 'application/json' });
    expect(ingest.status).toBe(201);
    id.reportP = ingest.body.assessment_id;
    rid.ingest = ingest.headers['x-request-id'];

    // 3. The EHR searches P's reports with their results.
    const ehr = await token('ehr-a', EHR_SCOPE);
    rid.ehrLogin = ehr.requestId;
    ehrQuery = `/fhir/DiagnosticReport?patient=${id.P}&_include=DiagnosticReport:result`;
    const search = await as(ehr.token).get(ehrQuery).expect(200);
    ehrIncluded = ((search.body as Bundle).entry ?? []).filter((e) => e.search?.mode === 'include').length;
    expect(((search.body as Bundle).entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id)).toEqual([id.reportP]);
    expect(ehrIncluded).toBe(template.observations.length);
    rid.ehrSearch = search.headers['x-request-id'];

    // 4. P signs in to the portal: reads their record, is refused Q's, finds none of Q's Observations.
    const sub = `portal|${crypto.randomUUID()}`;
    await ds.query(`UPDATE users SET clerk_user_id = $1 WHERE id = $2`, [sub, id.P]);
    const portal = as(await idp.token({ sub, scope: 'patient/*.rs', fhirUser: `Patient/${id.P}`, azp: 'patient-portal' }));
    const own = await portal.get(`/fhir/Patient/${id.P}`).expect(200);
    patientReadVersion = own.body.meta.versionId;
    rid.portalRead = own.headers['x-request-id'];
    const other = await portal.get(`/fhir/Patient/${id.Q}`);
    refusedRead = other.status;
    rid.portalRefused = other.headers['x-request-id'];
    const others = await portal.get(`/fhir/Observation?patient=${id.Q}`);
    otherSearch = { status: others.status, entries: (others.body.entry ?? []).length };
    rid.portalSearch = others.headers['x-request-id'];

    // 5. A forged token (the EHR's, its scope rewritten: the signature no longer matches) is refused.
    const [header, payload, signature] = ehr.token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forgedToken = [header, Buffer.from(JSON.stringify({ ...claims, scope: 'system/*.*' })).toString('base64url'), signature].join('.');
    const forged = await as(forgedToken).get(`/fhir/Patient/${id.P}`).expect(401);
    rid.forged = forged.headers['x-request-id'];
    // And a search without any token.
    anonymousQuery = `/fhir/Observation?patient=${id.P}&_count=5`;
    rid.anonymousSearch = (await request(app).get(anonymousQuery).expect(401)).headers['x-request-id'];

    // 6. A token request with an assertion signed by another key (the hospital's kid) is refused.
    const impostor = await clientKey('ES384', keys['hospital-a'].kid);
    const refusedToken = await tokenRequest(app, {
      grant_type: 'client_credentials',
      scope: HOSPITAL_SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: await assertion('hospital-a', impostor),
    });
    expect([refusedToken.status, refusedToken.body.error]).toEqual([401, 'invalid_client']);
    rid.refusedLogin = refusedToken.headers['x-request-id'];

    // 7. A clinician asks for the audit log.
    const [{ clerk_user_id: clinicianSub }] = await ds.query(`SELECT clerk_user_id FROM users WHERE id = $1`, [id.clinician]);
    const clinician = as(await idp.token({ sub: clinicianSub, scope: 'user/AuditEvent.rs user/*.rs', fhirUser: `Practitioner/${id.clinician}`, azp: 'clinic-console' }));
    const auditLog = await clinician.get('/fhir/AuditEvent').expect(403);
    rid.clinicianRefused = auditLog.headers['x-request-id'];

    // 8. The lab sends Q's result as a transaction (the subject a conditional reference), and a batch.
    const observationUrls = template.observations.map(() => urn());
    const subject = { reference: `Patient?identifier=${MRN}|${mrnQ}` };
    const entries: BundleEntry[] = [
      {
        fullUrl: urn(),
        resource: { ...template.report, id: undefined, meta: undefined, identifier: [{ system: 'https://fhir.medilens.ai/sid/session-id', value: `tx-${crypto.randomUUID()}` }], subject, result: observationUrls.map((u) => ({ reference: u })) } as DiagnosticReport,
        request: { method: 'POST', url: 'DiagnosticReport' },
      },
      ...template.observations.map((o, i) => ({ fullUrl: observationUrls[i], resource: { ...o, id: undefined, meta: undefined, subject } as Observation, request: { method: 'POST' as const, url: 'Observation' } })),
    ];
    const transaction = await l.post('/fhir', JSON.parse(JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: entries })));
    expect({ status: transaction.status, type: transaction.body.type }).toEqual({ status: 200, type: 'transaction-response' });
    transactionLocations = (transaction.body as Bundle).entry!.map((e) => e.response!.location!);
    rid.transaction = transaction.headers['x-request-id'];
    const batch = await l.post('/fhir', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: patientBody(`MRN-B-${crypto.randomUUID().slice(0, 8)}`), request: { method: 'POST', url: 'Patient' } },
        { resource: { ...patientBody(`MRN-X-${crypto.randomUUID().slice(0, 8)}`), gender: 'robot' }, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect({ status: batch.status, statuses: (batch.body as Bundle).entry!.map((e) => e.response!.status.slice(0, 3)) }).toEqual({ status: 200, statuses: ['201', '400'] });
    batchPatient = /^Patient\/([0-9a-f-]{36})\//.exec((batch.body as Bundle).entry![0].response!.location!)![1];
    rid.batch = batch.headers['x-request-id'];

    // 9. The EHR pulls every report with its results: one event naming P, Q and T once each.
    const all = await as(ehr.token).get('/fhir/DiagnosticReport?_include=DiagnosticReport:result&_count=50').expect(200);
    expect(((all.body as Bundle).entry ?? []).filter((e) => e.search?.mode === 'match')).toHaveLength(3);
    rid.ehrAll = all.headers['x-request-id'];

    await audit.flush();
  });
  afterAll(async () => {
    await audit?.close();
    await idp?.stop();
    await db?.close();
  });

  const auditor = async (clientId: string): Promise<Caller> => caller(app, await backendToken(app, clientId, keys[clientId], AUDIT_SCOPE));
  async function events(who: Caller, query: string): Promise<AuditEvent[]> {
    const { pages } = await allPages(who, `/fhir/AuditEvent?${query}`);
    return pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource as AuditEvent));
  }

  /** What is compared exactly: everything but the id, the time, the address and the text. */
  type Signature = Pick<EventSummary, 'type' | 'subtype' | 'action' | 'outcome' | 'client' | 'user' | 'entities' | 'patients' | 'requestId'>;
  const signature = (e: AuditEvent): Signature => {
    const { type, subtype, action, outcome, client, user, entities, patients, requestId } = summarize(e);
    return { type, subtype, action, outcome, client, user, entities, patients, requestId };
  };
  const bySignature = (list: Signature[]) => [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const ref = (type: string, key: string) => `${type}/${id[key]}`;
  const rest = (subtype: string, action: string, outcome: string, client: string | null, requestId: string | null, more: Partial<Signature> = {}): Signature => ({
    type: 'rest', subtype, action, outcome, client, user: null, entities: [], patients: [], requestId, ...more,
  });

  /** Every event P's data was touched by (or was asked for in), as the scenario made them. */
  const expectedForP = (): Signature[] => {
    const P = ref('Patient', 'P');
    return [
      rest('create', 'C', '0', 'hospital-a', rid.createP, { entities: [`${P}/_history/1`], patients: [P] }),
      // The conditional create that matched P: still a create, of no new version.
      rest('create', 'C', '0', 'hospital-a', rid.againP, { entities: [`${P}/_history/1`], patients: [P] }),
      rest('create', 'C', '0', 'lab-a', rid.ingest, { entities: [ref('DiagnosticReport', 'reportP')], patients: [P] }),
      // The MediLens backend's trigger on the assessment the lab's result became.
      { type: '110110', subtype: 'assessment_created', action: 'C', outcome: '0', client: null, user: null, entities: [ref('DiagnosticReport', 'reportP')], patients: [P], requestId: null },
      rest('search-type', 'E', '0', 'ehr-a', rid.ehrSearch, { patients: [P] }),
      rest('read', 'R', '0', 'patient-portal', rid.portalRead, { user: P, entities: [`${P}/_history/${patientReadVersion}`], patients: [P] }),
      // The forged token's read: refused before anyone was identified, still naming whose record was asked for.
      rest('read', 'R', '4', null, rid.forged, { entities: [P], patients: [P] }),
      rest('search-type', 'E', '0', 'ehr-a', rid.ehrAll, { patients: [ref('Patient', 'P'), ref('Patient', 'Q'), ref('Patient', 'T')].sort() }),
    ];
  };
  const since = () => `date=ge${start}`;

  it('the scenario ran as scripted: the refusals are what the gateway answers', () => {
    // Q exists but is outside P's compartment: not found, not forbidden (its existence is not told).
    expect(refusedRead).toBe(404);
    // A patient's search for another's data finds nothing (the compartment bounds it) rather than failing.
    expect(otherSearch).toEqual({ status: 200, entries: 0 });
  });

  it("AuditEvent?patient=P: exactly the events that touched P's data, each with its subtype, action, outcome, agents and entities", async () => {
    const who = await auditor('auditor-a');
    const found = await events(who, `patient=${id.P}&_count=100`);
    expect(bySignature(found.map(signature))).toEqual(bySignature(expectedForP()));
    // The same by reference, and with _count=2 pages: the same events.
    const paged = await events(who, `patient=Patient/${id.P}&_count=2`);
    expect(paged.map((e) => e.id).sort()).toEqual(found.map((e) => e.id).sort());
    // Every gateway event names the caller's network address and the gateway instance.
    for (const e of found.filter((x) => x.type.code === 'rest')) {
      expect(summarize(e).address).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
      expect(e.source.observer.display).toBe(SOURCE);
    }
  });

  it('_sort=-date: newest first, across pages, the reverse of _sort=date', async () => {
    const who = await auditor('auditor-a');
    const newest = await events(who, `patient=${id.P}&_sort=-date&_count=3`);
    const oldest = await events(who, `patient=${id.P}&_sort=date&_count=3`);
    expect(newest).toHaveLength(expectedForP().length);
    const recorded = newest.map((e) => e.recorded);
    expect(recorded).toEqual([...recorded].sort().reverse());
    expect(newest.map((e) => e.id)).toEqual(oldest.map((e) => e.id).reverse());
    // The first and last event of P's story, by the time they were recorded.
    expect(summarize(oldest[0]).requestId).toBe(rid.createP);
    expect(summarize(newest[0]).requestId).toBe(rid.ehrAll);
  });

  it("AuditEvent?agent=ehr-a: the EHR client's token request and its two searches; ONE event per search naming each distinct patient of the page, includes too", async () => {
    const who = await auditor('auditor-a');
    const found = (await events(who, `agent=ehr-a&${since()}&_count=100`)).map(summarize);
    const rows = (list: EventSummary[]) => list.map((e) => [e.type, e.subtype, e.outcome, e.client, e.requestId]).sort();
    expect(rows(found.filter((e) => e.type === 'rest'))).toEqual(
      [
        ['rest', 'search-type', '0', 'ehr-a', rid.ehrSearch],
        ['rest', 'search-type', '0', 'ehr-a', rid.ehrAll],
      ].sort(),
    );
    const search = found.find((e) => e.requestId === rid.ehrSearch)!;
    // A page of one report and its eight Observations, all P's: P once.
    expect(search.patients).toEqual([ref('Patient', 'P')]);
    expect(search.entities).toEqual([]);
    expect(queryParams(search.query!)).toEqual(queryParams(ehrQuery));
    const all = found.find((e) => e.requestId === rid.ehrAll)!;
    expect(all.patients).toEqual([ref('Patient', 'P'), ref('Patient', 'Q'), ref('Patient', 'T')].sort());
    expect(queryParams(all.query!)).toEqual(queryParams('/fhir/DiagnosticReport?_include=DiagnosticReport:result&_count=50'));
    // Its token request is one of its events too (organization A's client: A's auditor sees it).
    expect(rows(found.filter((e) => e.type !== 'rest'))).toEqual([['110114', '110122', '0', 'ehr-a', rid.ehrLogin]]);
  });

  it('the query entity decodes to the query as it was sent', async () => {
    const who = await auditor('auditor-all');
    const found = (await events(who, `${since()}&subtype=search-type&_count=100`)).map(summarize);
    const queryOf = (requestId: string) => found.find((e) => e.requestId === requestId)?.query;
    // Byte for byte: the path and query string of the request line (BALP: the query as made).
    expect({ search: queryOf(rid.ehrSearch), withoutParameters: queryOf(rid.clinicianRefused) }).toEqual({ search: ehrQuery, withoutParameters: '/fhir/AuditEvent' });
  });

  it('AuditEvent?outcome=4: every refusal of the scenario, with its subtype and agent', async () => {
    const who = await auditor('auditor-a');
    const found = await events(who, `outcome=4&${since()}&_count=100`);
    expect(bySignature(found.map(signature))).toEqual(
      bySignature([
        rest('read', 'R', '4', 'patient-portal', rid.portalRefused, { user: ref('Patient', 'P'), entities: [ref('Patient', 'Q')], patients: [ref('Patient', 'Q')] }),
        rest('read', 'R', '4', null, rid.forged, { entities: [ref('Patient', 'P')], patients: [ref('Patient', 'P')] }),
        rest('search-type', 'E', '4', 'clinic-console', rid.clinicianRefused, { user: ref('Practitioner', 'clinician') }),
        // The batch's invalid entry: its own event, refused (400), no resource written.
        rest('create', 'C', '4', 'lab-a', rid.batch),
      ]),
    );
    const refused = summarize(found.find((e) => summarize(e).requestId === rid.portalRefused)!);
    expect(refused.outcomeDesc).toMatch(/is not known/);
  });

  it('the 401 names no client but the network address, and says why', async () => {
    const who = await auditor('auditor-a');
    const [event] = (await events(who, `outcome=4&patient=${id.P}&_count=100`)).filter((e) => summarize(e).requestId === rid.forged);
    expect(event).toBeDefined();
    const client = event.agent.find((a) => a.type?.coding?.[0].code === '110153')!;
    expect(client.who).toEqual({ display: 'unidentified client' });
    expect(client.network?.address).toMatch(/127\.0\.0\.1|::1/);
    expect(event.agent.filter((a) => a.requestor)).toEqual([client]);
    expect(event.outcomeDesc).toMatch(/signature/);
  });

  it('a search refused with 401 still records what it asked for (the query entity), with no client', async () => {
    // Nobody was identified and no data was returned: only an auditor of every organization finds it.
    const who = await auditor('auditor-all');
    const [event] = (await events(who, `outcome=4&subtype=search-type&${since()}&_count=100`)).map(summarize).filter((e) => e.requestId === rid.anonymousSearch);
    expect(event).toMatchObject({ type: 'rest', subtype: 'search-type', action: 'E', outcome: '4', client: null, user: null, patients: [] });
    expect(event.outcomeDesc).toMatch(/token/);
    expect(event.query === null ? null : queryParams(event.query)).toEqual(queryParams(anonymousQuery));
  });

  it('the refused token request is a login (DCM 110114 / 110122) with outcome 4 and the reason', async () => {
    // The client was not authenticated: the event names no client and no organization, so only an
    // auditor of every organization finds it.
    const who = await auditor('auditor-all');
    const found = (await events(who, `type=${encodeURIComponent(`${DCM}|110114`)}&outcome=4&${since()}`)).map(summarize);
    expect(found.map((e) => [e.subtype, e.action, e.outcome, e.client, e.requestId])).toEqual([['110122', 'E', '4', null, rid.refusedLogin]]);
    expect(found[0].outcomeDesc).toMatch(/^invalid_client: .*signature/);
    expect(found[0].address).toMatch(/127\.0\.0\.1|::1/);
    // Every granted token of the scenario is a login with outcome 0, of its client.
    const granted = (await events(who, `subtype=${encodeURIComponent(`${DCM}|110122`)}&outcome=0&${since()}&_count=100`)).map(summarize);
    for (const [client, requestId] of [['hospital-a', rid.hospitalLogin], ['lab-a', rid.labLogin], ['ehr-a', rid.ehrLogin]]) {
      expect(granted.filter((e) => e.requestId === requestId).map((e) => [e.client, e.action])).toEqual([[client, 'E']]);
    }
  });

  it("an organization's auditor sees its clients' token requests", async () => {
    const who = await auditor('auditor-a');
    const logins = (await events(who, `type=${encodeURIComponent(`${DCM}|110114`)}&${since()}&_count=100`)).map(summarize);
    expect(logins.map((e) => e.requestId)).toEqual(expect.arrayContaining([rid.hospitalLogin, rid.labLogin, rid.ehrLogin]));
  });

  it('each write: its event names Patient/<id> (and the version written), and its request id is the X-Request-Id of the write', async () => {
    const who = await auditor('auditor-a');
    const found = (await events(who, `subtype=create&${since()}&_count=100`)).map(summarize);
    const writes: [string, string][] = [
      [rid.createP, id.P],
      [rid.againP, id.P],
      [rid.createQ, id.Q],
      [rid.batch, batchPatient],
    ];
    for (const [requestId, patient] of writes) {
      const event = found.filter((e) => e.requestId === requestId && e.outcome === '0');
      expect(event.map((e) => ({ entities: e.entities, patients: e.patients }))).toEqual([{ entities: [`Patient/${patient}/_history/1`], patients: [`Patient/${patient}`] }]);
    }
  });

  it('a transaction: one event per entry and one for the Bundle, all with the request id of the POST', async () => {
    const who = await auditor('auditor-a');
    const found = (await events(who, `patient=${id.Q}&_count=100`)).map(summarize).filter((e) => e.requestId === rid.transaction);
    const Q = ref('Patient', 'Q');
    const entries = found.filter((e) => e.subtype !== 'transaction');
    expect(entries.map((e) => e.entities[0]).sort()).toEqual([...transactionLocations].sort());
    expect(entries.map((e) => [e.subtype, e.action, e.outcome, e.client, e.entities.length, e.patients])).toEqual(
      transactionLocations.map(() => ['create', 'C', '0', 'lab-a', 1, [Q]]),
    );
    expect(found.filter((e) => e.subtype === 'transaction').map((e) => [e.type, e.action, e.outcome, e.client, e.entities, e.patients])).toEqual([
      ['rest', 'E', '0', 'lab-a', [], [Q]],
    ]);
    expect(found).toHaveLength(transactionLocations.length + 1);
  });

  it("a batch: each entry's own outcome, and the Bundle's, under one request id", async () => {
    const who = await auditor('auditor-a');
    const found = (await events(who, `agent=lab-a&${since()}&_count=100`)).map(summarize).filter((e) => e.requestId === rid.batch);
    expect(bySignature(found.map(({ type, subtype, action, outcome, client, user, entities, patients, requestId }) => ({ type, subtype, action, outcome, client, user, entities, patients, requestId })))).toEqual(
      bySignature([
        rest('create', 'C', '0', 'lab-a', rid.batch, { entities: [`Patient/${batchPatient}/_history/1`], patients: [`Patient/${batchPatient}`] }),
        rest('create', 'C', '4', 'lab-a', rid.batch),
        rest('batch', 'E', '0', 'lab-a', rid.batch),
      ]),
    );
    expect(found.find((e) => e.outcome === '4')!.outcomeDesc).toMatch(/gender/);
  });

  it('a clinician with user/AuditEvent.rs is refused 403, and the refusal is itself audited', async () => {
    const who = await auditor('auditor-a');
    const [event] = (await events(who, `agent=Practitioner/${id.clinician}&${since()}`)).map(summarize);
    expect(event).toMatchObject({ type: 'rest', subtype: 'search-type', action: 'E', outcome: '4', client: 'clinic-console', user: ref('Practitioner', 'clinician'), requestId: rid.clinicianRefused });
    expect(event.outcomeDesc).toMatch(/the clinician role/);
  });

  it('reading the audit log is audited: the auditor\'s own search and read are AuditEvents afterwards', async () => {
    const who = await auditor('auditor-a');
    const marker = `patient=${id.P}&_count=7`;
    const search = await who.get(`/fhir/AuditEvent?${marker}`).expect(200);
    const first = (search.body as Bundle).entry![0].resource as AuditEvent;
    const read = await who.get(`/fhir/AuditEvent/${first.id}`).expect(200);
    await audit.flush();
    const own = (await events(who, `agent=auditor-a&${since()}&_count=200`)).map(summarize);
    const searched = own.find((e) => e.requestId === search.headers['x-request-id'])!;
    expect(searched).toMatchObject({ type: 'rest', subtype: 'search-type', action: 'E', outcome: '0', client: 'auditor-a', patients: [] });
    expect(queryParams(searched.query!)).toEqual(queryParams(`/fhir/AuditEvent?${marker}`));
    const readEvent = own.find((e) => e.requestId === read.headers['x-request-id'])!;
    expect(readEvent).toMatchObject({ type: 'rest', subtype: 'read', action: 'R', outcome: '0', client: 'auditor-a' });
    expect(readEvent.entities.map((e) => e.replace(/\/_history\/\d+$/, ''))).toEqual([`AuditEvent/${first.id}`]);
  });

  it("an auditor of organization B sees none of A's events, only B's own", async () => {
    const b = await auditor('auditor-b');
    expect(await events(b, `patient=${id.P}&_count=100`)).toEqual([]);
    expect(await events(b, `agent=ehr-a&_count=100`)).toEqual([]);
    expect(await events(b, `outcome=4&_count=100`)).toEqual([]);
    const a = (await events(await auditor('auditor-a'), `patient=${id.P}&_count=1`))[0];
    await b.get(`/fhir/AuditEvent/${a.id}`).expect(404);
    // B's auditor's own searches are B's events.
    await audit.flush();
    const own = (await events(b, `agent=auditor-b&subtype=search-type&_count=100`)).map(summarize);
    expect(own.length).toBeGreaterThanOrEqual(3);
    expect(own.every((e) => e.client === 'auditor-b')).toBe(true);
  });

  it('every AuditEvent recorded validates against FHIR R4', async () => {
    await audit.flush();
    const who = await auditor('auditor-all');
    const all = await events(who, '_count=500');
    expect(all.length).toBeGreaterThan(40);
    const issues = all.flatMap((e) => validateR4(e).map((issue) => `${e.id} (${e.type.code} ${e.subtype?.[0]?.code ?? ''}): ${issue}`));
    expect(issues).toEqual([]);
  });
});
