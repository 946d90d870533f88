import { decodeJwt, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import type { ExternalAuthConfig } from '../config';
import { UUID } from '../db/context';
import type { AccessContext } from './access';
import type { Keyring } from './keys';
import type { RemoteJwksCache } from './remote-jwks';
import { RESOURCE_TYPES } from './resource-types';
import { parseScopes, type ResourceScope } from './scopes';
import { verifyOwnToken, type TokenEndpoints } from './tokens';
import type { UserDirectory } from './users';
import type { VerifiedTokens } from './verified-tokens';

/** A token that does not authenticate anyone; the message becomes the 401's error_description. */
export class InvalidToken extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidToken';
  }
}

export interface BearerDeps {
  endpoints: TokenEndpoints;
  keyring: () => Promise<Keyring>;
  external: ExternalAuthConfig | null;
  remoteJwks: RemoteJwksCache;
  users: UserDirectory;
  verified: VerifiedTokens;
}

/** Asymmetric algorithms only: an HMAC or "none" token from outside proves nothing. */
const EXTERNAL_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * Verifies a bearer token (the gateway's own, or the external identity provider's, told apart by iss)
 * and derives the caller's access context from it.
 */
export async function accessFromToken(deps: BearerDeps, token: string): Promise<AccessContext> {
  let iss: unknown;
  try {
    const header = decodeProtectedHeader(token);
    if (!header.alg || header.alg === 'none') throw new InvalidToken('unsigned tokens are not accepted');
    iss = decodeJwt(token).iss;
  } catch (err) {
    if (err instanceof InvalidToken) throw err;
    throw new InvalidToken('the token is not a signed JWT');
  }
  if (iss === deps.endpoints.issuer) return clientAccess(deps, token);
  if (deps.external && iss === deps.external.issuer) return userAccess(deps, deps.external, token);
  throw new InvalidToken('the token issuer is not trusted by this server');
}

async function clientAccess(deps: BearerDeps, token: string): Promise<AccessContext> {
  const known = deps.verified.get(token);
  if (known) return known;
  const claims = await verified(() => deps.keyring().then((keys) => verifyOwnToken(keys, deps.endpoints, token)), deps.endpoints.audience);
  const organizationId = typeof claims.organization === 'string' ? claims.organization : null;
  const access: AccessContext = {
    kind: 'client',
    clientId: claims.client_id,
    subject: claims.sub!,
    fhirUser: null,
    scopes: parseScopes(claims.scope, RESOURCE_TYPES).resource.filter((s) => s.context === 'system'),
    userId: null,
    role: 'system',
    organizationId,
    allOrganizations: organizationId === null,
    patientId: null,
    compartment: null,
    identifiable: true,
  };
  deps.verified.set(token, access, claims.exp!);
  return access;
}

async function userAccess(deps: BearerDeps, external: ExternalAuthConfig, token: string): Promise<AccessContext> {
  const { payload } = await verified(
    () =>
      jwtVerify(token, deps.remoteJwks.get(external.jwksUri), {
        issuer: external.issuer,
        audience: external.audience,
        algorithms: EXTERNAL_ALGS,
        requiredClaims: ['exp', 'sub'],
      }),
    external.audience,
  );
  const user = await deps.users.bySubject(String(payload.sub));
  if (!user) throw new InvalidToken('the token subject is not an active MediLens user');

  const fhirUser = typeof payload.fhirUser === 'string' ? payload.fhirUser : null;
  if (fhirUser !== null) {
    const m = /(?:^|\/)(Patient|Practitioner|Person|RelatedPerson)\/([^/]+)$/.exec(fhirUser);
    if (!m || m[2] !== user.id) throw new InvalidToken('fhirUser does not name the signed-in user');
  }
  let patientId = typeof payload.patient === 'string' ? payload.patient : null;
  if (patientId !== null && !UUID.test(patientId)) throw new InvalidToken('the patient claim is not a Patient id of this server');
  const isPatient = user.role === 'patient';
  if (isPatient) {
    // A patient's token can name no one but themselves.
    if (patientId !== null && patientId !== user.id) throw new InvalidToken('a patient token cannot name another patient');
    patientId = user.id;
  }

  const scopeText = typeof payload.scope === 'string' ? payload.scope : Array.isArray(payload.scp) ? payload.scp.join(' ') : typeof payload.scp === 'string' ? payload.scp : '';
  // Users act as themselves: system/ scopes are for backend clients of our own token endpoint.
  const scopes: ResourceScope[] = parseScopes(scopeText, RESOURCE_TYPES).resource.filter((s) => s.context !== 'system');
  const staffWithoutTenant = !isPatient && user.organizationId === null;
  return {
    kind: 'user',
    clientId: typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : null,
    subject: String(payload.sub),
    fhirUser,
    scopes,
    userId: user.id,
    role: user.role,
    organizationId: user.organizationId,
    // Admins and researchers without an organization are platform-wide (the seed's roles); a
    // clinician always belongs to one, and without it sees nothing.
    allOrganizations: staffWithoutTenant && (user.role === 'admin' || user.role === 'researcher'),
    patientId,
    compartment: isPatient ? user.id : null,
    identifiable: user.role !== 'researcher',
  };
}

async function verified<T>(verify: () => Promise<T>, audience: string): Promise<T> {
  try {
    return await verify();
  } catch (err) {
    throw new InvalidToken(describe(err, audience));
  }
}

function describe(err: unknown, audience: string): string {
  if (err instanceof InvalidToken) return err.message;
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'the token is not yet valid';
    if (err.claim === 'aud') return `the token is not meant for this server (aud must be ${audience})`;
    if (err.claim === 'iss') return 'the token issuer is not trusted by this server';
    return `the token's ${err.claim} claim is ${err.reason === 'missing' ? 'missing' : 'invalid'}`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (err instanceof errors.JWKSNoMatchingKey) return 'the token was signed with an unknown key';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return 'the token is malformed';
  if (err instanceof errors.JWKSTimeout) return "the identity provider's keys could not be fetched";
  if (err instanceof TypeError) return 'the token lacks required claims';
  return 'the token could not be verified';
}
