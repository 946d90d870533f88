import type { CodeableConcept, Coding, DiagnosticReport, Extension, Observation } from 'fhir/r4';
// Types only (erased when compiled): the document shape is the ingestion endpoint's, defined once there.
import type { AssessmentStatus, BiomarkerInput, Pipeline, ResultDocument } from './pipeline-result';
import { BIOMARKER_CODES, findingSystem, LOINC, medilensSystems, PIPELINE_TYPES, REPORT_FINDINGS, reportPipelines } from './codes';
import { extensionUrl, type MappingContext } from './context';

/**
 * FHIR -> MediLens result document: the inverse of toDiagnosticReport and toObservation, for FHIR
 * clients that deliver a pipeline's report as a DiagnosticReport with its result Observations.
 *
 * What comes back: pipeline (MediLens pipeline/report coding, else the standard codings when they fit
 * one pipeline only), status, session_id (the MediLens session identifier), created_at
 * (effectiveDateTime, or effectivePeriod.start), completed_at (issued), the report extensions,
 * risk_level and the modality's categorical findings (conclusionCode), the explanation (conclusion),
 * and biomarkers[i] from observations[i], in that order, so a problem the document schema finds at
 * `biomarkers[i]` lies in observations[i]. Numeric modality columns that repeat a biomarker are filled
 * from it (MEASURED); a value the column cannot hold is then reported at `result.<column>`. Resource
 * ids are not kept: as in any FHIR create, the server assigns them. The patient is the caller's to
 * resolve (DiagnosticReport.subject).
 *
 * Lost on the way out, so not restored: a biomarker's borderline/abnormal status where the range
 * already says H or L, review_reason, stages, and modality columns no resource carries.
 */
export type MappedDocument = Omit<ResultDocument, 'patient'>;

export interface ResultMappingIssue {
  readonly diagnostics: string;
  /** FHIRPath-like, from the resource: `DiagnosticReport.category`, `Observation.valueQuantity`. */
  readonly expression: string[];
  /** Which of the observations; absent for the report itself. */
  readonly observation?: number;
}

/** The report (or one of its observations) cannot become a result document; every problem found. */
export class ResultMappingError extends Error {
  constructor(readonly issues: readonly ResultMappingIssue[]) {
    super(issues.map((i) => i.diagnostics).join('; '));
    this.name = 'ResultMappingError';
  }
}

/** DiagnosticReport.status -> assessment status (preliminary: completed, awaiting a clinician's review). */
const STATUS: Readonly<Record<string, { status: AssessmentStatus; review?: boolean }>> = {
  final: { status: 'completed', review: false },
  preliminary: { status: 'completed', review: true },
  partial: { status: 'processing' },
  registered: { status: 'pending' },
  cancelled: { status: 'failed' },
};

/** Modality columns that repeat a biomarker's value (as the demo data writes them): column -> biomarker. */
const MEASURED: Readonly<Record<Pipeline, Readonly<Record<string, string>>>> = {
  retinal: {
    vessel_density: 'vessel_density', av_ratio: 'av_ratio', tortuosity_index: 'tortuosity_index',
    hemorrhage_count: 'hemorrhage_count', microaneurysm_count: 'microaneurysm_count', exudate_area_percent: 'exudate_area_percent',
  },
  speech: {
    jitter: 'jitter', shimmer: 'shimmer', hnr: 'hnr', cpps: 'cpps', speech_rate: 'speech_rate', pause_ratio: 'pause_ratio',
    voice_tremor: 'voice_tremor', articulation_clarity: 'articulation_clarity', prosody_variation: 'prosody_variation', fluency_score: 'fluency_score',
  },
  cardiology: {
    heart_rate_bpm: 'heart_rate', rmssd_ms: 'rmssd', sdnn_ms: 'sdnn', pnn50_percent: 'pnn50',
    pr_interval_ms: 'pr_interval', qrs_duration_ms: 'qrs_duration', qt_interval_ms: 'qt_interval', qtc_ms: 'qtc',
  },
  radiology: {},
  dermatology: { asymmetry_score: 'asymmetry_score', border_score: 'border_score', color_score: 'color_score', diameter_mm: 'diameter', evolution_score: 'evolution_score' },
  cognitive: {
    attention_score: 'attention_score', memory_score: 'memory_score', executive_function_score: 'executive_function_score',
    processing_speed_score: 'processing_speed_score', fatigue_index: 'fatigue_index', consistency_score: 'consistency_score',
  },
};

