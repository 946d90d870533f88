import crypto from 'node:crypto';
import type { AuditEvent, Bundle } from 'fhir/r4';
import type { Express } from 'express';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { withMaintenanceContext } from '../../src/db/context';
import { seedReferenceData } from '../../src/db/seed';
import { backendToken, ExternalIdp, keyClient, testApp, tokenRequest, assertion, type ClientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, insertUser, userWithRole } from '../support/fixtures';
import { allPages, caller, entryIds, issueOf, type Caller } from '../support/search';
import { validateR4 } from '../support/validate';

/**
 * AuditEvent search and read over HTTP with real tokens, against audit_events rows written here as the
 * owner (the chain trigger links them). The gateway records an event for every request these tests
 * make, too, so every assertion looks only at the rows written here (their ids; the recorded ones are
 * of today, these of March 2025).
 */

const MEDILENS = 'https://fhir.medilens.ai';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';
const SOURCE = `test-source-${crypto.randomBytes(4).toString('hex')}`;
const OTHER_SOURCE = 'other-gateway@h2';
/** Every row written here is in this month. */
const MARCH = 'date=ge2025-03-01&date=lt2025-04-01';

type EventKey = 'e1' | 'e2' | 'e3' | 'e4' | 'e5' | 'e6' | 'e7' | 'e8' | 'e9' | 'e10';
const ALL: EventKey[] = ['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'e10'];

interface EventSpec {
  at: string;
  event_type: string;
  subtype: string | null;
  action: string;
  outcome?: number;
  outcome_desc?: string;
  client_id?: string | null;
  subject?: string | null;
  fhir_user?: string | null;
  user_id?: string | null;
  source?: string | null;
  query?: string | null;
  entities?: string[];
  patients?: string[];
  organizations: ('A' | 'B')[];
  resource_type?: string | null;
  resource_id?: string | null;
  details?: Record<string, unknown>;
  request_id?: string | null;
  address?: string | null;
}

describe(`AuditEvent search and read (${testBackend()})`, () => {
  let db: TestDatabase;
  let idp: ExternalIdp;
  let app: Express;
  const id: Record<string, string> = {};
  const sub: Record<string, string> = {};
  const event = {} as Record<EventKey, string>;
  const nameOf = new Map<string, EventKey>();
  const keys: Record<string, ClientKey> = {};
  /** Patients named by the events (no rows of their own are needed). */
  const p = { p1: crypto.randomUUID(), p2: crypto.randomUUID(), p3: crypto.randomUUID() };
  const o1 = crypto.randomUUID();
  const o2 = crypto.randomUUID();
  const a1 = crypto.randomUUID();

  function specs(): Record<EventKey, EventSpec> {
    const clinician = { client_id: 'ehr-a', subject: sub.clinA, fhir_user: `Practitioner/${id.clinA}`, user_id: id.clinA };
    return {
      e1: { at: '2025-03-01T10:00:00Z', event_type: 'rest', subtype: 'read', action: 'R', ...clinician, entities: [`Observation/${o1}`], patients: [p.p1], organizations: ['A'] },
      e2: {
        at: '2025-03-02T10:00:00Z', event_type: 'rest', subtype: 'search-type', action: 'E', ...clinician,
        query: `/fhir/DiagnosticReport?patient=${p.p1},${p.p2},${p.p3}&_include=DiagnosticReport:result`, patients: [p.p1, p.p2, p.p3], organizations: ['A'],
      },
      e3: {
        at: '2025-03-03T10:00:00Z', event_type: 'rest', subtype: 'create', action: 'C', client_id: 'hospital-b', subject: 'hospital-b',
        entities: [`Patient/${p.p2}`], patients: [p.p2], organizations: ['B'], details: { versions: { [`Patient/${p.p2}`]: '1' } },
      },
      e4: {
        at: '2025-03-04T10:00:00Z', event_type: 'rest', subtype: 'read', action: 'R', outcome: 4, outcome_desc: 'refused', ...clinician,
        entities: [`Observation/${o2}`], organizations: ['A', 'B'],
      },
      e5: { at: '2025-03-05T10:00:00Z', event_type: 'rest', subtype: 'read', action: 'R', outcome: 4, outcome_desc: 'A bearer access token is required', client_id: null, organizations: [] },
      e6: { at: '2025-03-06T10:00:00Z', event_type: 'login', subtype: 'login', action: 'E', client_id: 'hospital-b', subject: 'hospital-b', organizations: ['B'] },
      e7: { at: '2025-03-07T10:00:00Z', event_type: 'login', subtype: 'login', action: 'E', outcome: 4, outcome_desc: 'invalid_client', client_id: 'ehr-a', organizations: ['A'] },
      // The MediLens backend's trigger writes verbs; the view turns them into BALP letters.
      e8: {
        at: '2025-03-08T10:00:00Z', event_type: 'assessment_created', subtype: null, action: 'create', user_id: id.clinA, source: null, request_id: null, address: null,
        resource_type: 'assessment', resource_id: a1, patients: [p.p1], organizations: ['A'], details: { source: 'trigger', status: 'completed', patient_id: p.p1 },
      },
      // A patient through the portal; the IdP's subject is no FHIR id.
      e9: {
        at: '2025-03-09T10:00:00Z', event_type: 'rest', subtype: 'read', action: 'R', client_id: 'portal', subject: 'auth0|pat_9', fhir_user: `Patient/${id.pA1}`,
        user_id: id.pA1, entities: [`Patient/${id.pA1}`], patients: [id.pA1], organizations: ['A'],
      },
      e10: { at: '2025-03-10T10:00:00Z', event_type: 'rest', subtype: 'read', action: 'R', ...clinician, source: OTHER_SOURCE, organizations: ['A'] },
    };
  }

  async function insertEvents(ds: DataSource): Promise<void> {
    await withMaintenanceContext(ds, async (tx) => {
      for (const [key, s] of Object.entries(specs()) as [EventKey, EventSpec][]) {
        const [row] = await tx.query(
          `INSERT INTO audit_events (created_at, user_id, organization_id, actor_type, actor_ip, event_type, resource_type, resource_id, action,
                                     details, subtype, outcome, outcome_desc, request_id, client_id, subject, fhir_user, source, query,
                                     entities, patients, organizations)
           VALUES ($1, $2, $3, $4, $5::inet, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20::text[], $21::uuid[], $22::uuid[])
           RETURNING id`,
          [
            s.at, s.user_id ?? null, s.organizations.length ? id[`org${s.organizations[0]}`] : null, s.user_id ? 'user' : 'system',
            s.address === undefined ? '10.0.0.7' : s.address, s.event_type, s.resource_type ?? null, s.resource_id ?? null, s.action,
            JSON.stringify(s.details ?? {}), s.subtype, s.outcome ?? 0, s.outcome_desc ?? null, s.request_id === undefined ? `req-${key}` : s.request_id,
            s.client_id ?? null, s.subject ?? null, s.fhir_user ?? null, s.source === undefined ? SOURCE : s.source, s.query ?? null,
            s.entities ?? [], s.patients ?? [], s.organizations.map((o) => id[`org${o}`]),
          ],
        );
        event[key] = row.id;
        nameOf.set(row.id, key);
      }
    });
  }

  async function userWithRoleIn(ds: DataSource, organizationId: string | null, name: string, role: string): Promise<string> {
    const user = await insertUser(ds, organizationId, name);
    await ds.query(`INSERT INTO user_roles (user_id, role_id, organization_id) SELECT $1, id, $3 FROM roles WHERE name = $2`, [user, role, organizationId]);
    return user;
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    const ds = db.dataSource;
    await seedReferenceData(ds);
    idp = await ExternalIdp.start();
    app = testApp(db, idp.env());
    id.orgA = await insertOrganization(ds, 'Clinic A');
    id.orgB = await insertOrganization(ds, 'Clinic B');
    id.clinA = await userWithRole(ds, id.orgA, 'ClinicianA', 'clinician');
    id.pA1 = await userWithRole(ds, id.orgA, 'PatientA1', 'patient');
    id.adminA = await userWithRoleIn(ds, id.orgA, 'AdminA', 'admin');
    id.adminAll = await userWithRoleIn(ds, null, 'PlatformAdmin', 'admin');
    for (const user of ['clinA', 'pA1', 'adminA', 'adminAll']) [{ clerk_user_id: sub[user] }] = await ds.query(`SELECT clerk_user_id FROM users WHERE id = $1`, [id[user]]);
    await insertEvents(ds);
    keys.all = await keyClient(db, 'auditor-all', 'system/AuditEvent.rs', null);
    keys.a = await keyClient(db, 'auditor-a', 'system/AuditEvent.rs', id.orgA);
    keys.wildcard = await keyClient(db, 'wildcard-a', 'system/*.rs', id.orgA);
  });
  afterAll(async () => {
    await idp?.stop();
    await db?.close();
  });

  const auditorAll = async () => caller(app, await backendToken(app, 'auditor-all', keys.all, 'system/AuditEvent.rs'));
  const auditorA = async () => caller(app, await backendToken(app, 'auditor-a', keys.a, 'system/AuditEvent.rs'));
  const user = async (name: string, scope: string, claims: Record<string, unknown> = {}) => caller(app, await idp.token({ sub: sub[name], scope, ...claims }));

  /** The events written here that a search matches (all pages), by name, sorted. */
  async function found(who: Caller, query: string): Promise<EventKey[]> {
    const { ids } = await allPages(who, `/fhir/AuditEvent?${query}&_count=1000`);
    expect(new Set(ids).size).toBe(ids.length);
    return ids
      .map((i) => nameOf.get(i))
      .filter((k): k is EventKey => k !== undefined)
      .sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)));
  }
  const q = (name: string, value: string) => `${name}=${encodeURIComponent(value)}`;
  const without = (...keys: EventKey[]) => ALL.filter((k) => !keys.includes(k));

  describe('each search parameter (an auditor of every organization)', () => {
    let who: Caller;
    beforeAll(async () => {
      who = await auditorAll();
    });

    it.each<[string, EventKey[]]>([
      [MARCH, ALL],
      ['date=ge2025-03-05', ['e5', 'e6', 'e7', 'e8', 'e9', 'e10']],
      ['date=le2025-03-03', ['e1', 'e2', 'e3']],
      ['date=gt2025-03-08', ['e9', 'e10']],
      ['date=lt2025-03-02', ['e1']],
      ['date=eq2025-03-04', ['e4']],
      ['date=2025-03-04', ['e4']],
      ['date=2025-03-04T10:00:00Z', ['e4']],
      ['date=ge2025-03-04T10:00:00Z&date=lt2025-03-06T10:00:00Z', ['e4', 'e5']],
      ['date=gt2025-03-04T10:00:00Z&date=le2025-03-06T10:00:00Z', ['e5', 'e6']],
      ['date=2025-03-02,2025-03-09', ['e2', 'e9']],
      ['_lastUpdated=ge2025-03-09', ['e9', 'e10']],
      ['_lastUpdated=lt2025-03-02', ['e1']],
    ])('%s', async (query, expected) => {
      expect(await found(who, query)).toEqual(expected);
    });

    it('patient, entity', async () => {
      expect(await found(who, `patient=${p.p1}`)).toEqual(['e1', 'e2', 'e8']);
      expect(await found(who, `patient=Patient/${p.p2}`)).toEqual(['e2', 'e3']);
      expect(await found(who, `patient=${p.p3},${id.pA1}`)).toEqual(['e2', 'e9']);
      expect(await found(who, `patient:missing=true&${MARCH}`)).toEqual(['e4', 'e5', 'e6', 'e7', 'e10']);
      expect(await found(who, `entity=Observation/${o1}`)).toEqual(['e1']);
      expect(await found(who, `entity=${o2}`)).toEqual(['e4']);
      // The backend's assessment event names the assessment: its DiagnosticReport.
      expect(await found(who, `entity=DiagnosticReport/${a1}`)).toEqual(['e8']);
      expect(await found(who, `entity=${a1}`)).toEqual(['e8']);
      // A patient is an entity of every event that touched them.
      expect(await found(who, `entity=Patient/${p.p2}`)).toEqual(['e2', 'e3']);
      expect(await found(who, `entity=Observation/${p.p2}`)).toEqual([]);
      expect(await found(who, 'entity=not-a-uuid')).toEqual([]);
    });

    it('agent: a client id, a token subject or a MediLens user id as a bare value; Practitioner/ and Patient/ references', async () => {
      expect(await found(who, 'agent=ehr-a')).toEqual(['e1', 'e2', 'e4', 'e7', 'e10']);
      expect(await found(who, 'agent=hospital-b')).toEqual(['e3', 'e6']);
      expect(await found(who, q('agent', 'auth0|pat_9'))).toEqual(['e9']);
      expect(await found(who, q('agent', sub.clinA))).toEqual(['e1', 'e2', 'e4', 'e10']);
      // The clinician's own events, and the backend's event they caused (user id, no fhirUser).
      expect(await found(who, `agent=Practitioner/${id.clinA}`)).toEqual(['e1', 'e2', 'e4', 'e8', 'e10']);
      expect(await found(who, `agent=${id.clinA}`)).toEqual(['e1', 'e2', 'e4', 'e8', 'e10']);
      expect(await found(who, `agent=Patient/${id.pA1}`)).toEqual(['e9']);
      expect(await found(who, `agent:Patient=${id.pA1}`)).toEqual(['e9']);
      expect(await found(who, 'agent=portal,hospital-b')).toEqual(['e3', 'e6', 'e9']);
      expect(await found(who, `agent=${crypto.randomUUID()}`)).toEqual([]);
      expect(await found(who, 'agent=nobody')).toEqual([]);
      // An absolute URL of another server is a value like any other (a client id may be one).
      expect(await found(who, q('agent', 'https://apps.example/client'))).toEqual([]);
    });

    it('type, subtype, action, outcome', async () => {
      const rest = ['e1', 'e2', 'e3', 'e4', 'e5', 'e9', 'e10'];
      expect(await found(who, q('type', 'http://terminology.hl7.org/CodeSystem/audit-event-type|rest'))).toEqual(rest);
      expect(await found(who, `type=rest&${MARCH}`)).toEqual(rest);
      expect(await found(who, q('type', `${DCM}|110114`))).toEqual(['e6', 'e7']);
      expect(await found(who, q('type', `${DCM}|110110`))).toEqual(['e8']);
      expect(await found(who, q('type', `${DCM}|`) + `&${MARCH}`)).toEqual(['e6', 'e7', 'e8']);
      expect(await found(who, q('type', 'http://example.org|rest'))).toEqual([]);
      expect(await found(who, q('subtype', `${RESTFUL}|create`))).toEqual(['e3']);
      expect(await found(who, `subtype=search-type&${MARCH}`)).toEqual(['e2']);
      expect(await found(who, `subtype=read&${MARCH}`)).toEqual(['e1', 'e4', 'e5', 'e9', 'e10']);
      expect(await found(who, q('subtype', `${DCM}|110122`))).toEqual(['e6', 'e7']);
      expect(await found(who, q('subtype', `${MEDILENS}/CodeSystem/audit-event|assessment_created`))).toEqual(['e8']);
      expect(await found(who, `subtype=assessment_created`)).toEqual(['e8']);
      expect(await found(who, `action=C`)).toEqual(['e3', 'e8']);
      expect(await found(who, q('action', 'http://hl7.org/fhir/audit-event-action|E') + `&${MARCH}`)).toEqual(['e2', 'e6', 'e7']);
      expect(await found(who, `action=X`)).toEqual([]);
      expect(await found(who, `outcome=4`)).toEqual(['e4', 'e5', 'e7']);
      expect(await found(who, q('outcome', 'http://hl7.org/fhir/audit-event-outcome|0') + `&${MARCH}`)).toEqual(without('e4', 'e5', 'e7'));
      expect(await found(who, `outcome:not=0&${MARCH}`)).toEqual(['e4', 'e5', 'e7']);
    });

    it('source: the recording gateway instance, or the MediLens backend', async () => {
      expect(await found(who, q('source', SOURCE))).toEqual(without('e8', 'e10'));
      expect(await found(who, q('source', OTHER_SOURCE))).toEqual(['e10']);
      expect(await found(who, q('source', 'MediLens backend') + `&${MARCH}`)).toEqual(['e8']);
      expect(await found(who, q('source', `${OTHER_SOURCE},MediLens backend`) + `&${MARCH}`)).toEqual(['e8', 'e10']);
      expect(await found(who, `source=Device/${crypto.randomUUID()}`)).toEqual([]);
    });

    it('entity-type and entity-role', async () => {
      expect(await found(who, q('entity-role', 'http://terminology.hl7.org/CodeSystem/object-role|24') + `&${MARCH}`)).toEqual(['e2']);
      expect(await found(who, q('entity-type', 'http://terminology.hl7.org/CodeSystem/audit-entity-type|1') + `&${MARCH}`)).toEqual(['e1', 'e2', 'e3', 'e8', 'e9']);
      expect(await found(who, q('entity-role', 'http://terminology.hl7.org/CodeSystem/object-role|4') + `&${MARCH}`)).toEqual(['e1', 'e3', 'e4', 'e8', 'e9']);
    });

    it('combines parameters (AND) and answers POST _search alike', async () => {
      expect(await found(who, `agent=ehr-a&outcome=0&subtype=read&${MARCH}`)).toEqual(['e1', 'e10']);
      const res = await who.post('/fhir/AuditEvent/_search', `agent=ehr-a&patient=${p.p1}&_count=100`).expect(200);
      expect(entryIds(res.body as Bundle).map((i) => nameOf.get(i))).toEqual(expect.arrayContaining(['e1', 'e2']));
      expect(entryIds(res.body as Bundle)).toHaveLength(2);
    });

    it('rejects what it cannot search: an unknown parameter, a malformed date, a reference to a type it cannot name', async () => {
      expect(issueOf((await who.get('/fhir/AuditEvent?kind=x').expect(400)).body).diagnostics).toMatch(/Unknown search parameter kind/);
      expect(issueOf((await who.get('/fhir/AuditEvent?date=2025-13').expect(400)).body).diagnostics).toMatch(/not a date/);
      expect(issueOf((await who.get('/fhir/AuditEvent?patient=Observation/x').expect(400)).body).diagnostics).toMatch(/refers to Patient/);
      expect((await who.get('/fhir/AuditEvent?_sort=name').expect(400)).body.resourceType).toBe('OperationOutcome');
    });
  });

  describe('pages and order', () => {
    it('_count with keyset next links walks every event once', async () => {
      const who = await auditorAll();
      const { ids, pages } = await allPages(who, `/fhir/AuditEvent?${MARCH}&_count=3`);
      expect(pages).toHaveLength(4);
      expect(pages.map((page) => entryIds(page).length)).toEqual([3, 3, 3, 1]);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.map((i) => nameOf.get(i)).sort()).toEqual([...ALL].sort());
    });

    it('_sort=-date: newest first, across pages; _sort=date oldest first', async () => {
      const who = await auditorAll();
      const newest = await allPages(who, `/fhir/AuditEvent?${MARCH}&_sort=-date&_count=4`);
      expect(newest.ids.map((i) => nameOf.get(i))).toEqual([...ALL].reverse());
      const oldest = await allPages(who, `/fhir/AuditEvent?${MARCH}&_sort=date&_count=4`);
      expect(oldest.ids.map((i) => nameOf.get(i))).toEqual(ALL);
      const recorded = newest.pages.flatMap((page) => (page.entry ?? []).map((e) => (e.resource as AuditEvent).recorded));
      expect(recorded).toEqual([...recorded].sort().reverse());
    });
  });

  describe('read', () => {
    it('reads an event by id (200, ETag W/"1") and 404s an unknown one', async () => {
      const who = await auditorAll();
      const res = await who.get(`/fhir/AuditEvent/${event.e3}`).expect(200);
      expect(res.headers.etag).toBe('W/"1"');
      const body = res.body as AuditEvent;
      expect(body).toMatchObject({
        resourceType: 'AuditEvent',
        id: event.e3,
        type: { code: 'rest' },
        subtype: [{ system: RESTFUL, code: 'create' }],
        action: 'C',
        recorded: '2025-03-03T10:00:00.000Z',
        outcome: '0',
        source: { observer: { display: SOURCE } },
      });
      expect(body.agent[0].who).toEqual({ identifier: { system: `${MEDILENS}/sid/client-id`, value: 'hospital-b' } });
      expect(body.entity).toEqual(
        expect.arrayContaining([expect.objectContaining({ what: { reference: `Patient/${p.p2}/_history/1` } }), expect.objectContaining({ what: { reference: `Patient/${p.p2}` } })]),
      );
      const trigger = (await who.get(`/fhir/AuditEvent/${event.e8}`).expect(200)).body as AuditEvent;
      expect(trigger).toMatchObject({ type: { system: DCM, code: '110110' }, action: 'C', source: { observer: { display: 'MediLens backend' } } });
      expect(trigger.entity?.[0].what).toEqual({ reference: `DiagnosticReport/${a1}` });
      const missing = await who.get(`/fhir/AuditEvent/${crypto.randomUUID()}`).expect(404);
      expect(missing.body.resourceType).toBe('OperationOutcome');
      await who.get('/fhir/AuditEvent/not-an-id').expect(404);
    });

    it('has no vread and no history (an event never changes)', async () => {
      const who = await auditorAll();
      await who.get(`/fhir/AuditEvent/${event.e1}/_history/1`).expect(404);
      await who.get(`/fhir/AuditEvent/${event.e1}/_history`).expect(404);
    });
  });

  describe('who may read the audit log', () => {
    it("an auditor bound to organization A sees exactly the events naming A (the caller's or the data's)", async () => {
      const who = await auditorA();
      expect(await found(who, MARCH)).toEqual(['e1', 'e2', 'e4', 'e7', 'e8', 'e9', 'e10']);
      expect(await found(who, 'agent=hospital-b')).toEqual([]);
      await who.get(`/fhir/AuditEvent/${event.e3}`).expect(404);
      await who.get(`/fhir/AuditEvent/${event.e5}`).expect(404);
      await who.get(`/fhir/AuditEvent/${event.e4}`).expect(200);
    });

    it('an admin user with user/AuditEvent.rs: their organization, or every one for a platform admin', async () => {
      const admin = await user('adminA', 'user/AuditEvent.rs');
      expect(await found(admin, MARCH)).toEqual(['e1', 'e2', 'e4', 'e7', 'e8', 'e9', 'e10']);
      const platform = await user('adminAll', 'user/AuditEvent.rs');
      expect(await found(platform, MARCH)).toEqual(ALL);
    });

    it('a client with system/*.rs but no AuditEvent scope gets 403, and cannot ask for the scope either', async () => {
      const who = caller(app, await backendToken(app, 'wildcard-a', keys.wildcard, 'system/*.rs'));
      const res = await who.get(`/fhir/AuditEvent?${MARCH}`).expect(403);
      expect(issueOf(res.body).diagnostics).toMatch(/system\/AuditEvent\.s/);
      await who.get(`/fhir/AuditEvent/${event.e1}`).expect(403);
      // Its other data it still reaches.
      await who.get('/fhir/Patient').expect(200);
      const token = await tokenRequest(app, {
        grant_type: 'client_credentials',
        scope: 'system/AuditEvent.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: await assertion('wildcard-a', keys.wildcard),
      });
      expect([token.status, token.body.error]).toEqual([400, 'invalid_scope']);
    });

    it('an admin with only wildcard user/ scopes gets 403', async () => {
      const admin = await user('adminA', 'user/*.rs');
      expect(issueOf((await admin.get('/fhir/AuditEvent').expect(403)).body).diagnostics).toMatch(/user\/AuditEvent\.s/);
    });

    it('a clinician with user/AuditEvent.rs gets 403: not an operator', async () => {
      const clinician = await user('clinA', 'user/AuditEvent.rs user/*.rs');
      const res = await clinician.get('/fhir/AuditEvent').expect(403);
      expect(issueOf(res.body).diagnostics).toMatch(/the clinician role/);
      await clinician.get(`/fhir/AuditEvent/${event.e1}`).expect(403);
    });

    it('a patient with patient/AuditEvent.rs gets 403', async () => {
      const patient = await user('pA1', 'patient/AuditEvent.rs patient/*.rs', { fhirUser: `Patient/${id.pA1}` });
      await patient.get('/fhir/AuditEvent').expect(403);
      await patient.get(`/fhir/AuditEvent/${event.e9}`).expect(403);
    });

    it('never includes events in another type\'s search: _revinclude=AuditEvent:... answers only for an operator', async () => {
      // An auditor may follow a patient to their events; a clinician's Patient search leaves them out.
      const platform = await user('adminAll', 'user/AuditEvent.rs user/Patient.rs');
      const withEvents = await platform.get(`/fhir/Patient?_id=${id.pA1}&_revinclude=AuditEvent:patient`).expect(200);
      expect(entryIds(withEvents.body as Bundle, 'include')).toContain(event.e9);
      const clinician = await user('clinA', 'user/*.rs');
      const without = await clinician.get(`/fhir/Patient?_id=${id.pA1}&_revinclude=AuditEvent:patient`).expect(200);
      expect(entryIds(without.body as Bundle, 'match')).toEqual([id.pA1]);
      expect(entryIds(without.body as Bundle, 'include')).toEqual([]);
    });
  });

  it('every AuditEvent served validates against FHIR R4: those written here and those the gateway recorded for these requests', async () => {
    // A request without a token, and one refused, recorded too by now (or soon: whatever is there is checked).
    await request(app).get('/fhir/AuditEvent').expect(401);
    await (await user('clinA', 'user/*.rs')).get(`/fhir/Observation/${o1}`).expect(404);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const who = await auditorAll();
    const { pages } = await allPages(who, '/fhir/AuditEvent?_count=500');
    const events = pages.flatMap((page) => (page.entry ?? []).map((e) => e.resource as AuditEvent));
    expect(events.filter((e) => nameOf.has(e.id!))).toHaveLength(ALL.length);
    const issues = events.flatMap((e) => validateR4(e).map((issue) => `${e.id} (${e.type.code} ${e.subtype?.[0]?.code ?? ''}): ${issue}`));
    expect(issues).toEqual([]);
  });
});
