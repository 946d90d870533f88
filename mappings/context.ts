/** What every mapping needs besides the row: where MediLens CodeSystems and extensions live. */
export interface MappingContext {
  /** e.g. https://fhir.medilens.ai; never hard-coded elsewhere. */
  readonly canonicalBase: string;
}

export const iso = (value: Date | string): string => (value instanceof Date ? value : new Date(value)).toISOString();
