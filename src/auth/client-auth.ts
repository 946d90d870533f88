import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { DataSource } from 'typeorm';
import type { OAuthClient } from '../../entities/oauth-client';
import { CLIENT_ID, findClient } from './clients';
import { OAuthError } from './oauth-error';
import type { RemoteJwksCache } from './remote-jwks';
import { verifySecret } from './secrets';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** SMART Backend Services: servers SHALL support RS384 and ES384; we accept exactly those. */
export const ASSERTION_ALGS = ['RS384', 'ES384'];
/** SMART: the assertion's exp is at most five minutes ahead. */
const MAX_ASSERTION_LIFETIME_S = 300;
/** Clock skew tolerated between the client and us when checking expiry. */
const CLOCK_TOLERANCE_S = 30;
/** ...and when checking that exp is at most 5 minutes ahead: a client clock a few seconds fast still passes. */
const MAX_LIFETIME_SKEW_S = 10;
const JTI = /^[\x21-\x7e]{1,255}$/;

export interface ClientAuthDeps {
  ds: DataSource;
  remoteJwks: RemoteJwksCache;
  /** A secret hash to verify against when there is no such client, so a wrong id costs what a wrong secret does. */
  decoyHash: () => Promise<string>;
}

export interface ClientCredentials {
  authorization?: string;
  clientAssertionType?: string;
  clientAssertion?: string;
  /** Where the assertion must be addressed (the endpoint being called). */
  audience: string;
}

const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="MediLens FHIR Gateway"' };

/**
 * Authenticates a backend client by private_key_jwt (a signed assertion) or client_secret_basic.
 * Every failure is invalid_client (RFC 6749 §5.2, and SMART Backend Services for assertions). Assertion
 * failures say what was wrong (the sender signed it, so it knows its own client id); a failed secret
 * says nothing more, and costs the same scrypt time whether or not the client exists.
 */
export async function authenticateClient(deps: ClientAuthDeps, creds: ClientCredentials): Promise<OAuthClient> {
  const basic = creds.authorization?.match(/^Basic\s+(.+)$/i)?.[1];
  const hasAssertion = creds.clientAssertion !== undefined || creds.clientAssertionType !== undefined;
  if (basic && hasAssertion) throw new OAuthError('invalid_request', 'use one client authentication method, not two');
  if (basic) return authenticateSecret(deps, basic);
  if (!hasAssertion) throw new OAuthError('invalid_client', 'client authentication is required (private_key_jwt or client_secret_basic)', BASIC_CHALLENGE);
  if (creds.clientAssertionType !== JWT_BEARER_ASSERTION) {
    throw new OAuthError('invalid_client', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
  }
  if (!creds.clientAssertion) throw new OAuthError('invalid_client', 'client_assertion is missing');
  return authenticateAssertion(deps, creds.clientAssertion, creds.audience);
}

async function authenticateSecret(deps: ClientAuthDeps, encoded: string): Promise<OAuthClient> {
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const fail = new OAuthError('invalid_client', 'client id or secret is wrong', BASIC_CHALLENGE);
  if (colon < 0) throw fail;
  let clientId: string;
  let secret: string;
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
  } catch {
    throw fail;
  }
  const client = CLIENT_ID.test(clientId) ? await findClient(deps.ds, clientId) : null;
  const usable = client !== null && client.authMethod === 'client_secret_basic' && client.secretHash !== null;
  const matches = await verifySecret(secret, usable ? client.secretHash! : await deps.decoyHash());
  if (!usable || !matches) throw fail;
  return client;
}

