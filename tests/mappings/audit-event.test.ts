import type { AuditEvent, Resource } from 'fhir/r4';
import { textArray, toAuditEvent, type AuditEventRow } from '../../mappings/audit-event';
import { loadR4Definitions, validateR4 as validate } from '../support/validate';

/**
 * audit_events rows (as fhir_audit_event shows them) -> IHE BALP AuditEvents: each kind of event the
 * gateway and the MediLens backend record, every one validated against the FHIR R4 base definitions.
 */

const ctx = { canonicalBase: 'https://fhir.example.org' };
const base = ctx.canonicalBase;
const BALP = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

const ID = {
  event: '0b6c1f6e-2d5a-4f3e-9a41-5f0e8f1d2a01',
  patient1: '1e0f5a4b-7c2d-4e8f-9a1b-000000000001',
  patient2: '1e0f5a4b-7c2d-4e8f-9a1b-000000000002',
  patient3: '1e0f5a4b-7c2d-4e8f-9a1b-000000000003',
  clinician: '2a0f5a4b-7c2d-4e8f-9a1b-00000000000c',
  observation: '3c0f5a4b-7c2d-4e8f-9a1b-0000000000b1',
  assessment: '4d0f5a4b-7c2d-4e8f-9a1b-0000000000a1',
  org: '5e0f5a4b-7c2d-4e8f-9a1b-0000000000f1',
};
const SOURCE = 'medilens-fhir-gateway@gw-1';

/** A successful read of one Observation by a clinician through an EHR app. */
function restRow(overrides: Partial<AuditEventRow> = {}): AuditEventRow {
  return {
    id: ID.event,
    organization_id: ID.org,
    patient_id: null,
    version_id: 1,
    last_updated: new Date('2026-05-01T10:00:00.123Z'),
    deleted_at: null,
    recorded: new Date('2026-05-01T10:00:00.123Z'),
    seq: '42',
    event_type: 'rest',
    subtype: 'read',
    action_code: 'R',
    outcome: 0,
    outcome_desc: null,
    request_id: 'req-0001',
    client_id: 'ehr-client',
    subject: 'user_2abc',
    fhir_user: `Practitioner/${ID.clinician}`,
    user_id: ID.clinician,
    actor_type: 'user',
    address: '10.0.0.7',
    user_agent: 'fhir-kit-client/1.9',
    source: SOURCE,
    query: null,
    entities: [`Observation/${ID.observation}`],
    patients: [ID.patient1],
    organizations: [ID.org],
    resource_type: 'Observation',
    resource_id: ID.observation,
    details: { versions: { [`Observation/${ID.observation}`]: '2' } },
    ...overrides,
  };
}

/** The MediLens backend's trigger: a clinician created an assessment. */
function triggerRow(overrides: Partial<AuditEventRow> = {}): AuditEventRow {
  return restRow({
    event_type: 'assessment_created',
    subtype: null,
    action_code: 'C',
    request_id: null,
    client_id: null,
    subject: null,
    fhir_user: null,
    user_id: ID.clinician,
    actor_type: 'user',
    address: null,
    user_agent: null,
    source: null,
    entities: [],
    patients: [ID.patient1],
    resource_type: 'assessment',
    resource_id: ID.assessment,
    details: { source: 'trigger', status: 'completed', patient_id: ID.patient1 },
    ...overrides,
  });
}

