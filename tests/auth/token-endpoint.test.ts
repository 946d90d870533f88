import crypto from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';
import { registerClient, removeClient } from '../../src/auth/clients';
import { loadKeyring } from '../../src/auth/keys';
import { RESOURCE_TYPES } from '../../src/auth/resource-types';
import { parseScopes } from '../../src/auth/scopes';
import { assertion, backendToken, clientKey, ExternalIdp, GATEWAY, keyClient, testApp, TOKEN_URL, tokenRequest, type ClientKey } from '../support/auth';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database';
import { insertOrganization } from '../support/fixtures';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ISSUER = `${GATEWAY}/auth`;
const AUDIENCE = `${GATEWAY}/fhir`;
const VITAL_SIGNS = 'system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';

let clientCount = 0;
function newClientId(name: string): string {
  return `${name}-${++clientCount}-${crypto.randomUUID().slice(0, 8)}`;
}

function assertionForm(clientAssertion: string, scope: string | null = 'system/Patient.rs'): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    ...(scope !== null ? { scope } : {}),
    client_assertion_type: JWT_BEARER,
    client_assertion: clientAssertion,
  };
}

/** RFC 6749 §5.2: exactly {error, error_description}, never cached. */
function expectOAuthError(res: request.Response, status: number, error: string, description: string | RegExp): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: { error, error_description: typeof description === 'string' ? expect.stringContaining(description) : expect.stringMatching(description) },
  });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['cache-control']).toBe('no-store');
}

function introspect(app: Express, token: string, caller: { bearer: string } | { basic: [string, string] } | null) {
  const req = request(app).post('/auth/introspect').type('form');
  if (caller && 'bearer' in caller) req.set('Authorization', `Bearer ${caller.bearer}`);
  if (caller && 'basic' in caller) req.auth(caller.basic[0], caller.basic[1]);
  return req.send({ token });
}

