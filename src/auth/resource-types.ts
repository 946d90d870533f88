/**
 * The FHIR resource types the gateway serves, and so the only ones a scope may name: a scope for any
 * other type grants nothing and is left out of the granted scope.
 */
export const RESOURCE_TYPES: ReadonlySet<string> = new Set([
  'Patient',
  'Practitioner',
  'Observation',
  'DiagnosticReport',
  'Device',
  'Organization',
  'Provenance',
  'AuditEvent',
]);
