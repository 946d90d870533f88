import type { ResourceDefinition } from './definition';
import { auditEventDefinition } from './resources/audit-event';
import { deviceDefinition } from './resources/device';
import { diagnosticReportDefinition } from './resources/diagnostic-report';
import { observationDefinition } from './resources/observation';
import { organizationDefinition } from './resources/organization';
import { patientDefinition } from './resources/patient';
import { practitionerDefinition } from './resources/practitioner';
import { provenanceDefinition } from './resources/provenance';

/** Every resource type the gateway serves, by type. */
export function resourceDefinitions(canonicalBase: string): Map<string, ResourceDefinition> {
  const definitions = [
    patientDefinition(canonicalBase),
    practitionerDefinition(canonicalBase),
    observationDefinition(canonicalBase),
    diagnosticReportDefinition(canonicalBase),
    deviceDefinition(canonicalBase),
    organizationDefinition(canonicalBase),
    provenanceDefinition(),
    auditEventDefinition(canonicalBase),
  ] as ResourceDefinition[];
  return new Map(definitions.map((d) => [d.type, d]));
}
