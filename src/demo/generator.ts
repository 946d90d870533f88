import type { DataSource, QueryRunner } from 'typeorm';
import { withMaintenanceContext } from '../db/context';
import { seedReferenceData } from '../db/seed';
import { encryptField, PHI_COLUMNS } from '../phi/cipher';
import type { PhiKeyRing } from '../phi/keyring';
import { addPatientAssessments } from './assessments';
import { makeMedicalRecord } from './medical';
import { iso, makeClinician, makeOrganization, makePatient, type Organization, type Patient } from './people';
import { hashString, hex8, Random } from './random';
import { Batch } from './writer';

/**
 * Deterministic synthetic MediLens data: organizations, clinicians, patients and their assessments across
 * all six pipelines. The same seed and sizes give exactly the same rows, primary keys and timestamps
 * included: ids come from seeded streams (v4-shaped UUIDs), times from a fixed epoch (see people.ts).
 *
 * Re-running with the same seed and sizes: when the dataset's last patient is already present the run is
 * skipped (`skipped: true`, nothing written); otherwise every insert is ON CONFLICT DO NOTHING, so a run
 * that stopped half-way is completed rather than duplicated. Different sizes make a different dataset
 * (the key hashes seed and sizes), which is added next to the first one.
 *
 * Writing: the reference data (roles, models) is seeded first when missing; then organizations and
 * clinicians, then batches of patients with everything of theirs, each batch one transaction of one
 * `INSERT ... SELECT * FROM unnest(...)` per table (writer.ts), two batches in flight while the next is
 * generated. Every transaction runs as the table owner with the maintenance identity that the row-level
 * security policies admit, so a non-superuser owner (Neon) can write through FORCE ROW LEVEL SECURITY.
 */

export interface DemoOptions {
  patients: number;
  assessmentsPerPatient: number;
  seed: number;
  /** Default: one per 250 patients (1 to 50). */
  organizations?: number;
  /** Default: one per 40 patients, at least one per organization. */
  clinicians?: number;
  /** Called after each committed batch with assessments written so far and in total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Encrypts each patient's medical history, medications and allergies under the ring's current key.
   * Without a ring those columns keep their default '[]' (tests and the benchmark that never read them).
   */
  phiKeys?: PhiKeyRing;
}

export interface DemoSummary {
  /** Rows this call inserted (all 0 when skipped). */
  organizations: number;
  patients: number;
  clinicians: number;
  assessments: number;
  biomarkerValues: number;
  /** Rows inserted into all tables together (users, profiles, roles, stages, results ... too). */
  totalRows: number;
  /** The dataset's organizations, whether this call created them or found them. */
  organizationIds: string[];
  skipped: boolean;
  elapsedMs: number;
}

/** Assessments per transaction: a few thousand biomarker rows per INSERT statement. */
const ASSESSMENTS_PER_BATCH = 500;

/** Concurrent writing transactions (the batch being generated overlaps them). */
const WRITERS = 2;

const STREAM = { organization: 1, clinician: 2, patient: 3, assessment: 4, medical: 5 } as const;

export interface DemoSizes {
  patients: number;
  assessmentsPerPatient: number;
  seed: number;
  organizations: number;
  clinicians: number;
}

/** Fills in the defaults and checks the sizes; throws a RangeError naming the bad option. */
export function demoSizes(opts: Omit<DemoOptions, 'onProgress' | 'phiKeys'>): DemoSizes {
  const check = (name: string, value: number, min: number, max: number): number => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
    }
    return value;
  };
  const patients = check('patients', opts.patients, 1, 10_000_000);
  const organizations = check('organizations', opts.organizations ?? Math.min(50, Math.ceil(patients / 250)), 1, 10_000);
  return {
    patients,
    assessmentsPerPatient: check('assessmentsPerPatient', opts.assessmentsPerPatient, 0, 1_000),
    seed: check('seed', opts.seed, 0, 2 ** 32 - 1),
    organizations,
    clinicians: check('clinicians', opts.clinicians ?? Math.max(organizations, Math.ceil(patients / 40)), 0, 1_000_000),
  };
}

