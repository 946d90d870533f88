import type { Express } from 'express';
import request from 'supertest';
import type { ScopeContext } from '../../src/auth/scopes';
import { backendToken, ExternalIdp, keyClient, testApp, tokenRequest, assertion, type ClientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertAssessment, insertBiomarker, insertOrganization, userWithRole } from '../support/fixtures';

/**
 * Scope x context x interaction over HTTP with real tokens: backend client tokens from the gateway's own
 * token endpoint (system/), and user tokens signed by a stand-in external identity provider (patient/
 * and user/). Every row names a scope, one request and what must come back.
 */

const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const VITALS = `Observation.rs?category=${CATEGORY}|vital-signs`;
const IMAGING = `Observation.rs?category=${CATEGORY}|imaging`;
const PROCEDURE = `Observation.rs?category=${CATEGORY}|procedure`;
const HEART_RATE_CODE = 'Observation.rs?code=http://loinc.org|8867-4';

/** Rows of the fixture, by name: Patients pA1, pA2 (org A), pB (org B); their Observations. */
type Target = 'pA1' | 'pA2' | 'pB' | 'hrA1' | 'qrsA1' | 'vesselA1' | 'hrA2' | 'hrB';

type Req = { read: Target } | { search: Target[] };
const read = (target: Target): Req => ({ read: target });
/** GET /fhir/Patient?_id=a,b,... */
const search = (...ids: Target[]): Req => ({ search: ids });

type Expect = { status: 200; ids: Target[] } | { status: 404 } | { status: 403; needs: string };
/** 200 with exactly these resources (read: the one; search: the bundle's entries). */
const ok = (...ids: Target[]): Expect => ({ status: 200, ids });
/** 404: outside the caller's reach is indistinguishable from not existing. */
const hidden: Expect = { status: 404 };
/** 403 whose diagnostics name the scope needed, e.g. Patient.s -> "<context>/Patient.s". */
const denied = (needs: string): Expect => ({ status: 403, needs });

/** Who calls. Every caller reaches pA1 and their Observations; they differ in reaching pA2 and pB. */
interface Caller {
  readonly name: string;
  readonly context: ScopeContext;
  /** compartment: pA1's rows only; organization: all of org A. */
  readonly reach: 'compartment' | 'organization';
}
const CALLERS: Caller[] = [
  { name: 'patient pA1 with patient/ scopes', context: 'patient', reach: 'compartment' },
  { name: 'patient pA1 with user/ scopes', context: 'user', reach: 'compartment' },
  { name: 'clinician of A in the patient context of pA1', context: 'patient', reach: 'compartment' },
  { name: 'clinician of A with user/ scopes', context: 'user', reach: 'organization' },
  { name: 'backend client of A', context: 'system', reach: 'organization' },
];

/** Scopes are written without their context ("Patient.rs"); each word gets the caller's. */
type Row = [scopes: string, req: Req, expected: Expect];

/**
 * v1 and v2 permissions, read / search / write-only, all on the caller's own pA1. There are no write
 * endpoints yet (they come with the writes issue), so write scopes are shown to grant no read or search;
 * their allowed rows join this table with the endpoints.
 */
