import type { DiagnosticReport, Observation } from 'fhir/r4';
import { toDiagnosticReport, type DiagnosticReportRow } from '../../mappings/diagnostic-report';
import { toObservation, type ObservationRow } from '../../mappings/observation';
import { fromDiagnosticReport, ResultMappingError, type ResultMappingIssue } from '../../mappings/result-document';

const ctx = { canonicalBase: 'https://fhir.example.org' };
const base = 'https://fhir.example.org';
const PATIENT = '0b6efac4-0054-411e-9944-cfdf241b96a8';

const reportRow: DiagnosticReportRow = {
  id: '1f0e6c52-77a1-4c57-bb1e-3b8d0a4f3c11',
  organization_id: '6e33e1ca-8a78-4e66-ae60-f0824239f992',
  patient_id: PATIENT,
  version_id: 1,
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
  device_id: null,
  conclusion: 'Your ECG shows atrial fibrillation.',
  result_ids: ['d193d21a-b57e-4c82-929a-6e9f28bf14bf', 'a1b2c3d4-0000-4000-8000-000000000002'],
  findings: { rhythm_classification: 'atrial_fibrillation', heart_rate_bpm: 112, arrhythmia_types: ['atrial_fibrillation', 'prolonged_qt'] },
};

const observationRow = (id: string, name: string, value: number, unit: string, category: string): ObservationRow => ({
  id,
  organization_id: reportRow.organization_id,
  patient_id: PATIENT,
  version_id: 1,
  last_updated: new Date('2026-03-01T10:00:03.500Z'),
  deleted_at: null,
  assessment_id: reportRow.id,
  biomarker_name: name,
  biomarker_category: category,
  value,
  unit,
  normal_range_min: 60,
  normal_range_max: 100,
  status: 'abnormal',
  confidence: 0.91,
  percentile: 97,
  created_at: new Date('2026-03-01T10:00:03.500Z'),
  pipeline_type: 'cardiology',
  assessment_status: 'completed',
  requires_review: false,
  effective_at: new Date('2026-03-01T10:00:00Z'),
  device_id: null,
});

const report = (): DiagnosticReport => toDiagnosticReport(reportRow, ctx);
const observations = (): Observation[] => [
  toObservation(observationRow(reportRow.result_ids[0], 'heart_rate', 111.6, '/min', 'vital'), ctx),
  toObservation({ ...observationRow(reportRow.result_ids[1], 'qtc', 480, 'ms', 'interval'), normal_range_min: 350, normal_range_max: 450 }, ctx),
];

/** The issues fromDiagnosticReport throws. */
function issuesOf(run: () => unknown): ResultMappingIssue[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ResultMappingError);
    return [...(err as ResultMappingError).issues];
  }
  throw new Error('expected a ResultMappingError');
}

