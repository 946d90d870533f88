import { toDiagnosticReport, type DiagnosticReportRow } from '../../mappings/diagnostic-report';

const ctx = { canonicalBase: 'https://fhir.example.org' };
const base = 'https://fhir.example.org';

const row: DiagnosticReportRow = {
  id: '1f0e6c52-77a1-4c57-bb1e-3b8d0a4f3c11',
  organization_id: '6e33e1ca-8a78-4e66-ae60-f0824239f992',
  patient_id: '0b6efac4-0054-411e-9944-cfdf241b96a8',
  version_id: 4,
  last_updated: new Date('2026-03-01T10:07:00.123Z'),
  deleted_at: null,
  session_id: 'sess-cardio-0001',
  pipeline_type: 'cardiology',
  pipeline_version: '2.1.0',
  status: 'completed',
  requires_review: false,
  review_reason: null,
  risk_score: 62.5,
  risk_level: 'high',
  confidence: 0.913,
  quality_score: 0.88,
  processing_time_ms: 2590,
  effective_at: new Date('2026-03-01T10:00:00Z'),
  issued: new Date('2026-03-01T10:00:03.500Z'),
  device_id: '4f6b2c1e-9d3a-4e5f-8a7b-1c2d3e4f5a03',
  conclusion: 'Your ECG shows atrial fibrillation.',
  result_ids: ['d193d21a-b57e-4c82-929a-6e9f28bf14bf', 'a1b2c3d4-0000-4000-8000-000000000002'],
  findings: {
    rhythm_classification: 'atrial_fibrillation',
    heart_rate_bpm: 112,
    arrhythmia_types: ['atrial_fibrillation', 'prolonged_qt'],
    arrhythmia_detected: true,
  },
};

