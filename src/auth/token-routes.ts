import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { decodeJwt } from 'jose';
import { auditScopeOf, beginAudit, describeFailure } from '../audit/middleware';
import { withMaintenanceContext } from '../db/context';
import { loggable } from '../logging';
import { accessFromToken, InvalidToken } from './bearer';
import { authenticateClient } from './client-auth';
import { findClient } from './clients';
import { OAuthError } from './oauth-error';
import { RESOURCE_TYPES } from './resource-types';
import { formatScope, grantScopes, parseScopes } from './scopes';
import type { AuthServices } from './services';
import { issueAccessToken } from './tokens';

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/**
 * The gateway's own authorization server for SMART Backend Services: the token endpoint
 * (client_credentials, authenticated by private_key_jwt or client_secret_basic), RFC 7662 introspection
 * and the JWK Set its tokens verify against. Mounted at the app root; paths come from the endpoints.
 */
export function tokenRoutes(auth: AuthServices): Router {
  const router = Router();
  const paths = {
    token: new URL(auth.endpoints.tokenUrl).pathname,
    introspect: new URL(auth.endpoints.introspectionUrl).pathname,
    jwks: new URL(auth.endpoints.jwksUrl).pathname,
  };
  const form = [express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 20 }), requireForm];

  // Every token request is audited, granted or refused (a login, in BALP's terms); introspection tells
  // its caller whose token it is (patient, user, scopes), so it is audited like an interaction.
  router.post(paths.token, audited('login', 'login'), ...form, (req, res, next) => {
    settles(res, issueToken(auth, req, res).catch(next));
  });
  router.post(paths.introspect, audited('rest', 'token-introspection'), ...form, (req, res, next) => {
    settles(res, introspect(auth, req, res).catch(next));
  });
  router.get(paths.jwks, (_req, res, next) => {
    auth
      .keyring()
      .then((keys) => {
        res.set('Cache-Control', 'public, max-age=300').type('application/json').send(JSON.stringify(keys.jwks));
      })
      .catch(next);
  });
  for (const path of [paths.token, paths.introspect]) router.all(path, methodNotAllowed);
  router.use(oauthErrors);
  return router;
}

/** Opens the request's audit before anything can refuse it. */
function audited(eventType: 'login' | 'rest', subtype: string) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    beginAudit(res, { eventType, subtype, resourceType: null, id: null, version: null, query: null });
    next();
  };
}

/** The audit of a request whose client leaves early waits for how its handler ends. */
function settles(res: Response, handled: Promise<unknown>): void {
  const scope = auditScopeOf(res);
  if (scope) scope.settled = handled;
}

async function issueToken(auth: AuthServices, req: Request, res: Response): Promise<void> {
  const body = req.body as Record<string, string | undefined>;
  res.locals.claimedClient = claimedClient(req, body);
  if (!body.grant_type) throw new OAuthError('invalid_request', 'grant_type is required');
  if (body.grant_type !== 'client_credentials') {
    throw new OAuthError('unsupported_grant_type', `grant_type ${body.grant_type} is not supported; use client_credentials`);
  }
  const client = await authenticateClient(auth, {
    authorization: req.headers.authorization,
    clientAssertionType: body.client_assertion_type,
    clientAssertion: body.client_assertion,
    audience: auth.endpoints.tokenUrl,
  });
  const audit = auditScopeOf(res);
  if (audit) {
    audit.clientId = client.clientId;
    // The client's organization's auditors see its logins (there is no access context yet to say so).
    if (client.organizationId) audit.facts = { organizations: [client.organizationId] };
  }
  if (body.client_id !== undefined && body.client_id !== client.clientId) {
    throw new OAuthError('invalid_client', 'client_id does not match the authenticated client');
  }
  if (!body.scope || body.scope.trim() === '') throw new OAuthError('invalid_scope', 'scope is required, e.g. "system/Patient.rs"');
  if (client.organizationId) {
    const [org] = await withMaintenanceContext(auth.ds, (tx) =>
      tx.query(`SELECT 1 FROM organizations WHERE id = $1 AND deleted_at IS NULL AND is_active IS NOT FALSE`, [client.organizationId]),
    );
    if (!org) throw new OAuthError('invalid_grant', "the client's organization is no longer active");
  }
  const requested = parseScopes(body.scope, RESOURCE_TYPES).resource;
  const allowed = parseScopes(client.allowedScope, RESOURCE_TYPES).resource;
  const granted = grantScopes(requested, allowed, ['system']);
  if (granted.length === 0) {
    throw new OAuthError('invalid_scope', `none of the requested scopes is granted to this client (allowed: ${client.allowedScope})`);
  }
  const scope = granted.map(formatScope).join(' ');
  const keys = await auth.keyring();
  const { token, expiresIn } = await issueAccessToken(keys, auth.endpoints, {
    clientId: client.clientId,
    scope,
    organizationId: client.organizationId,
  });
  res.set(NO_STORE).status(200).json({ access_token: token, token_type: 'Bearer', expires_in: expiresIn, scope });
}

/**
 * RFC 7662. The caller authenticates as a registered client (Basic, an assertion, or one of its access
 * tokens); the answer is 200 either way, {active: false} when the token is not usable or belongs to
 * another organization than the caller's.
 */
