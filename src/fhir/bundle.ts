import type { Bundle, FhirResource } from 'fhir/r4';

/** A searchset Bundle: entries with fullUrl and search.mode, self and next links. */
export function searchset(base: string, resources: FhirResource[], links: { self: string; next?: string }): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    link: [{ relation: 'self', url: links.self }, ...(links.next ? [{ relation: 'next', url: links.next }] : [])],
    entry: resources.map((resource) => ({
      fullUrl: `${base}/${resource.resourceType}/${resource.id}`,
      resource,
      search: { mode: 'match' as const },
    })),
  };
}