const VERSION_ROWS: Row[] = [
  // v1
  ['Patient.read', read('pA1'), ok('pA1')],
  ['Patient.read', search('pA1'), ok('pA1')],
  ['Patient.read', read('hrA1'), denied('Observation.r')],
  ['*.read', read('pA1'), ok('pA1')],
  ['*.read', read('hrA1'), ok('hrA1')],
  ['*.read', search('pA1'), ok('pA1')],
  ['*.*', read('hrA1'), ok('hrA1')],
  ['Observation.write', read('hrA1'), denied('Observation.r')],
  ['Observation.write', read('pA1'), denied('Patient.r')],
  ['Observation.write', search('pA1'), denied('Patient.s')],
  ['Patient.write', read('pA1'), denied('Patient.r')],
  ['Patient.write', search('pA1'), denied('Patient.s')],
  // v2
  ['Patient.rs', read('pA1'), ok('pA1')],
  ['Patient.rs', search('pA1'), ok('pA1')],
  ['Patient.r', read('pA1'), ok('pA1')],
  ['Patient.r', search('pA1'), denied('Patient.s')],
  ['Patient.s', search('pA1'), ok('pA1')],
  ['Patient.s', read('pA1'), denied('Patient.r')],
  ['Patient.cruds', read('pA1'), ok('pA1')],
  ['Patient.cruds', search('pA1'), ok('pA1')],
  ['Patient.c', read('pA1'), denied('Patient.r')],
  ['Patient.c', search('pA1'), denied('Patient.s')],
  ['Patient.cud', read('pA1'), denied('Patient.r')],
  ['Patient.cud', search('pA1'), denied('Patient.s')],
  ['Observation.rs', read('hrA1'), ok('hrA1')],
  ['Observation.rs', read('pA1'), denied('Patient.r')],
  ['Observation.r', read('hrA1'), ok('hrA1')],
  ['Observation.s', read('hrA1'), denied('Observation.r')],
  ['*.rs', read('hrA1'), ok('hrA1')],
  ['*.cud', read('hrA1'), denied('Observation.r')],
  ['Patient.r Observation.r', read('hrA1'), ok('hrA1')],
];

/** Granular scopes: the filter is evaluated like the search parameter it names. */
const GRANULAR_ROWS: Row[] = [
  [VITALS, read('hrA1'), ok('hrA1')],
  [VITALS, read('qrsA1'), hidden], // a cardiology biomarker other than heart rate is a procedure
  [VITALS, read('vesselA1'), hidden], // retinal is imaging
  [VITALS, read('pA1'), denied('Patient.r')],
  [HEART_RATE_CODE, read('hrA1'), ok('hrA1')],
  [HEART_RATE_CODE, read('qrsA1'), hidden],
  [HEART_RATE_CODE, read('vesselA1'), hidden],
  [PROCEDURE, read('qrsA1'), ok('qrsA1')],
  [PROCEDURE, read('hrA1'), hidden],
  [IMAGING, read('vesselA1'), ok('vesselA1')],
  [`${VITALS} ${IMAGING}`, read('hrA1'), ok('hrA1')],
  [`${VITALS} ${IMAGING}`, read('vesselA1'), ok('vesselA1')],
  [`${VITALS} ${IMAGING}`, read('qrsA1'), hidden],
  // A filter the resource cannot evaluate matches nothing.
  ['Observation.rs?foo=bar', read('hrA1'), hidden],
  [`Observation.rs?foo=bar ${VITALS}`, read('hrA1'), ok('hrA1')],
  // A broad scope next to a granular one is not narrowed by it.
  [`${VITALS} Observation.rs`, read('qrsA1'), ok('qrsA1')],
];

/** Rows beyond pA1: another organization (never), another patient of A (organization reach only). */
const REACH_ROWS: [scopes: string, req: Req, byReach: Record<Caller['reach'], Expect>][] = [
  ['*.read', read('pB'), { compartment: hidden, organization: hidden }],
  ['*.read', read('hrB'), { compartment: hidden, organization: hidden }],
  ['*.read', search('pB'), { compartment: ok(), organization: ok() }],
  ['Patient.rs', search('pA1', 'pA2', 'pB'), { compartment: ok('pA1'), organization: ok('pA1', 'pA2') }],
  ['*.read', read('pA2'), { compartment: hidden, organization: ok('pA2') }],
  ['*.read', read('hrA2'), { compartment: hidden, organization: ok('hrA2') }],
  [VITALS, read('hrB'), { compartment: hidden, organization: hidden }],
];

