import crypto from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import { loadConfig } from '../../src/config';
import { withMaintenanceContext } from '../../src/db/context';
import { resourceDefinitions } from '../../src/search/registry';
import { backendToken, GATEWAY, keyClient, testApp } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization, insertUser, userWithRole } from '../support/fixtures';

const SERVED = ['Patient', 'Practitioner', 'Observation', 'DiagnosticReport', 'Device', 'Organization', 'Provenance', 'AuditEvent'];
const PATIENT_WRITES = ['create', 'update', 'patch', 'delete'] as const;
const INTERACTIONS = ['read', 'vread', 'history-instance', 'history-type', 'search-type'];
/** AuditEvent: an event never changes, so it has no versions to read back or list. */
const LOG_INTERACTIONS = ['read', 'search-type'];
const interactionsOf = (type: string): string[] => (type === 'AuditEvent' ? LOG_INTERACTIONS : INTERACTIONS);
const RESULT_PARAMETERS = ['_count', '_total', '_summary', '_elements', '_sort'];

/**
 * /fhir/metadata says what the server does, and everything it says it does answers: generated from the
 * route table and the resource definitions, it must match both.
 */
describe(`CapabilityStatement (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  let token: string;
  let statement: CapabilityStatement;
  /** One live resource id of each served type. */
  const ids: Record<string, string> = {};
  const definitions = resourceDefinitions(loadConfig({ PORT: '0', PUBLIC_BASE_URL: GATEWAY }).canonicalBase);

  const resourceOf = (type: string): CapabilityStatementRestResource => {
    const found = statement.rest![0].resource!.find((r) => r.type === type);
    if (!found) throw new Error(`${type} is not in the CapabilityStatement`);
    return found;
  };

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
    const org = await insertOrganization(db.dataSource, 'Clinic');
    const patient = await insertUser(db.dataSource, org, 'Pat');
    const clinician = await userWithRole(db.dataSource, org, 'Doc', 'clinician');
    const [model] = await db.dataSource.query(
      `INSERT INTO model_registry (pipeline_type, model_name, version, is_active) VALUES ('cardiology', 'ecg-net', '1.0.0', true) RETURNING id`,
    );
    const [assessment] = await db.dataSource.query(
      `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, status, completed_at) VALUES ($1, $2, $3, 'cardiology', 'completed', now()) RETURNING id`,
      [`session_${crypto.randomUUID()}`, patient, org],
    );
    const [biomarker] = await db.dataSource.query(`INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit) VALUES ($1, 'heart_rate', 70, '/min') RETURNING id`, [
      assessment.id,
    ]);
    const [event] = await withMaintenanceContext(db.dataSource, (tx) =>
      tx.query(
        `INSERT INTO audit_events (actor_type, event_type, subtype, action, client_id, source, organizations)
         VALUES ('system', 'rest', 'read', 'R', 'cap-probe', 'capability-test@probe', ARRAY[$1::uuid]) RETURNING id`,
        [org],
      ),
    );
    Object.assign(ids, {
      AuditEvent: event.id,
      Patient: patient,
      Practitioner: clinician,
      Observation: biomarker.id,
      DiagnosticReport: assessment.id,
      Device: model.id,
      Organization: org,
      Provenance: assessment.id,
    });
    // A client of every organization: the models (Device) belong to no organization. The audit log takes a scope of its own.
    const scope = 'system/*.rs system/AuditEvent.rs';
    token = await backendToken(app, 'cap', await keyClient(db, 'cap', scope, null), scope);
    statement = (await request(app).get('/fhir/metadata').expect(200)).body;
  });
  afterAll(() => db.close());

  it('is public FHIR JSON: an R4 (4.0.1) server instance that instantiates the US Core server', async () => {
    const res = await request(app).get('/fhir/metadata').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(statement).toMatchObject({
      resourceType: 'CapabilityStatement',
      status: 'active',
      kind: 'instance',
      fhirVersion: '4.0.1',
      implementation: { url: `${GATEWAY}/fhir` },
    });
    expect(statement.instantiates).toContain('http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server');
    expect(statement.format).toEqual(expect.arrayContaining(['application/fhir+json']));
    expect(statement.rest).toHaveLength(1);
    expect(statement.rest![0].mode).toBe('server');
    expect(statement.rest![0].security?.service?.[0].coding?.[0].code).toBe('SMART-on-FHIR');
    const oauth = statement.rest![0].security?.extension?.find((e) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    expect(oauth?.extension).toContainEqual({ url: 'token', valueUri: `${GATEWAY}/auth/token` });
  });

  it('lists exactly the served types, each versioned with read, vread, history-instance, history-type and search-type (AuditEvent: read and search-type)', () => {
    expect(statement.rest![0].resource!.map((r) => r.type).sort()).toEqual([...SERVED].sort());
    expect([...definitions.keys()].sort()).toEqual([...SERVED].sort());
    for (const type of SERVED) {
      const resource = resourceOf(type);
      const expected = type === 'Patient' ? [...INTERACTIONS, ...PATIENT_WRITES] : interactionsOf(type);
      expect([type, resource.interaction!.map((i) => i.code).sort()]).toEqual([type, [...expected].sort()]);
      expect([type, resource.updateCreate, resource.conditionalCreate, resource.conditionalUpdate]).toEqual(
        type === 'Patient' ? [type, true, true, true] : [type, false, undefined, undefined],
      );
      expect([type, resource.versioning, resource.readHistory]).toEqual([type, 'versioned', type !== 'AuditEvent']);
    }
  });

  it("lists as searchParam exactly the definitions' parameter tables plus the result parameters, with their types", () => {
    for (const [type, def] of definitions) {
      const params = resourceOf(type).searchParam!;
      const names = params.map((p) => p.name);
      expect([type, [...names].sort()]).toEqual([type, [...Object.keys(def.parameters), ...RESULT_PARAMETERS].sort()]);
      expect([type, names.length]).toEqual([type, new Set(names).size]);
      for (const [name, parameter] of Object.entries(def.parameters)) {
        const listed = params.find((p) => p.name === name)!;
        expect([type, name, listed.type]).toEqual([type, name, parameter.type]);
        if (parameter.definition) expect([type, name, listed.definition]).toEqual([type, name, parameter.definition]);
      }
    }
    // The US Core SHALL parameters are among them.
    const names = (type: string) => resourceOf(type).searchParam!.map((p) => p.name);
    expect(names('Patient')).toEqual(expect.arrayContaining(['_id', 'identifier', 'name', 'birthdate', 'gender']));
    expect(names('Observation')).toEqual(expect.arrayContaining(['patient', 'category', 'code', 'date', 'status']));
    expect(names('DiagnosticReport')).toEqual(expect.arrayContaining(['patient', 'category', 'code', 'date', 'status']));
  });

  it('lists searchInclude and searchRevInclude from the definitions, Provenance:target on reports and observations', () => {
    for (const [type, def] of definitions) {
      const includes = Object.entries(def.includes).map(([name, inc]) => `${type}:${name}:${inc.target}`);
      expect([type, [...(resourceOf(type).searchInclude ?? [])].sort()]).toEqual([type, includes.sort()]);
    }
    expect(resourceOf('DiagnosticReport').searchInclude).toEqual(
      expect.arrayContaining(['DiagnosticReport:result:Observation', 'DiagnosticReport:patient:Patient', 'DiagnosticReport:subject:Patient']),
    );
    expect(resourceOf('Observation').searchInclude).toEqual(expect.arrayContaining(['Observation:patient:Patient', 'Observation:device:Device']));
    expect(resourceOf('Patient').searchInclude).toEqual(['Patient:organization:Organization']);
    expect(resourceOf('DiagnosticReport').searchRevInclude).toContain('Provenance:target');
    expect(resourceOf('Observation').searchRevInclude).toContain('Provenance:target');
    // What is listed is what a search accepts.
    for (const type of SERVED) {
      for (const rev of resourceOf(type).searchRevInclude ?? []) expect([type, rev, definitions.get(rev.split(':')[0])?.parameters[rev.split(':')[1]]?.type]).toEqual([type, rev, 'reference']);
    }
  });

  it('every listed interaction of every type answers (one request each, none 404 or 405)', async () => {
    // The current version of each (a clinician's user row was a version 1 before the role made it a Practitioner).
    // AuditEvent's unlisted interactions are unknown routes.
    for (const path of [`/fhir/AuditEvent/${ids.AuditEvent}/_history/1`, `/fhir/AuditEvent/${ids.AuditEvent}/_history`, '/fhir/AuditEvent/_history']) {
      expect([path, (await request(app).get(path).auth(token, { type: 'bearer' })).status]).toEqual([path, 404]);
    }
    const versions: Record<string, string> = {};
    for (const type of SERVED) {
      versions[type] = (await request(app).get(`/fhir/${type}/${ids[type]}`).auth(token, { type: 'bearer' }).expect(200)).body.meta.versionId;
    }
    const paths: Record<string, (type: string, id: string) => string> = {
      read: (t, id) => `/fhir/${t}/${id}`,
      vread: (t, id) => `/fhir/${t}/${id}/_history/${versions[t]}`,
      'history-instance': (t, id) => `/fhir/${t}/${id}/_history`,
      'history-type': (t) => `/fhir/${t}/_history`,
      'search-type': (t, id) => `/fhir/${t}?_id=${id}`,
    };
    const answers: string[] = [];
    const wrong: string[] = [];
    for (const resource of statement.rest![0].resource!) {
      for (const { code } of resource.interaction!) {
        if ((PATIENT_WRITES as readonly string[]).includes(code)) continue; // answered below, with a write token
        const path = paths[code](resource.type, ids[resource.type]);
        const res = await request(app).get(path).auth(token, { type: 'bearer' });
        answers.push(`${code} ${path}`);
        if (res.status !== 200) {
          wrong.push(`${code} ${path} -> ${res.status} ${res.body.issue?.[0]?.diagnostics ?? ''}`);
          continue;
        }
        if (code === 'read' || code === 'vread') expect(res.body).toMatchObject({ resourceType: resource.type, id: ids[resource.type] });
        if (code === 'search-type') expect(res.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([ids[resource.type]]);
        if (code.startsWith('history')) expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'history' });
      }
    }
    expect(answers).toHaveLength(SERVED.reduce((n, type) => n + interactionsOf(type).length, 0));
    expect(wrong).toEqual([]);
    // The Patient writes, each on a Patient of its own making.
    const writer = await backendToken(app, 'cap-writer', await keyClient(db, 'cap-writer', 'system/Patient.cud', ids.Organization), 'system/Patient.cud');
    const w = (r: request.Test, type = 'application/fhir+json') => r.auth(writer, { type: 'bearer' }).set('Content-Type', type);
    const created = await w(request(app).post('/fhir/Patient')).send(JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Cap' }] }));
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await w(request(app).put(`/fhir/Patient/${id}`)).send(JSON.stringify({ resourceType: 'Patient', id, name: [{ family: 'Cap2' }] }))).status).toBe(200);
    const patched = await w(request(app).patch(`/fhir/Patient/${id}`), 'application/json-patch+json').send(JSON.stringify([{ op: 'add', path: '/gender', value: 'other' }]));
    expect([patched.status, patched.body.gender]).toEqual([200, 'other']);
    expect((await w(request(app).delete(`/fhir/Patient/${id}`))).status).toBe(200);
    expect(statement.patchFormat).toEqual(['application/json-patch+json']);
    expect(statement.rest![0].interaction?.map((i) => i.code)).toEqual(['transaction', 'batch']);
    // And POST _search, which the statement documents, answers too.
    const posted = await request(app).post('/fhir/Patient/_search').auth(token, { type: 'bearer' }).type('form').send({ _id: ids.Patient }).expect(200);
    expect(posted.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([ids.Patient]);
  });

  it('claims no interaction it does not have: other types are not created, updated or deleted directly', async () => {
    const auth = (r: request.Test) => r.auth(token, { type: 'bearer' }).set('Content-Type', 'application/fhir+json');
    for (const type of SERVED.filter((t) => t !== 'Patient')) {
      for (const res of [
        await auth(request(app).post(`/fhir/${type}`)).send(JSON.stringify({ resourceType: type })),
        await auth(request(app).put(`/fhir/${type}/${ids[type]}`)).send(JSON.stringify({ resourceType: type, id: ids[type] })),
        await auth(request(app).delete(`/fhir/${type}/${ids[type]}`)),
      ]) {
        expect([type, [404, 405].includes(res.status)]).toEqual([type, true]);
        expect(res.body.resourceType).toBe('OperationOutcome');
      }
      await request(app).get(`/fhir/${type}/${ids[type]}`).auth(token, { type: 'bearer' }).expect(200);
    }
  });
});
