import type { Coding } from 'fhir/r4';
import { diagnosticReportCategories, diagnosticReportCode, PIPELINE_TYPES } from '../../../mappings/codes';
import { toDiagnosticReport, type DiagnosticReportRow } from '../../../mappings/diagnostic-report';
import { ROW, type ResourceDefinition } from '../definition';
import { codedColumnPredicate, commonParameters, lastUpdatedSort, referencesAt } from './common';

const US_CORE = 'http://hl7.org/fhir/us/core/SearchParameter';
const REPORT_STATUS = 'http://hl7.org/fhir/diagnostic-report-status';

/** DiagnosticReport.status as mappings/diagnostic-report.ts derives it from the assessment, as predicates. */
const STATUS: Record<string, string> = {
  registered: `COALESCE(r.status, 'pending') = 'pending'`,
  partial: `r.status = 'processing'`,
  final: `r.status = 'completed' AND NOT COALESCE(r.requires_review, FALSE)`,
  preliminary: `r.status = 'completed' AND COALESCE(r.requires_review, FALSE)`,
  cancelled: `r.status = 'failed'`,
  unknown: `r.status NOT IN ('pending', 'processing', 'completed', 'failed')`,
};

/** DiagnosticReport <- fhir_diagnostic_report (an assessment with its model, results and explanation). */
export function diagnosticReportDefinition(canonicalBase: string): ResourceDefinition<DiagnosticReportRow> {
  const ctx = { canonicalBase };
  const codings = (concepts: { coding?: Coding[] }[]) => concepts.flatMap((c) => c.coding ?? []);
  const categories = Object.fromEntries(PIPELINE_TYPES.map((p) => [p, codings(diagnosticReportCategories(ctx, p))]));
  const codes = Object.fromEntries(PIPELINE_TYPES.map((p) => [p, codings([diagnosticReportCode(ctx, p)])]));
  return {
    type: 'DiagnosticReport',
    tenancy: 'patient',
    view: 'fhir_diagnostic_report',
    profile: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-diagnosticreport-note',
    parameters: {
      ...commonParameters(),
      patient: {
        type: 'reference',
        description: 'The Patient the report is about',
        definition: `${US_CORE}/us-core-diagnosticreport-patient`,
        targets: ['Patient'],
        column: ROW.patient,
      },
      subject: {
        type: 'reference',
        description: 'The subject of the report (always a Patient here)',
        definition: 'http://hl7.org/fhir/SearchParameter/DiagnosticReport-subject',
        targets: ['Patient'],
        column: ROW.patient,
      },
      category: {
        type: 'token',
        description: 'Report category: v2-0074 section, LOINC note category or MediLens pipeline',
        definition: `${US_CORE}/us-core-diagnosticreport-category`,
        where: codedColumnPredicate('r.pipeline_type', categories),
      },
      code: {
        type: 'token',
        description: 'Report code per pipeline (LOINC where one exists, else MediLens)',
        definition: `${US_CORE}/us-core-diagnosticreport-code`,
        where: codedColumnPredicate('r.pipeline_type', codes),
      },
      date: {
        type: 'date',
        description: 'When the assessment was made',
        definition: `${US_CORE}/us-core-diagnosticreport-date`,
        column: 'r.effective_at',
        precision: 'instant',
      },
      status: {
        type: 'token',
        description: 'registered, partial, preliminary, final or cancelled',
        definition: `${US_CORE}/us-core-diagnosticreport-status`,
        where: (_params, token) =>
          token.system !== undefined && token.system !== REPORT_STATUS ? 'FALSE' : token.code === null ? 'TRUE' : (STATUS[token.code] ?? 'FALSE'),
      },
      result: {
        type: 'reference',
        description: 'An Observation among the report results',
        definition: 'http://hl7.org/fhir/SearchParameter/DiagnosticReport-result',
        targets: ['Observation'],
        where: (params, refs) => `r.id IN (SELECT b.assessment_id FROM biomarker_values b WHERE b.id = ANY(${params.add(refs.map((ref) => ref.id))}::uuid[]))`,
        missing: 'cardinality(r.result_ids) = 0',
      },
    },
    sorts: {
      _lastUpdated: lastUpdatedSort,
      date: { columns: [{ expr: 'r.effective_at', sqlType: 'timestamptz' }] },
      code: { columns: [{ expr: 'r.pipeline_type', sqlType: 'text' }] },
    },
    includes: {
      result: { target: 'Observation', references: referencesAt('result') },
      patient: { target: 'Patient', references: referencesAt('subject') },
      subject: { target: 'Patient', references: referencesAt('subject') },
    },
    summary: ['identifier', 'basedOn', 'status', 'category', 'code', 'subject', 'encounter', 'effectiveDateTime', 'issued', 'performer', 'resultsInterpreter', 'result', 'conclusionCode'],
    toResource: toDiagnosticReport,
  };
}
