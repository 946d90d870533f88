import { medilensSystems } from '../../../mappings/codes';
import { toPractitioner, type PractitionerRow } from '../../../mappings/practitioner';
import type { ResourceDefinition } from '../definition';
import { commonParameters, idIdentifierPredicate, lastUpdatedSort } from './common';

/** Practitioner <- fhir_practitioner (users with the clinician role). */
export function practitionerDefinition(canonicalBase: string): ResourceDefinition<PractitionerRow> {
  const userIdSystem = medilensSystems({ canonicalBase }).userId;
  return {
    type: 'Practitioner',
    tenancy: 'patient',
    view: 'fhir_practitioner',
    profile: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-practitioner',
    parameters: {
      ...commonParameters(),
      identifier: {
        type: 'token',
        description: `The MediLens user id (${userIdSystem}|<id>)`,
        definition: 'http://hl7.org/fhir/us/core/SearchParameter/us-core-practitioner-identifier',
        where: (params, token) => idIdentifierPredicate(params, token, userIdSystem),
      },
      name: {
        type: 'string',
        description: 'Starts a given or family name (case and accents ignored)',
        definition: 'http://hl7.org/fhir/us/core/SearchParameter/us-core-practitioner-name',
        columns: [{ column: 'r.first_name', folded: 'r.given_fold' }, { column: 'r.last_name', folded: 'r.family_fold' }],
        missing: 'r.first_name IS NULL AND r.last_name IS NULL',
      },
    },
    sorts: {
      _lastUpdated: lastUpdatedSort,
      name: { columns: [{ expr: 'r.family_fold', sqlType: 'text' }, { expr: 'r.given_fold', sqlType: 'text' }] },
    },
    includes: {},
    summary: ['identifier', 'active', 'name', 'telecom', 'address', 'gender', 'birthDate'],
    toResource: toPractitioner,
  };
}