describe(`token endpoint (${testBackend()})`, () => {
  let db: TestDatabase;
  let app: Express;
  let organizationId: string;

  beforeAll(async () => {
    db = await openTestDatabase();
    app = testApp(db);
    organizationId = await insertOrganization(db.dataSource, 'Token Endpoint Clinic');
  });
  afterAll(() => db.close());

  async function requestToken(clientId: string, key: ClientKey, scope: string | null = 'system/Patient.rs') {
    return tokenRequest(app, assertionForm(await assertion(clientId, key), scope));
  }

  async function servedJwks(): Promise<{ keys: JWK[] }> {
    return (await request(app).get('/auth/jwks').expect(200)).body;
  }

  describe('issuing tokens', () => {
    it.each(['RS384', 'ES384'] as const)('answers a valid %s assertion with a five-minute ES256 Bearer token', async (alg) => {
      const clientId = newClientId(alg.toLowerCase());
      const key = await keyClient(db, clientId, 'system/Patient.rs system/Observation.rs', organizationId, alg);

      const res = await requestToken(clientId, key, 'system/Patient.rs');
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.pragma).toBe('no-cache');
      expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: expect.any(Number), scope: 'system/Patient.rs' });
      expect(res.body.expires_in).toBeLessThanOrEqual(300);

      const token: string = res.body.access_token;
      const jwks = await servedJwks();
      const header = decodeProtectedHeader(token);
      expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
      expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);

      const claims = decodeJwt(token);
      expect(claims).toMatchObject({
        iss: ISSUER,
        aud: AUDIENCE,
        sub: clientId,
        client_id: clientId,
        scope: 'system/Patient.rs',
        organization: organizationId,
        jti: expect.any(String),
      });
      expect(claims.exp! - claims.iat!).toBe(300);

      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience: AUDIENCE, algorithms: ['ES256'] });
      expect(payload.sub).toBe(clientId);
    });

    it('leaves the organization claim out for a client of every organization', async () => {
      const clientId = newClientId('platform');
      const key = await keyClient(db, clientId, 'system/Patient.rs');
      const res = await requestToken(clientId, key);
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token)).not.toHaveProperty('organization');
    });
  });

  describe('rejected token requests', () => {
    let clientId: string;
    let key: ClientKey;
    beforeAll(async () => {
      clientId = newClientId('rejected');
      key = await keyClient(db, clientId, 'system/Patient.rs');
    });

    async function withAssertion(opts: Parameters<typeof assertion>[2], signingKey: ClientKey = key, iss = clientId) {
      return tokenRequest(app, assertionForm(await assertion(iss, signingKey, opts)));
    }

    it('accepts an assertion once: a replayed jti is invalid_client', async () => {
      const jwt = await assertion(clientId, key);
      expect((await tokenRequest(app, assertionForm(jwt))).status).toBe(200);
      expectOAuthError(await tokenRequest(app, assertionForm(jwt)), 401, 'invalid_client', 'client_assertion jti was already used');
    });

    it('refuses an assertion expired beyond the 30 s clock tolerance', async () => {
      expectOAuthError(await withAssertion({ expiresIn: -120 }), 401, 'invalid_client', 'client_assertion rejected: it has expired');
    });

    it('refuses an assertion whose exp is more than five minutes ahead', async () => {
      expectOAuthError(await withAssertion({ expiresIn: 600 }), 401, 'invalid_client', 'client_assertion exp must be at most 5 minutes ahead');
    });

    it('refuses an assertion addressed to another audience, naming the token URL', async () => {
      expectOAuthError(await withAssertion({ aud: AUDIENCE }), 401, 'invalid_client', `aud must be ${TOKEN_URL}`);
    });

    it('refuses an assertion from an unknown client without saying the client id is unknown', async () => {
      const unknown = await withAssertion({}, key, 'no-such-client');
      const wrongKid = await withAssertion({ kid: 'unregistered-kid' });
      expectOAuthError(unknown, 401, 'invalid_client', 'no registered key has its kid');
      expect(unknown.body).toEqual(wrongKid.body);
    });

    it('allows a few seconds of clock skew on the 5-minute limit, not half a minute', async () => {
      expect((await withAssertion({ expiresIn: 305 })).status).toBe(200);
      expectOAuthError(await withAssertion({ expiresIn: 329 }), 401, 'invalid_client', 'at most 5 minutes ahead');
    });

    it('answers ids and jtis with control characters as invalid_client, never a 500', async () => {
      expectOAuthError(await withAssertion({}, key, 'a\u0000b'), 401, 'invalid_client', 'iss is not a valid client id');
      expectOAuthError(await withAssertion({ jti: 'a\u0000b' }), 401, 'invalid_client', 'jti must be a string');
      const basic = await tokenRequest(app, { grant_type: 'client_credentials', scope: 'system/Patient.rs' }, ['a\u0000b', 'x']);
      expectOAuthError(basic, 401, 'invalid_client', 'client id or secret is wrong');
      const introspection = await request(app).post('/auth/introspect').type('form').auth('x\u0000', 'y').send({ token: 'abc' });
      expectOAuthError(introspection, 401, 'invalid_client', 'client id or secret is wrong');
    });

    it('refuses an assertion whose kid is not registered', async () => {
      expectOAuthError(await withAssertion({ kid: 'unregistered-kid' }), 401, 'invalid_client', 'no registered key has its kid');
    });

    it('refuses an assertion signed by another key under the registered kid', async () => {
      const impostor = await clientKey('ES384', key.kid);
      expectOAuthError(await withAssertion({}, impostor), 401, 'invalid_client', 'signature does not verify');
    });

    it('refuses an assertion whose iss and sub differ', async () => {
      expectOAuthError(await withAssertion({ sub: 'someone-else' }), 401, 'invalid_client', 'client_assertion iss and sub must both be the client id');
    });

    it('refuses an assertion without a jti', async () => {
      expectOAuthError(await withAssertion({ omitJti: true }), 401, 'invalid_client', 'jti claim: missing');
    });

    it('refuses an assertion signed with an algorithm SMART does not list (RS256), even with a registered RSA key', async () => {
      const rsaClient = newClientId('rs256');
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const kid = 'rs256-key';
      await registerClient(db.dataSource, {
        clientId: rsaClient,
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, use: 'sig' }] },
        scope: 'system/Patient.rs',
      });
      const now = Math.floor(Date.now() / 1000);
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(rsaClient)
        .setSubject(rsaClient)
        .setAudience(TOKEN_URL)
        .setIssuedAt(now)
        .setExpirationTime(now + 240)
        .setJti(crypto.randomUUID())
        .sign(privateKey);
      expectOAuthError(await tokenRequest(app, assertionForm(jwt)), 401, 'invalid_client', 'client_assertion alg must be one of RS384, ES384');
    });

    it('refuses a client_id that is not the authenticated client', async () => {
      const res = await tokenRequest(app, { ...assertionForm(await assertion(clientId, key)), client_id: 'someone-else' });
      expectOAuthError(res, 401, 'invalid_client', 'client_id does not match the authenticated client');
    });

    it('answers another grant_type with unsupported_grant_type', async () => {
      const res = await tokenRequest(app, { ...assertionForm(await assertion(clientId, key)), grant_type: 'authorization_code' });
      expectOAuthError(res, 400, 'unsupported_grant_type', 'grant_type authorization_code is not supported; use client_credentials');
    });

    it('answers a missing grant_type with invalid_request', async () => {
      const { grant_type: _omitted, ...form } = assertionForm(await assertion(clientId, key));
      expectOAuthError(await tokenRequest(app, form), 400, 'invalid_request', 'grant_type is required');
    });

    it('refuses another client_assertion_type', async () => {
      const res = await tokenRequest(app, { ...assertionForm(await assertion(clientId, key)), client_assertion_type: 'urn:example:saml' });
      expectOAuthError(res, 401, 'invalid_client', `client_assertion_type must be ${JWT_BEARER}`);
    });

    it('challenges a request without client authentication', async () => {
      const res = await tokenRequest(app, { grant_type: 'client_credentials', scope: 'system/Patient.rs' });
      expectOAuthError(res, 401, 'invalid_client', 'client authentication is required');
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="/);
    });

    it('answers a JSON body with invalid_request', async () => {
      const res = await request(app).post('/auth/token').send(assertionForm(await assertion(clientId, key)));
      expectOAuthError(res, 400, 'invalid_request', 'the request body must be application/x-www-form-urlencoded');
    });

    it.each(['scope', 'grant_type'])('answers a repeated %s parameter with invalid_request (RFC 6749 §3.1)', async (name) => {
      const form = assertionForm(await assertion(clientId, key));
      const body = `${new URLSearchParams(form)}&${new URLSearchParams({ [name]: form[name] })}`;
      const res = await request(app).post('/auth/token').type('form').send(body);
      expectOAuthError(res, 400, 'invalid_request', name);
    });

    it('answers GET with 405 and Allow: POST', async () => {
      const res = await request(app).get('/auth/token');
      expectOAuthError(res, 405, 'invalid_request', 'GET is not allowed here; use POST');
      expect(res.headers.allow).toBe('POST');
    });
  });

  describe('clients registered by JWK Set URL', () => {
    let idp: ExternalIdp;
    let elsewhere: ExternalIdp;
    let clientId: string;
    beforeAll(async () => {
      [idp, elsewhere] = await Promise.all([ExternalIdp.start('ES384'), ExternalIdp.start('ES384')]);
      clientId = newClientId('jku');
      await registerClient(db.dataSource, { clientId, jwksUrl: idp.jwksUri, scope: 'system/Patient.rs' });
    });
    afterAll(() => Promise.all([idp.stop(), elsewhere.stop()]));

    it('accepts an assertion whose jku is the registered URL, verifying it with the keys published there', async () => {
      const res = await tokenRequest(app, assertionForm(await assertion(clientId, idp.key, { jku: idp.jwksUri })));
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('system/Patient.rs');
      expect(idp.fetches).toBeGreaterThan(0);
    });

    it('refuses a jku pointing elsewhere without fetching it', async () => {
      const res = await tokenRequest(app, assertionForm(await assertion(clientId, elsewhere.key, { jku: elsewhere.jwksUri })));
      expectOAuthError(res, 401, 'invalid_client', 'client_assertion jku is not the JWK Set URL registered for this client');
      expect(elsewhere.fetches).toBe(0);
    });

    it('uses the registered URL when the assertion names no jku', async () => {
      const res = await tokenRequest(app, assertionForm(await assertion(clientId, idp.key)));
      expect(res.status).toBe(200);
    });

    it('refuses any jku from a client registered with an inline JWK Set', async () => {
      const inline = newClientId('inline');
      const key = await keyClient(db, inline, 'system/Patient.rs');
      const res = await tokenRequest(app, assertionForm(await assertion(inline, key, { jku: idp.jwksUri })));
      expectOAuthError(res, 401, 'invalid_client', 'client_assertion jku is not the JWK Set URL registered for this client');
    });
  });

  describe('scope narrowing', () => {
    let clientId: string;
    let key: ClientKey;
    beforeAll(async () => {
      clientId = newClientId('narrow');
      key = await keyClient(db, clientId, 'system/Patient.rs system/Observation.read');
    });

    it.each([
      ['system/*.cruds', 'system/Patient.rs system/Observation.rs'],
      ['system/*.read', 'system/Patient.read system/Observation.read'],
      ['system/Patient.cruds', 'system/Patient.rs'],
      ['system/Patient.read', 'system/Patient.read'],
      ['system/Patient.rs system/Foo.rs garbage patient/Observation.rs', 'system/Patient.rs'],
      [VITAL_SIGNS, VITAL_SIGNS],
    ])('requesting "%s" grants "%s"', async (requested, granted) => {
      const res = await requestToken(clientId, key, requested);
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe(granted);
      expect(decodeJwt(res.body.access_token).scope).toBe(granted);
    });

    it.each([
      ['a%26b', 'a&b'],
      ['a%2541', 'a%41'],
    ])('grants a granular scope whose value is written %s so that the token still means %s', async (written, meant) => {
      const res = await requestToken(clientId, key, `system/Observation.rs?code=http://example.org/codes|${written}`);
      expect(res.status).toBe(200);
      const expected = [{ context: 'system', resourceType: 'Observation', filters: [{ name: 'code', value: `http://example.org/codes|${meant}` }] }];
      for (const granted of [res.body.scope, decodeJwt(res.body.access_token).scope as string]) {
        expect(parseScopes(granted, RESOURCE_TYPES).resource).toMatchObject(expected);
      }
    });

    it('answers only unknown, malformed or non-system scopes with invalid_scope', async () => {
      const res = await requestToken(clientId, key, 'system/Foo.rs patient/Patient.rs garbage');
      expectOAuthError(res, 400, 'invalid_scope', 'none of the requested scopes is granted to this client (allowed: system/Patient.rs system/Observation.read)');
    });

    it('answers a missing scope with invalid_scope', async () => {
      expectOAuthError(await requestToken(clientId, key, null), 400, 'invalid_scope', 'scope is required');
    });
  });

  describe('client secrets', () => {
    let clientId: string;
    let secret: string;
    beforeAll(async () => {
      clientId = newClientId('secret');
      const registered = await registerClient(db.dataSource, { clientId, secret: true, scope: 'system/Patient.rs', organizationId });
      secret = registered.secret!;
    });

    const form = { grant_type: 'client_credentials', scope: 'system/Patient.rs' };

    it('issues a token for client_secret_basic', async () => {
      const res = await tokenRequest(app, form, [clientId, secret]);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'system/Patient.rs' });
      expect(decodeJwt(res.body.access_token)).toMatchObject({ sub: clientId, organization: organizationId });
    });

    it('refuses a wrong secret with a Basic challenge', async () => {
      const res = await tokenRequest(app, form, [clientId, `${secret}x`]);
      expectOAuthError(res, 401, 'invalid_client', 'client id or secret is wrong');
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="/);
    });

    it('stores only an scrypt hash of the secret', async () => {
      const [row] = await db.dataSource.query(`SELECT secret_hash FROM oauth_clients WHERE client_id = $1`, [clientId]);
      expect(row.secret_hash).toMatch(/^scrypt\$/);
      expect(row.secret_hash).not.toContain(secret);
    });

    it('refuses an assertion from a secret client', async () => {
      const someKey = await clientKey('ES384');
      const res = await tokenRequest(app, assertionForm(await assertion(clientId, someKey)));
      expectOAuthError(res, 401, 'invalid_client', 'no registered key has its kid');
    });

    it('refuses Basic credentials for a key client', async () => {
      const keyed = newClientId('keyed');
      await keyClient(db, keyed, 'system/Patient.rs');
      expectOAuthError(await tokenRequest(app, form, [keyed, secret]), 401, 'invalid_client', 'client id or secret is wrong');
    });

    it('refuses Basic and an assertion together', async () => {
      const someKey = await clientKey('ES384');
      const res = await tokenRequest(app, assertionForm(await assertion(clientId, someKey)), [clientId, secret]);
      expectOAuthError(res, 400, 'invalid_request', 'use one client authentication method, not two');
    });
  });

  describe("the client's organization", () => {
    it('answers invalid_grant once the organization is soft-deleted', async () => {
      const orgId = await insertOrganization(db.dataSource, 'Closing Clinic');
      const clientId = newClientId('closing');
      const key = await keyClient(db, clientId, 'system/Patient.rs', orgId);
      expect((await requestToken(clientId, key)).status).toBe(200);

      await db.dataSource.query(`UPDATE organizations SET deleted_at = now() WHERE id = $1`, [orgId]);
      expectOAuthError(await requestToken(clientId, key), 400, 'invalid_grant', "the client's organization is no longer active");
    });
  });

  describe('introspection', () => {
    let callerToken: string;
    let subjectId: string;
    let subjectToken: string;
    beforeAll(async () => {
      const callerId = newClientId('introspector');
      callerToken = await backendToken(app, callerId, await keyClient(db, callerId, 'system/Patient.rs'), 'system/Patient.rs');
      subjectId = newClientId('subject');
      const subjectKey = await keyClient(db, subjectId, 'system/Patient.rs system/Observation.rs', organizationId);
      subjectToken = await backendToken(app, subjectId, subjectKey, 'system/*.rs');
    });

    it("describes an active token to a caller holding a client's access token", async () => {
      const res = await introspect(app, subjectToken, { bearer: callerToken });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const claims = decodeJwt(subjectToken);
      expect(res.body).toMatchObject({
        active: true,
        scope: 'system/Patient.rs system/Observation.rs',
        client_id: subjectId,
        token_type: 'Bearer',
        sub: subjectId,
        iss: ISSUER,
        aud: AUDIENCE,
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
      });
    });

    it('describes an active token to a caller using client_secret_basic', async () => {
      const secretId = newClientId('introspect-secret');
      const { secret } = await registerClient(db.dataSource, { clientId: secretId, secret: true, scope: 'system/Patient.rs' });
      const res = await introspect(app, subjectToken, { basic: [secretId, secret!] });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ active: true, client_id: subjectId, sub: subjectId });
    });

    it('answers {active: false} for an expired token signed with the gateway key', async () => {
      const keys = await loadKeyring(db.dataSource);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ client_id: subjectId, scope: 'system/Patient.rs' })
        .setProtectedHeader({ alg: keys.alg, kid: keys.kid, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(subjectId)
        .setIssuedAt(now - 600)
        .setExpirationTime(now - 300)
        .setJti(crypto.randomUUID())
        .sign(keys.privateKey);
      const res = await introspect(app, expired, { bearer: callerToken });
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { active: false } });
    });

    it('answers {active: false} for garbage', async () => {
      const res = await introspect(app, 'not-a-token', { bearer: callerToken });
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { active: false } });
    });

    it('tells a client bound to one organization nothing about tokens of another', async () => {
      const otherOrg = await insertOrganization(db.dataSource, 'Elsewhere');
      const boundId = newClientId('bound-introspector');
      const { secret } = await registerClient(db.dataSource, { clientId: boundId, secret: true, scope: 'system/Patient.rs', organizationId: otherOrg });
      const res = await introspect(app, subjectToken, { basic: [boundId, secret!] });
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { active: false } });
      const sameOrgId = newClientId('same-org-introspector');
      const same = await registerClient(db.dataSource, { clientId: sameOrgId, secret: true, scope: 'system/Patient.rs', organizationId });
      expect((await introspect(app, subjectToken, { basic: [sameOrgId, same.secret!] })).body.active).toBe(true);
    });

    it('refuses a caller without authentication', async () => {
      expectOAuthError(await introspect(app, subjectToken, null), 401, 'invalid_client', 'client authentication is required');
    });

    it('refuses a caller whose bearer token is not valid', async () => {
      const res = await introspect(app, subjectToken, { bearer: 'not-a-token' });
      expectOAuthError(res, 401, 'invalid_client', "the caller's access token is not valid");
      expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    });

    it('answers {active: false} for the token of a removed client', async () => {
      const goneId = newClientId('removed');
      const goneToken = await backendToken(app, goneId, await keyClient(db, goneId, 'system/Patient.rs'), 'system/Patient.rs');
      expect((await introspect(app, goneToken, { bearer: callerToken })).body.active).toBe(true);

      expect(await removeClient(db.dataSource, goneId)).toBe(true);
      const res = await introspect(app, goneToken, { bearer: callerToken });
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { active: false } });
    });
  });

  describe('discovery', () => {
    it('publishes the SMART configuration without a token', async () => {
      const res = await request(app).get('/fhir/.well-known/smart-configuration');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({
        issuer: ISSUER,
        token_endpoint: TOKEN_URL,
        jwks_uri: `${GATEWAY}/auth/jwks`,
        introspection_endpoint: `${GATEWAY}/auth/introspect`,
        grant_types_supported: ['client_credentials'],
        code_challenge_methods_supported: ['S256'],
      });
      expect(res.body.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['private_key_jwt', 'client_secret_basic']));
      expect(res.body.token_endpoint_auth_signing_alg_values_supported).toEqual(expect.arrayContaining(['RS384', 'ES384']));
      expect(res.body.capabilities).toEqual(
        expect.arrayContaining([
          'client-confidential-asymmetric',
          'client-confidential-symmetric',
          'permission-v1',
          'permission-v2',
          'permission-patient',
          'permission-user',
        ]),
      );
      expect(res.body.scopes_supported).toEqual(expect.arrayContaining(['system/Patient.rs', 'user/Observation.rs', 'patient/*.rs']));
      // Only types with endpoints; the audit log for operators (user/, system/), never a patient's.
      expect(res.body.scopes_supported.filter((s: string) => /AuditEvent/.test(s))).toEqual(['system/AuditEvent.rs', 'user/AuditEvent.rs']);
      // No implicit-grant response type the server does not have.
      expect(res.body).not.toHaveProperty('response_types_supported');
    });

    it('serves a SMART CapabilityStatement at /fhir/metadata without a token', async () => {
      const res = await request(app).get('/fhir/metadata');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });

      const rest = res.body.rest[0];
      expect(rest.security.service[0].coding).toEqual(
        expect.arrayContaining([{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }]),
      );
      const oauthUris = rest.security.extension.find(
        (e: { url: string }) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
      );
      expect(oauthUris.extension).toEqual(expect.arrayContaining([{ url: 'token', valueUri: TOKEN_URL }]));

      const interactions = (type: string): string[] =>
        rest.resource.find((r: { type: string }) => r.type === type).interaction.map((i: { code: string }) => i.code);
      expect(interactions('Patient')).toEqual(expect.arrayContaining(['read', 'search-type']));
      expect(interactions('Observation')).toEqual(expect.arrayContaining(['read']));
    });
  });

  describe('replay under concurrency', () => {
    it('accepts one of eight simultaneous posts of the same assertion', async () => {
      const clientId = newClientId('racer');
      const key = await keyClient(db, clientId, 'system/Patient.rs');
      const form = assertionForm(await assertion(clientId, key));

      const responses = await Promise.all(Array.from({ length: 8 }, () => tokenRequest(app, form)));
      expect(responses.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401]);
      for (const res of responses.filter((r) => r.status === 401)) {
        expectOAuthError(res, 401, 'invalid_client', 'client_assertion jti was already used');
      }
    });
  });
});
