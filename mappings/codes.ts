import type { CodeableConcept, Coding, DiagnosticReport } from 'fhir/r4';
import type { MappingContext } from './context';

/**
 * THE code map: biomarker -> LOINC (where one exists) + MediLens CodeSystem; pipeline -> Observation
 * category and DiagnosticReport category/code; report status; categorical findings; unit -> UCUM.
 * Mappings and search read it; nothing else names these codes.
 */

export const LOINC = 'http://loinc.org';
export { UCUM, ucumCode } from './units';
export const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const V3_OBSERVATION_VALUE = 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue';
export const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';
export const ORGANIZATION_TYPE = 'http://terminology.hl7.org/CodeSystem/organization-type';
export const PROVENANCE_PARTICIPANT_TYPE = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
export const V3_DATA_OPERATION = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
/** HL7 AI Transparency on FHIR (STU1 ballot): its CodeSystems may still move, so they are named here only. */
export const AI_TRANSPARENCY = 'http://hl7.org/fhir/uv/aitransparency';

export const PIPELINE_TYPES = ['retinal', 'speech', 'cardiology', 'radiology', 'dermatology', 'cognitive'] as const;
export type PipelineType = (typeof PIPELINE_TYPES)[number];

export const medilensSystems = (ctx: MappingContext) => ({
  biomarker: `${ctx.canonicalBase}/CodeSystem/biomarker`,
  biomarkerCategory: `${ctx.canonicalBase}/CodeSystem/biomarker-category`,
  pipeline: `${ctx.canonicalBase}/CodeSystem/pipeline`,
  /** DiagnosticReport.code of a pipeline's report (code = pipeline_type). */
  report: `${ctx.canonicalBase}/CodeSystem/report`,
  riskLevel: `${ctx.canonicalBase}/CodeSystem/risk-level`,
  deviceType: `${ctx.canonicalBase}/CodeSystem/device-type`,
  deviceProperty: `${ctx.canonicalBase}/CodeSystem/device-property`,
  organizationType: `${ctx.canonicalBase}/CodeSystem/organization-type`,
  userId: `${ctx.canonicalBase}/sid/user-id`,
  organizationId: `${ctx.canonicalBase}/sid/organization-id`,
  sessionId: `${ctx.canonicalBase}/sid/session-id`,
  /** OAuth client ids (AuditEvent client agents). */
  clientId: `${ctx.canonicalBase}/sid/client-id`,
  /** AuditEvent.subtype of events the MediLens backend records (code = audit_events.event_type). */
  auditEvent: `${ctx.canonicalBase}/CodeSystem/audit-event`,
});

/** AI-asserted content (meta.security of everything a pipeline produced). */
export const AIAST: Readonly<Coding> = { system: V3_OBSERVATION_VALUE, code: 'AIAST', display: 'Artificial Intelligence asserted' };
/** Reported by an AI with no clinician assertion (CLINAST_AIRPT once a clinician review is recorded). */
export const AIRPT: Readonly<Coding> = { system: `${AI_TRANSPARENCY}/CodeSystem/AddedProvenanceCS`, code: 'AIRPT', display: 'AI Reported' };
/** The AI Device profile's fixed Device.type (and the AI Provenance agent role). */
export const AI_DEVICE_TYPE: Readonly<Coding> = {
  system: `${AI_TRANSPARENCY}/CodeSystem/AIdeviceTypeCS`,
  code: 'Artificial-Intelligence',
  display: 'All kinds of Artificial Intelligence',
};

// ---- Observation ---------------------------------------------------------------------------------

/**
 * The observation-category of each pipeline's biomarkers: images are imaging, a voice recording is an
 * exam, an ECG is a procedure, cognitive tasks are a survey instrument.
 */
export const PIPELINE_CATEGORY: Readonly<Record<string, string>> = {
  retinal: 'imaging',
  speech: 'exam',
  cardiology: 'procedure',
  radiology: 'imaging',
  dermatology: 'imaging',
  cognitive: 'survey',
};
/** For pipelines a MediLens deployment adds later. */
export const DEFAULT_CATEGORY = 'exam';

export interface BiomarkerCode {
  loinc?: { code: string; display: string };
  /** Overrides the pipeline's category (heart rate is a vital sign whatever measured it). */
  category?: string;
}

/**
 * Only codes that mean exactly the biomarker; the rest carry the MediLens code alone. Checked against
 * the demo catalog: HRV RMSSD/pNN50, voice, retinal, radiology, dermatology and cognitive measures have
 * no LOINC term of their own (a near miss would mislead more than no code).
 */
