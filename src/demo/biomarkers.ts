import type { Pipeline } from '../db/seed';
import { CATALOG, classify, type BiomarkerSpec, type BiomarkerStatus } from './catalog';
import { clamp, round, type Random } from './random';

export interface SampledBiomarker {
  spec: BiomarkerSpec;
  value: number;
  status: BiomarkerStatus;
  confidence: number;
  percentile: number | null;
}

/** Spread of the healthy population, in range widths. */
const NORMAL_SD = 0.22;
const EDGE_SD = 0.3;

/**
 * One value per catalog biomarker of the pipeline. Healthy values mostly fall inside the normal range;
 * severity (0..1) pushes a growing share of the biomarkers, by a growing amount, the way disease does.
 */
export function sampleBiomarkers(pipeline: Pipeline, severity: number, confidence: number, rng: Random): SampledBiomarker[] {
  const specs = CATALOG[pipeline].biomarkers;
  const values = new Map<string, number>();
  for (const spec of specs) values.set(spec.name, sampleValue(spec, severity, rng));
  derive(pipeline, values);
  return specs.map((spec) => {
    const value = values.get(spec.name)!;
    return {
      spec,
      value,
      status: classify(spec, value),
      confidence: round(clamp(confidence + 0.03 * rng.normal(), 0.5, 0.999), 3),
      percentile: percentile(spec, value),
    };
  });
}

function sampleValue(spec: BiomarkerSpec, severity: number, rng: Random): number {
  const width = spec.high - spec.low;
  const affected = rng.chance(0.15 + 0.85 * severity);
  const dir = spec.worse === 'up' ? 1 : -1;
  let value: number;
  if (spec.shape === 'count') {
    const mean = 0.08 * (width + 1) + (affected ? spec.effect * severity * severity * (0.5 + rng.next()) : 0);
    value = rng.poisson(mean);
  } else {
    const push = affected ? spec.effect * severity ** 1.5 * (0.5 + rng.next()) * width : 0;
    if (spec.shape === 'normal') {
      value = (spec.low + spec.high) / 2 + NORMAL_SD * width * rng.normal() + dir * push;
    } else {
      const spread = EDGE_SD * width * Math.abs(rng.normal()) + push;
      value = dir > 0 ? spec.low + spread : spec.high - spread;
    }
  }
  return round(clamp(value, spec.limits[0], spec.limits[1]), spec.decimals);
}

/** Values that follow from others rather than being measured on their own. */
function derive(pipeline: Pipeline, values: Map<string, number>): void {
  if (pipeline === 'cardiology') {
    // Bazett: QTc = QT / sqrt(RR), RR = 60 / heart rate (seconds).
    const qt = values.get('qtc')! * Math.sqrt(60 / values.get('heart_rate')!);
    values.set('qt_interval', round(clamp(qt, 200, 700), 0));
  }
}

/** Where the value falls in the healthy population (0..100); none for counts. */
function percentile(spec: BiomarkerSpec, value: number): number | null {
  const width = spec.high - spec.low;
  let p: number;
  switch (spec.shape) {
    case 'count':
      return null;
    case 'normal':
      p = normalCdf((value - (spec.low + spec.high) / 2) / (NORMAL_SD * width));
      break;
    case 'edge': {
      const distance = spec.worse === 'up' ? value - spec.low : spec.high - value;
      const halfNormal = distance <= 0 ? 0 : 2 * normalCdf(distance / (EDGE_SD * width)) - 1;
      p = spec.worse === 'up' ? halfNormal : 1 - halfNormal;
      break;
    }
  }
  return Math.round(clamp(p * 100, 0, 100));
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26, error below 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
