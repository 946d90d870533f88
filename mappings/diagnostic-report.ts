import type { CodeableConcept, Coding, DiagnosticReport, Extension } from 'fhir/r4';
import {
  AIAST,
  diagnosticReportCategories,
  diagnosticReportCode,
  diagnosticReportStatus,
  findingSystem,
  humanize,
  medilensSystems,
  REPORT_FINDINGS,
  UCUM,
} from './codes';
import { extensionUrl, iso, versionMeta, type MappingContext, type Timestamp, type ViewRow } from './context';

/** One row of fhir_diagnostic_report: an assessment with its modality result, latest explanation and model. */
export interface DiagnosticReportRow extends ViewRow {
  patient_id: string;
  session_id: string;
  pipeline_type: string;
  pipeline_version: string;
  status: string | null;
  requires_review: boolean | null;
  /** No R4 DiagnosticReport element holds it (no note); the preliminary status says a review is due. */
  review_reason: string | null;
  risk_score: number | null;
  risk_level: string | null;
  confidence: number | null;
  quality_score: number | null;
  processing_time_ms: number | null;
  effective_at: Timestamp;
  issued: Timestamp | null;
  device_id: string | null;
  conclusion: string | null;
  /** The assessment's biomarker_values ids, in the order they were measured. */
  result_ids: string[];
  /** The modality result row (retinal_results ...) as JSONB; NULL until the pipeline completes. */
  findings: Record<string, unknown> | null;
}

/**
 * The report of one assessment. Everything in it was produced by the pipeline, so it is AI-asserted;
 * the model itself (a Device) is named by the report's Provenance, since R4 DiagnosticReport.performer
 * cannot reference a Device.
 */
export function toDiagnosticReport(row: DiagnosticReportRow, ctx: MappingContext): DiagnosticReport {
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    id: row.id,
    meta: { ...versionMeta(row), security: [{ ...AIAST }] },
    identifier: [{ system: medilensSystems(ctx).sessionId, value: row.session_id }],
    status: diagnosticReportStatus(row.status, row.requires_review, row.deleted_at !== null),
    category: diagnosticReportCategories(ctx, row.pipeline_type),
    code: diagnosticReportCode(ctx, row.pipeline_type),
    subject: { reference: `Patient/${row.patient_id}` },
    effectiveDateTime: iso(row.effective_at),
  };
  if (row.issued !== null) report.issued = iso(row.issued);
  if (row.organization_id) report.performer = [{ reference: `Organization/${row.organization_id}` }];
  if (row.result_ids.length) report.result = row.result_ids.map((id) => ({ reference: `Observation/${id}` }));
  if (row.conclusion) report.conclusion = row.conclusion;
  const conclusionCode = conclusionCodes(row, ctx);
  if (conclusionCode.length) report.conclusionCode = conclusionCode;
  const extension = reportExtensions(row, ctx);
  if (extension.length) report.extension = extension;
  return report;
}

/** The assessment's risk level, then the modality's categorical findings, each coded once. */
function conclusionCodes(row: DiagnosticReportRow, ctx: MappingContext): CodeableConcept[] {
  const concepts: CodeableConcept[] = [];
  const seen = new Set<string>();
  const add = (system: string, value: unknown, label: string) => {
    const code = codeValue(value);
    if (code === null || seen.has(`${system}|${code}`)) return;
    seen.add(`${system}|${code}`);
    const coding: Coding = { system, code, display: humanize(code) };
    concepts.push({ coding: [coding], text: `${label}: ${humanize(code).toLowerCase()}` });
  };
  add(medilensSystems(ctx).riskLevel, row.risk_level, 'Risk level');
  for (const finding of REPORT_FINDINGS[row.pipeline_type] ?? []) {
    const value = row.findings?.[finding.column];
    for (const item of Array.isArray(value) ? value : [value]) add(findingSystem(ctx, finding), item, finding.label);
  }
  return concepts;
}

/** A stored value usable as a FHIR code (no leading, trailing or repeated whitespace), or null. */
function codeValue(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const code = value.trim().replace(/\s+/g, ' ');
  return code.length ? code : null;
}

function reportExtensions(row: DiagnosticReportRow, ctx: MappingContext): Extension[] {
  const extension: Extension[] = [];
  if (row.risk_score !== null) extension.push({ url: extensionUrl(ctx, 'risk-score'), valueDecimal: row.risk_score });
  if (row.confidence !== null) extension.push({ url: extensionUrl(ctx, 'confidence'), valueDecimal: row.confidence });
  if (row.quality_score !== null) extension.push({ url: extensionUrl(ctx, 'quality-score'), valueDecimal: row.quality_score });
  extension.push({ url: extensionUrl(ctx, 'pipeline-version'), valueString: row.pipeline_version });
  if (row.processing_time_ms !== null) {
    extension.push({
      url: extensionUrl(ctx, 'processing-time'),
      valueDuration: { value: row.processing_time_ms, unit: 'ms', system: UCUM, code: 'ms' },
    });
  }
  return extension;
}
