import type { FhirResource } from 'fhir/r4';
import { V3_OBSERVATION_VALUE } from '../../mappings/codes';
import type { Summary } from '../search/request';

const SUBSETTED = { system: V3_OBSERVATION_VALUE, code: 'SUBSETTED', display: 'subsetted' };
const ALWAYS = new Set(['resourceType', 'id', 'meta']);

/**
 * _summary and _elements: the resource cut down to what was asked, tagged SUBSETTED so nobody mistakes
 * it for the whole record. `summaryElements` are the type's isSummary elements.
 */
export function subset(resource: FhirResource, summary: Summary | null, elements: readonly string[] | null, summaryElements: readonly string[]): FhirResource {
  let keep: ((key: string) => boolean) | null = null;
  if (elements) keep = (key) => elements.some((e) => key === e || (key.startsWith(e) && /^[A-Z]/.test(key.slice(e.length))));
  else if (summary === 'true') keep = (key) => summaryElements.includes(key);
  else if (summary === 'text') keep = (key) => key === 'text';
  else if (summary === 'data') keep = (key) => key !== 'text';
  if (keep === null) return resource;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) if (ALWAYS.has(key) || keep(key)) out[key] = value;
  const meta = resource.meta ?? {};
  out.meta = { ...meta, tag: [...(meta.tag ?? []), SUBSETTED] };
  return out as unknown as FhirResource;
}
