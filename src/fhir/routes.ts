import { smartConfiguration } from '../auth/discovery';
import type { ResourceDefinition } from '../search/definition';
import { observationDefinition } from '../search/resources/observation';
import { patientDefinition } from '../search/resources/patient';
import { capabilityStatement } from './capability';
import { readHandler } from './handlers/read';
import { searchHandler } from './handlers/search';
import type { Route } from './interaction';

/** This release: the CapabilityStatement's software.version and date. */
const RELEASE = { version: '0.1.0', date: '2026-11-25' };

/** The interaction table: every FHIR endpoint the gateway has, and nothing else. Paths are under /fhir. */
export function fhirRoutes(canonicalBase: string): { routes: Route[]; definitions: ResourceDefinition[] } {
  const patient = patientDefinition(canonicalBase) as ResourceDefinition;
  const observation = observationDefinition(canonicalBase) as ResourceDefinition;
  const definitions = [patient, observation];
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/metadata',
      interaction: 'capabilities',
      public: true,
      handler: async (_req, deps) => ({
        status: 200,
        body: capabilityStatement(routes, definitions, deps.auth.endpoints, deps.config.publicBaseUrl, RELEASE),
      }),
    },
    {
      method: 'GET',
      path: '/.well-known/smart-configuration',
      interaction: 'smart-configuration',
      public: true,
      handler: async (_req, deps) => ({
        status: 200,
        body: smartConfiguration(deps.auth.endpoints, definitions.map((d) => d.type)),
        contentType: 'application/json',
      }),
    },
    { method: 'GET', path: '/Patient', resourceType: 'Patient', interaction: 'search-type', handler: searchHandler(patient) },
    { method: 'GET', path: '/Patient/:id', resourceType: 'Patient', interaction: 'read', handler: readHandler(patient) },
    { method: 'GET', path: '/Observation/:id', resourceType: 'Observation', interaction: 'read', handler: readHandler(observation) },
  ];
  return { routes, definitions };
}
