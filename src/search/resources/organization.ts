import { medilensSystems } from '../../../mappings/codes';
import { toOrganization, type OrganizationRow } from '../../../mappings/organization';
import type { ResourceDefinition } from '../definition';
import { commonParameters, idIdentifierPredicate, lastUpdatedSort } from './common';

/** Organization <- fhir_organization. */
export function organizationDefinition(canonicalBase: string): ResourceDefinition<OrganizationRow> {
  const orgIdSystem = medilensSystems({ canonicalBase }).organizationId;
  return {
    type: 'Organization',
    tenancy: 'organization',
    view: 'fhir_organization',
    profile: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization',
    parameters: {
      ...commonParameters(),
      name: {
        type: 'string',
        description: 'Starts the organization name (case and accents ignored)',
        definition: 'http://hl7.org/fhir/us/core/SearchParameter/us-core-organization-name',
        columns: [{ column: 'r.name' }],
      },
      identifier: {
        type: 'token',
        description: `The MediLens organization id (${orgIdSystem}|<id>)`,
        definition: 'http://hl7.org/fhir/SearchParameter/Organization-identifier',
        where: (params, token) => idIdentifierPredicate(params, token, orgIdSystem),
      },
    },
    sorts: { _lastUpdated: lastUpdatedSort, name: { columns: [{ expr: 'search_fold(r.name)', sqlType: 'text' }] } },
    includes: {},
    summary: ['identifier', 'active', 'type', 'name', 'alias', 'partOf'],
    toResource: toOrganization,
  };
}
