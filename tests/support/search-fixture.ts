import crypto from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { seedReferenceData } from '../../src/db/seed';

/**
 * A small, controlled dataset for search tests: every value is chosen so that each query of the
 * search tests has an exact, hand-computed answer. Rows are written as the superuser test connection,
 * each person and each assessment (with its biomarkers) in one transaction so that no trigger bumps a
 * version: lastUpdated is exactly the created_at given here.
 */

export const HOSPITAL_MRN = 'http://hospital.example/mrn';
export const OTHER_MRN = 'http://other.example/mrn';

type OrgKey = 'A' | 'B';

interface PersonSpec {
  first: string | null;
  last: string | null;
  birth: string | null;
  gender: string | null;
  org: OrgKey | null;
  created: string;
  role: 'patient' | 'clinician';
  identifiers?: [system: string, value: string][];
}

export const PEOPLE = {
  zoe: { first: 'Zoë', last: 'Ångström', birth: '1990-03-01', gender: 'female', org: 'A', created: '2025-01-15T10:00:00Z', role: 'patient' },
  zoe2: { first: 'Zoe', last: 'Angstrom', birth: '1990-03-31', gender: 'F', org: 'A', created: '2025-06-30T23:59:59Z', role: 'patient' },
  bjorn: {
    first: 'Björn', last: 'Lindqvist', birth: '1985-02-28', gender: 'male', org: 'A', created: '2025-07-01T00:00:00Z', role: 'patient',
    identifiers: [[HOSPITAL_MRN, 'MRN-001']],
  },
  ann: {
    first: 'Ann', last: 'Smith', birth: '1990-04-01', gender: 'female', org: 'B', created: '2025-09-01T12:00:00Z', role: 'patient',
    identifiers: [[HOSPITAL_MRN, 'MRN-002']],
  },
  hannes: {
    first: 'Hannes', last: 'Kowalski', birth: '2000-12-31', gender: 'M', org: 'B', created: '2025-09-01T13:00:00Z', role: 'patient',
    identifiers: [[OTHER_MRN, 'MRN-001'], [OTHER_MRN, 'X|Y']],
  },
  anon: { first: null, last: null, birth: null, gender: null, org: null, created: '2025-09-02T00:00:00Z', role: 'patient' },
  oliver: { first: 'Oliver', last: 'Oxbow', birth: '1990-02-28', gender: 'non-binary', org: 'A', created: '2025-09-03T00:00:00Z', role: 'patient' },
  clara: { first: 'Clara', last: 'Ångström', birth: '1980-05-05', gender: 'female', org: 'A', created: '2025-02-01T00:00:00Z', role: 'clinician' },
} satisfies Record<string, PersonSpec>;
export type PersonKey = keyof typeof PEOPLE;
export type PatientKey = Exclude<PersonKey, 'clara'>;
export const PATIENTS = Object.keys(PEOPLE).filter((k) => k !== 'clara') as PatientKey[];

interface BiomarkerSpec {
  key: string;
  name: string;
  value: number;
  unit: string;
}

interface AssessmentSpec {
  patient: PatientKey;
  pipeline: string;
  at: string;
  status: 'completed' | 'failed' | 'processing' | 'pending';
  review?: boolean;
  deleted?: boolean;
  biomarkers: BiomarkerSpec[];
}

const bm = (key: string, name: string, value: number, unit: string): BiomarkerSpec => ({ key, name, value, unit });

/** Assessments (DiagnosticReports; Provenance when completed) and their biomarkers (Observations). */
export const ASSESSMENTS = {
  a0: { patient: 'bjorn', pipeline: 'cognitive', at: '2020-01-01T00:00:00Z', status: 'completed', biomarkers: [bm('mem0', 'memory_score', 0.8, '1')] },
  a1: {
    patient: 'zoe', pipeline: 'cardiology', at: '2026-02-28T23:30:00Z', status: 'completed',
    biomarkers: [bm('hr1', 'heart_rate', 72, '/min'), bm('qrs1', 'qrs_duration', 96, 'ms')],
  },
  a2: { patient: 'zoe', pipeline: 'cardiology', at: '2026-03-01T00:00:00Z', status: 'completed', review: true, biomarkers: [bm('hr2', 'heart_rate', 58, 'bpm')] },
  a3: { patient: 'zoe', pipeline: 'retinal', at: '2026-03-31T23:59:59.999Z', status: 'completed', biomarkers: [bm('ves3', 'vessel_density', 0.42, '1')] },
  a4: { patient: 'zoe2', pipeline: 'cardiology', at: '2026-04-01T00:00:00Z', status: 'failed', biomarkers: [bm('hr4', 'heart_rate', 110, 'beats/min')] },
  a5: { patient: 'ann', pipeline: 'speech', at: '2026-03-15T12:00:00+02:00', status: 'completed', biomarkers: [bm('jit5', 'jitter', 1.25, '%')] },
  a6: {
    patient: 'zoe2', pipeline: 'cardiology', at: '2026-03-10T08:00:00Z', status: 'processing',
    biomarkers: [bm('sdnn6', 'sdnn', 5.4, 'ms'), bm('rmssd6', 'rmssd', 5.45, 'ms'), bm('pnn50_6', 'pnn50', 5.35, '%')],
  },
  a7: { patient: 'oliver', pipeline: 'dermatology', at: '2026-03-20T00:00:00Z', status: 'pending', biomarkers: [] },
  a8: { patient: 'hannes', pipeline: 'radiology', at: '2026-01-15T00:00:00Z', status: 'completed', biomarkers: [bm('nod8', 'nodule_max_diameter', 4, 'mm')] },
  // Soft-deleted: must never appear in a search, whatever matches it.
  a9: { patient: 'zoe', pipeline: 'cardiology', at: '2026-03-05T00:00:00Z', status: 'completed', deleted: true, biomarkers: [bm('hr9', 'heart_rate', 72, '/min')] },
} satisfies Record<string, AssessmentSpec>;
export type AssessmentKey = keyof typeof ASSESSMENTS;
export type ObservationKey = (typeof ASSESSMENTS)[AssessmentKey]['biomarkers'][number]['key'];

