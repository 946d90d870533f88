import { smartConfiguration } from '../auth/discovery';
import type { ResourceDefinition } from '../search/definition';
import { resourceDefinitions } from '../search/registry';
import { capabilityStatement } from './capability';
import { instanceHistoryHandler, typeHistoryHandler } from './handlers/history';
import { readHandler, vreadHandler } from './handlers/read';
import { searchHandler } from './handlers/search';
import type { Route } from './interaction';
import type { PatientRow } from '../../mappings/patient';
import type { ViewRow } from '../search/query';
import { bundleHandler } from './handlers/bundle';
import { conditionalUpdateHandler, createHandler, deleteHandler, patchHandler, updateHandler } from './handlers/write';

/** This release: the CapabilityStatement's software.version and date. */
const RELEASE = { version: '0.2.0', date: '2026-11-27' };

/**
 * The interaction table: every FHIR endpoint the gateway has, and nothing else. Paths are under /fhir;
 * within a type, fixed segments (_history, _search) come before :id.
 */
export function fhirRoutes(canonicalBase: string): { routes: Route[]; definitions: ResourceDefinition[] } {
  const byType = resourceDefinitions(canonicalBase);
  const definitions = [...byType.values()];
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/metadata',
      interaction: 'capabilities',
      public: true,
      handler: async (_req, deps) => ({
        status: 200,
        body: capabilityStatement(routes, byType, deps.auth.endpoints, deps.config.publicBaseUrl, RELEASE),
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
  ];
  for (const def of definitions) {
    const t = def.type;
    routes.push(
      { method: 'GET', path: `/${t}`, resourceType: t, interaction: 'search-type', handler: searchHandler(def, byType) },
      { method: 'POST', path: `/${t}/_search`, resourceType: t, interaction: 'search-type', form: true, handler: searchHandler(def, byType) },
    );
    // A type without versions (AuditEvent) has read and search only: its _history paths are unknown routes.
    if (def.history === false) {
      routes.push({ method: 'GET', path: `/${t}/:id`, resourceType: t, interaction: 'read', handler: readHandler(def) });
      continue;
    }
    routes.push(
      { method: 'GET', path: `/${t}/_history`, resourceType: t, interaction: 'history-type', handler: typeHistoryHandler(def) },
      { method: 'GET', path: `/${t}/:id`, resourceType: t, interaction: 'read', handler: readHandler(def) },
      { method: 'GET', path: `/${t}/:id/_history`, resourceType: t, interaction: 'history-instance', handler: instanceHistoryHandler(def) },
      { method: 'GET', path: `/${t}/:id/_history/:vid`, resourceType: t, interaction: 'vread', handler: vreadHandler(def) },
    );
  }
  // Hospitals push demographics: Patient is the one type clients write directly. Results arrive as
  // transaction Bundles (POST /fhir) or native documents (POST /medilens/assessments).
  const patient = byType.get('Patient') as ResourceDefinition<PatientRow>;
  routes.push(
    { method: 'POST', path: '/Patient', resourceType: 'Patient', interaction: 'create', body: 'resource', handler: createHandler(patient) },
    { method: 'PUT', path: '/Patient', resourceType: 'Patient', interaction: 'update', body: 'resource', handler: conditionalUpdateHandler(patient) },
    { method: 'PUT', path: '/Patient/:id', resourceType: 'Patient', interaction: 'update', body: 'resource', handler: updateHandler(patient) },
    { method: 'PATCH', path: '/Patient/:id', resourceType: 'Patient', interaction: 'patch', body: 'json-patch', handler: patchHandler(patient) },
    { method: 'DELETE', path: '/Patient/:id', resourceType: 'Patient', interaction: 'delete', handler: deleteHandler(patient) },
    // One row answers both: the Bundle's type says transaction or batch.
    {
      method: 'POST',
      path: '/',
      interaction: 'transaction',
      body: 'resource',
      handler: bundleHandler(() => routes, {
        patient,
        report: byType.get('DiagnosticReport') as ResourceDefinition<ViewRow>,
        observation: byType.get('Observation') as ResourceDefinition<ViewRow>,
      }),
    },
  );
  return { routes, definitions };
}
