import crypto from 'node:crypto';
import type { Bundle, DiagnosticReport, Observation, OperationOutcome, Patient } from 'fhir/r4';
import { registerClient } from '../../src/auth/clients';
import { seedReferenceData } from '../../src/db/seed';
import { clientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization } from '../support/fixtures';
import { backendServiceToken, failure, fhirKitClient, responseOf, startGateway, type FhirKitClient, type Gateway } from '../support/journey';

/**
 * A hospital's interface engine, driven with fhir-kit-client against a listening gateway: it registers a
 * patient by MRN (and registers them again when its message is replayed), corrects the demographics with
 * optimistic locking, pushes an ECG result as a transaction Bundle naming the patient by MRN, and
 * finally deletes a registration made in error. Another hospital's client never sees any of it.
 */

const MRN = 'http://hospital.example/mrn';
const SESSION = 'https://fhir.medilens.ai/sid/session-id';
const PIPELINE = 'https://fhir.medilens.ai/CodeSystem/pipeline';
const BIOMARKER = 'https://fhir.medilens.ai/CodeSystem/biomarker';
const SCOPE = 'system/Patient.cruds system/DiagnosticReport.crs system/Observation.crs';

describe(`journey: a hospital pushes patients and results (${testBackend()})`, () => {
  let db: TestDatabase;
  let gateway: Gateway;
  let hospital: FhirKitClient;
  let other: FhirKitClient;
  let clinic: string;

  async function clientFor(organization: string, id: string): Promise<FhirKitClient> {
    const key = await clientKey('ES384');
    await registerClient(db.dataSource, { clientId: id, jwks: { keys: [key.publicJwk] }, scope: SCOPE, organizationId: organization });
    const client = await fhirKitClient(gateway.fhirBase);
    const { tokenUrl } = await client.smartAuthMetadata();
    client.bearerToken = (await backendServiceToken(String(tokenUrl), id, key, SCOPE)).access_token;
    return client;
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    await seedReferenceData(db.dataSource);
    clinic = await insertOrganization(db.dataSource, 'General Hospital');
    const elsewhere = await insertOrganization(db.dataSource, 'Other Hospital');
    gateway = await startGateway(db);
    hospital = await clientFor(clinic, 'general-hospital-engine');
    other = await clientFor(elsewhere, 'other-hospital-engine');
  });
  afterAll(async () => {
    await gateway?.server.stop(1000);
    await db?.close();
  });

  const mrn = `MRN-${crypto.randomUUID().slice(0, 8)}`;
  const registration = (): Patient => ({
    resourceType: 'Patient',
    identifier: [{ use: 'usual', system: MRN, value: mrn }],
    name: [{ use: 'official', family: 'Okafor', given: ['Chidi'] }, { use: 'nickname', given: ['Chi'] }],
    telecom: [{ system: 'phone', value: '+1 555 0100', use: 'mobile' }],
    gender: 'male',
    birthDate: '1979-11-02',
    address: [{ line: ['12 Harbour Rd'], city: 'Portsmouth', postalCode: 'PO1 2AB', country: 'GB' }],
  });

  it('registers a patient once, however often the message is replayed, and reads back what it sent', async () => {
    const ifNoneExist = { headers: { 'If-None-Exist': `identifier=${MRN}|${mrn}` } };
    const first = (await hospital.create({ resourceType: 'Patient', body: registration(), options: ifNoneExist })) as Patient;
    const replayed = (await hospital.create({ resourceType: 'Patient', body: registration(), options: ifNoneExist })) as Patient;
    expect([responseOf(first).status, responseOf(replayed).status]).toEqual([201, 200]);
    expect(replayed.id).toBe(first.id);
    expect(responseOf(first).headers.get('location')).toBe(`${gateway.fhirBase}/Patient/${first.id}/_history/1`);

    const read = (await hospital.read({ resourceType: 'Patient', id: first.id! })) as Patient;
    const { meta, identifier, id, active, managingOrganization, ...rest } = read;
    const { identifier: sentIdentifier, resourceType: _type, ...sent } = registration();
    void _type;
    expect(rest).toEqual({ resourceType: 'Patient', ...sent });
    expect(identifier!.slice(1)).toEqual(sentIdentifier);
    expect([id, meta!.versionId, active, managingOrganization]).toEqual([first.id, '1', true, { reference: `Organization/${clinic}` }]);
    const found = await hospital.search({ resourceType: 'Patient', searchParams: { identifier: `${MRN}|${mrn}` } });
    expect(found.entry!.map((e) => e.resource!.id)).toEqual([first.id]);
  });

  it('corrects demographics with If-Match; a stale correction is refused and changes nothing', async () => {
    const [{ resource }] = (await hospital.search({ resourceType: 'Patient', searchParams: { identifier: `${MRN}|${mrn}` } })).entry!;
    const current = resource as Patient;
    const corrected = (await hospital.update({
      resourceType: 'Patient',
      id: current.id,
      body: { ...current, birthDate: '1979-11-20' },
      options: { headers: { 'If-Match': `W/"${current.meta!.versionId}"` } },
    })) as Patient;
    expect([corrected.birthDate, corrected.meta!.versionId]).toEqual(['1979-11-20', '2']);

    const stale = await failure(
      hospital.update({ resourceType: 'Patient', id: current.id, body: { ...current, gender: 'female' }, options: { headers: { 'If-Match': 'W/"1"' } } }),
    );
    expect(stale?.status).toBe(412);
    const patched = (await hospital.patch({ resourceType: 'Patient', id: current.id!, jsonPatch: [{ op: 'add', path: '/telecom/-', value: { system: 'email', value: 'chidi@example.org' } }] })) as Patient;
    expect([patched.gender, patched.meta!.versionId, patched.telecom!.map((t) => t.value)]).toEqual(['male', '3', ['+1 555 0100', 'chidi@example.org']]);
    const v1 = (await hospital.vread({ resourceType: 'Patient', id: current.id!, version: 1 })) as Patient;
    expect(v1.birthDate).toBe('1979-11-02');
  });

  it('pushes an ECG result as a transaction naming the patient by MRN; the report and its observations read back', async () => {
    const observations = [
      { code: 'heart_rate', value: 64, unit: '/min' },
      { code: 'qtc', value: 418, unit: 'ms' },
    ].map(({ code, value, unit }) => ({
      fullUrl: `urn:uuid:${crypto.randomUUID()}`,
      resource: {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: BIOMARKER, code }] },
        subject: { reference: `Patient?identifier=${MRN}|${mrn}` },
        valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
      } as Observation,
      request: { method: 'POST' as const, url: 'Observation' },
    }));
    const session = `ecg-${crypto.randomUUID()}`;
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: `urn:uuid:${crypto.randomUUID()}`,
          resource: {
            resourceType: 'DiagnosticReport',
            identifier: [{ system: SESSION, value: session }],
            status: 'final',
            category: [{ coding: [{ system: PIPELINE, code: 'cardiology' }] }],
            code: { coding: [{ system: 'http://loinc.org', code: '11524-6' }] },
            subject: { reference: `Patient?identifier=${MRN}|${mrn}` },
            effectiveDateTime: '2026-11-20T09:30:00Z',
            issued: '2026-11-20T09:31:00Z',
            result: observations.map((o) => ({ reference: o.fullUrl })),
          } as DiagnosticReport,
          request: { method: 'POST', url: 'DiagnosticReport' },
        },
        ...observations,
      ],
    };
    const response = await hospital.transaction({ body: bundle });
    expect(response.type).toBe('transaction-response');
    expect(response.entry!.map((e) => e.response!.status)).toEqual(['201 Created', '201 Created', '201 Created']);
    const [patient] = (await hospital.search({ resourceType: 'Patient', searchParams: { identifier: `${MRN}|${mrn}` } })).entry!;
    const reports = await hospital.search({ resourceType: 'DiagnosticReport', searchParams: { patient: patient.resource!.id!, _include: 'DiagnosticReport:result' } });
    const report = reports.entry!.find((e) => e.search?.mode === 'match')!.resource as DiagnosticReport;
    expect(report.identifier).toEqual([{ system: SESSION, value: session }]);
    expect(report.subject).toEqual({ reference: `Patient/${patient.resource!.id}` });
    const values = reports.entry!.filter((e) => e.search?.mode === 'include').map((e) => (e.resource as Observation).valueQuantity!.value);
    expect(values).toEqual([64, 418]);
    // Replayed: the session identifies the result; no second report.
    const again = await hospital.transaction({ body: bundle });
    expect(again.entry![0].response!.location).toBe(response.entry![0].response!.location);
    expect((await other.search({ resourceType: 'DiagnosticReport', searchParams: { patient: patient.resource!.id! } })).entry ?? []).toEqual([]);
  });

  it('deletes a registration made in error: later reads are 410, the history stays, the MRN is free again', async () => {
    const wrong = (await hospital.create({ resourceType: 'Patient', body: { ...registration(), identifier: [{ system: MRN, value: `${mrn}-dup` }] } })) as Patient;
    const outcome = (await hospital.delete({ resourceType: 'Patient', id: wrong.id! })) as OperationOutcome;
    expect(outcome.issue[0].diagnostics).toMatch(/deleted/);
    expect((await failure(hospital.read({ resourceType: 'Patient', id: wrong.id! })))?.status).toBe(410);
    const history = (await hospital.request(`Patient/${wrong.id}/_history`)) as Bundle;
    expect(history.entry!.map((e) => e.request!.method)).toEqual(['DELETE', 'POST']);
    const again = (await hospital.create({ resourceType: 'Patient', body: { ...registration(), identifier: [{ system: MRN, value: `${mrn}-dup` }] } })) as Patient;
    expect(again.id).not.toBe(wrong.id);
    expect((await failure(other.read({ resourceType: 'Patient', id: again.id! })))?.status).toBe(404);
  });
});