/** Integer columns among MEASURED: the biomarker is rounded (heart_rate 71.6/min -> heart_rate_bpm 72). */
const INTEGER_COLUMNS = new Set(['hemorrhage_count', 'microaneurysm_count', 'heart_rate_bpm', 'pr_interval_ms', 'qrs_duration_ms', 'qt_interval_ms', 'qtc_ms']);
/** Findings stored as a list, one conclusionCode each. */
const LIST_FINDINGS = new Set(['arrhythmia_types']);
const DR_SEVERITIES = ['none', 'mild', 'moderate', 'severe', 'proliferative'];
const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, min: 60_000 };
/** A dateTime the assessment can hold: to the second, with an offset (FHIR allows a bare date or month). */
const FULL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const codings = (concepts: readonly CodeableConcept[] | undefined): Coding[] => (concepts ?? []).flatMap((c) => c.coding ?? []);

export function fromDiagnosticReport(report: DiagnosticReport, observations: readonly Observation[], ctx: MappingContext): MappedDocument {
  const issues: ResultMappingIssue[] = [];
  const problem = (expression: string, diagnostics: string, observation?: number) =>
    issues.push({ diagnostics, expression: [expression], ...(observation !== undefined ? { observation } : {}) });
  const systems = medilensSystems(ctx);

  const pipeline = pipelineOf(report, ctx, problem);
  const mapped = STATUS[report.status];
  if (!mapped) problem('DiagnosticReport.status', `DiagnosticReport.status ${report.status} has no MediLens equivalent (use ${Object.keys(STATUS).join(', ')})`);
  const session = report.identifier?.find((i) => i.system === systems.sessionId)?.value;
  if (!session) {
    problem(
      'DiagnosticReport.identifier',
      `DiagnosticReport.identifier needs the MediLens session id (system ${systems.sessionId}): it makes a repeated delivery recognisable`,
    );
  }
  if (report.modifierExtension?.length) problem('DiagnosticReport.modifierExtension', 'DiagnosticReport.modifierExtension cannot be honoured');
  // A period's start is when the pipeline ran (the assessment has one time, not an interval).
  const [effective, effectiveAt] =
    report.effectiveDateTime !== undefined
      ? [report.effectiveDateTime, 'DiagnosticReport.effectiveDateTime']
      : [report.effectivePeriod?.start, 'DiagnosticReport.effectivePeriod.start'];
  if (effective !== undefined && !FULL_DATE_TIME.test(effective)) problem(effectiveAt, `${effectiveAt} must be a date and time to the second with a time zone`);

  const doc: MappedDocument = { session_id: session ?? '', pipeline: pipeline ?? 'retinal', status: mapped?.status ?? 'completed' };
  if (mapped?.review !== undefined) doc.requires_review = mapped.review;
  if (effective !== undefined) doc.created_at = effective;
  if (report.issued !== undefined) doc.completed_at = report.issued;
  Object.assign(doc, reportExtensions(report.extension ?? [], ctx, problem));
  if (report.conclusion) doc.explanation = { text: report.conclusion };

  const subject = report.subject?.reference;
  const biomarkers = observations.map((o, i) => biomarkerOf(o, i, { ctx, pipeline, subject }, problem));
  if (biomarkers.length) doc.biomarkers = biomarkers.filter((b): b is BiomarkerInput => b !== null);

  if (pipeline) {
    const result = findings(report, pipeline, ctx, doc);
    for (const [column, name] of Object.entries(MEASURED[pipeline])) {
      const measured = doc.biomarkers?.find((b) => b.name === name);
      if (measured) result[column] = INTEGER_COLUMNS.has(column) ? Math.round(measured.value) : measured.value;
    }
    // toDiagnosticReport writes no modality row before the pipeline completes; neither does this.
    if (Object.keys(result).length || doc.status === 'completed') doc.result = result;
  }
  if (issues.length) throw new ResultMappingError(issues);
  return doc;
}

type Problem = (expression: string, diagnostics: string, observation?: number) => void;

