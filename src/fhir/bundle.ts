import type { Bundle, BundleEntry, FhirResource } from 'fhir/r4';

/** A searchset Bundle: matches then includes, each with fullUrl and search.mode; self and next links. */
export function searchset(
  base: string,
  matches: readonly FhirResource[],
  included: readonly FhirResource[],
  links: { self: string; next?: string },
  total?: number,
): Bundle {
  const entry = (resource: FhirResource, mode: 'match' | 'include'): BundleEntry => ({
    fullUrl: `${base}/${resource.resourceType}/${resource.id}`,
    resource,
    search: { mode },
  });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(total !== undefined ? { total } : {}),
    link: [{ relation: 'self', url: links.self }, ...(links.next ? [{ relation: 'next', url: links.next }] : [])],
    entry: [...matches.map((r) => entry(r, 'match')), ...included.map((r) => entry(r, 'include'))],
  };
}

/** One version in a history Bundle: the resource (absent for a deletion) and how it came to be. */
export interface HistoryVersion {
  readonly type: string;
  readonly id: string;
  readonly versionId: number;
  readonly lastUpdated: string;
  readonly resource: FhirResource | null;
}

/** A history Bundle, newest version first (FHIR R4 §3.1.0.4). */
export function historyBundle(base: string, versions: readonly HistoryVersion[], links: { self: string; next?: string }): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'history',
    link: [{ relation: 'self', url: links.self }, ...(links.next ? [{ relation: 'next', url: links.next }] : [])],
    entry: versions.map((v) => {
      const deleted = v.resource === null;
      const method = deleted ? 'DELETE' : v.versionId === 1 ? 'POST' : 'PUT';
      return {
        fullUrl: `${base}/${v.type}/${v.id}`,
        ...(v.resource ? { resource: v.resource } : {}),
        request: { method, url: method === 'POST' ? v.type : `${v.type}/${v.id}` },
        response: {
          status: deleted ? '204' : v.versionId === 1 ? '201' : '200',
          etag: `W/"${v.versionId}"`,
          lastModified: v.lastUpdated,
        },
      } as BundleEntry;
    }),
  };
}
