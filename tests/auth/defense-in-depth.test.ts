import type { EntityManager } from 'typeorm';
import { dbIdentity, type AccessContext, type RowAccess } from '../../src/auth/access';
import { RESOURCE_TYPES } from '../../src/auth/resource-types';
import { parseScopes } from '../../src/auth/scopes';
import { withDbContext } from '../../src/db/context';
import type { ResourceDefinition } from '../../src/search/definition';
import { readRow, searchPage, sortColumns } from '../../src/search/query';
import { observationDefinition } from '../../src/search/resources/observation';
import { patientDefinition } from '../../src/search/resources/patient';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertAssessment, insertBiomarker, insertOrganization, userWithRole } from '../support/fixtures';

/**
 * Defense in depth: with the application's access predicate deliberately switched off (a RowAccess
 * that allows every row of every organization), the database's row-level security alone still confines
 * each caller, given only the identity dbIdentity() derives from the caller's access context.
 */

const CANONICAL = 'https://fhir.medilens.test';
const DEFINITIONS = {
  Patient: patientDefinition(CANONICAL) as ResourceDefinition<{ id: string; version_id: number; deleted_at: null }>,
  Observation: observationDefinition(CANONICAL) as ResourceDefinition<{ id: string; version_id: number; deleted_at: null }>,
};
type Type = keyof typeof DEFINITIONS;

/** The application-level filter bypassed: no tenant, no compartment, one unfiltered alternative. */
const allowEverything = (resourceType: Type): RowAccess => ({
  resourceType,
  organizationId: null,
  allOrganizations: true,
  compartment: null,
  alternatives: [{ patientId: null, filters: [] }],
});

const scopes = (text: string) => parseScopes(text, RESOURCE_TYPES).resource;

