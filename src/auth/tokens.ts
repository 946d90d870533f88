import crypto from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import type { Keyring } from './keys';

/** Access tokens live five minutes (SMART Backend Services: expires_in at most 300). */
export const ACCESS_TOKEN_TTL_SECONDS = 300;

/** Where the gateway's tokens come from and are meant for. */
export interface TokenEndpoints {
  /** iss of the gateway's own tokens. */
  issuer: string;
  /** aud of the gateway's own tokens: the FHIR base URL. */
  audience: string;
  tokenUrl: string;
  introspectionUrl: string;
  jwksUrl: string;
}

export function tokenEndpoints(publicBaseUrl: string): TokenEndpoints {
  return {
    issuer: `${publicBaseUrl}/auth`,
    audience: `${publicBaseUrl}/fhir`,
    tokenUrl: `${publicBaseUrl}/auth/token`,
    introspectionUrl: `${publicBaseUrl}/auth/introspect`,
    jwksUrl: `${publicBaseUrl}/auth/jwks`,
  };
}

export interface OwnTokenClaims extends JWTPayload {
  client_id: string;
  scope: string;
  /** The client's organization (absent: every organization). */
  organization?: string;
}

export async function issueAccessToken(
  keys: Keyring,
  endpoints: TokenEndpoints,
  grant: { clientId: string; scope: string; organizationId: string | null },
): Promise<{ token: string; expiresIn: number }> {
  const claims: OwnTokenClaims = { client_id: grant.clientId, scope: grant.scope };
  if (grant.organizationId) claims.organization = grant.organizationId;
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: keys.alg, kid: keys.kid, typ: 'at+jwt' })
    .setIssuer(endpoints.issuer)
    .setAudience(endpoints.audience)
    .setSubject(grant.clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + ACCESS_TOKEN_TTL_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(keys.privateKey);
  return { token, expiresIn: ACCESS_TOKEN_TTL_SECONDS };
}

/** Verifies one of the gateway's own access tokens; throws (jose errors) when it is not one, or not valid now. */
export async function verifyOwnToken(keys: Keyring, endpoints: TokenEndpoints, token: string): Promise<OwnTokenClaims> {
  const { payload } = await jwtVerify<OwnTokenClaims>(token, keys.verifyKey, {
    issuer: endpoints.issuer,
    audience: endpoints.audience,
    algorithms: [keys.alg],
    typ: 'at+jwt',
    requiredClaims: ['exp', 'iat', 'sub', 'jti'],
  });
  if (typeof payload.client_id !== 'string' || typeof payload.scope !== 'string') throw new TypeError('token lacks client_id or scope');
  return payload;
}
