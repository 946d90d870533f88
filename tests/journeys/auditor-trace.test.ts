import crypto from 'node:crypto';
import type { AuditEvent, Bundle, DiagnosticReport, Patient } from 'fhir/r4';
import { createApp } from '../../src/app';
import type { AuditTrail } from '../../src/audit/trail';
import { registerClient } from '../../src/auth/clients';
import { loadConfig } from '../../src/config';
import { seedReferenceData } from '../../src/db/seed';
import { createLogger } from '../../src/logging';
import { listen } from '../../src/server';
import { auditTrail, summarize } from '../audit/support';
import { clientKey, type ClientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertAssessment, insertBiomarker, insertOrganization, userWithRole } from '../support/fixtures';
import { backendServiceToken, fhirKitClient, resourcesOf, walk, type FhirKitClient, type Gateway } from '../support/journey';

/**
 * A privacy officer's trace, driven with fhir-kit-client against a listening gateway: after an EHR
 * client has read a patient's reports (and a nurse station the patient's record), the auditor of the
 * clinic searches the audit log for the patient, pages through it two events a page following next
 * links, reads one event by id, narrows it to what happened since a moment, and answers: who (which
 * client, from which address) saw the patient's data, when, and how.
 */

const EHR_SCOPE = 'system/*.rs';
const NURSE_SCOPE = 'system/Patient.rs';
const AUDIT_SCOPE = 'system/AuditEvent.rs';

/** The gateway listening on an ephemeral port, writing to an audit trail the test owns (tests/support/journey.ts's startGateway, plus the trail). */
async function startAuditedGateway(db: TestDatabase, audit: AuditTrail): Promise<Gateway> {
  let baseUrl = '';
  const server = await listen(
    (port) => {
      baseUrl = `http://127.0.0.1:${port}`;
      return createApp({ config: loadConfig({ PORT: String(port), PUBLIC_BASE_URL: baseUrl }), db, logger: createLogger('silent'), audit });
    },
    0,
    '127.0.0.1',
  );
  return { server, baseUrl, fhirBase: `${baseUrl}/fhir` };
}

