import { toProvenance, type ProvenanceRow } from '../../../mappings/provenance';
import { ROW, type ResourceDefinition } from '../definition';
import { or } from '../sql';
import { commonParameters, lastUpdatedSort } from './common';

/**
 * Provenance <- fhir_provenance: the AI provenance of each completed assessment (same id as its
 * report), targeting the report and its observations.
 */
export function provenanceDefinition(): ResourceDefinition<ProvenanceRow> {
  return {
    type: 'Provenance',
    tenancy: 'patient',
    view: 'fhir_provenance',
    profile: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-provenance',
    parameters: {
      ...commonParameters(),
      target: {
        type: 'reference',
        description: 'The DiagnosticReport or Observation the provenance is about',
        definition: 'http://hl7.org/fhir/SearchParameter/Provenance-target',
        targets: ['DiagnosticReport', 'Observation', 'Patient'],
        where: (params, refs) => {
          const reports = refs.filter((r) => r.type === 'DiagnosticReport').map((r) => r.id);
          const observations = refs.filter((r) => r.type === 'Observation').map((r) => r.id);
          const parts: string[] = [];
          if (reports.length) parts.push(`${ROW.id} = ANY(${params.add(reports)}::uuid[])`);
          if (observations.length) {
            parts.push(`${ROW.id} IN (SELECT b.assessment_id FROM biomarker_values b WHERE b.id = ANY(${params.add(observations)}::uuid[]))`);
          }
          return or(parts);
        },
      },
      patient: {
        type: 'reference',
        description: 'The Patient whose data the provenance is about',
        definition: 'http://hl7.org/fhir/SearchParameter/Provenance-patient',
        targets: ['Patient'],
        column: ROW.patient,
      },
    },
    sorts: { _lastUpdated: lastUpdatedSort, recorded: { columns: [{ expr: 'r.recorded', sqlType: 'timestamptz' }] } },
    includes: {},
    summary: ['target', 'occurredPeriod', 'occurredDateTime', 'recorded', 'agent'],
    toResource: toProvenance,
  };
}
