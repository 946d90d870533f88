import type { Provenance, ProvenanceAgent, Reference } from 'fhir/r4';
import { AI_DEVICE_TYPE, AIAST, AIRPT, PROVENANCE_PARTICIPANT_TYPE, V3_DATA_OPERATION } from './codes';
import { iso, versionMeta, type MappingContext, type Timestamp, type ViewRow } from './context';

/**
 * One row of fhir_provenance: a completed assessment, read as the record of the AI run that produced its
 * report and observations (same id as the report: ids are per resource type).
 */
export interface ProvenanceRow extends ViewRow {
  patient_id: string;
  /** When the report was completed (its creation when that is unknown). */
  recorded: Timestamp;
  pipeline_type: string;
  pipeline_version: string;
  requires_review: boolean | null;
  /** The registered model of this pipeline version; NULL when the version is not in model_registry. */
  device_id: string | null;
  model_name: string | null;
  result_ids: string[];
}

/**
 * AI Provenance (HL7 AI Transparency on FHIR): target = the report and each of its observations,
 * agent = the model (author, on behalf of the organization, US Core provenance-1) and the organization
 * (custodian of the record). R4 Provenance has no subject: patient_id serves access control only.
 *
 * A clinician review would add the clinician as a verifier agent and replace AIRPT with CLINAST_AIRPT;
 * MediLens records no reviewer (requires_review only says one is due), so neither appears yet.
 */
// _ctx: every code here is an HL7 one; the parameter keeps the one signature all mappings share.
export function toProvenance(row: ProvenanceRow, _ctx: MappingContext): Provenance {
  const organization: Reference | undefined = row.organization_id ? { reference: `Organization/${row.organization_id}` } : undefined;
  const agent: ProvenanceAgent[] = [
    {
      type: { coding: [{ system: PROVENANCE_PARTICIPANT_TYPE, code: 'author', display: 'Author' }] },
      role: [{ coding: [{ ...AI_DEVICE_TYPE }] }],
      who: row.device_id
        ? { reference: `Device/${row.device_id}`, ...(row.model_name ? { display: row.model_name } : {}) }
        : // A pipeline version missing from the registry: the model is known by name only, never dropped.
          { display: `${row.pipeline_type} pipeline ${row.pipeline_version}` },
      ...(organization ? { onBehalfOf: organization } : {}),
    },
  ];
  if (organization) {
    agent.push({ type: { coding: [{ system: PROVENANCE_PARTICIPANT_TYPE, code: 'custodian', display: 'Custodian' }] }, who: organization });
  }
  return {
    resourceType: 'Provenance',
    id: row.id,
    meta: { ...versionMeta(row), security: [{ ...AIAST }, { ...AIRPT }] },
    target: [{ reference: `DiagnosticReport/${row.id}` }, ...row.result_ids.map((id) => ({ reference: `Observation/${id}` }))],
    recorded: iso(row.recorded),
    // The AI Provenance profile's reason slice: the targets are AI-asserted.
    reason: [{ coding: [{ ...AIAST }] }],
    activity: { coding: [{ system: V3_DATA_OPERATION, code: 'CREATE', display: 'create' }] },
    agent,
  };
}