/** The MediLens pipeline/report codings; else the one pipeline every standard coding fits. */
function pipelineOf(report: DiagnosticReport, ctx: MappingContext, problem: Problem): Pipeline | null {
  const systems = medilensSystems(ctx);
  const own = new Set([
    ...codings(report.category).filter((c) => c.system === systems.pipeline).map((c) => c.code),
    ...(report.code?.coding ?? []).filter((c) => c.system === systems.report).map((c) => c.code),
  ]);
  if (own.size > 1) {
    problem('DiagnosticReport.category', `DiagnosticReport.category and code name different pipelines: ${[...own].join(', ')}`);
    return null;
  }
  if (own.size === 1) {
    const [code] = own;
    if ((PIPELINE_TYPES as readonly (string | undefined)[]).includes(code)) return code as Pipeline;
    problem('DiagnosticReport.category', `DiagnosticReport.category names pipeline ${code}, which is not one of ${PIPELINE_TYPES.join(', ')}`);
    return null;
  }
  let candidates: Set<string> = new Set(PIPELINE_TYPES);
  let recognised = false;
  const narrow = (element: 'category' | 'code', c: Coding) => {
    if (!c.system || !c.code) return;
    const fits = reportPipelines(ctx, element, c.system, c.code);
    if (fits === 'any' || fits.length === 0) return;
    recognised = true;
    candidates = new Set(fits.filter((p) => candidates.has(p)));
  };
  codings(report.category).forEach((c) => narrow('category', c));
  (report.code?.coding ?? []).forEach((c) => narrow('code', c));
  if (recognised && candidates.size === 1) return [...candidates][0] as Pipeline;
  problem(
    'DiagnosticReport.category',
    recognised
      ? `DiagnosticReport.category and code fit more than one pipeline (${[...candidates].join(', ') || 'none in common'}): ` +
          `add the MediLens pipeline coding (${systems.pipeline})`
      : `DiagnosticReport.category and code name no MediLens pipeline: add the pipeline coding (${systems.pipeline}|<pipeline>)`,
  );
  return null;
}

type ReportFields = Pick<MappedDocument, 'risk_score' | 'confidence' | 'quality_score' | 'pipeline_version' | 'processing_time_ms'>;

function reportExtensions(extensions: readonly Extension[], ctx: MappingContext, problem: Problem): ReportFields {
  const fields: ReportFields = {};
  const at = (name: string) => `DiagnosticReport.extension.where(url='${extensionUrl(ctx, name)}')`;
  const decimal = (name: string, e: Extension, set: (v: number) => void) =>
    typeof e.valueDecimal === 'number' ? set(e.valueDecimal) : problem(at(name), `The ${name} extension takes valueDecimal`);
  for (const e of extensions) {
    if (e.url === extensionUrl(ctx, 'risk-score')) decimal('risk-score', e, (v) => (fields.risk_score = v));
    else if (e.url === extensionUrl(ctx, 'confidence')) decimal('confidence', e, (v) => (fields.confidence = v));
    else if (e.url === extensionUrl(ctx, 'quality-score')) decimal('quality-score', e, (v) => (fields.quality_score = v));
    else if (e.url === extensionUrl(ctx, 'pipeline-version')) {
      if (typeof e.valueString === 'string') fields.pipeline_version = e.valueString;
      else problem(at('pipeline-version'), 'The pipeline-version extension takes valueString');
    } else if (e.url === extensionUrl(ctx, 'processing-time')) {
      const d = e.valueDuration;
      const factor = DURATION_MS[d?.code ?? d?.unit ?? 'ms'];
      if (typeof d?.value === 'number' && factor !== undefined) fields.processing_time_ms = Math.round(d.value * factor);
      else problem(at('processing-time'), 'The processing-time extension takes valueDuration in ms, s or min');
    }
    // Other extensions are not MediLens data: ignored, as FHIR lets a receiver ignore extensions.
  }
  return fields;
}

/**
 * risk_level and the modality's categorical findings from conclusionCode (REPORT_FINDINGS), and what
 * follows from them: the DR grade from its severity, DME from its severity, arrhythmia from its types.
 */
