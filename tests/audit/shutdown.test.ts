import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { once } from 'node:events';
import request from 'supertest';
import { openDatabase } from '../../src/db/datasource';
import { withMaintenanceContext } from '../../src/db/context';
import type { AuditTrail } from '../../src/audit/trail';
import { migrate } from '../../src/db/migrate';
import { seedReferenceData } from '../../src/db/seed';
import { registerClient } from '../../src/auth/clients';
import { backendToken, keyClient } from '../support/auth';
import { runTs } from '../support/child';
import { createScratchDatabase, openTestDatabase, testBackend, type ScratchDatabase, type TestDatabase } from '../support/database';
import { ENV } from '../support/env';
import { insertOrganization, userWithRole } from '../support/fixtures';
import { auditedApp, auditTrail } from './support';

/**
 * Reads are audited from memory, in batches: a shutdown that does not crash must write every queued
 * event (and access_logs row) before the database closes. In process: requests answered while the
 * flush timer never fires, then close(). A real gateway process: a burst of requests, SIGTERM right
 * after the last answer, exit 0, and every request id has its event.
 */

interface EventRow {
  request_id: string;
  event_type: string;
  subtype: string;
  outcome: number;
  entities: string[] | string;
  source: string | null;
}

/** Events and access_logs rows as the maintenance identity sees them (every organization). */
async function eventsFor(db: { dataSource: TestDatabase['dataSource'] }, requestIds: string[]): Promise<EventRow[]> {
  return withMaintenanceContext(db.dataSource, (tx) =>
    tx.query(`SELECT request_id, event_type, subtype, outcome, entities, source FROM audit_events WHERE request_id = ANY($1::text[]) ORDER BY seq`, [requestIds]),
  );
}
async function accessLogs(db: { dataSource: TestDatabase['dataSource'] }, userAgentPrefix: string): Promise<{ endpoint: string; method: string; status_code: number; user_agent: string }[]> {
  return withMaintenanceContext(db.dataSource, (tx) =>
    tx.query(`SELECT endpoint, method, status_code, user_agent FROM access_logs WHERE starts_with(user_agent, $1)`, [userAgentPrefix]),
  );
}
const textArray = (v: string[] | string): string[] => (Array.isArray(v) ? v : v.replace(/^\{|\}$/g, '').split(',').filter(Boolean));

