import type { CodeableConcept, Coding } from 'fhir/r4';
import type { MappingContext } from './context';

/**
 * THE code map: biomarker -> LOINC (where one exists) + MediLens CodeSystem; pipeline -> Observation
 * category; unit -> UCUM. Mappings and search read it; nothing else names these codes.
 */

export const LOINC = 'http://loinc.org';
export const UCUM = 'http://unitsofmeasure.org';
export const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const V3_OBSERVATION_VALUE = 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue';

export const PIPELINE_TYPES = ['retinal', 'speech', 'cardiology', 'radiology', 'dermatology', 'cognitive'] as const;

export const medilensSystems = (ctx: MappingContext) => ({
  biomarker: `${ctx.canonicalBase}/CodeSystem/biomarker`,
  pipeline: `${ctx.canonicalBase}/CodeSystem/pipeline`,
  userId: `${ctx.canonicalBase}/sid/user-id`,
});

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

/** Only codes that mean exactly the biomarker; the rest carry the MediLens code alone. */
export const BIOMARKER_CODES: Readonly<Record<string, BiomarkerCode>> = {
  heart_rate: { loinc: { code: '8867-4', display: 'Heart rate' }, category: 'vital-signs' },
  pr_interval: { loinc: { code: '8625-6', display: 'P-R Interval' } },
  qrs_duration: { loinc: { code: '8633-0', display: 'QRS duration' } },
  qt_interval: { loinc: { code: '8634-8', display: 'Q-T interval' } },
  qtc: { loinc: { code: '8636-3', display: 'Q-T interval corrected' } },
};

export function observationCategoryCode(pipeline: string, biomarker: string): string {
  return BIOMARKER_CODES[biomarker]?.category ?? PIPELINE_CATEGORY[pipeline] ?? DEFAULT_CATEGORY;
}

export function observationCategories(ctx: MappingContext, pipeline: string, biomarker: string): CodeableConcept[] {
  return [
    { coding: [{ system: OBSERVATION_CATEGORY, code: observationCategoryCode(pipeline, biomarker) }] },
    { coding: [{ system: medilensSystems(ctx).pipeline, code: pipeline }] },
  ];
}

export function biomarkerCode(ctx: MappingContext, biomarker: string): CodeableConcept {
  const coding: Coding[] = [];
  const loinc = BIOMARKER_CODES[biomarker]?.loinc;
  if (loinc) coding.push({ system: LOINC, code: loinc.code, display: loinc.display });
  coding.push({ system: medilensSystems(ctx).biomarker, code: biomarker, display: humanize(biomarker) });
  return { coding, text: loinc?.display ?? humanize(biomarker) };
}

/** MediLens units that are valid UCUM as written ('1' is UCUM's unity for ratios and scores). */
const UCUM_UNITS = new Set(['1', '%', '/min', 'ms', 's', 'dB', 'Hz', 'mm', 'mm[Hg]', 'kg', 'cm', 'kg/m2', 'mL', 'mg/dL', 'mmol/L']);
/** Common non-UCUM spellings and their UCUM code. */
const UCUM_ALIASES: Readonly<Record<string, string>> = { bpm: '/min', 'beats/min': '/min', sec: 's', seconds: 's', percent: '%', ratio: '1', score: '1' };

/** The UCUM code for a MediLens unit, or null when it is not one. */
export function ucumCode(unit: string | null): string | null {
  if (unit === null) return null;
  if (UCUM_UNITS.has(unit)) return unit;
  return UCUM_ALIASES[unit.toLowerCase()] ?? null;
}

function humanize(name: string): string {
  const text = name.replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
