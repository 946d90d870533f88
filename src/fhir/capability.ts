import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import type { TokenEndpoints } from '../auth/tokens';
import type { ResourceDefinition } from '../search/definition';
import type { Route } from './interaction';
import { DEFAULT_COUNT, MAX_COUNT } from './handlers/search';

type TypeInteraction = NonNullable<CapabilityStatementRestResource['interaction']>[number]['code'];

/**
 * The CapabilityStatement, generated from the interaction table and the resource definitions the
 * handlers themselves use, so it cannot claim what the server does not do (or miss what it does).
 */
export function capabilityStatement(
  routes: readonly Route[],
  definitions: readonly ResourceDefinition[],
  endpoints: TokenEndpoints,
  publicBaseUrl: string,
  release: { version: string; date: string },
): CapabilityStatement {
  const resources: CapabilityStatementRestResource[] = definitions.map((def) => {
    const interactions = routes
      .filter((r) => r.resourceType === def.type && !r.public)
      .map((r) => r.interaction as TypeInteraction);
    return {
      type: def.type,
      interaction: [...new Set(interactions)].map((code) => ({ code })),
      ...(interactions.includes('search-type')
        ? {
            searchParam: Object.entries(def.parameters).map(([name, p]) => ({
              name,
              type: p.type,
              documentation: p.description,
            })),
          }
        : {}),
    };
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: release.date,
    publisher: 'MediLens',
    kind: 'instance',
    software: { name: 'MediLens FHIR Gateway', version: release.version, releaseDate: release.date },
    implementation: { description: 'MediLens FHIR Gateway', url: `${publicBaseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        documentation: `Searches return at most _count (default ${DEFAULT_COUNT}, max ${MAX_COUNT}) entries per page, with keyset next links.`,
        security: {
          cors: false,
          service: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
              text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)',
            },
          ],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'token', valueUri: endpoints.tokenUrl },
                { url: 'introspect', valueUri: endpoints.introspectionUrl },
              ],
            },
          ],
        },
        resource: resources,
      },
    ],
  };
}
