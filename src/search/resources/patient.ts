import { medilensSystems } from '../../../mappings/codes';
import { toPatient, type PatientRow } from '../../../mappings/patient';
import { UUID } from '../../db/context';
import { ROW, type ResourceDefinition } from '../definition';
import { or, type SqlParams } from '../sql';
import type { Token } from '../parameters/token';
import { codedColumnPredicate, commonParameters, lastUpdatedSort, referencesAt } from './common';

const US_CORE = 'http://hl7.org/fhir/us/core/SearchParameter';
const GENDER_SYSTEM = 'http://hl7.org/fhir/administrative-gender';

/** users.gender is free text; the same normalisation as mappings/patient.ts administrativeGender(). */
const GENDER_SQL = `CASE lower(btrim(r.gender)) WHEN 'male' THEN 'male' WHEN 'm' THEN 'male' WHEN 'female' THEN 'female' WHEN 'f' THEN 'female'
  WHEN 'other' THEN 'other' WHEN 'non-binary' THEN 'other' WHEN 'nonbinary' THEN 'other' ELSE 'unknown' END`;
const GENDERS = Object.fromEntries(['male', 'female', 'other', 'unknown'].map((g) => [g, [{ system: GENDER_SYSTEM, code: g }]]));

/**
 * Patient <- fhir_patient (users who hold the patient role or no role, with their profile and the
 * identifiers hospitals pushed).
 */
export function patientDefinition(canonicalBase: string): ResourceDefinition<PatientRow> {
  const userIdSystem = medilensSystems({ canonicalBase }).userId;
  return {
    type: 'Patient',
    tenancy: 'patient',
    view: 'fhir_patient',
    profile: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient',
    parameters: {
      ...commonParameters(),
      identifier: {
        type: 'token',
        description: `A patient identifier: the MediLens user id (${userIdSystem}|<id>) or one a hospital pushed (system|value)`,
        definition: `${US_CORE}/us-core-patient-identifier`,
        where: (params, token) => identifierPredicate(params, token, userIdSystem),
      },
      name: {
        type: 'string',
        description: 'Starts a given or family name (case and accents ignored)',
        definition: `${US_CORE}/us-core-patient-name`,
        columns: [{ column: 'r.first_name', folded: 'r.given_fold' }, { column: 'r.last_name', folded: 'r.family_fold' }],
        missing: 'r.first_name IS NULL AND r.last_name IS NULL',
      },
      family: {
        type: 'string',
        description: 'Family name',
        definition: `${US_CORE}/us-core-patient-family`,
        columns: [{ column: 'r.last_name', folded: 'r.family_fold' }],
        missing: 'r.last_name IS NULL',
      },
      given: {
        type: 'string',
        description: 'Given name',
        definition: `${US_CORE}/us-core-patient-given`,
        columns: [{ column: 'r.first_name', folded: 'r.given_fold' }],
        missing: 'r.first_name IS NULL',
      },
      birthdate: {
        type: 'date',
        description: 'Date of birth',
        definition: `${US_CORE}/us-core-patient-birthdate`,
        column: 'r.birth_date',
        precision: 'day',
        missing: 'r.birth_date IS NULL',
      },
      gender: {
        type: 'token',
        description: 'administrative-gender: male, female, other or unknown',
        definition: `${US_CORE}/us-core-patient-gender`,
        where: codedColumnPredicate(`(${GENDER_SQL})`, GENDERS),
      },
      organization: {
        type: 'reference',
        description: 'The managing Organization',
        definition: 'http://hl7.org/fhir/SearchParameter/Patient-organization',
        targets: ['Organization'],
        column: ROW.organization,
        missing: `${ROW.organization} IS NULL`,
      },
    },
    sorts: {
      _lastUpdated: lastUpdatedSort,
      birthdate: { columns: [{ expr: 'r.birth_date::date', sqlType: 'date' }] },
      name: {
        columns: [
          { expr: 'r.family_fold', sqlType: 'text' },
          { expr: 'r.given_fold', sqlType: 'text' },
        ],
      },
    },
    includes: {
      organization: { target: 'Organization', references: referencesAt('managingOrganization') },
    },
    summary: ['identifier', 'active', 'name', 'telecom', 'gender', 'birthDate', 'deceasedBoolean', 'deceasedDateTime', 'address', 'managingOrganization', 'link'],
    toResource: toPatient,
  };
}

function identifierPredicate(params: SqlParams, token: Token, userIdSystem: string): string {
  const parts: string[] = [];
  if (token.system === undefined || token.system === userIdSystem) {
    if (token.code === null) return 'TRUE';
    if (UUID.test(token.code)) parts.push(`${ROW.id} = ${params.add(token.code)}::uuid`);
  }
  if (token.system !== userIdSystem && token.system !== null) {
    const conditions = [];
    if (token.code !== null) conditions.push(`pi.value = ${params.add(token.code)}`);
    if (token.system !== undefined) conditions.push(`pi.system = ${params.add(token.system)}`);
    parts.push(`${ROW.id} IN (SELECT pi.user_id FROM patient_identifiers pi WHERE ${conditions.join(' AND ')})`);
  }
  return or(parts);
}
