import { RESOURCE_TYPES } from './resource-types';
import { ASSERTION_ALGS } from './client-auth';
import type { TokenEndpoints } from './tokens';

/**
 * SMART App Launch 2.2 §"SMART configuration": what this server's authorization supports, absolute URLs.
 * No authorization_endpoint: users sign in at the external identity provider, and this server issues
 * tokens to backend services only (client_credentials), so advertising one would be a promise it cannot
 * keep. scopes_supported names only the types that have endpoints (AuditEvent for user/ and system/ only).
 */
export function smartConfiguration(endpoints: TokenEndpoints, servedTypes: readonly string[]): Record<string, unknown> {
  const types = servedTypes.filter((t) => RESOURCE_TYPES.has(t));
  return {
    issuer: endpoints.issuer,
    jwks_uri: endpoints.jwksUrl,
    token_endpoint: endpoints.tokenUrl,
    introspection_endpoint: endpoints.introspectionUrl,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    // The audit log is never a patient's (rowAccess): no patient/AuditEvent scope is offered.
    scopes_supported: [
      ...['system', 'user', 'patient'].flatMap((context) => [
        `${context}/*.rs`,
        `${context}/*.cruds`,
        ...types.filter((t) => context !== 'patient' || t !== 'AuditEvent').map((t) => `${context}/${t}.rs`),
      ]),
    ],
    capabilities: [
      'client-confidential-asymmetric',
      'client-confidential-symmetric',
      'permission-v1',
      'permission-v2',
      'permission-patient',
      'permission-user',
    ],
    // SMART lists S256 as required even for servers without an authorization endpoint.
    code_challenge_methods_supported: ['S256'],
  };
}