describe(`RLS confines callers when the application filter is bypassed (${testBackend()})`, () => {
  let db: TestDatabase;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    db = await openTestDatabase();
    const ds = db.dataSource;
    ids.orgA = await insertOrganization(ds, 'Clinic A');
    ids.orgB = await insertOrganization(ds, 'Clinic B');
    ids.pA1 = await userWithRole(ds, ids.orgA, 'PatientA1', 'patient');
    ids.pA2 = await userWithRole(ds, ids.orgA, 'PatientA2', 'patient');
    ids.pB = await userWithRole(ds, ids.orgB, 'PatientB', 'patient');
    ids.clinicianA = await userWithRole(ds, ids.orgA, 'ClinicianA', 'clinician');
    ids.clinicianB = await userWithRole(ds, ids.orgB, 'ClinicianB', 'clinician');

    const cardiologyA1 = await insertAssessment(ds, ids.pA1, ids.orgA, 'cardiology');
    ids.hrA1 = await insertBiomarker(ds, cardiologyA1, 'heart_rate', 72);
    ids.qrsA1 = await insertBiomarker(ds, cardiologyA1, 'qrs_duration', 96);
    ids.vesselA1 = await insertBiomarker(ds, await insertAssessment(ds, ids.pA1, ids.orgA, 'retinal'), 'vessel_density', 0.42);
    ids.hrA2 = await insertBiomarker(ds, await insertAssessment(ds, ids.pA2, ids.orgA, 'cardiology'), 'heart_rate', 64);
    ids.hrB = await insertBiomarker(ds, await insertAssessment(ds, ids.pB, ids.orgB, 'cardiology'), 'heart_rate', 80);
  });
  afterAll(() => db?.close());

  /** Access contexts as bearer.ts would build them, written out by hand. */
  const callers = (): Record<string, AccessContext> => {
    const user = {
      kind: 'user' as const,
      clientId: 'defense-app',
      fhirUser: null,
      allOrganizations: false,
      identifiable: true,
    };
    return {
      '(a) backend client bound to org A': {
        kind: 'client',
        clientId: 'defense-client',
        subject: 'defense-client',
        fhirUser: null,
        scopes: scopes('system/*.read'),
        userId: null,
        role: 'system',
        organizationId: ids.orgA,
        allOrganizations: false,
        patientId: null,
        compartment: null,
        identifiable: true,
      },
      '(b) clinician of A': {
        ...user,
        subject: 'clerk_clinician_a',
        scopes: scopes('user/*.read'),
        userId: ids.clinicianA,
        role: 'clinician',
        organizationId: ids.orgA,
        patientId: null,
        compartment: null,
      },
      '(c) patient pA1': {
        ...user,
        subject: 'clerk_patient_a1',
        scopes: scopes('patient/*.read'),
        userId: ids.pA1,
        role: 'patient',
        organizationId: ids.orgA,
        patientId: ids.pA1,
        compartment: ids.pA1,
      },
      '(d) clinician of A with only patient/ scopes, in the patient context of pA1': {
        ...user,
        subject: 'clerk_clinician_a',
        scopes: scopes('patient/*.read patient/Observation.rs'),
        userId: ids.clinicianA,
        role: 'clinician',
        organizationId: ids.orgA,
        patientId: ids.pA1,
        compartment: null,
      },
    };
  };

  /** What RLS alone must leave visible to each caller. */
  const expected = (): Record<string, Record<Type, string[]>> => {
    const orgA = { Patient: [ids.pA1, ids.pA2], Observation: [ids.hrA1, ids.qrsA1, ids.vesselA1, ids.hrA2] };
    const pA1 = { Patient: [ids.pA1], Observation: [ids.hrA1, ids.qrsA1, ids.vesselA1] };
    return {
      '(a) backend client bound to org A': orgA,
      '(b) clinician of A': orgA,
      '(c) patient pA1': pA1,
      '(d) clinician of A with only patient/ scopes, in the patient context of pA1': pA1,
    };
  };

  const CALLERS = [
    '(a) backend client bound to org A',
    '(b) clinician of A',
    '(c) patient pA1',
    '(d) clinician of A with only patient/ scopes, in the patient context of pA1',
  ];
  const TYPES: Type[] = ['Patient', 'Observation'];
  const sorted = (list: string[]) => [...list].sort();

  /** The unrestricted query, run inside the caller's database context. */
  const asCaller = <T>(caller: string, work: (tx: EntityManager) => Promise<T>) =>
    withDbContext(db.dataSource, dbIdentity(callers()[caller]), work);
  const searchAll = async (tx: EntityManager, type: Type) =>
    (await searchPage(tx, DEFINITIONS[type], allowEverything(type), [], sortColumns(DEFINITIONS[type], []), null, 1000, 'http://gateway.test/fhir')).rows.map((r) => r.id);

  it('dbIdentity carries the tenant and, where it confines, the patient', () => {
    const c = callers();
    expect(dbIdentity(c['(a) backend client bound to org A'])).toEqual({
      userId: null,
      organizationId: ids.orgA,
      role: 'system',
      patientId: null,
      allOrganizations: false,
    });
    expect(dbIdentity(c['(b) clinician of A'])).toMatchObject({ userId: ids.clinicianA, organizationId: ids.orgA, role: 'clinician', patientId: null });
    expect(dbIdentity(c['(c) patient pA1'])).toMatchObject({ userId: ids.pA1, role: 'patient', patientId: ids.pA1 });
    expect(dbIdentity(c['(d) clinician of A with only patient/ scopes, in the patient context of pA1'])).toMatchObject({
      userId: ids.clinicianA,
      role: 'clinician',
      patientId: ids.pA1,
    });
  });

  it('without RLS (the test superuser, no context) the same query sees both organizations', async () => {
    const manager = db.dataSource.manager;
    expect(sorted(await searchAll(manager, 'Patient'))).toEqual(sorted([ids.pA1, ids.pA2, ids.pB]));
    expect(sorted(await searchAll(manager, 'Observation'))).toEqual(sorted([ids.hrA1, ids.qrsA1, ids.vesselA1, ids.hrA2, ids.hrB]));
    expect((await readRow(manager, DEFINITIONS.Patient, allowEverything('Patient'), ids.pB))?.row.id).toBe(ids.pB);
    expect((await readRow(manager, DEFINITIONS.Observation, allowEverything('Observation'), ids.hrB))?.row.id).toBe(ids.hrB);
  });

  describe.each(CALLERS)('%s', (caller) => {
    it.each(TYPES)('a search for every %s returns only what RLS lets through', async (type) => {
      const found = await asCaller(caller, (tx) => searchAll(tx, type));
      expect(sorted(found)).toEqual(sorted(expected()[caller][type]));
    });

    it.each(TYPES)('a read of the other organization\'s %s finds nothing', async (type) => {
      const id = type === 'Patient' ? ids.pB : ids.hrB;
      expect(await asCaller(caller, (tx) => readRow(tx, DEFINITIONS[type], allowEverything(type), id))).toBeNull();
    });

    it.each(TYPES)('a read of pA2\'s %s finds it only with organization-wide reach', async (type) => {
      const id = type === 'Patient' ? ids.pA2 : ids.hrA2;
      const result = await asCaller(caller, (tx) => readRow(tx, DEFINITIONS[type], allowEverything(type), id));
      const visible = expected()[caller][type].includes(id);
      expect(result?.row.id ?? null).toBe(visible ? id : null);
    });

    it.each(TYPES)('a read of pA1\'s own %s succeeds', async (type) => {
      const id = type === 'Patient' ? ids.pA1 : ids.hrA1;
      const result = await asCaller(caller, (tx) => readRow(tx, DEFINITIONS[type], allowEverything(type), id));
      expect(result).toEqual({ row: expect.objectContaining({ id }), deleted: false });
    });
  });

  it('a clinician with user/ scopes next to patient/ ones is bounded by the organization in RLS (the application narrows further)', async () => {
    const mixed: AccessContext = {
      ...callers()['(d) clinician of A with only patient/ scopes, in the patient context of pA1'],
      scopes: scopes('patient/*.read user/Observation.rs'),
    };
    expect(dbIdentity(mixed).patientId).toBeNull();
    const found = await withDbContext(db.dataSource, dbIdentity(mixed), (tx) => searchAll(tx, 'Observation'));
    expect(sorted(found)).toEqual(sorted([ids.hrA1, ids.qrsA1, ids.vesselA1, ids.hrA2]));
  });
});

/** A user of the organization holding one role there (roles are not seeded by the migrations). */
