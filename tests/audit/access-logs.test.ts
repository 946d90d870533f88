import crypto from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import type { AuditTrail } from '../../src/audit/trail';
import { withMaintenanceContext } from '../../src/db/context';
import { seedReferenceData } from '../../src/db/seed';
import { backendToken, ExternalIdp, keyClient, type ClientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, userWithRole } from '../support/fixtures';
import { auditedApp, auditTrail } from './support';

/**
 * access_logs: one row per HTTP request, whatever it was (FHIR, token endpoint, health check, unknown
 * route), with the path only (a query string carries PHI), method, status, response time, address and
 * user agent, and the MediLens user when a user's token was used. Written by the trail's flusher, never
 * while the request is answered: with a flush interval the test never reaches, the rows appear only
 * after flush().
 */

interface LogRow {
  user_id: string | null;
  endpoint: string;
  method: string;
  status_code: number;
  response_time_ms: number;
  address: string | null;
  user_agent: string;
}

describe(`access_logs (${testBackend()})`, () => {
  let db: TestDatabase;
  let idp: ExternalIdp;
  let audit: AuditTrail;
  let app: Express;
  let key: ClientKey;
  const id: Record<string, string> = {};
  const SCOPE = 'system/Patient.cruds';
  const MRN = 'http://hospital.example/mrn';

  beforeAll(async () => {
    db = await openTestDatabase();
    await seedReferenceData(db.dataSource);
    idp = await ExternalIdp.start();
    audit = auditTrail(db, 'access-logs@test', { flushIntervalMs: 60_000 });
    app = auditedApp(db, audit, idp.env());
    id.org = await insertOrganization(db.dataSource, 'Logged Clinic');
    id.patient = await userWithRole(db.dataSource, id.org, 'Logged', 'patient');
    id.clinician = await userWithRole(db.dataSource, id.org, 'Logging', 'clinician');
    [{ clerk_user_id: id.clinicianSub }] = await db.dataSource.query(`SELECT clerk_user_id FROM users WHERE id = $1`, [id.clinician]);
    key = await keyClient(db, 'access-logged', SCOPE, id.org);
  });
  afterAll(async () => {
    await audit?.close();
    await idp?.stop();
    await db?.close();
  });

  const rows = (agent: string): Promise<LogRow[]> =>
    withMaintenanceContext(db.dataSource, (tx) =>
      tx.query(
        `SELECT user_id, endpoint, method, status_code, response_time_ms, host(ip_address) AS address, user_agent
           FROM access_logs WHERE starts_with(user_agent, $1) ORDER BY user_agent`,
        [agent],
      ),
    );

  it('one row per request (FHIR, token, /healthz, an unknown route), path only, written only when the trail flushes', async () => {
    const agent = `access-log-test-${crypto.randomUUID()}`;
    const ua = (name: string) => `${agent}/${name}`;
    const token = await backendToken(app, 'access-logged', key, SCOPE);
    const clinician = await idp.token({ sub: id.clinicianSub, scope: 'user/*.rs', fhirUser: `Practitioner/${id.clinician}` });
    const mrn = `MRN-LOG-${crypto.randomUUID().slice(0, 8)}`;
    const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

    const sent: [string, request.Test, number][] = [
      ['a-search', request(app).get(`/fhir/Patient?identifier=${encodeURIComponent(`${MRN}|${mrn}`)}&family=Secretname&birthdate=1980-04-01`).set(bearer(token)), 200],
      ['b-read', request(app).get(`/fhir/Patient/${id.patient}?_format=json`).set(bearer(token)), 200],
      ['c-user-read', request(app).get(`/fhir/Patient/${id.patient}`).set(bearer(clinician)), 200],
      [
        'd-create',
        request(app)
          .post('/fhir/Patient')
          .set({ ...bearer(token), 'Content-Type': 'application/fhir+json' })
          .send(JSON.stringify({ resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }], name: [{ family: 'Secretname' }], birthDate: '1980-04-01' })),
        201,
      ],
      ['e-unauthenticated', request(app).get('/fhir/Observation?patient=someone'), 401],
      ['f-metadata', request(app).get('/fhir/metadata'), 200],
      ['g-healthz', request(app).get('/healthz'), 200],
      ['h-unknown', request(app).get('/no/such/route?mrn=MRN-1234'), 404],
      ['i-token', request(app).post('/auth/token').type('form').send({ grant_type: 'client_credentials', scope: SCOPE, client_id: 'access-logged' }), 401],
    ];
    const answered = await Promise.all(sent.map(([name, req]) => req.set('User-Agent', ua(name))));
    expect(answered.map((r) => r.status)).toEqual(sent.map(([, , status]) => status));
    await new Promise((resolve) => setImmediate(resolve));

    // Every request has been answered; no row yet (the write's AuditEvent is in, its access log row is not).
    expect(await rows(agent)).toEqual([]);
    await audit.flush();

    const logged = await rows(agent);
    const ms = logged.map((r) => r.response_time_ms);
    expect(ms.every((t) => Number.isInteger(t) && t >= 0 && t < 60_000)).toBe(true);
    expect(logged.map(({ response_time_ms, ...rest }) => ({ ...rest, status_code: Number(rest.status_code) }))).toEqual([
      { user_agent: ua('a-search'), endpoint: '/fhir/Patient', method: 'GET', status_code: 200, user_id: null, address: '127.0.0.1' },
      { user_agent: ua('b-read'), endpoint: `/fhir/Patient/${id.patient}`, method: 'GET', status_code: 200, user_id: null, address: '127.0.0.1' },
      { user_agent: ua('c-user-read'), endpoint: `/fhir/Patient/${id.patient}`, method: 'GET', status_code: 200, user_id: id.clinician, address: '127.0.0.1' },
      { user_agent: ua('d-create'), endpoint: '/fhir/Patient', method: 'POST', status_code: 201, user_id: null, address: '127.0.0.1' },
      { user_agent: ua('e-unauthenticated'), endpoint: '/fhir/Observation', method: 'GET', status_code: 401, user_id: null, address: '127.0.0.1' },
      { user_agent: ua('f-metadata'), endpoint: '/fhir/metadata', method: 'GET', status_code: 200, user_id: null, address: '127.0.0.1' },
      { user_agent: ua('g-healthz'), endpoint: '/healthz', method: 'GET', status_code: 200, user_id: null, address: '127.0.0.1' },
      { user_agent: ua('h-unknown'), endpoint: '/no/such/route', method: 'GET', status_code: 404, user_id: null, address: '127.0.0.1' },
      { user_agent: ua('i-token'), endpoint: '/auth/token', method: 'POST', status_code: 401, user_id: null, address: '127.0.0.1' },
    ]);
    // Nothing a query string or body carried: no MRN, no name, no birth date.
    expect(JSON.stringify(logged)).not.toMatch(/MRN|Secretname|1980-04-01|\?/);
  });

  it('a request answered before the flush still gets exactly one row: a second flush writes nothing more', async () => {
    const agent = `access-log-once-${crypto.randomUUID()}`;
    await request(app).get('/healthz').set('User-Agent', agent).expect(200);
    await new Promise((resolve) => setImmediate(resolve));
    await audit.flush();
    await audit.flush();
    expect((await rows(agent)).map((r) => [r.endpoint, Number(r.status_code)])).toEqual([['/healthz', 200]]);
  });
});
