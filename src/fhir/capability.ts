import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import type { TokenEndpoints } from '../auth/tokens';
import type { ResourceDefinition } from '../search/definition';
import { DEFAULT_COUNT, MAX_COUNT } from '../search/request';
import type { Route } from './interaction';

type TypeInteraction = NonNullable<CapabilityStatementRestResource['interaction']>[number]['code'];

const US_CORE_SERVER = 'http://hl7.org/fhir/us/core/CapabilityStatement/us-core-server';

/** Result parameters every search takes, documented once. */
const RESULT_PARAMETERS = [
  { name: '_count', type: 'number' as const, documentation: `Page size, default ${DEFAULT_COUNT}, at most ${MAX_COUNT}` },
  { name: '_total', type: 'token' as const, documentation: 'none (default), estimate (planner estimate) or accurate (counted)' },
  { name: '_summary', type: 'token' as const, documentation: 'true, text, data, count or false' },
  { name: '_elements', type: 'string' as const, documentation: 'Top-level elements to return' },
];

/**
 * The CapabilityStatement, generated from the interaction table and the resource definitions the
 * handlers themselves use, so it cannot claim what the server does not do (or miss what it does).
 */
export function capabilityStatement(
  routes: readonly Route[],
  definitions: ReadonlyMap<string, ResourceDefinition>,
  endpoints: TokenEndpoints,
  publicBaseUrl: string,
  release: { version: string; date: string },
): CapabilityStatement {
  const resources: CapabilityStatementRestResource[] = [...definitions.values()].map((def) => {
    const interactions = [...new Set(routes.filter((r) => r.resourceType === def.type && !r.public).map((r) => r.interaction as TypeInteraction))];
    const searchable = interactions.includes('search-type');
    const revIncludes = [...definitions.values()].flatMap((source) =>
      Object.entries(source.parameters)
        .filter(([, p]) => p.type === 'reference' && p.targets.includes(def.type))
        .map(([name]) => `${source.type}:${name}`),
    );
    return {
      type: def.type,
      ...(def.profile ? { supportedProfile: [def.profile] } : {}),
      interaction: interactions.map((code) => ({ code })),
      // Every resource carries meta.versionId (an AuditEvent its only version, 1); vread only where routed.
      versioning: 'versioned' as const,
      readHistory: interactions.includes('vread'),
      updateCreate: interactions.includes('update') && interactions.includes('create'),
      ...(interactions.includes('create') ? { conditionalCreate: true } : {}),
      ...(interactions.includes('update') ? { conditionalUpdate: true } : {}),
      ...(interactions.includes('delete') ? { conditionalDelete: 'not-supported' as const } : {}),
      ...(searchable
        ? {
            searchInclude: Object.entries(def.includes).map(([name, inc]) => `${def.type}:${name}:${inc.target}`),
            searchRevInclude: revIncludes,
            searchParam: [
              ...Object.entries(def.parameters).map(([name, p]) => ({
                name,
                ...(p.definition ? { definition: p.definition } : {}),
                type: p.type,
                documentation: p.description,
              })),
              ...RESULT_PARAMETERS,
              { name: '_sort', type: 'string' as const, documentation: `Sort by ${Object.keys(def.sorts).join(', ')} (- for descending)` },
            ],
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
    instantiates: [US_CORE_SERVER],
    software: { name: 'MediLens FHIR Gateway', version: release.version, releaseDate: release.date },
    implementation: { description: 'MediLens FHIR Gateway', url: `${publicBaseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: routes.some((r) => r.body === 'json-patch') ? ['application/json-patch+json'] : [],
    rest: [
      {
        mode: 'server',
        documentation:
          `Searches (GET, or POST [type]/_search with a form body) return at most _count (default ${DEFAULT_COUNT}, max ${MAX_COUNT}) ` +
          'entries per page, with keyset next links (an opaque signed _cursor); versions are recorded by the database.',
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
        ...systemInteractions(routes),
      },
    ],
  };
}

/** POST [base] takes transaction and batch Bundles (one route); FHIR allows no empty array, so none without it. */
function systemInteractions(routes: readonly Route[]): { interaction?: { code: 'transaction' | 'batch' }[] } {
  return routes.some((r) => r.interaction === 'transaction') ? { interaction: [{ code: 'transaction' }, { code: 'batch' }] } : {};
}