async function authenticateAssertion(deps: ClientAuthDeps, assertion: string, audience: string): Promise<OAuthClient> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    throw new OAuthError('invalid_client', 'client_assertion is not a signed JWT');
  }
  if (!header.alg || !ASSERTION_ALGS.includes(header.alg)) {
    throw new OAuthError('invalid_client', `client_assertion alg must be one of ${ASSERTION_ALGS.join(', ')}`);
  }
  if (typeof header.kid !== 'string' || header.kid === '') throw new OAuthError('invalid_client', 'client_assertion header needs a kid');
  if (typeof claims.iss !== 'string' || claims.iss !== claims.sub) {
    throw new OAuthError('invalid_client', 'client_assertion iss and sub must both be the client id');
  }
  // An unknown client reads like an unknown key: the answer does not tell which client ids exist.
  const noKey = new OAuthError('invalid_client', 'client_assertion rejected: no registered key has its kid');
  if (!CLIENT_ID.test(claims.iss)) throw new OAuthError('invalid_client', 'client_assertion iss is not a valid client id');
  const client = await findClient(deps.ds, claims.iss);
  if (!client || client.authMethod !== 'private_key_jwt') throw noKey;

  let keys: JWTVerifyGetKey;
  if (header.jku !== undefined) {
    // A jku is only a hint at the URL we already know; anything else would let the caller pick the key.
    if (!client.jwksUrl || normalizedUrl(header.jku) !== client.jwksUrl) {
      throw new OAuthError('invalid_client', 'client_assertion jku is not the JWK Set URL registered for this client');
    }
  }
  if (client.jwksUrl) keys = deps.remoteJwks.get(client.jwksUrl);
  else keys = createLocalJWKSet(client.jwks as unknown as Parameters<typeof createLocalJWKSet>[0]);

  let exp: number;
  let jti: string;
  try {
    const { payload } = await jwtVerify(assertion, keys, {
      issuer: client.clientId,
      subject: client.clientId,
      audience,
      algorithms: ASSERTION_ALGS,
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ['exp', 'jti'],
    });
    exp = payload.exp!;
    if (typeof payload.jti !== 'string' || !JTI.test(payload.jti)) {
      throw new OAuthError('invalid_client', 'client_assertion jti must be a string of 1 to 255 printable characters');
    }
    jti = payload.jti;
  } catch (err) {
    if (err instanceof OAuthError) throw err;
    throw new OAuthError('invalid_client', `client_assertion rejected: ${assertionProblem(err, audience)}`);
  }
  if (exp - Math.floor(Date.now() / 1000) > MAX_ASSERTION_LIFETIME_S + MAX_LIFETIME_SKEW_S) {
    throw new OAuthError('invalid_client', 'client_assertion exp must be at most 5 minutes ahead');
  }
  await rememberJti(deps.ds, client.clientId, jti, exp);
  return client;
}

/**
 * Records the assertion id, refusing it when already recorded. The primary key decides, so two
 * gateways receiving the same assertion at once accept it exactly once.
 */
async function rememberJti(ds: DataSource, clientId: string, jti: string, exp: number): Promise<void> {
  // Expired ids can go: an assertion that old fails its exp check before it gets here.
  await ds.query(`DELETE FROM client_assertion_jtis WHERE client_id = $1 AND expires_at < now() - interval '1 minute'`, [clientId]);
  const rows: unknown[] = await ds.query(
    `INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, to_timestamp($3) + interval '${CLOCK_TOLERANCE_S} seconds')
     ON CONFLICT DO NOTHING RETURNING jti`,
    [clientId, jti, exp],
  );
  if (rows.length === 0) throw new OAuthError('invalid_client', 'client_assertion jti was already used');
}

function assertionProblem(err: unknown, audience: string): string {
  if (err instanceof errors.JWTExpired) return 'it has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return `aud must be ${audience}`;
    return `${err.claim} claim: ${err.reason === 'missing' ? 'missing' : 'invalid'}`;
  }
  if (err instanceof errors.JWKSNoMatchingKey) return 'no registered key has its kid';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JOSEError) return err.message;
  return 'could not be verified';
}

function normalizedUrl(raw: string): string | null {
  try {
    return new URL(raw).toString();
  } catch {
    return null;
  }
}
