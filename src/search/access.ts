import type { RowAccess } from '../auth/access';
import type { ScopeFilter } from '../auth/scopes';
import { ROW, type ResourceDefinition } from './definition';
import { InvalidSearch } from './errors';
import { filterPredicate } from './parameters';
import { and, or, type SqlParams } from './sql';

/**
 * The caller's reach as a predicate of the same statement that serves the request:
 *   tenant AND compartment AND (scope 1 OR scope 2 ...)
 * (an organization's rows have no compartment; shared rows, the AI models, neither tenant nor compartment;
 * an audit event belongs to every organization it names, and to no patient's compartment)
 * where each scope contributes its patient confinement and its granular filters, compiled by the
 * resource's own search parameters. A filter this resource cannot evaluate matches nothing, so a scope
 * can only ever narrow what its letters allow.
 */
export function accessPredicate(params: SqlParams, def: ResourceDefinition, access: RowAccess): string {
  if (access.resourceType !== def.type) throw new Error(`access for ${access.resourceType} applied to ${def.type}`);
  const parts: string[] = [];
  const ofPatient = def.tenancy === 'patient';
  if (def.tenancy === 'audit') {
    // An event is its organizations' (the caller's and the data's); a patient's compartment holds none.
    if (access.compartment !== null) parts.push('FALSE');
    else if (!access.allOrganizations) {
      parts.push(access.organizationId === null ? 'FALSE' : `${ROW.organizations} @> ARRAY[${params.add(access.organizationId)}::uuid]`);
    }
  } else if (ofPatient && access.compartment !== null) parts.push(`${ROW.patient} = ${params.add(access.compartment)}::uuid`);
  else if (def.tenancy !== 'shared' && !access.allOrganizations) {
    parts.push(access.organizationId === null ? 'FALSE' : `${ROW.organization} = ${params.add(access.organizationId)}::uuid`);
  }
  parts.push(
    or(
      access.alternatives.map((alt) => {
        const conditions: string[] = [];
        if (ofPatient && alt.patientId !== null) conditions.push(`${ROW.patient} = ${params.add(alt.patientId)}::uuid`);
        for (const filter of alt.filters) conditions.push(scopeFilterPredicate(params, def, filter));
        return and(conditions);
      }),
    ),
  );
  return and(parts);
}

function scopeFilterPredicate(params: SqlParams, def: ResourceDefinition, filter: ScopeFilter): string {
  const [name, modifier] = filter.name.split(':');
  const parameter = Object.hasOwn(def.parameters, name) ? def.parameters[name] : undefined;
  if (!parameter) return 'FALSE';
  const mark = params.values.length;
  try {
    return filterPredicate(params, parameter, { name, modifier: modifier ?? null, value: filter.value }, '');
  } catch (err) {
    // Values bound before the failure must go: an unreferenced bind value is an error in Postgres.
    params.values.length = mark;
    if (err instanceof InvalidSearch) return 'FALSE';
    throw err;
  }
}