async function introspect(auth: AuthServices, req: Request, res: Response): Promise<void> {
  const body = req.body as Record<string, string | undefined>;
  const bearer = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  let callerOrganization: string | null;
  if (bearer) {
    try {
      const caller = await accessFromToken(auth, bearer);
      const registered = caller.kind === 'client' ? await findClient(auth.ds, caller.clientId!) : null;
      if (!registered) throw new InvalidToken('introspection is for registered clients');
      callerOrganization = registered.organizationId;
      const scope = auditScopeOf(res);
      if (scope) scope.clientId = registered.clientId;
    } catch (err) {
      if (!(err instanceof InvalidToken)) throw err;
      throw new OAuthError('invalid_client', `the caller's access token is not valid: ${err.message}`, {
        'WWW-Authenticate': 'Bearer realm="MediLens FHIR Gateway", error="invalid_token"',
      });
    }
  } else {
    const caller = await authenticateClient(auth, {
      authorization: req.headers.authorization,
      clientAssertionType: body.client_assertion_type,
      clientAssertion: body.client_assertion,
      audience: auth.endpoints.introspectionUrl,
    });
    callerOrganization = caller.organizationId;
    const scope = auditScopeOf(res);
    if (scope) scope.clientId = caller.clientId;
  }
  if (!body.token) throw new OAuthError('invalid_request', 'token is required');

  res.set(NO_STORE);
  let access;
  try {
    access = await accessFromToken(auth, body.token);
  } catch (err) {
    if (err instanceof InvalidToken) {
      res.json({ active: false });
      return;
    }
    throw err;
  }
  // A removed client's tokens stop here at once (and everywhere within their five minutes); and a client
  // bound to an organization learns nothing about tokens of other tenants.
  const removed = access.kind === 'client' && !(await findClient(auth.ds, access.clientId!));
  const foreign = callerOrganization !== null && (access.allOrganizations || access.organizationId !== callerOrganization);
  if (removed || foreign) {
    res.json({ active: false });
    return;
  }
  const claims = decodeJwt(body.token);
  res.json({
    active: true,
    scope: access.scopes.map(formatScope).join(' '),
    client_id: access.clientId ?? undefined,
    token_type: 'Bearer',
    exp: claims.exp,
    iat: claims.iat,
    nbf: claims.nbf,
    sub: access.subject,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
    patient: access.patientId ?? undefined,
    fhirUser: access.fhirUser ?? undefined,
  });
}

/**
 * Which client a token request says it is, before (or without) proving it: a refused request's audit
 * event names it as a claim. From client_id, the Basic user name or the assertion's iss.
 */
function claimedClient(req: Request, body: Record<string, string | undefined>): string | null {
  let claimed: string | undefined = body.client_id;
  const basic = req.headers.authorization?.match(/^Basic\s+(\S+)$/i)?.[1];
  if (!claimed && basic) claimed = Buffer.from(basic, 'base64').toString('utf8').split(':')[0];
  if (!claimed && body.client_assertion) {
    try {
      const iss = decodeJwt(body.client_assertion).iss;
      if (typeof iss === 'string') claimed = iss;
    } catch {
      // Not a JWT: nothing is claimed.
    }
  }
  return claimed ? claimed.replace(/[^\x20-\x7e]/g, '?').slice(0, 255) : null;
}

function requireForm(req: Request, _res: Response, next: NextFunction): void {
  if (!req.is('application/x-www-form-urlencoded')) {
    next(new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded'));
    return;
  }
  // RFC 6749 §3.1: parameters must not be included more than once.
  const repeated = Object.entries(req.body as Record<string, unknown>).find(([, v]) => typeof v !== 'string');
  if (repeated) {
    next(new OAuthError('invalid_request', `${repeated[0]} is given more than once`));
    return;
  }
  next();
}

function methodNotAllowed(req: Request, res: Response): void {
  res.set({ ...NO_STORE, Allow: 'POST' }).status(405).json({ error: 'invalid_request', error_description: `${req.method} is not allowed here; use POST` });
}

function oauthErrors(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  if (err instanceof OAuthError) {
    const claimed = typeof res.locals.claimedClient === 'string' ? ` (client_id claimed, not authenticated: ${res.locals.claimedClient})` : '';
    describeFailure(res, `${err.error}: ${err.description}${claimed}`);
    res.set({ ...NO_STORE, ...err.headers }).status(err.status).json({ error: err.error, error_description: err.description });
    return;
  }
  // body-parser: malformed or oversized form bodies are the client's mistake.
  const status = (err as { status?: number; type?: string }).status;
  if (status !== undefined && status >= 400 && status < 500) {
    describeFailure(res, 'invalid_request: the request body could not be read as a form');
    res.set(NO_STORE).status(400).json({ error: 'invalid_request', error_description: 'the request body could not be read as a form' });
    return;
  }
  // A bug: answered the OAuth way (clients of this endpoint parse OAuth JSON), details only in the log.
  req.log?.error({ err: loggable(err) }, 'token endpoint failed');
  res.set(NO_STORE).status(500).json({ error: 'server_error', error_description: 'internal error' });
}
