import type { Identifier, Meta, Patient } from 'fhir/r4';
import { medilensSystems } from './codes';
import { versionMeta, type MappingContext, type MappingIssue, type ViewRow } from './context';
import { BACKED_ELEMENTS, type PatientColumns } from './patient-elements';

export { administrativeGender, officialName } from './patient-elements';

/** An identifier a hospital pushed (patient_identifiers): system + value and the rest of its Identifier. */
export type PushedIdentifier = Identifier & { system: string; value: string };

/** One row of fhir_patient: users joined to user_profiles, the pushed identifiers and the kept elements. */
export interface PatientRow extends ViewRow, Omit<PatientColumns, 'is_active' | 'organization_id'> {
  /** YYYY-MM-DD (selected as text: a DATE is a day, not an instant). */
  birth_date: string | null;
  is_active: boolean | null;
  /** In the order the hospital sent them; NULL when there are none. */
  identifiers: PushedIdentifier[] | null;
  /** What a hospital pushed that no column holds (users.fhir_kept); NULL for patients MediLens registered. */
  kept?: KeptElements | null;
}

/**
 * users.fhir_kept: the pushed Patient's elements as sent, minus identifiers, id, text and the server's
 * meta, and minus column-backed elements the columns reproduce exactly (so reading a Patient and
 * writing it back unchanged changes nothing, and makes no version).
 */
export type KeptElements = Record<string, unknown> & { meta?: Pick<Meta, 'profile' | 'tag' | 'security' | 'extension' | 'source'> };

/** Client meta the gateway keeps; versionId and lastUpdated are the database's. */
const KEPT_META = ['profile', 'tag', 'security', 'extension', 'source'];

/**
 * The Patient of a row. A pushed Patient reads back as it was written: elements without a column come
 * from the kept elements, and column-backed ones (name, telecom, gender ...) too, as long as the columns
 * still say what the written element said. Once the MediLens backend changes a column, the column wins.
 */
export function toPatient(row: PatientRow, ctx: MappingContext): Patient {
  const { meta: keptMeta, ...kept } = row.kept ?? {};
  const patient: Patient = {
    resourceType: 'Patient',
    id: row.id,
    meta: { ...(keptMeta ?? {}), ...versionMeta(row) },
    ...(kept as Partial<Patient>),
    identifier: [
      { use: 'secondary', system: medilensSystems(ctx).userId, value: row.id },
      // details hold the rest of the pushed Identifier (use, type, period, assigner) as the hospital sent it.
      ...(row.identifiers ?? []).map(({ system, value, ...details }): Identifier => ({ ...details, system, value })),
    ],
  };
  const columns = columnsOf(row);
  const deleted = row.deleted_at !== null;
  for (const backed of BACKED_ELEMENTS) {
    const written = row.kept ? row.kept[backed.element] : undefined;
    // Absent from the kept elements: what the hospital wrote is what the columns say (see fromPatient).
    const value =
      written === undefined
        ? backed.build(columns, ctx, deleted)
        : agrees(backed.columns(written, ctx), columns)
          ? written
          : (backed.rebuild?.(written, columns, ctx) ?? backed.build(columns, ctx, deleted));
    if (value === undefined) delete patient[backed.element];
    else (patient as unknown as Record<string, unknown>)[backed.element] = value;
  }
  return inElementOrder(patient);
}

/** Patient's elements in the order the specification lists them (JSON does not care; readers do). */
const ELEMENT_ORDER = [
  'resourceType', 'id', 'meta', 'implicitRules', 'language', 'text', 'contained', 'extension', 'modifierExtension',
  'identifier', 'active', 'name', 'telecom', 'gender', 'birthDate', 'deceasedBoolean', 'deceasedDateTime', 'address',
  'maritalStatus', 'multipleBirthBoolean', 'multipleBirthInteger', 'photo', 'contact', 'communication',
  'generalPractitioner', 'managingOrganization', 'link',
];

function inElementOrder(patient: Patient): Patient {
  const rank = (name: string) => {
    const i = ELEMENT_ORDER.indexOf(name.replace(/^_/, ''));
    return i < 0 ? ELEMENT_ORDER.length : i;
  };
  return Object.fromEntries(Object.entries(patient).sort(([a], [b]) => rank(a) - rank(b))) as unknown as Patient;
}

function columnsOf(row: PatientRow): PatientColumns {
  return {
    first_name: row.first_name,
    last_name: row.last_name,
    email: row.email,
    birth_date: row.birth_date,
    gender: row.gender,
    is_active: row.is_active !== false,
    organization_id: row.organization_id,
    language: row.language,
    ethnicity: row.ethnicity,
    fitzpatrick_type: row.fitzpatrick_type === null ? null : Number(row.fitzpatrick_type),
  };
}

function agrees(derived: Partial<PatientColumns>, columns: PatientColumns): boolean {
  return Object.entries(derived).every(([name, value]) => value === columns[name as keyof PatientColumns]);
}