export const BIOMARKER_CODES: Readonly<Record<string, BiomarkerCode>> = {
  heart_rate: { loinc: { code: '8867-4', display: 'Heart rate' }, category: 'vital-signs' },
  // SDNN is the standard deviation of normal R-R intervals: LOINC's HRV term (also HealthKit's mapping).
  sdnn: { loinc: { code: '80404-7', display: 'R-R interval.standard deviation (Heart rate variability)' } },
  pr_interval: { loinc: { code: '8625-6', display: 'P-R Interval' } },
  qrs_duration: { loinc: { code: '8633-0', display: 'QRS duration' } },
  qt_interval: { loinc: { code: '8634-8', display: 'Q-T interval' } },
  qtc: { loinc: { code: '8636-3', display: 'Q-T interval corrected' } },
};

export function observationCategoryCode(pipeline: string, biomarker: string): string {
  return BIOMARKER_CODES[biomarker]?.category ?? PIPELINE_CATEGORY[pipeline] ?? DEFAULT_CATEGORY;
}

/** observation-category, then the MediLens pipeline, then (when known) the MediLens biomarker category. */
export function observationCategories(ctx: MappingContext, pipeline: string, biomarker: string, biomarkerCategory?: string | null): CodeableConcept[] {
  const systems = medilensSystems(ctx);
  const categories: CodeableConcept[] = [
    { coding: [{ system: OBSERVATION_CATEGORY, code: observationCategoryCode(pipeline, biomarker) }] },
    { coding: [{ system: systems.pipeline, code: pipeline }] },
  ];
  if (biomarkerCategory) categories.push({ coding: [{ system: systems.biomarkerCategory, code: biomarkerCategory }] });
  return categories;
}

export function biomarkerCode(ctx: MappingContext, biomarker: string): CodeableConcept {
  const coding: Coding[] = [];
  const loinc = BIOMARKER_CODES[biomarker]?.loinc;
  if (loinc) coding.push({ system: LOINC, code: loinc.code, display: loinc.display });
  coding.push({ system: medilensSystems(ctx).biomarker, code: biomarker, display: humanize(biomarker) });
  return { coding, text: loinc?.display ?? humanize(biomarker) };
}

// ---- DiagnosticReport ------------------------------------------------------------------------------

export interface PipelineReport {
  /** Human name of the report (DiagnosticReport.code.text). */
  label: string;
  /** Standard category codings, translations of one discipline (one CodeableConcept). */
  categories: readonly Coding[];
  /** Standard codings of DiagnosticReport.code. */
  code: readonly Coding[];
}

/**
 * Per pipeline, the STANDARD codings only; every report also carries the MediLens pipeline category
 * (system medilensSystems.pipeline, code = pipeline_type) and report code (system medilensSystems.report,
 * code = pipeline_type), which depend on the canonical base. v2-0074 IMG fits the image pipelines,
 * EC/RAD with the US Core note categories fit cardiology/radiology; voice and cognitive tests have no
 * v2-0074 section. LOINC report codes exist for an EKG study and a diagnostic imaging study only.
 */
export const PIPELINE_REPORT: Readonly<Record<PipelineType, PipelineReport>> = {
  retinal: { label: 'Retinal scan report', categories: [{ system: V2_0074, code: 'IMG', display: 'Diagnostic Imaging' }], code: [] },
  speech: { label: 'Voice assessment report', categories: [], code: [] },
  cardiology: {
    label: 'ECG analysis report',
    categories: [
      { system: V2_0074, code: 'EC', display: 'Electrocardiac (e.g., EKG,  EEC, Holter)' },
      { system: LOINC, code: 'LP29708-2', display: 'Cardiology' },
    ],
    code: [{ system: LOINC, code: '11524-6', display: 'EKG study' }],
  },
  radiology: {
    label: 'Radiology image analysis report',
    categories: [
      { system: V2_0074, code: 'RAD', display: 'Radiology' },
      { system: LOINC, code: 'LP29684-5', display: 'Radiology' },
    ],
    code: [{ system: LOINC, code: '18748-4', display: 'Diagnostic imaging study' }],
  },
  dermatology: { label: 'Skin lesion analysis report', categories: [{ system: V2_0074, code: 'IMG', display: 'Diagnostic Imaging' }], code: [] },
  cognitive: { label: 'Cognitive assessment report', categories: [], code: [] },
};

const pipelineReport = (pipeline: string): PipelineReport | undefined => PIPELINE_REPORT[pipeline as PipelineType];

export function diagnosticReportCategories(ctx: MappingContext, pipeline: string): CodeableConcept[] {
  const standard = pipelineReport(pipeline)?.categories ?? [];
  const medilens: CodeableConcept = { coding: [{ system: medilensSystems(ctx).pipeline, code: pipeline }] };
  return standard.length ? [{ coding: standard.map((c) => ({ ...c })) }, medilens] : [medilens];
}