const CLIENT_AGENT = (requestor: boolean) => ({
  type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
  who: { identifier: { system: `${base}/sid/client-id`, value: 'ehr-client' } },
  requestor,
  network: { address: '10.0.0.7', type: '2' },
});
const SERVER_AGENT = {
  type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
  who: { display: SOURCE },
  requestor: false,
  network: { address: 'gw-1', type: '1' },
};
const TRANSACTION = { what: { identifier: { value: 'req-0001' } }, type: { system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', code: 'XrequestId', display: 'X-Request-Id' } };
const patientEntity = (id: string) => ({
  what: { reference: `Patient/${id}` },
  type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
  role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
});
const dataEntity = (reference: string) => ({
  what: { reference },
  type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
  role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
});
const SOURCE_TYPE = [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }];

const mapped: [string, AuditEvent][] = [];
const map = (name: string, row: AuditEventRow): AuditEvent => {
  const event = toAuditEvent(row, ctx);
  mapped.push([name, event]);
  return event;
};

describe('toAuditEvent', () => {
  beforeAll(() => loadR4Definitions());

  it('a successful read of a patient\'s Observation by a clinician: BALP PatientRead', () => {
    expect(map('read', restRow())).toEqual({
      resourceType: 'AuditEvent',
      id: ID.event,
      meta: { versionId: '1', lastUpdated: '2026-05-01T10:00:00.123Z', profile: [`${BALP}/IHE.BasicAudit.PatientRead`] },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read', display: 'read' }],
      action: 'R',
      recorded: '2026-05-01T10:00:00.123Z',
      outcome: '0',
      agent: [
        CLIENT_AGENT(false),
        SERVER_AGENT,
        {
          type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
          who: { reference: `Practitioner/${ID.clinician}` },
          altId: 'user_2abc',
          requestor: true,
        },
      ],
      source: { observer: { display: SOURCE }, type: SOURCE_TYPE },
      entity: [TRANSACTION, dataEntity(`Observation/${ID.observation}/_history/2`), patientEntity(ID.patient1)],
    });
  });

  it('a search touching three patients: the query base64-encoded, BALP Query (PatientQuery has exactly one patient)', () => {
    const query = `/fhir/DiagnosticReport?patient=${ID.patient1},${ID.patient2},${ID.patient3}&_include=DiagnosticReport:result&name=Zoë`;
    const event = map(
      'search',
      restRow({ subtype: 'search-type', action_code: 'E', query, entities: [], patients: [ID.patient1, ID.patient2, ID.patient3], resource_type: 'DiagnosticReport', resource_id: null, details: {} }),
    );
    expect(event.meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.Query`]);
    expect(event.subtype).toEqual([{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type', display: 'search-type' }]);
    expect(event.action).toBe('E');
    expect(event.entity).toEqual([
      TRANSACTION,
      {
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' },
        query: Buffer.from(query, 'utf8').toString('base64'),
      },
      patientEntity(ID.patient1),
      patientEntity(ID.patient2),
      patientEntity(ID.patient3),
    ]);
    expect(Buffer.from(event.entity![1].query!, 'base64').toString('utf8')).toBe(query);
    // One patient: PatientQuery.
    expect(toAuditEvent(restRow({ subtype: 'search-type', action_code: 'E', query, entities: [], patients: [ID.patient1] }), ctx).meta?.profile).toEqual([
      `${BALP}/IHE.BasicAudit.PatientQuery`,
    ]);
  });

  it('a create by a backend client (its sub is its client id: no user agent), with the version written: BALP PatientCreate', () => {
    const event = map(
      'create',
      restRow({
        subtype: 'create',
        action_code: 'C',
        subject: 'ehr-client',
        fhir_user: null,
        user_id: null,
        actor_type: 'system',
        entities: [`Patient/${ID.patient1}`],
        patients: [ID.patient1],
        resource_type: 'Patient',
        resource_id: null,
        details: { versions: { [`Patient/${ID.patient1}`]: '1' } },
      }),
    );
    expect(event.meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.PatientCreate`]);
    expect(event.agent).toEqual([CLIENT_AGENT(true), SERVER_AGENT]);
    expect(event.entity).toEqual([TRANSACTION, dataEntity(`Patient/${ID.patient1}/_history/1`), patientEntity(ID.patient1)]);
  });

  it('an update or delete by a user: the user is the author (BALP Create/Update/Delete take AUT, not IRCP)', () => {
    const update = map('update', restRow({ subtype: 'update', action_code: 'U', entities: [`Patient/${ID.patient1}`], details: { versions: { [`Patient/${ID.patient1}`]: '3' } } }));
    expect(update.meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.PatientUpdate`]);
    expect(update.agent[2].type?.coding).toEqual([{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'AUT', display: 'author (originator)' }]);
    const patch = map('patch', restRow({ subtype: 'patch', action_code: 'U', entities: [`Patient/${ID.patient1}`], patients: [] }));
    expect(patch.meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.Update`]);
    const del = map('delete', restRow({ subtype: 'delete', action_code: 'D', entities: [`Patient/${ID.patient1}`], details: {} }));
    expect(del.meta?.profile).toEqual([`${BALP}/IHE.BasicAudit.PatientDelete`]);
    expect(del.entity![1]).toEqual(dataEntity(`Patient/${ID.patient1}`));
  });

  it('a refused read (403, outcome 4) without a patient: no profile, the description kept', () => {
    const event = map(
      'denied',
      restRow({ outcome: 4, outcome_desc: 'The token does not permit read of Observation', entities: [`Observation/${ID.observation}`], patients: [], details: {} }),
    );
    expect(event.meta).toEqual({ versionId: '1', lastUpdated: '2026-05-01T10:00:00.123Z' });
    expect(event).toMatchObject({ outcome: '4', outcomeDesc: 'The token does not permit read of Observation', action: 'R' });
    expect(event.entity).toEqual([TRANSACTION, dataEntity(`Observation/${ID.observation}`)]);
  });

  it('a request without a usable token (401): an unidentified client is still an agent with who, and the requestor', () => {
    const event = map(
      'unauthenticated',
      restRow({ outcome: 4, outcome_desc: 'A bearer access token is required', client_id: null, subject: null, fhir_user: null, user_id: null, actor_type: 'api', patients: [], details: {} }),
    );
    expect(event.meta?.profile).toBeUndefined();
    expect(event.agent).toEqual([
      {
        type: { coding: [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
        who: { display: 'unidentified client' },
        requestor: true,
        network: { address: '10.0.0.7', type: '2' },
      },
      SERVER_AGENT,
    ]);
  });

  it('a token request: DICOM User Authentication / Login, success and failure', () => {
    const login = { event_type: 'login', subtype: 'login', action_code: 'E', subject: null, fhir_user: null, user_id: null, actor_type: 'api', entities: [], patients: [], resource_type: null, resource_id: null, details: {} };
    const ok = map('login', restRow({ ...login, client_id: 'ehr-client' }));
    expect(ok).toMatchObject({
      type: { system: DCM, code: '110114', display: 'User Authentication' },
      subtype: [{ system: DCM, code: '110122', display: 'Login' }],
      action: 'E',
      outcome: '0',
      agent: [CLIENT_AGENT(true), SERVER_AGENT],
      entity: [TRANSACTION],
    });
    expect(ok.meta?.profile).toBeUndefined();
    const failed = map('login failure', restRow({ ...login, client_id: null, outcome: 4, outcome_desc: 'invalid_client: the client assertion is not signed' }));
    expect(failed).toMatchObject({ outcome: '4', outcomeDesc: 'invalid_client: the client assertion is not signed' });
    expect(failed.agent[0].who).toEqual({ display: 'unidentified client' });
  });

  it("the MediLens backend's trigger: Patient Record, the backend and the user as agents, the assessment as its DiagnosticReport", () => {
    expect(map('trigger', triggerRow())).toEqual({
      resourceType: 'AuditEvent',
      id: ID.event,
      meta: { versionId: '1', lastUpdated: '2026-05-01T10:00:00.123Z' },
      type: { system: DCM, code: '110110', display: 'Patient Record' },
      subtype: [{ system: `${base}/CodeSystem/audit-event`, code: 'assessment_created', display: 'Assessment created' }],
      action: 'C',
      recorded: '2026-05-01T10:00:00.123Z',
      outcome: '0',
      agent: [
        { type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] }, who: { display: 'MediLens backend' }, requestor: false },
        {
          type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'AUT', display: 'author (originator)' }] },
          who: { identifier: { system: `${base}/sid/user-id`, value: ID.clinician } },
          requestor: true,
        },
      ],
      source: { observer: { display: 'MediLens backend' }, type: SOURCE_TYPE },
      entity: [dataEntity(`DiagnosticReport/${ID.assessment}`), patientEntity(ID.patient1)],
    });
    // Without a user (the backend's own job): the backend is the requestor.
    const system = map('trigger without user', triggerRow({ user_id: null, actor_type: 'system', event_type: 'assessment_deleted', action_code: 'D' }));
    expect(system.agent).toEqual([{ type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] }, who: { display: 'MediLens backend' }, requestor: true }]);
    expect(system.subtype?.[0].code).toBe('assessment_deleted');
  });

  it('another MediLens backend event: Application Activity; an action outside C/R/U/D/E is left out', () => {
    const event = map('backend', triggerRow({ event_type: 'report_exported', action_code: 'export', resource_type: 'report', resource_id: ID.assessment, patients: [] }));
    expect(event).toMatchObject({
      type: { system: DCM, code: '110100', display: 'Application Activity' },
      subtype: [{ system: `${base}/CodeSystem/audit-event`, code: 'report_exported', display: 'Report exported' }],
      entity: [
        {
          what: { identifier: { value: ID.assessment }, display: 'report' },
          type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
        },
      ],
    });
    expect(event.action).toBeUndefined();
  });

  it('maps the JSONB form (string timestamps with microseconds) and Postgres array literals like the live row', () => {
    const live = toAuditEvent(restRow(), ctx);
    const snapshot = toAuditEvent(
      restRow({
        recorded: '2026-05-01T10:00:00.123456+00:00',
        last_updated: '2026-05-01T10:00:00.123456+00:00',
        seq: 42,
        patients: `{${ID.patient1}}`,
        entities: `{Observation/${ID.observation}}`,
      }),
      ctx,
    );
    expect(snapshot).toEqual(live);
    expect(textArray('{a,"b c","d\\"e",NULL}')).toEqual(['a', 'b c', 'd"e']);
    expect(textArray('{}')).toEqual([]);
    expect(textArray(null)).toEqual([]);
  });

  it('an absolute fhirUser and a fhirUser of a type agents cannot reference', () => {
    const absolute = toAuditEvent(restRow({ fhir_user: `https://ehr.example/fhir/Practitioner/${ID.clinician}` }), ctx);
    expect(absolute.agent[2].who).toEqual({ reference: `https://ehr.example/fhir/Practitioner/${ID.clinician}` });
    const person = map('person', restRow({ fhir_user: `Person/${ID.clinician}` }));
    expect(person.agent[2]).toMatchObject({ who: { identifier: { system: `${base}/sid/user-id`, value: ID.clinician } }, altId: 'user_2abc' });
    const subjectOnly = map('subject only', restRow({ fhir_user: null, user_id: null }));
    expect(subjectOnly.agent[2].who).toEqual({ identifier: { value: 'user_2abc' } });
    expect(subjectOnly.agent[2].altId).toBeUndefined();
  });

  it('every resource above validates against the FHIR R4 base definitions with zero issues', () => {
    expect(mapped.length).toBeGreaterThanOrEqual(14);
    const issues = mapped.flatMap(([name, event]) => validate(event).map((issue) => `${name}: ${issue}`));
    expect(issues).toEqual([]);
    // The validator is live: an agent without requestor (1..1 in R4) does not pass.
    const broken = { ...mapped[0][1], agent: [{ who: { display: 'x' } }] } as unknown as Resource;
    expect(validate(broken).join('\n')).toMatch(/requestor/);
  });
});
