import { toProvenance, type ProvenanceRow } from '../../mappings/provenance';

const ctx = { canonicalBase: 'https://fhir.example.org' };

const row: ProvenanceRow = {
  id: '1f0e6c52-77a1-4c57-bb1e-3b8d0a4f3c11',
  organization_id: '6e33e1ca-8a78-4e66-ae60-f0824239f992',
  patient_id: '0b6efac4-0054-411e-9944-cfdf241b96a8',
  version_id: 2,
  last_updated: new Date('2026-03-01T10:07:00.123Z'),
  deleted_at: null,
  recorded: new Date('2026-03-01T10:00:03.500Z'),
  pipeline_type: 'cardiology',
  pipeline_version: '2.1.0',
  requires_review: false,
  device_id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a03',
  model_name: 'ECG Analyzer',
  result_ids: ['d193d21a-b57e-4c82-929a-6e9f28bf14bf', 'a1b2c3d4-0000-4000-8000-000000000002'],
};

const AI_DEVICE = { system: 'http://hl7.org/fhir/uv/aitransparency/CodeSystem/AIdeviceTypeCS', code: 'Artificial-Intelligence', display: 'All kinds of Artificial Intelligence' };
const AIAST = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST', display: 'Artificial Intelligence asserted' };
const PARTICIPANT = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';

describe('toProvenance', () => {
  it('records the AI run: report + observations as targets, the model as author on behalf of the organization', () => {
    expect(toProvenance(row, ctx)).toEqual({
      resourceType: 'Provenance',
      id: row.id,
      meta: {
        versionId: '2',
        lastUpdated: '2026-03-01T10:07:00.123Z',
        security: [AIAST, { system: 'http://hl7.org/fhir/uv/aitransparency/CodeSystem/AddedProvenanceCS', code: 'AIRPT', display: 'AI Reported' }],
      },
      target: [
        { reference: `DiagnosticReport/${row.id}` },
        { reference: 'Observation/d193d21a-b57e-4c82-929a-6e9f28bf14bf' },
        { reference: 'Observation/a1b2c3d4-0000-4000-8000-000000000002' },
      ],
      recorded: '2026-03-01T10:00:03.500Z',
      reason: [{ coding: [AIAST] }],
      activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE', display: 'create' }] },
      agent: [
        {
          type: { coding: [{ system: PARTICIPANT, code: 'author', display: 'Author' }] },
          role: [{ coding: [AI_DEVICE] }],
          who: { reference: 'Device/4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a03', display: 'ECG Analyzer' },
          onBehalfOf: { reference: `Organization/${row.organization_id}` },
        },
        {
          type: { coding: [{ system: PARTICIPANT, code: 'custodian', display: 'Custodian' }] },
          who: { reference: `Organization/${row.organization_id}` },
        },
      ],
    });
  });

  it('has no subject: the patient is only an access column', () => {
    const provenance = toProvenance(row, ctx);
    expect(JSON.stringify(provenance)).not.toContain(row.patient_id);
  });

  it('names an unregistered model by its pipeline version, and has no organization agent without one', () => {
    const provenance = toProvenance({ ...row, device_id: null, model_name: null, organization_id: null, result_ids: [] }, ctx);
    expect(provenance.agent).toEqual([
      {
        type: { coding: [{ system: PARTICIPANT, code: 'author', display: 'Author' }] },
        role: [{ coding: [AI_DEVICE] }],
        who: { display: 'cardiology pipeline 2.1.0' },
      },
    ]);
    expect(provenance.target).toEqual([{ reference: `DiagnosticReport/${row.id}` }]);
  });

  it('maps a history snapshot (to_jsonb of the view row) like the live row it was', () => {
    const snapshot = JSON.parse(
      JSON.stringify({ ...row, last_updated: '2026-03-01T10:07:00.123456+00:00', recorded: '2026-03-01T10:00:03.5+00:00' }),
    ) as ProvenanceRow;
    expect(toProvenance(snapshot, ctx)).toEqual(toProvenance(row, ctx));
  });
});