describe('toDiagnosticReport', () => {
  it('maps a completed ECG report: LOINC code, EC + cardiology note category, results, conclusion codes, extensions', () => {
    expect(toDiagnosticReport(row, ctx)).toEqual({
      resourceType: 'DiagnosticReport',
      id: row.id,
      meta: {
        versionId: '4',
        lastUpdated: '2026-03-01T10:07:00.123Z',
        security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST', display: 'Artificial Intelligence asserted' }],
      },
      identifier: [{ system: `${base}/sid/session-id`, value: 'sess-cardio-0001' }],
      status: 'final',
      category: [
        {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'EC', display: 'Electrocardiac (e.g., EKG,  EEC, Holter)' },
            { system: 'http://loinc.org', code: 'LP29708-2', display: 'Cardiology' },
          ],
        },
        { coding: [{ system: `${base}/CodeSystem/pipeline`, code: 'cardiology' }] },
      ],
      code: {
        coding: [
          { system: 'http://loinc.org', code: '11524-6', display: 'EKG study' },
          { system: `${base}/CodeSystem/report`, code: 'cardiology', display: 'ECG analysis report' },
        ],
        text: 'ECG analysis report',
      },
      subject: { reference: `Patient/${row.patient_id}` },
      effectiveDateTime: '2026-03-01T10:00:00.000Z',
      issued: '2026-03-01T10:00:03.500Z',
      performer: [{ reference: `Organization/${row.organization_id}` }],
      result: [{ reference: 'Observation/d193d21a-b57e-4c82-929a-6e9f28bf14bf' }, { reference: 'Observation/a1b2c3d4-0000-4000-8000-000000000002' }],
      conclusion: 'Your ECG shows atrial fibrillation.',
      conclusionCode: [
        { coding: [{ system: `${base}/CodeSystem/risk-level`, code: 'high', display: 'High' }], text: 'Risk level: high' },
        {
          coding: [{ system: `${base}/CodeSystem/cardiac-rhythm`, code: 'atrial_fibrillation', display: 'Atrial fibrillation' }],
          text: 'Rhythm: atrial fibrillation',
        },
        {
          coding: [{ system: `${base}/CodeSystem/arrhythmia`, code: 'atrial_fibrillation', display: 'Atrial fibrillation' }],
          text: 'Arrhythmia: atrial fibrillation',
        },
        { coding: [{ system: `${base}/CodeSystem/arrhythmia`, code: 'prolonged_qt', display: 'Prolonged qt' }], text: 'Arrhythmia: prolonged qt' },
      ],
      extension: [
        { url: `${base}/StructureDefinition/risk-score`, valueDecimal: 62.5 },
        { url: `${base}/StructureDefinition/confidence`, valueDecimal: 0.913 },
        { url: `${base}/StructureDefinition/quality-score`, valueDecimal: 0.88 },
        { url: `${base}/StructureDefinition/pipeline-version`, valueString: '2.1.0' },
        { url: `${base}/StructureDefinition/processing-time`, valueDuration: { value: 2590, unit: 'ms', system: 'http://unitsofmeasure.org', code: 'ms' } },
      ],
    });
  });

  it.each<[Partial<DiagnosticReportRow>, string]>([
    [{ status: 'pending' }, 'registered'],
    [{ status: null }, 'registered'],
    [{ status: 'processing' }, 'partial'],
    [{ status: 'completed', requires_review: true, review_reason: 'low confidence' }, 'preliminary'],
    [{ status: 'completed', requires_review: null }, 'final'],
    [{ status: 'failed' }, 'cancelled'],
    [{ status: 'archived' }, 'unknown'],
    [{ status: 'completed', deleted_at: '2026-03-02T00:00:00+00:00' }, 'entered-in-error'],
    [{ status: 'pending', deleted_at: new Date() }, 'entered-in-error'],
  ])('status %p -> %s', (change, status) => {
    expect(toDiagnosticReport({ ...row, ...change }, ctx).status).toBe(status);
  });

  it('leaves out what a pending assessment does not have yet', () => {
    const pending = toDiagnosticReport(
      {
        ...row, status: 'pending', issued: null, conclusion: null, result_ids: [], findings: null, risk_score: null, risk_level: null,
        confidence: null, quality_score: null, processing_time_ms: null, organization_id: null,
      },
      ctx,
    );
    for (const key of ['issued', 'result', 'conclusion', 'conclusionCode', 'performer'] as const) expect(pending[key]).toBeUndefined();
    expect(pending.extension).toEqual([{ url: `${base}/StructureDefinition/pipeline-version`, valueString: '2.1.0' }]);
  });

  it.each<[string, Record<string, unknown>, [string, string][]]>([
    ['retinal', { dr_grade: 2, dr_severity: 'moderate', dme_severity: null, dme_present: false }, [['diabetic-retinopathy-severity', 'moderate']]],
    ['retinal', { dr_severity: 'severe', dme_severity: 'mild' }, [['diabetic-retinopathy-severity', 'severe'], ['macular-edema-severity', 'mild']]],
    ['radiology', { primary_condition: 'Pleural Effusion', primary_probability: 61.2 }, [['radiology-finding', 'Pleural Effusion']]],
    ['radiology', { primary_condition: '  No   Finding ' }, [['radiology-finding', 'No Finding']]],
    ['dermatology', { melanoma_suspicion: 'low', primary_classification: 'benign_nevus' }, [['melanoma-suspicion', 'low'], ['lesion-classification', 'benign_nevus']]],
    // The cognitive result repeats the assessment's risk level: coded once.
    ['cognitive', { risk_level: 'high', memory_score: 0.41 }, []],
    ['cognitive', { risk_level: 'moderate' }, [['risk-level', 'moderate']]],
    ['speech', { jitter: 1.2, parkinsons_probability: 0.4 }, []],
    ['future-pipeline', { anything: 'x' }, []],
  ])('%s findings %p -> conclusion codes %p (after the risk level)', (pipeline, findings, expected) => {
    const codes = toDiagnosticReport({ ...row, pipeline_type: pipeline, findings }, ctx).conclusionCode ?? [];
    expect(codes[0].coding?.[0]).toEqual({ system: `${base}/CodeSystem/risk-level`, code: 'high', display: 'High' });
    expect(codes.slice(1).map((c) => [c.coding?.[0].system?.replace(`${base}/CodeSystem/`, ''), c.coding?.[0].code])).toEqual(expected);
  });

  it('codes each pipeline: LOINC only where one exists, always the MediLens report code', () => {
    const code = (pipeline: string) => toDiagnosticReport({ ...row, pipeline_type: pipeline }, ctx).code.coding?.map((c) => `${c.system}|${c.code}`);
    expect(code('radiology')).toEqual(['http://loinc.org|18748-4', `${base}/CodeSystem/report|radiology`]);
    expect(code('retinal')).toEqual([`${base}/CodeSystem/report|retinal`]);
    expect(code('future-pipeline')).toEqual([`${base}/CodeSystem/report|future-pipeline`]);
    const categories = (pipeline: string) =>
      toDiagnosticReport({ ...row, pipeline_type: pipeline }, ctx).category?.flatMap((c) => c.coding?.map((x) => x.code) ?? []);
    expect(categories('radiology')).toEqual(['RAD', 'LP29684-5', 'radiology']);
    expect(categories('retinal')).toEqual(['IMG', 'retinal']);
    expect(categories('dermatology')).toEqual(['IMG', 'dermatology']);
    expect(categories('speech')).toEqual(['speech']);
    expect(categories('cognitive')).toEqual(['cognitive']);
  });

  it('maps a history snapshot (to_jsonb of the view row) like the live row it was', () => {
    const snapshot = JSON.parse(
      JSON.stringify({
        ...row,
        last_updated: '2026-03-01T10:07:00.123456+00:00',
        effective_at: '2026-03-01T10:00:00+00:00',
        issued: '2026-03-01T11:00:03.5+01:00',
      }),
    ) as DiagnosticReportRow;
    expect(toDiagnosticReport(snapshot, ctx)).toEqual(toDiagnosticReport(row, ctx));
  });
});