export interface SearchFixture {
  org: Record<OrgKey, string>;
  person: Record<PersonKey, string>;
  assessment: Record<AssessmentKey, string>;
  observation: Record<string, string>;
}

export const ORGANIZATIONS: Record<OrgKey, { name: string; type: string }> = {
  A: { name: 'Northwind Clinic', type: 'clinic' },
  B: { name: 'Ärztehaus Süd', type: 'hospital' },
};

export async function createSearchFixture(ds: DataSource): Promise<SearchFixture> {
  await seedReferenceData(ds);
  const org = {} as Record<OrgKey, string>;
  for (const [key, spec] of Object.entries(ORGANIZATIONS) as [OrgKey, { name: string; type: string }][]) {
    [{ id: org[key] }] = await ds.query(`INSERT INTO organizations (name, type, created_at) VALUES ($1, $2, '2024-01-01T00:00:00Z') RETURNING id`, [
      spec.name,
      spec.type,
    ]);
  }
  const person = {} as Record<PersonKey, string>;
  for (const [key, spec] of Object.entries(PEOPLE) as [PersonKey, PersonSpec][]) {
    person[key] = await ds.transaction((tx) => insertPerson(tx, spec, spec.org === null ? null : org[spec.org]));
  }
  const assessment = {} as Record<AssessmentKey, string>;
  const observation: Record<string, string> = {};
  for (const [key, spec] of Object.entries(ASSESSMENTS) as [AssessmentKey, AssessmentSpec][]) {
    const owner = PEOPLE[spec.patient];
    await ds.transaction(async (tx) => {
      [{ id: assessment[key] }] = await tx.query(
        `INSERT INTO assessments (session_id, user_id, organization_id, pipeline_type, status, requires_review, risk_score, created_at, completed_at, deleted_at)
         VALUES ($1, $2, $3, $4, $5::varchar, $6, 42, $7::timestamptz, CASE WHEN $5::varchar = 'completed' THEN $7::timestamptz + interval '1 minute' END,
                 CASE WHEN $8::boolean THEN $7::timestamptz + interval '1 hour' END)
         RETURNING id`,
        [`session_${crypto.randomUUID()}`, person[spec.patient], owner.org === null ? null : org[owner.org], spec.pipeline, spec.status, spec.review ?? false, spec.at, spec.deleted ?? false],
      );
      for (const b of spec.biomarkers) {
        [{ id: observation[b.key] }] = await tx.query(
          `INSERT INTO biomarker_values (assessment_id, biomarker_name, value, unit, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
          [assessment[key], b.name, b.value, b.unit, spec.at],
        );
      }
    });
  }
  return { org, person, assessment, observation };
}

async function insertPerson(tx: EntityManager, spec: PersonSpec, organizationId: string | null): Promise<string> {
  const [{ id }] = await tx.query(
    `INSERT INTO users (clerk_user_id, email, first_name, last_name, date_of_birth, gender, organization_id, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
    [`user_${crypto.randomUUID()}`, `${crypto.randomUUID()}@example.org`, spec.first, spec.last, spec.birth, spec.gender, organizationId, spec.created],
  );
  await tx.query(`INSERT INTO user_roles (user_id, role_id, organization_id) SELECT $1, id, $3 FROM roles WHERE name = $2`, [id, spec.role, organizationId]);
  for (const [position, [system, value]] of (spec.identifiers ?? []).entries()) {
    await tx.query(`INSERT INTO patient_identifiers (user_id, organization_id, system, value, position) VALUES ($1, $2, $3, $4, $5)`, [
      id,
      organizationId,
      system,
      value,
      position,
    ]);
  }
  return id;
}