export async function generateDemoData(ds: DataSource, opts: DemoOptions): Promise<DemoSummary> {
  const started = Date.now();
  const sizes = demoSizes(opts);
  const dataset = new Dataset(sizes, opts.phiKeys ?? null);
  const summary: DemoSummary = {
    organizations: 0, patients: 0, clinicians: 0, assessments: 0, biomarkerValues: 0, totalRows: 0,
    organizationIds: dataset.organizations.map((o) => o.id), skipped: false, elapsedMs: 0,
  };

  await seedReferenceData(ds);
  const roles = await roleIds(ds);
  const done = await inMaintenance(ds, async (q) => {
    const rows = await q.query('SELECT 1 FROM users WHERE id = $1', [dataset.patient(sizes.patients - 1).id]);
    return (rows as unknown[]).length > 0;
  });
  if (done) {
    summary.skipped = true;
    summary.elapsedMs = Date.now() - started;
    return summary;
  }

  // Organizations and clinicians first: every batch of patients refers to them.
  await inMaintenance(ds, async (q) => {
    const batch = new Batch();
    for (const org of dataset.organizations) batch.add('organizations', org.row);
    for (let i = 0; i < sizes.clinicians; i++) {
      const c = dataset.clinician(i);
      batch.add('users', c.user);
      batch.add('user_roles', {
        id: c.roleId, user_id: c.id, role_id: roles.clinician, organization_id: c.organizationId, granted_at: iso(c.grantedMs),
      });
    }
    const inserted = await batch.flush(q);
    summary.organizations = inserted.organizations;
    summary.clinicians = inserted.users;
    summary.totalRows += sum(inserted);
  });

  const total = sizes.patients * sizes.assessmentsPerPatient;
  const perBatch = Math.max(1, Math.floor(ASSESSMENTS_PER_BATCH / Math.max(1, sizes.assessmentsPerPatient)));
  let written = 0;
  opts.onProgress?.(0, total);
  const writeBatch = async (batch: Batch, assessments: number): Promise<void> => {
    const inserted = await inMaintenance(ds, (q) => batch.flush(q));
    summary.patients += inserted.users;
    summary.assessments += inserted.assessments;
    summary.biomarkerValues += inserted.biomarker_values;
    summary.totalRows += sum(inserted);
    written += assessments;
    opts.onProgress?.(written, total);
  };
  // Up to WRITERS batches are written at once while the next one is generated. The batch holding the last
  // patient goes last, alone: its presence is what tells a re-run that the whole dataset is there.
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  for (let first = 0; first < sizes.patients; first += perBatch) {
    const last = Math.min(sizes.patients, first + perBatch);
    const { batch, assessments } = dataset.batch(first, last, roles);
    if (last === sizes.patients) {
      await Promise.allSettled(inFlight);
      if (failures.length > 0) break;
      await writeBatch(batch, assessments);
      break;
    }
    const write: Promise<void> = writeBatch(batch, assessments)
      .catch((err: unknown) => void failures.push(err))
      .finally(() => inFlight.delete(write));
    inFlight.add(write);
    if (inFlight.size >= WRITERS) await Promise.race(inFlight);
    if (failures.length > 0) break;
  }
  await Promise.allSettled(inFlight);
  if (failures.length > 0) throw failures[0];
  summary.elapsedMs = Date.now() - started;
  return summary;
}

/** Every entity of one dataset, each from its own stream of the dataset key. */
class Dataset {
  readonly key: [number, number];
  /** Short hex form of the key: keeps emails and usernames of different datasets apart. */
  readonly tag: string;
  readonly organizations: Organization[];
  private readonly orgWeights: (readonly [Organization, number])[];