export function diagnosticReportCode(ctx: MappingContext, pipeline: string): CodeableConcept {
  const report = pipelineReport(pipeline);
  const text = report?.label ?? `${humanize(pipeline)} report`;
  return {
    coding: [...(report?.code ?? []).map((c) => ({ ...c })), { system: medilensSystems(ctx).report, code: pipeline, display: text }],
    text,
  };
}

/**
 * Search, inside out: the pipeline_type values whose report carries `system|code` in its category or
 * code; 'any' when every report matches (a MediLens system without a code). A MediLens coding matches
 * the pipeline_type equal to its code, known pipeline or not; a token without a system matches either.
 */
export function reportPipelines(
  ctx: MappingContext,
  element: 'category' | 'code',
  system: string | undefined,
  code: string | null,
): string[] | 'any' {
  const medilens = element === 'category' ? medilensSystems(ctx).pipeline : medilensSystems(ctx).report;
  if (system === medilens || (system === undefined && code === null)) return code === null ? 'any' : [code];
  const found = new Set<string>();
  for (const pipeline of PIPELINE_TYPES) {
    const codings = element === 'category' ? PIPELINE_REPORT[pipeline].categories : PIPELINE_REPORT[pipeline].code;
    if (codings.some((c) => (system === undefined || c.system === system) && (code === null || c.code === code))) found.add(pipeline);
  }
  if (system === undefined && code !== null) found.add(code);
  return [...found];
}

/**
 * assessments.status -> DiagnosticReport.status. completed is final, or preliminary while the pipeline
 * asks for a clinician review; a soft-deleted report is entered-in-error whatever its status.
 */
export const REPORT_STATUS: Readonly<Record<string, DiagnosticReport['status']>> = {
  pending: 'registered',
  processing: 'partial',
  completed: 'final',
  failed: 'cancelled',
};

export function diagnosticReportStatus(status: string | null, requiresReview: boolean | null, deleted: boolean): DiagnosticReport['status'] {
  if (deleted) return 'entered-in-error';
  const mapped = REPORT_STATUS[status ?? 'pending'] ?? 'unknown'; // NULL is the column's default, pending
  return mapped === 'final' && requiresReview ? 'preliminary' : mapped;
}

/**
 * Categorical findings of each modality result row (the view's `findings` JSONB) that become
 * DiagnosticReport.conclusionCode, each in its own MediLens CodeSystem (code = the stored value).
 * AI-suspected conditions get no SNOMED code: the report does not diagnose them.
 */
export interface ReportFinding {
  /** Key in the modality result row; an array value gives one code per element. */
  column: string;
  /** CodeSystem name under {canonicalBase}/CodeSystem/. */
  system: string;
  label: string;
}

export const REPORT_FINDINGS: Readonly<Record<string, readonly ReportFinding[]>> = {
  retinal: [
    { column: 'dr_severity', system: 'diabetic-retinopathy-severity', label: 'Diabetic retinopathy' },
    { column: 'dme_severity', system: 'macular-edema-severity', label: 'Diabetic macular edema' },
  ],
  cardiology: [
    { column: 'rhythm_classification', system: 'cardiac-rhythm', label: 'Rhythm' },
    { column: 'arrhythmia_types', system: 'arrhythmia', label: 'Arrhythmia' },
  ],
  radiology: [{ column: 'primary_condition', system: 'radiology-finding', label: 'Primary finding' }],
  dermatology: [
    { column: 'melanoma_suspicion', system: 'melanoma-suspicion', label: 'Melanoma suspicion' },
    { column: 'primary_classification', system: 'lesion-classification', label: 'Lesion' },
  ],
  // The cognitive result's own risk level: same CodeSystem as the assessment's (deduplicated).
  cognitive: [{ column: 'risk_level', system: 'risk-level', label: 'Risk level' }],
};

export function findingSystem(ctx: MappingContext, finding: ReportFinding): string {
  return `${ctx.canonicalBase}/CodeSystem/${finding.system}`;
}

// ---- Device --------------------------------------------------------------------------------------

/**
 * Device.type of a pipeline's model: the AI Device profile's fixed Artificial-Intelligence coding, the
 * MediLens AI/ML model type and the pipeline the model serves (R4 Device.type is a single concept).
 */
export function deviceType(ctx: MappingContext, pipeline: string): CodeableConcept {
  const systems = medilensSystems(ctx);
  return {
    coding: [
      { ...AI_DEVICE_TYPE },
      { system: systems.deviceType, code: 'ai-ml-model', display: 'AI/ML model' },
      { system: systems.pipeline, code: pipeline, display: humanize(pipeline) },
    ],
    text: `AI/ML model (${pipeline} pipeline)`,
  };
}

// ---- Organization --------------------------------------------------------------------------------