describe(`SMART scopes over HTTP: context x version x interaction (${testBackend()})`, () => {
  let db: TestDatabase;
  let idp: ExternalIdp;
  let app: Express;
  let clientKeyA: ClientKey;
  const CLIENT_A = 'scope-matrix-org-a';
  const ids = {} as Record<Target | 'orgA' | 'orgB' | 'clinicianA', string>;
  const clerk: Record<string, string> = {};

  beforeAll(async () => {
    db = await openTestDatabase();
    idp = await ExternalIdp.start();
    app = testApp(db, idp.env());
    const ds = db.dataSource;
    ids.orgA = await insertOrganization(ds, 'Clinic A');
    ids.orgB = await insertOrganization(ds, 'Clinic B');
    ids.pA1 = await userWithRole(ds, ids.orgA, 'PatientA1', 'patient');
    ids.pA2 = await userWithRole(ds, ids.orgA, 'PatientA2', 'patient');
    ids.pB = await userWithRole(ds, ids.orgB, 'PatientB', 'patient');
    ids.clinicianA = await userWithRole(ds, ids.orgA, 'Clinician', 'clinician');
    for (const user of [ids.pA1, ids.clinicianA]) {
      [{ clerk_user_id: clerk[user] }] = await ds.query(`SELECT clerk_user_id FROM users WHERE id = $1`, [user]);
    }

    const cardiologyA1 = await insertAssessment(ds, ids.pA1, ids.orgA, 'cardiology');
    ids.hrA1 = await insertBiomarker(ds, cardiologyA1, 'heart_rate', 72);
    ids.qrsA1 = await insertBiomarker(ds, cardiologyA1, 'qrs_duration', 96);
    ids.vesselA1 = await insertBiomarker(ds, await insertAssessment(ds, ids.pA1, ids.orgA, 'retinal'), 'vessel_density', 0.42);
    ids.hrA2 = await insertBiomarker(ds, await insertAssessment(ds, ids.pA2, ids.orgA, 'cardiology'), 'heart_rate', 64);
    ids.hrB = await insertBiomarker(ds, await insertAssessment(ds, ids.pB, ids.orgB, 'cardiology'), 'heart_rate', 80);

    clientKeyA = await keyClient(db, CLIENT_A, 'system/*.*', ids.orgA);
  });
  afterAll(async () => {
    await idp?.stop();
    await db?.close();
  });

  const tokens = new Map<string, Promise<string>>();
  /** A real token for the caller with these scopes (each word given the caller's context); cached. */
  function tokenFor(caller: Caller, scopes: string): Promise<string> {
    const scope = scopes
      .split(' ')
      .map((s) => `${caller.context}/${s}`)
      .join(' ');
    const key = `${caller.name}|${scope}`;
    if (!tokens.has(key)) tokens.set(key, mint(caller, scope));
    return tokens.get(key)!;
  }
  function mint(caller: Caller, scope: string): Promise<string> {
    switch (caller.name) {
      case 'patient pA1 with patient/ scopes':
      case 'patient pA1 with user/ scopes':
        return idp.token({ sub: clerk[ids.pA1], scope });
      case 'clinician of A in the patient context of pA1':
        return idp.token({ sub: clerk[ids.clinicianA], scope, patient: ids.pA1 });
      case 'clinician of A with user/ scopes':
        return idp.token({ sub: clerk[ids.clinicianA], scope });
      case 'backend client of A':
        return backendToken(app, CLIENT_A, clientKeyA, scope);
    }
    throw new Error(`no such caller ${caller.name}`);
  }

  const typeOf = (target: Target) => (target.startsWith('p') ? 'Patient' : 'Observation');
  const pathOf = (req: Req) =>
    'read' in req ? `/fhir/${typeOf(req.read)}/${ids[req.read]}` : `/fhir/Patient?_id=${req.search.map((t) => ids[t]).join(',')}`;
  const describeReq = (req: Req) => ('read' in req ? `GET ${typeOf(req.read)}/${req.read}` : `GET Patient?_id=${req.search.join(',')}`);
  const describeExpect = (e: Expect) => (e.status === 200 ? `200 [${e.ids.join(', ')}]` : e.status === 403 ? `403 needs ${e.needs}` : '404');

  /** Sends the request with the token and checks the row's expectation. */
  async function check(caller: Caller, token: string, req: Req, expected: Expect): Promise<void> {
    const res = await request(app).get(pathOf(req)).set('Authorization', `Bearer ${token}`);
    const outcome = res.body?.resourceType === 'OperationOutcome' ? res.body.issue?.[0]?.diagnostics : undefined;
    expect({ status: res.status, outcome }).toMatchObject({ status: expected.status });
    if (expected.status === 200) {
      const want = expected.ids.map((t) => ids[t]).sort();
      if ('read' in req) {
        expect(res.body).toMatchObject({ resourceType: typeOf(req.read), id: want[0] });
      } else {
        expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
        expect((res.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id).sort()).toEqual(want);
      }
    } else if (expected.status === 403) {
      expect(outcome).toContain(`${caller.context}/${expected.needs}`);
    }
  }

  describe.each(CALLERS)('$name', (caller) => {
    const title = (scopes: string, req: Req, e: Expect) => `${scopes.replace(/ /g, ' + ')}: ${describeReq(req)} -> ${describeExpect(e)}`;

    describe('v1 and v2 permissions', () => {
      it.each(VERSION_ROWS.map((row) => ({ title: title(...row), row })))('$title', async ({ row: [scopes, req, expected] }) => {
        await check(caller, await tokenFor(caller, scopes), req, expected);
      });
    });

    describe('granular scopes', () => {
      it.each(GRANULAR_ROWS.map((row) => ({ title: title(...row), row })))('$title', async ({ row: [scopes, req, expected] }) => {
        await check(caller, await tokenFor(caller, scopes), req, expected);
      });
    });

    describe(`reach (${caller.reach})`, () => {
      it.each(REACH_ROWS.map(([s, r, by]) => ({ title: title(s, r, by[caller.reach]), row: [s, r, by[caller.reach]] as Row })))(
        '$title',
        async ({ row: [scopes, req, expected] }) => {
          await check(caller, await tokenFor(caller, scopes), req, expected);
        },
      );
    });
  });

  /** A client_credentials request of client A, for looking at the token endpoint's answer itself. */
  const form = async (scope: string) => ({
    grant_type: 'client_credentials',
    scope,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await assertion(CLIENT_A, clientKeyA),
  });
  const clinician = CALLERS.find((c) => c.name === 'clinician of A with user/ scopes')!;
  const backendClient = CALLERS.find((c) => c.name === 'backend client of A')!;

  describe('scopes outside the caller\'s kind grant nothing', () => {
    it('patient/ scopes without a patient context allow nothing', async () => {
      const token = await idp.token({ sub: clerk[ids.clinicianA], scope: 'patient/*.read' });
      await check(clinician, token, read('pA1'), denied('Patient.r'));
    });

    it('a user token cannot use system/ scopes', async () => {
      const token = await idp.token({ sub: clerk[ids.clinicianA], scope: 'system/*.read' });
      await check(clinician, token, read('pA1'), denied('Patient.r'));
    });

    it('the token endpoint drops patient/ and user/ scopes a backend client asks for', async () => {
      const mixed = await tokenRequest(app, await form('patient/Patient.rs user/Patient.rs system/Observation.rs'));
      expect(mixed.status).toBe(200);
      expect(mixed.body.scope).toBe('system/Observation.rs');
      const onlyPatient = await tokenRequest(app, await form('patient/Patient.rs user/*.*'));
      expect(onlyPatient.status).toBe(400);
      expect(onlyPatient.body.error).toBe('invalid_scope');
    });
  });

  describe('malformed scopes are ignored, never fatal and never widening', () => {
    it('a user token with a malformed permission word keeps its valid scopes', async () => {
      // "constructor" is not a permission; it must be dropped like any other malformed scope.
      const token = await idp.token({ sub: clerk[ids.clinicianA], scope: 'user/Patient.constructor user/Patient.rs' });
      await check(clinician, token, read('pA1'), ok('pA1'));
    });

    it('the token endpoint grants the valid scopes next to a malformed one', async () => {
      const res = await tokenRequest(app, await form('system/Patient.constructor system/Patient.rs'));
      expect({ status: res.status, body: res.body }).toMatchObject({ status: 200, body: { scope: 'system/Patient.rs' } });
    });

    it('a filter value cannot smuggle another scope into a backend token', async () => {
      const observationsOnly = 'scope-matrix-observations-only';
      const key = await keyClient(db, observationsOnly, 'system/Observation.rs', ids.orgA);
      // The scope parameter arrives form-decoded as ...?code=x%20system/Patient.rs: one word, one filter.
      const token = await backendToken(app, observationsOnly, key, 'system/Observation.rs?code=x%20system/Patient.rs');
      await check(backendClient, token, read('pA1'), denied('Patient.r'));
    });
  });
});

/** A user of the organization holding one role there (roles are not seeded by the migrations). */