  constructor(readonly sizes: DemoSizes, private readonly phiKeys: PhiKeyRing | null) {
    const text = `medilens-demo/1|${sizes.seed}|${sizes.patients}|${sizes.assessmentsPerPatient}|${sizes.organizations}|${sizes.clinicians}`;
    this.key = [hashString(text), hashString(`${text}|2`)];
    this.tag = hex8(this.key[0]);
    this.organizations = Array.from({ length: sizes.organizations }, (_, i) =>
      makeOrganization(this.stream(STREAM.organization, i), i, this.tag),
    );
    this.orgWeights = this.organizations.map((o) => [o, o.weight] as const);
  }

  stream(kind: number, ...index: number[]): Random {
    return Random.derive(this.key[0], this.key[1], kind, ...index);
  }

  /** Clinicians go round-robin over the organizations. */
  clinician(i: number): ReturnType<typeof makeClinician> & { roleId: string } {
    const rng = this.stream(STREAM.clinician, i);
    const c = makeClinician(rng, i, this.tag, this.organizations[i % this.organizations.length]);
    return { ...c, roleId: rng.uuid() };
  }

  /** The first patients go one to each organization, the rest by organization size (hospitals are bigger). */
  patient(i: number): Patient & { roleId: string } {
    const rng = this.stream(STREAM.patient, i);
    const org = i < this.organizations.length ? this.organizations[i] : rng.weighted(this.orgWeights);
    const p = makePatient(rng, i, this.tag, org);
    return { ...p, roleId: rng.uuid() };
  }

  /** Patients first..last-1 with their assessments, profiles and roles. */
  batch(first: number, last: number, roles: { patient: number }): { batch: Batch; assessments: number } {
    const batch = new Batch();
    let assessments = 0;
    for (let i = first; i < last; i++) {
      const patient = this.patient(i);
      const stats = addPatientAssessments(batch, this.assessmentStreams(i), patient, i, this.sizes.assessmentsPerPatient);
      if (patient.appUser && stats.assessments > 0) patient.user.last_login_at = iso(stats.lastActivityMs);
      batch.add('users', patient.user);
      batch.add('user_profiles', { ...patient.profile, ...this.medicalColumns(i, patient) });
      batch.add('user_roles', {
        id: patient.roleId, user_id: patient.id, role_id: roles.patient, organization_id: patient.organizationId,
        granted_at: patient.user.created_at,
      });
      assessments += stats.assessments;
    }
    return { batch, assessments };
  }

  /**
   * Every patient's three PHI columns, encrypted, the empty ones too: a ciphertext of '[]' looks like any
   * other, so the stored rows do not tell who has a history. A stream of its own leaves every other
   * value of the patient as it was before the demo data had medical records.
   */
  medicalColumns(i: number, patient: Patient): Record<string, string> {
    if (this.phiKeys === null) return Object.fromEntries(PHI_COLUMNS.map((c) => [c, '[]']));
    const record = makeMedicalRecord(this.stream(STREAM.medical, i), Number(patient.profile.age));
    const ring = this.phiKeys;
    return Object.fromEntries(PHI_COLUMNS.map((c) => [c, JSON.stringify(encryptField(ring, c, patient.id, record[c]))]));
  }

  assessmentStreams(i: number): { patient: Random; assessment: (j: number) => Random } {
    return {
      patient: this.stream(STREAM.assessment, i),
      assessment: (j) => this.stream(STREAM.assessment, i, j),
    };
  }
}

async function roleIds(ds: DataSource): Promise<{ patient: number; clinician: number }> {
  const rows: { id: number; name: string }[] = await ds.query(
    `SELECT id, name FROM roles WHERE name IN ('patient', 'clinician')`,
  );
  const id = (name: string): number => Number(rows.find((r) => r.name === name)!.id);
  return { patient: id('patient'), clinician: id('clinician') };
}

/** A transaction as the table owner with the maintenance identity the row-level security policies admit. */
function inMaintenance<T>(ds: DataSource, work: (q: QueryRunner) => Promise<T>): Promise<T> {
  return withMaintenanceContext(ds, (tx) => work(tx.queryRunner!));
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
