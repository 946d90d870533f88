/** Units: which MediLens unit spellings are UCUM, and which UCUM code each stands for. */

export const UCUM = 'http://unitsofmeasure.org';

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

/**
 * The spellings a stored unit may have for one UCUM code: the code itself (UCUM is case-sensitive) and
 * the aliases, which ucumCode() matches case-insensitively. For unit search.
 */
export function unitSpellings(code: string): { exact: string[]; lowercase: string[] } {
  return { exact: [code], lowercase: Object.entries(UCUM_ALIASES).filter(([, c]) => c === code).map(([alias]) => alias) };
}