describe(`audit trail on shutdown (${testBackend()})`, () => {
  describe('in process: close() writes what the timer never flushed', () => {
    let db: TestDatabase;
    let audit: AuditTrail;
    let server: http.Server;
    let patient: string;
    let token: string;

    beforeAll(async () => {
      db = await openTestDatabase({ poolSize: 10 });
      await seedReferenceData(db.dataSource);
      const org = await insertOrganization(db.dataSource, 'Shutdown Clinic');
      patient = await userWithRole(db.dataSource, org, 'Quiet', 'patient');
      // A flush interval no test outlives: only close() writes the queue.
      audit = auditTrail(db, 'shutdown-in-process@test', { flushIntervalMs: 60_000 });
      const app = auditedApp(db, audit);
      token = await backendToken(app, 'shutdown-reader', await keyClient(db, 'shutdown-reader', 'system/Patient.rs', org), 'system/Patient.rs');
      // The token request's event: written now, so that the queue holds the burst's only.
      await audit.flush();
      server = http.createServer(app);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    });
    afterAll(async () => {
      await audit?.close();
      await new Promise((resolve) => server?.close(resolve));
      await db?.close();
    });

    it('200 concurrent reads: none written while answering, all 200 events and access_logs rows after close()', async () => {
      const N = 200;
      const agent = `shutdown-burst-${crypto.randomUUID()}`;
      const responses = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          request(server).get(`/fhir/Patient/${patient}`).auth(token, { type: 'bearer' }).set('User-Agent', `${agent}/${i}`),
        ),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(N).fill(200));
      const ids = responses.map((r) => r.headers['x-request-id'] as string);
      expect(new Set(ids).size).toBe(N);
      // Give 'close' handlers their turn: every response has ended.
      await new Promise((resolve) => setImmediate(resolve));

      // Answered, but nothing stored yet: the queue holds every event.
      expect(audit.pending).toBe(N);
      expect(await eventsFor(db, ids)).toEqual([]);
      expect(await accessLogs(db, agent)).toEqual([]);

      await audit.close();
      expect(audit.pending).toBe(0);
      const events = await eventsFor(db, ids);
      expect(events.map((e) => e.request_id).sort()).toEqual([...ids].sort());
      for (const e of events) {
        expect({ type: e.event_type, subtype: e.subtype, outcome: Number(e.outcome), entities: textArray(e.entities).map((x) => x.replace(/\/_history\/\d+$/, '')) }).toEqual({
          type: 'rest',
          subtype: 'read',
          outcome: 0,
          entities: [`Patient/${patient}`],
        });
      }
      const logs = await accessLogs(db, agent);
      expect(logs.map((l) => l.user_agent).sort()).toEqual(Array.from({ length: N }, (_, i) => `${agent}/${i}`).sort());
      expect(logs.every((l) => l.endpoint === `/fhir/Patient/${patient}` && l.method === 'GET' && Number(l.status_code) === 200)).toBe(true);
    });
  });

  describe('a real gateway process stopped with SIGTERM right after a burst', () => {
    let scratch: ScratchDatabase;
    beforeAll(async () => {
      scratch = await createScratchDatabase();
    });
    afterAll(() => scratch?.drop());

    /**
     * The scratch database migrated (embedded: from the run's PGlite snapshot) with a clinic, a patient and a
     * client_secret_basic client, prepared here so that the gateway starts without migrating or generating
     * demo data (the test stays well under a minute on PGlite too).
     */
    async function prepare(): Promise<{ clientId: string; secret: string; scope: string; patient: string }> {
      const snapshot = process.env[ENV.snapshot];
      const db = await openDatabase(scratch.config, testBackend() === 'embedded' ? { loadDataDir: new Blob([fs.readFileSync(snapshot!)]) } : {});
      try {
        await migrate(db.dataSource);
        const org = await insertOrganization(db.dataSource, 'Shutdown Hospital');
        const patient = await userWithRole(db.dataSource, org, 'Burst', 'patient');
        const scope = 'system/Patient.rs system/DiagnosticReport.rs system/Observation.rs';
        const { secret } = await registerClient(db.dataSource, { clientId: 'shutdown-burst', secret: true, scope, organizationId: org });
        return { clientId: 'shutdown-burst', secret: secret!, scope, patient };
      } finally {
        await db.close();
      }
    }

    it('exits 0 and every request of the burst has its AuditEvent and access_logs row', async () => {
      const { clientId, secret, scope, patient } = await prepare();
      const source = `shutdown-child-${crypto.randomBytes(3).toString('hex')}@test`;
      const phiKeys: Record<string, string> = testBackend() === 'embedded' ? {} : { PHI_KEYS: `k1:${crypto.randomBytes(32).toString('base64')}` };
      const child = runTs('src/main.ts', [], { ...scratch.env, ...phiKeys, PORT: '0', AUDIT_SOURCE: source });
      let exited = false;
      try {
        const [, base] = await child.waitFor(/listening on (http:\/\/\S+)/);

        const agent = `shutdown-child-burst-${crypto.randomUUID()}`;
        const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
        const tokenRequest = (i: number, auth = basic) =>
          fetch(`${base}/auth/token`, {
            method: 'POST',
            headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded', 'user-agent': `${agent}/token/${i}` },
            body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
          });
        const tokens = await Promise.all([0, 1, 2, 3].map((i) => tokenRequest(i)));
        expect(tokens.map((r) => r.status)).toEqual([200, 200, 200, 200]);
        const refused = await tokenRequest(4, `Basic ${Buffer.from(`${clientId}:wrong-secret`).toString('base64')}`);
        expect(refused.status).toBe(401);
        const { access_token: token } = (await tokens[0].json()) as { access_token: string };
        await Promise.all(tokens.slice(1).map((r) => r.body?.cancel()));

        const paths = [
          `/fhir/Patient/${patient}`,
          `/fhir/DiagnosticReport?patient=${patient}&_include=DiagnosticReport:result&_count=2`,
          `/fhir/Observation?patient=${patient}&_count=5`,
          `/fhir/Patient/${patient}/_history`,
        ];
        const burst = await Promise.all(
          Array.from({ length: 60 }, (_, i) =>
            fetch(`${base}${paths[i % paths.length]}`, { headers: { authorization: `Bearer ${token}`, 'user-agent': `${agent}/read/${i}` } }).then(async (r) => {
              await r.arrayBuffer();
              return r;
            }),
          ),
        );
        const unauthenticated = await fetch(`${base}/fhir/Patient/${patient}`, { headers: { 'user-agent': `${agent}/anonymous` } });
        await unauthenticated.arrayBuffer();
        // The last answer is in: stop at once.
        child.process.kill('SIGTERM');
        expect(await child.exited()).toBe(0);
        exited = true;

        expect(burst.map((r) => r.status)).toEqual(Array(60).fill(200));
        expect(unauthenticated.status).toBe(401);
        const responses = [...tokens, refused, ...burst, unauthenticated];
        const ids = responses.map((r) => r.headers.get('x-request-id')!);
        expect(new Set(ids).size).toBe(responses.length);

        const db = await openDatabase(scratch.config);
        try {
          const events = await eventsFor(db as TestDatabase, ids);
          const byId = new Map<string, EventRow[]>();
          for (const e of events) byId.set(e.request_id, [...(byId.get(e.request_id) ?? []), e]);
          const missing = ids.filter((rid) => !byId.has(rid));
          expect(missing).toEqual([]);
          // One event per request, each as the request was answered.
          const summary = (rid: string) => byId.get(rid)!.map((e) => `${e.event_type}:${e.subtype}:${Number(e.outcome)}`);
          expect(tokens.map((r) => summary(r.headers.get('x-request-id')!))).toEqual(Array(4).fill(['login:login:0']));
          expect(summary(refused.headers.get('x-request-id')!)).toEqual(['login:login:4']);
          expect(burst.map((r) => summary(r.headers.get('x-request-id')!)[0])).toEqual(
            burst.map((_, i) => `rest:${['read', 'search-type', 'search-type', 'history-instance'][i % 4]}:0`),
          );
          expect(burst.every((r) => byId.get(r.headers.get('x-request-id')!)!.length === 1)).toBe(true);
          expect(summary(unauthenticated.headers.get('x-request-id')!)).toEqual(['rest:read:4']);
          expect(new Set(events.map((e) => e.source))).toEqual(new Set([source]));
          const logs = await accessLogs(db as TestDatabase, agent);
          expect(logs).toHaveLength(responses.length);
        } finally {
          await db.close();
        }
      } finally {
        if (!exited) {
          child.process.kill('SIGKILL');
          await child.exited();
        }
      }
    }, 120_000);
  });
});
