import type { RowAccess } from '../auth/access';
import type { ScopeFilter } from '../auth/scopes';
import type { ResourceDefinition } from './definition';
import { and, or, type SqlParams } from './sql';
import { parseToken, splitOr } from './token';

/**
 * The caller's reach as a predicate of the same statement that serves the request:
 *   tenant AND compartment AND (scope 1 OR scope 2 ...)
 * where each scope contributes its patient confinement and its granular filters, compiled by the
 * resource's own search parameters. A filter this resource cannot evaluate matches nothing, so a scope
 * can only ever narrow what its letters allow.
 */
export function accessPredicate(params: SqlParams, def: ResourceDefinition, access: RowAccess): string {
  if (access.resourceType !== def.type) throw new Error(`access for ${access.resourceType} applied to ${def.type}`);
  const parts: string[] = [];
  if (access.compartment !== null) parts.push(`${def.patientColumn} = ${params.add(access.compartment)}`);
  else if (!access.allOrganizations) {
    parts.push(access.organizationId === null ? 'FALSE' : `${def.organizationColumn} = ${params.add(access.organizationId)}`);
  }
  parts.push(
    or(
      access.alternatives.map((alt) => {
        const conditions: string[] = [];
        if (alt.patientId !== null) conditions.push(`${def.patientColumn} = ${params.add(alt.patientId)}`);
        for (const filter of alt.filters) conditions.push(filterPredicate(params, def, filter));
        return and(conditions);
      }),
    ),
  );
  return and(parts);
}

function filterPredicate(params: SqlParams, def: ResourceDefinition, filter: ScopeFilter): string {
  const parameter = def.parameters[filter.name];
  if (!parameter || parameter.type !== 'token') return 'FALSE';
  const alternatives: string[] = [];
  for (const value of splitOr(filter.value)) {
    const token = parseToken(value);
    if (!token) return 'FALSE';
    alternatives.push(parameter.where(params, token));
  }
  return or(alternatives);
}