describe(`journey: an auditor traces who saw a patient (${testBackend()})`, () => {
  let db: TestDatabase;
  let audit: AuditTrail;
  let gateway: Gateway;
  let clinic: string;
  let patient: string;
  let neighbour: string;
  const reports: string[] = [];
  const keys: Record<string, ClientKey> = {};
  /** The instant the clients started: the trace's lower bound. */
  let start: string;

  const clientFor = async (clientId: string, scope: string): Promise<FhirKitClient> => {
    const client = await fhirKitClient(gateway.fhirBase);
    const { tokenUrl } = await client.smartAuthMetadata();
    client.bearerToken = (await backendServiceToken(String(tokenUrl), clientId, keys[clientId], scope)).access_token;
    return client;
  };

  beforeAll(async () => {
    db = await openTestDatabase();
    const ds = db.dataSource;
    await seedReferenceData(ds);
    clinic = await insertOrganization(ds, 'Traced Clinic');
    patient = await userWithRole(ds, clinic, 'Traced', 'patient');
    neighbour = await userWithRole(ds, clinic, 'Neighbour', 'patient');
    // The MediLens backend recorded three results for the patient, one for the neighbour (its trigger audits each).
    for (const pipeline of ['cardiology', 'retinal', 'cardiology']) {
      const report = await insertAssessment(ds, patient, clinic, pipeline);
      await insertBiomarker(ds, report, pipeline === 'retinal' ? 'vessel_density' : 'heart_rate', 70);
      reports.push(report);
    }
    await insertBiomarker(ds, await insertAssessment(ds, neighbour, clinic, 'cardiology'), 'heart_rate', 64);

    audit = auditTrail(db, `auditor-journey-${crypto.randomBytes(3).toString('hex')}@test`);
    gateway = await startAuditedGateway(db, audit);
    for (const [clientId, scope] of [['ehr-trace', EHR_SCOPE], ['nurse-station', NURSE_SCOPE], ['privacy-officer', AUDIT_SCOPE]]) {
      keys[clientId] = await clientKey('ES384');
      await registerClient(ds, { clientId, jwks: { keys: [keys[clientId].publicJwk] }, scope, organizationId: clinic });
    }
    [{ now: start }] = await ds.query(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`);
  });

  afterAll(async () => {
    await gateway?.server.stop(1000);
    await audit?.close();
    await db?.close();
  });

  it('finds who saw the patient, when, from where and under which client', async () => {
    // What happened: the EHR reads the patient and their reports with results, and one report; the nurse
    // station reads the patient; the EHR also looks at the neighbour's reports (not part of the trace).
    const ehr = await clientFor('ehr-trace', EHR_SCOPE);
    await ehr.read({ resourceType: 'Patient', id: patient });
    const pulled = await ehr.search({ resourceType: 'DiagnosticReport', searchParams: { patient, _include: 'DiagnosticReport:result' } });
    expect(resourcesOf<DiagnosticReport>(pulled, 'match').map((r) => r.id).sort()).toEqual([...reports].sort());
    await ehr.read({ resourceType: 'DiagnosticReport', id: reports[1] });
    await ehr.search({ resourceType: 'DiagnosticReport', searchParams: { patient: neighbour } });
    const nurse = await clientFor('nurse-station', NURSE_SCOPE);
    expect(((await nurse.read({ resourceType: 'Patient', id: patient })) as Patient).id).toBe(patient);
    // Reads reach the audit log within the trail's flush interval (milliseconds); flush() makes the wait exact.
    await audit.flush();

    const auditor = await clientFor('privacy-officer', AUDIT_SCOPE);

    // Everything about the patient, two events a page, following next links.
    const first = await auditor.search({ resourceType: 'AuditEvent', searchParams: { patient, _count: 2 } });
    const pages = await walk(auditor, first);
    expect(pages.length).toBeGreaterThanOrEqual(4);
    for (const page of pages.slice(0, -1)) expect(resourcesOf(page, 'match')).toHaveLength(2);
    const all = pages.flatMap((page) => resourcesOf<AuditEvent>(page, 'match'));
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    const story = (events: AuditEvent[]) =>
      events
        .map(summarize)
        .map((e) => [e.type, e.subtype, e.outcome, e.client, e.entities.map((x) => x.replace(/\/_history\/\d+$/, '')).join(' ')].join(' | '))
        .sort();
    expect(story(all)).toEqual(
      [
        // The MediLens backend's three results, before the trace's start.
        ...reports.map((r) => `110110 | assessment_created | 0 |  | DiagnosticReport/${r}`),
        `rest | read | 0 | ehr-trace | Patient/${patient}`,
        'rest | search-type | 0 | ehr-trace | ',
        `rest | read | 0 | ehr-trace | DiagnosticReport/${reports[1]}`,
        `rest | read | 0 | nurse-station | Patient/${patient}`,
      ].sort(),
    );

    // One event, read by id, is the one the search returned.
    const one = all.find((e) => summarize(e).client === 'nurse-station')!;
    expect(await auditor.read({ resourceType: 'AuditEvent', id: one.id! })).toEqual(one);

    // Since the start only, newest first: the accesses of the clients, not the backend's own records.
    const since = await walk(auditor, await auditor.search({ resourceType: 'AuditEvent', searchParams: { patient, date: `ge${start}`, _sort: '-date', _count: 2 } }));
    const recent = since.flatMap((page: Bundle) => resourcesOf<AuditEvent>(page, 'match'));
    expect(recent.map((e) => e.recorded)).toEqual(recent.map((e) => e.recorded).sort().reverse());
    expect(recent.every((e) => e.recorded >= start)).toBe(true);

    // The answer: who saw the patient's data (a successful read or search), from where, when, how.
    const seen = recent
      .map(summarize)
      .filter((e) => e.outcome === '0' && (e.action === 'R' || e.action === 'E'))
      .map((e) => ({ client: e.client, address: e.address, how: e.subtype, when: e.recorded }));
    expect(seen.map(({ client, address, how }) => ({ client, address, how }))).toEqual([
      { client: 'nurse-station', address: '127.0.0.1', how: 'read' },
      { client: 'ehr-trace', address: '127.0.0.1', how: 'read' },
      { client: 'ehr-trace', address: '127.0.0.1', how: 'search-type' },
      { client: 'ehr-trace', address: '127.0.0.1', how: 'read' },
    ]);
    const now = new Date().toISOString();
    expect(seen.every((e) => e.when >= start && e.when <= now)).toBe(true);
    // The EHR's search carries what it asked.
    const query = summarize(recent.find((e) => summarize(e).subtype === 'search-type')!).query!;
    expect(new URLSearchParams(query.split('?')[1]).get('patient')).toBe(patient);
    expect(new URLSearchParams(query.split('?')[1]).get('_include')).toBe('DiagnosticReport:result');

    // And from the other side: every FHIR interaction of the nurse station, by its client id (its token
    // requests are tests/audit/scenario.test.ts's concern).
    const nurseEvents = resourcesOf<AuditEvent>(
      await auditor.search({ resourceType: 'AuditEvent', searchParams: { agent: 'nurse-station', type: 'rest', date: `ge${start}` } }),
      'match',
    ).map(summarize);
    expect(nurseEvents.map((e) => [e.subtype, e.outcome, e.patients.join(' ')])).toEqual([['read', '0', `Patient/${patient}`]]);
  });
});