describe('fromDiagnosticReport', () => {
  it('inverts toDiagnosticReport and toObservation: every element they write comes back as the column it came from', () => {
    expect(fromDiagnosticReport(report(), observations(), ctx)).toEqual({
      session_id: 'sess-cardio-0001',
      pipeline: 'cardiology',
      status: 'completed',
      requires_review: false,
      created_at: '2026-03-01T10:00:00.000Z',
      completed_at: '2026-03-01T10:00:03.500Z',
      risk_score: 62.5,
      confidence: 0.913,
      quality_score: 0.88,
      pipeline_version: '2.1.0',
      processing_time_ms: 2590,
      risk_level: 'high',
      explanation: { text: 'Your ECG shows atrial fibrillation.' },
      biomarkers: [
        // H/L say high or low, not whether borderline or abnormal: the status is left open.
        { name: 'heart_rate', value: 111.6, unit: '/min', category: 'vital', normal_range_min: 60, normal_range_max: 100, confidence: 0.91, percentile: 97 },
        { name: 'qtc', value: 480, unit: 'ms', category: 'interval', normal_range_min: 350, normal_range_max: 450, confidence: 0.91, percentile: 97 },
      ],
      result: {
        rhythm_classification: 'atrial_fibrillation',
        arrhythmia_types: ['atrial_fibrillation', 'prolonged_qt'],
        arrhythmia_detected: true,
        // Measured columns repeat their biomarker; integer columns round it.
        heart_rate_bpm: 112,
        qtc_ms: 480,
      },
    });
  });

  it.each([
    ['final', { status: 'completed', requires_review: false }],
    ['preliminary', { status: 'completed', requires_review: true }],
    ['partial', { status: 'processing' }],
    ['registered', { status: 'pending' }],
    ['cancelled', { status: 'failed' }],
  ] as const)('DiagnosticReport.status %s -> %j', (status, expected) => {
    const doc = fromDiagnosticReport({ ...report(), status }, [], ctx);
    expect({ status: doc.status, requires_review: doc.requires_review }).toEqual({ requires_review: undefined, ...expected });
  });

  it('status amended or entered-in-error has no MediLens equivalent', () => {
    for (const status of ['amended', 'entered-in-error', 'unknown'] as const) {
      expect(issuesOf(() => fromDiagnosticReport({ ...report(), status }, [], ctx))).toEqual([
        { diagnostics: expect.stringMatching(new RegExp(`status ${status} has no MediLens equivalent`)), expression: ['DiagnosticReport.status'] },
      ]);
    }
  });

  it('a pending report has no modality row; a completed one always has (defaults)', () => {
    const pending = toDiagnosticReport({ ...reportRow, status: 'pending', findings: null, risk_level: null, result_ids: [] }, ctx);
    expect(fromDiagnosticReport(pending, [], ctx).result).toBeUndefined();
    const completed = toDiagnosticReport({ ...reportRow, pipeline_type: 'speech', findings: null, risk_level: null, result_ids: [] }, ctx);
    expect(fromDiagnosticReport(completed, [], ctx).result).toEqual({});
  });

  it('the pipeline from standard codings when they fit one pipeline only', () => {
    const standardOnly = (r: DiagnosticReport): DiagnosticReport => ({
      ...r,
      category: r.category!.filter((c) => !c.coding!.some((x) => x.system === `${base}/CodeSystem/pipeline`)),
      code: { ...r.code, coding: r.code.coding!.filter((x) => x.system !== `${base}/CodeSystem/report`) },
    });
    expect(fromDiagnosticReport(standardOnly(report()), [], ctx).pipeline).toBe('cardiology');
    const radiology = toDiagnosticReport({ ...reportRow, pipeline_type: 'radiology', findings: null }, ctx);
    expect(fromDiagnosticReport(standardOnly(radiology), [], ctx).pipeline).toBe('radiology');
    // IMG (Diagnostic Imaging) fits the retinal and the dermatology pipeline.
    const retinal = toDiagnosticReport({ ...reportRow, pipeline_type: 'retinal', findings: null }, ctx);
    expect(issuesOf(() => fromDiagnosticReport(standardOnly(retinal), [], ctx))).toEqual([
      { diagnostics: expect.stringMatching(/fit more than one pipeline \(retinal, dermatology\)/), expression: ['DiagnosticReport.category'] },
    ]);
    const none: DiagnosticReport = { ...report(), category: [{ text: 'Lab' }], code: { text: 'Something' } };
    expect(issuesOf(() => fromDiagnosticReport(none, [], ctx))).toEqual([
      { diagnostics: expect.stringMatching(/name no MediLens pipeline/), expression: ['DiagnosticReport.category'] },
    ]);
  });

  it('MediLens codings naming different or unknown pipelines', () => {
    const mixed = { ...report(), code: { coding: [{ system: `${base}/CodeSystem/report`, code: 'speech' }] } };
    expect(issuesOf(() => fromDiagnosticReport(mixed, [], ctx))[0]).toMatchObject({ expression: ['DiagnosticReport.category'], diagnostics: expect.stringMatching(/different pipelines: cardiology, speech/) });
    const unknown = { ...report(), category: [{ coding: [{ system: `${base}/CodeSystem/pipeline`, code: 'genomics' }] }], code: { text: 'x' } };
    expect(issuesOf(() => fromDiagnosticReport(unknown, [], ctx))[0].diagnostics).toMatch(/genomics, which is not one of/);
  });

  it('the findings of every modality from conclusionCode, and what follows from them', () => {
    const retinal = toDiagnosticReport({ ...reportRow, pipeline_type: 'retinal', findings: { dr_severity: 'severe', dme_severity: 'mild' } }, ctx);
    expect(fromDiagnosticReport(retinal, [], ctx).result).toEqual({ dr_severity: 'severe', dr_grade: 3, dme_severity: 'mild', dme_present: true });
    const derm = toDiagnosticReport({ ...reportRow, pipeline_type: 'dermatology', findings: { melanoma_suspicion: 'high', primary_classification: 'melanoma' } }, ctx);
    expect(fromDiagnosticReport(derm, [], ctx).result).toEqual({ melanoma_suspicion: 'high', primary_classification: 'melanoma' });
    const xray = toDiagnosticReport({ ...reportRow, pipeline_type: 'radiology', findings: { primary_condition: 'No Finding' } }, ctx);
    expect(fromDiagnosticReport(xray, [], ctx).result).toEqual({ primary_condition: 'No Finding' });
    // The cognitive result's risk level shares the assessment's CodeSystem: equal, one code; different, two.
    for (const [own, codes] of [['high', 1], ['moderate', 2]] as const) {
      const cognitive = toDiagnosticReport({ ...reportRow, pipeline_type: 'cognitive', findings: { risk_level: own } }, ctx);
      expect(cognitive.conclusionCode).toHaveLength(codes);
      const doc = fromDiagnosticReport(cognitive, [], ctx);
      expect([doc.risk_level, (doc.result as { risk_level: string }).risk_level]).toEqual(['high', own]);
    }
  });

  it('a LOINC-only Observation code names the biomarker it stands for; a duration in seconds becomes ms', () => {
    const [hr] = observations();
    hr.code = { coding: [{ system: 'http://loinc.org', code: '8867-4' }] };
    const r = report();
    r.extension = r.extension!.map((e) => (e.url.endsWith('/processing-time') ? { url: e.url, valueDuration: { value: 2.59, code: 's', system: 'http://unitsofmeasure.org' } } : e));
    const doc = fromDiagnosticReport(r, [hr], ctx);
    expect(doc.biomarkers![0].name).toBe('heart_rate');
    expect(doc.processing_time_ms).toBe(2590);
  });

  it('lists every problem of the report and of each Observation, with the Observation it is in', () => {
    const r: DiagnosticReport = { ...report(), identifier: [{ system: 'urn:other', value: 'x' }], effectiveDateTime: '2026-03-01', modifierExtension: [{ url: 'urn:x', valueBoolean: true }] };
    r.extension = [...r.extension!, { url: `${base}/StructureDefinition/risk-score`, valueString: 'high' }];
    const [hr, qtc] = observations();
    delete hr.valueQuantity;
    hr.valueCodeableConcept = { text: 'fast' };
    qtc.code = { text: 'QTc' };
    qtc.subject = { reference: 'Patient/someone-else' };
    const issues = issuesOf(() => fromDiagnosticReport(r, [hr, qtc], ctx));
    expect(issues.map((i) => [i.observation, i.expression[0]])).toEqual([
      [undefined, 'DiagnosticReport.identifier'],
      [undefined, 'DiagnosticReport.modifierExtension'],
      [undefined, 'DiagnosticReport.effectiveDateTime'],
      [undefined, `DiagnosticReport.extension.where(url='${base}/StructureDefinition/risk-score')`],
      [0, 'Observation.valueQuantity'],
      [1, 'Observation.code'],
      [1, 'Observation.subject'],
    ]);
    expect(issues[0].diagnostics).toContain(`${base}/sid/session-id`);
  });

  it('an Observation of another pipeline, or not an Observation at all', () => {
    const [hr] = observations();
    hr.category = [{ coding: [{ system: `${base}/CodeSystem/pipeline`, code: 'speech' }] }];
    const notObservation = { resourceType: 'Patient' } as unknown as Observation;
    expect(issuesOf(() => fromDiagnosticReport(report(), [hr, notObservation], ctx)).map((i) => [i.observation, i.expression[0]])).toEqual([
      [0, 'Observation.category'],
      [1, 'Observation'],
    ]);
  });

  it('an effective period gives its start; a partial date is refused where it stands', () => {
    const { effectiveDateTime, ...rest } = report();
    void effectiveDateTime;
    expect(fromDiagnosticReport({ ...rest, effectivePeriod: { start: '2026-03-01T09:59:00+01:00' } }, [], ctx).created_at).toBe('2026-03-01T09:59:00+01:00');
    expect(issuesOf(() => fromDiagnosticReport({ ...rest, effectivePeriod: { start: '2026-03' } }, [], ctx))[0].expression).toEqual(['DiagnosticReport.effectivePeriod.start']);
  });

  it('ignores extensions it does not know; keeps no resource ids', () => {
    const r = { ...report(), extension: [...report().extension!, { url: 'https://hospital.example/ext', valueString: 'x' }] };
    const doc = fromDiagnosticReport(r, observations(), ctx);
    expect(doc).not.toHaveProperty('id');
    expect(doc.biomarkers!.every((b) => b.id === undefined)).toBe(true);
  });
});
