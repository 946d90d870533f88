import type { FhirResource, Reference } from 'fhir/r4';
import type { AuditFacts } from './record';

const idOf = (ref: Reference | undefined, type: string): string | null => {
  const match = ref?.reference?.match(new RegExp(`^${type}/([^/]+)`));
  return match ? match[1] : null;
};

/** Whose data a resource is (its patient) and which organization holds it, where the resource says so. */
function owners(resource: FhirResource): { patient: string | null; organizations: string[] } {
  switch (resource.resourceType) {
    case 'Patient':
      return { patient: resource.id ?? null, organizations: [idOf(resource.managingOrganization, 'Organization')].filter((o): o is string => o !== null) };
    case 'Observation':
      return { patient: idOf(resource.subject, 'Patient'), organizations: [] };
    case 'DiagnosticReport':
      return {
        patient: idOf(resource.subject, 'Patient'),
        organizations: (resource.performer ?? []).map((p) => idOf(p, 'Organization')).filter((o): o is string => o !== null),
      };
    default:
      return { patient: null, organizations: [] };
  }
}

/**
 * The patients and organizations behind a page of resources (a search: ONE event names each distinct
 * patient once). `entities` lists the resources themselves, for reads and writes of single resources.
 */
export function factsOf(resources: readonly FhirResource[], opts: { entities: boolean }): AuditFacts {
  const patients = new Set<string>();
  const organizations = new Set<string>();
  const entities: string[] = [];
  const versions: Record<string, string> = {};
  for (const resource of resources) {
    const { patient, organizations: orgs } = owners(resource);
    if (patient) patients.add(patient);
    for (const org of orgs) organizations.add(org);
    if (opts.entities && resource.id) {
      const ref = `${resource.resourceType}/${resource.id}`;
      entities.push(ref);
      if (resource.meta?.versionId) versions[ref] = resource.meta.versionId;
    }
  }
  return { patients: [...patients], organizations: [...organizations], ...(opts.entities ? { entities, versions } : {}) };
}

/** Facts of several parts (a transaction's entries) as one. */
export function mergeFacts(parts: readonly AuditFacts[]): AuditFacts {
  return {
    patients: [...new Set(parts.flatMap((p) => p.patients ?? []))],
    organizations: [...new Set(parts.flatMap((p) => p.organizations ?? []))],
  };
}