/** A Patient as MediLens stores it. */
export interface PatientWrite {
  readonly columns: PatientColumns;
  readonly identifiers: PushedIdentifier[];
  readonly kept: KeptElements;
}

/** Column sizes and ranges of users and user_profiles (the seed DDL), checked before the database is. */
const LIMITS: Partial<Record<keyof PatientColumns, { max: number; element: string }>> = {
  first_name: { max: 100, element: 'name.given' },
  last_name: { max: 100, element: 'name.family' },
  language: { max: 10, element: 'communication.language' },
  ethnicity: { max: 100, element: 'extension' },
};

/** Elements the server manages: never stored from a write. */
const SERVER_MANAGED = new Set(['resourceType', 'id', 'meta', 'text', 'identifier']);

/**
 * Splits a (structurally valid) Patient into columns, pushed identifiers and kept elements, or lists
 * why MediLens cannot store it. The caller decides the organization; managingOrganization is only read.
 */
export function fromPatient(patient: Patient, ctx: MappingContext, today: string): { write: PatientWrite } | { issues: MappingIssue[] } {
  const issues: MappingIssue[] = [];
  const columns = { ...emptyColumns() };
  for (const backed of BACKED_ELEMENTS) Object.assign(columns, backed.columns(patient[backed.element], ctx));

  for (const [name, limit] of Object.entries(LIMITS) as [keyof PatientColumns, { max: number; element: string }][]) {
    const value = columns[name];
    if (typeof value === 'string' && value.length > limit.max) {
      issues.push({ diagnostics: `Patient.${limit.element} is longer than the ${limit.max} characters MediLens stores`, expression: [`Patient.${limit.element}`] });
    }
  }
  if (columns.fitzpatrick_type !== null && !(Number.isInteger(columns.fitzpatrick_type) && columns.fitzpatrick_type >= 1 && columns.fitzpatrick_type <= 6)) {
    issues.push({ diagnostics: 'The Fitzpatrick skin type extension must be an integer from 1 to 6', expression: ['Patient.extension'] });
  }
  if (patient.birthDate !== undefined && patient.birthDate.slice(0, 10) > today) {
    issues.push({ diagnostics: `Patient.birthDate ${patient.birthDate} is in the future`, expression: ['Patient.birthDate'] });
  }
  if (columns.birth_date !== null && !isCalendarDate(columns.birth_date)) {
    issues.push({ diagnostics: `Patient.birthDate ${columns.birth_date} is not a calendar date`, expression: ['Patient.birthDate'] });
  }
  if (patient.managingOrganization && columns.organization_id === null) {
    issues.push({ diagnostics: 'Patient.managingOrganization must reference Organization/<id>', expression: ['Patient.managingOrganization'] });
  }

  const identifiers: PushedIdentifier[] = [];
  const seen = new Set<string>();
  (patient.identifier ?? []).forEach((identifier, i) => {
    const at = `Patient.identifier[${i}]`;
    // The MediLens user id is the server's own identifier: it comes back on every read and is not stored.
    if (identifier.system === medilensSystems(ctx).userId) return;
    if (!identifier.system || !identifier.value) {
      issues.push({ diagnostics: `${at} needs both system and value (US Core), so that it can identify the patient`, expression: [at] });
      return;
    }
    if (identifier.system.length > 255 || identifier.value.length > 255) {
      issues.push({ diagnostics: `${at} system and value are limited to 255 characters`, expression: [at] });
      return;
    }
    const key = `${identifier.system}|${identifier.value}`;
    if (seen.has(key)) {
      issues.push({ diagnostics: `${at} repeats identifier ${key}`, expression: [at] });
      return;
    }
    seen.add(key);
    identifiers.push(identifier as PushedIdentifier);
  });
  if (issues.length) return { issues };

  const kept: KeptElements = {};
  const backed = new Map(BACKED_ELEMENTS.map((b) => [b.element as string, b]));
  for (const [name, value] of Object.entries(patient)) {
    if (SERVER_MANAGED.has(name)) continue;
    const element = backed.get(name);
    if (element && sameJson(value, element.build(columns, ctx, false))) continue;
    kept[name] = value;
  }
  const meta = patient.meta && Object.fromEntries(Object.entries(patient.meta).filter(([k]) => KEPT_META.includes(k)));
  if (meta && Object.keys(meta).length) kept.meta = meta;
  return { write: { columns, identifiers, kept } };
}

/** A real day of the calendar (1990-02-30 is not). */
function isCalendarDate(value: string): boolean {
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/** Equal as JSON, whatever the order of object keys. */
function sameJson(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function emptyColumns(): PatientColumns {
  return {
    first_name: null,
    last_name: null,
    email: null,
    birth_date: null,
    gender: null,
    is_active: true,
    organization_id: null,
    language: null,
    ethnicity: null,
    fitzpatrick_type: null,
  };
}