/** organizations.type -> organization-type; types without a fitting code keep the MediLens coding only. */
export const ORGANIZATION_TYPES: Readonly<Record<string, { code: string; display: string }>> = {
  hospital: { code: 'prov', display: 'Healthcare Provider' },
  clinic: { code: 'prov', display: 'Healthcare Provider' },
  practice: { code: 'prov', display: 'Healthcare Provider' },
  university: { code: 'edu', display: 'Educational Institute' },
  insurer: { code: 'ins', display: 'Insurance Company' },
  payer: { code: 'pay', display: 'Payer' },
  government: { code: 'govt', display: 'Government' },
};

// ---- AuditEvent (IHE BALP) ----------------------------------------------------------------------------

export const AUDIT_EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
export const DICOM = 'http://dicom.nema.org/resources/ontology/DCM';
export const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
export const AUDIT_EVENT_ACTION = 'http://hl7.org/fhir/audit-event-action';
export const AUDIT_EVENT_OUTCOME = 'http://hl7.org/fhir/audit-event-outcome';
export const AUDIT_ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
export const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
export const SECURITY_SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
export const V3_PARTICIPATION_TYPE = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
export const BALP_ENTITY_TYPE = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';
export const BALP_PROFILE = 'https://profiles.ihe.net/ITI/BALP/StructureDefinition';

/**
 * What kind of event an audit_events row is, by its event_type: a FHIR interaction the gateway
 * recorded, a token request, a change the MediLens backend's trigger recorded on an assessment (patient
 * data), or anything else the MediLens backend writes to its log.
 */
export type AuditEventKind = 'rest' | 'login' | 'patient-record' | 'application';

export function auditEventKind(eventType: string): AuditEventKind {
  if (eventType === 'rest') return 'rest';
  if (eventType === 'login') return 'login';
  return eventType.startsWith('assessment_') ? 'patient-record' : 'application';
}

/** AuditEvent.type of each kind. */
export const AUDIT_EVENT_TYPES: Readonly<Record<AuditEventKind, Readonly<Coding>>> = {
  rest: { system: AUDIT_EVENT_TYPE, code: 'rest', display: 'Restful Operation' },
  login: { system: DICOM, code: '110114', display: 'User Authentication' },
  'patient-record': { system: DICOM, code: '110110', display: 'Patient Record' },
  application: { system: DICOM, code: '110100', display: 'Application Activity' },
};

/** The restful-interaction codes a 'rest' event's subtype may hold (their displays are the codes). */
export const RESTFUL_INTERACTIONS: readonly string[] = [
  'read', 'vread', 'update', 'patch', 'delete', 'history', 'history-instance', 'history-type', 'history-system', 'create',
  'search', 'search-type', 'search-system', 'capabilities', 'transaction', 'batch', 'operation',
];

/** A token request's subtype (audit_events.subtype 'login'). */
export const LOGIN_SUBTYPE: Readonly<Coding> = { system: DICOM, code: '110122', display: 'Login' };

export const AUDIT_AGENT_TYPES = {
  /** The OAuth client (DICOM's pattern: the requester is the source, even when the data flows to it). */
  client: { system: DICOM, code: '110153', display: 'Source Role ID' },
  server: { system: DICOM, code: '110152', display: 'Destination Role ID' },
  application: { system: DICOM, code: '110150', display: 'Application' },
  /** The user of a read, search or login (BALP Read/Query). */
  recipient: { system: V3_PARTICIPATION_TYPE, code: 'IRCP', display: 'information recipient' },
  /** The user of a create, update or delete (BALP Create/Update require a DataSources type). */
  author: { system: V3_PARTICIPATION_TYPE, code: 'AUT', display: 'author (originator)' },
} as const satisfies Record<string, Coding>;

export const AUDIT_ENTITY = {
  /** X-Request-Id of the request (BALP's transaction entity). */
  transaction: { system: BALP_ENTITY_TYPE, code: 'XrequestId', display: 'X-Request-Id' },
  person: { system: AUDIT_ENTITY_TYPE, code: '1', display: 'Person' },
  systemObject: { system: AUDIT_ENTITY_TYPE, code: '2', display: 'System Object' },
  patientRole: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
  domainResourceRole: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
  queryRole: { system: OBJECT_ROLE, code: '24', display: 'Query' },
} as const satisfies Record<string, Coding>;

/** AuditEvent.source.type of every event: the gateway, or the MediLens backend, is an application server. */
export const APPLICATION_SERVER: Readonly<Coding> = { system: SECURITY_SOURCE_TYPE, code: '4', display: 'Application Server' };

// ---- Units ---------------------------------------------------------------------------------------

/** 'atrial_fibrillation' -> 'Atrial fibrillation' (displays of MediLens codes). */
export function humanize(name: string): string {
  const text = name.replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