function findings(report: DiagnosticReport, pipeline: Pipeline, ctx: MappingContext, doc: MappedDocument): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const riskSystem = medilensSystems(ctx).riskLevel;
  for (const coding of codings(report.conclusionCode)) {
    if (!coding.code) continue;
    if (coding.system === riskSystem && doc.risk_level === undefined) doc.risk_level = coding.code as MappedDocument['risk_level'];
    for (const finding of REPORT_FINDINGS[pipeline] ?? []) {
      if (coding.system !== findingSystem(ctx, finding)) continue;
      // The cognitive result's own risk level shares the risk-level system: the last such code is its.
      if (LIST_FINDINGS.has(finding.column)) ((result[finding.column] ??= []) as string[]).push(coding.code);
      else if (result[finding.column] === undefined || finding.system === 'risk-level') result[finding.column] = coding.code;
    }
  }
  if (pipeline === 'retinal') {
    const grade = DR_SEVERITIES.indexOf(result.dr_severity as string);
    if (grade >= 0) result.dr_grade = grade;
    if (result.dme_severity !== undefined) result.dme_present = true;
  }
  if (pipeline === 'cardiology' && Array.isArray(result.arrhythmia_types)) result.arrhythmia_detected = result.arrhythmia_types.length > 0;
  return result;
}

interface BiomarkerContext {
  ctx: MappingContext;
  pipeline: Pipeline | null;
  subject: string | undefined;
}

const INTERPRETATION_STATUS: Readonly<Record<string, BiomarkerInput['status']>> = { N: 'normal', A: 'abnormal', AA: 'abnormal', HH: 'abnormal', LL: 'abnormal' };

function biomarkerOf(o: Observation, index: number, { ctx, pipeline, subject }: BiomarkerContext, problem: Problem): BiomarkerInput | null {
  const systems = medilensSystems(ctx);
  let failed = false;
  const fail = (expression: string, diagnostics: string) => {
    failed = true;
    problem(expression, diagnostics, index);
  };
  if (o.resourceType !== 'Observation') {
    fail('Observation', `DiagnosticReport.result[${index}] is a ${String(o.resourceType)}, not an Observation`);
    return null;
  }
  const codes = o.code?.coding ?? [];
  const name =
    codes.find((c) => c.system === systems.biomarker)?.code ??
    Object.entries(BIOMARKER_CODES).find(([, b]) => codes.some((c) => c.system === LOINC && c.code === b.loinc?.code))?.[0];
  if (!name) fail('Observation.code', `Observation.code needs the MediLens biomarker coding (${systems.biomarker}) or a LOINC code MediLens measures`);
  const quantity = o.valueQuantity;
  if (typeof quantity?.value !== 'number') fail('Observation.valueQuantity', 'Observation.valueQuantity.value is required: a biomarker is a measured quantity');
  if (o.modifierExtension?.length) fail('Observation.modifierExtension', 'Observation.modifierExtension cannot be honoured');
  const own = (o.category ?? []).flatMap((c) => c.coding ?? []).filter((c) => c.system === systems.pipeline).map((c) => c.code);
  if (pipeline && own.some((p) => p !== pipeline)) fail('Observation.category', `Observation.category names pipeline ${own.join(', ')}, the report ${pipeline}`);
  if (subject && o.subject?.reference && o.subject.reference !== subject) fail('Observation.subject', 'Observation.subject is not the report\'s subject');
  if (failed || !name || typeof quantity?.value !== 'number') return null;

  const biomarker: BiomarkerInput = { name, value: quantity.value };
  const unit = quantity.unit ?? quantity.code;
  if (unit !== undefined) biomarker.unit = unit;
  const category = codings(o.category).find((c) => c.system === systems.biomarkerCategory)?.code;
  if (category !== undefined) biomarker.category = category;
  const range = o.referenceRange?.[0];
  if (typeof range?.low?.value === 'number') biomarker.normal_range_min = range.low.value;
  if (typeof range?.high?.value === 'number') biomarker.normal_range_max = range.high.value;
  const status = INTERPRETATION_STATUS[codings(o.interpretation)[0]?.code ?? ''];
  if (status) biomarker.status = status;
  for (const e of o.extension ?? []) {
    const value = e.valueDecimal ?? e.valueInteger;
    if (e.url === extensionUrl(ctx, 'confidence') && typeof value === 'number') biomarker.confidence = value;
    if (e.url === extensionUrl(ctx, 'percentile') && typeof value === 'number') biomarker.percentile = value;
  }
  return biomarker;
}
