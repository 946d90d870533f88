import { conflict, forbidden, OutcomeError, unprocessable } from '../fhir/outcomes';

/**
 * The database's own refusal of a write, as the client's error. The write paths check everything
 * they can before the database is touched, so reaching here means a rule the checks do not know yet,
 * a race on a unique key, or a concurrent direct write by the MediLens backend; either way it is the
 * request that cannot be stored, never a 500. Messages name the element, never the SQL or the values.
 */

interface PgError {
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
}

/** How one write path names what the database refused. */
export interface RefusalNames {
  /** The element (FHIRPath or document field) a table's column is written from; null when none. */
  field(table: string | undefined, column: string | undefined): string | null;
  /** The answer to a taken unique key, by constraint name. */
  readonly unique?: Readonly<Record<string, () => OutcomeError>>;
  /** Names the write in messages: "The Patient", "The document". */
  readonly subject: string;
}

/** Patient writes: users, user_profiles and patient_identifiers. */
export const PATIENT_REFUSALS: RefusalNames = {
  subject: 'The Patient',
  field: (table, column) => {
    const fields: Record<string, string> = {
      first_name: 'Patient.name',
      last_name: 'Patient.name',
      email: 'Patient.telecom',
      date_of_birth: 'Patient.birthDate',
      gender: 'Patient.gender',
      language: 'Patient.communication',
      ethnicity: 'Patient.extension',
      fitzpatrick_type: 'Patient.extension',
      system: 'Patient.identifier',
      value: 'Patient.identifier',
    };
    return table && ['users', 'user_profiles', 'patient_identifiers'].includes(table) && column ? (fields[column] ?? null) : null;
  },
  unique: {
    users_email_key: () => conflict('The email in Patient.telecom already belongs to another MediLens user', ['Patient.telecom']),
    users_pkey: () => conflict('This id is not available for a new Patient', ['Patient.id']),
    patient_identifiers_org_system_value_key: () => conflict('A Patient.identifier already belongs to another Patient of the organization', ['Patient.identifier']),
  },
};

/** `<table>_<column>_check` (Postgres's naming of a column CHECK) -> the column. */
function checkedColumn(constraint: string | undefined, table: string | undefined): string | undefined {
  if (!constraint || !table || !constraint.startsWith(`${table}_`) || !constraint.endsWith('_check')) return undefined;
  return constraint.slice(table.length + 1, -'_check'.length);
}

const issue = (diagnostics: string, field: string | null) => [{ diagnostics, ...(field ? { expression: [field] } : {}) }];

function pgErrorOf(err: unknown): PgError {
  const e = (err ?? {}) as PgError & { driverError?: PgError };
  return { ...e.driverError, ...e };
}

export function isUniqueViolation(err: unknown): boolean {
  return pgErrorOf(err).code === '23505';
}

/** The client error for a database error, or the error itself when it is not the request's fault. */
export function clientErrorOf(err: unknown, names: RefusalNames): unknown {
  if (err instanceof OutcomeError) return err;
  const pg = pgErrorOf(err);
  switch (pg.code) {
    case '23505': {
      const known = pg.constraint ? names.unique?.[pg.constraint] : undefined;
      return known ? known() : conflict(`${names.subject} conflicts with data already stored (a unique value is taken)`);
    }
    case '23514': {
      const field = names.field(pg.table, checkedColumn(pg.constraint, pg.table));
      return unprocessable(issue(`${field ?? 'A value'} is outside the range MediLens can store`, field));
    }
    case '23502': {
      const field = names.field(pg.table, pg.column);
      return unprocessable(issue(`${field ?? 'A required value'} is required`, field));
    }
    case '23503':
      return unprocessable(issue(`${names.subject} refers to something that does not exist (or is out of reach)`, null));
    case '22001': // string_data_right_truncation
    case '22003': // numeric_value_out_of_range
    case '22007': // invalid_datetime_format
    case '22008': // datetime_field_overflow
    case '22021': // character_not_in_repertoire
    case '22P02': // invalid_text_representation
    case '22P05': // untranslatable_character
    case '54001': // statement_too_complex (JSON nested too deep)
      return unprocessable(issue(`A value of ${names.subject.toLowerCase()} cannot be stored: it is too long, too large, too precise or malformed`, null));
    case '42501':
      // Row-level security refused the row: the caller's identity may not write it.
      return forbidden(`The token may not write ${names.subject.toLowerCase().replace(/^the /, 'this ')} for this patient or organization`);
    case '40001':
    case '40P01':
      return new OutcomeError(503, 'transient', 'The write collided with a concurrent one; retry it', undefined, { 'Retry-After': '1' });
    default:
      return err;
  }
}
