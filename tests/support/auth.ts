import crypto from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyLike } from 'jose';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../../src/app';
import { registerClient } from '../../src/auth/clients';
import { loadConfig } from '../../src/config';
import type { Database } from '../../src/db/datasource';
import { createLogger } from '../../src/logging';

/** The base URL test apps believe they serve (tokens' aud and the token URL derive from it). */
export const GATEWAY = 'http://gateway.test';
export const TOKEN_URL = `${GATEWAY}/auth/token`;

export interface ClientKey {
  alg: 'RS384' | 'ES384';
  kid: string;
  privateKey: KeyLike;
  publicJwk: JWK;
}

export async function clientKey(alg: 'RS384' | 'ES384', kid = `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export interface AssertionOptions {
  iss?: string;
  sub?: string;
  aud?: string;
  /** Seconds from now. */
  expiresIn?: number;
  jti?: string;
  kid?: string;
  jku?: string;
  omitJti?: boolean;
}

/** A SMART Backend Services client assertion, signed for real. */
export async function assertion(clientId: string, key: ClientKey, opts: AssertionOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: opts.kid ?? key.kid, typ: 'JWT', ...(opts.jku ? { jku: opts.jku } : {}) })
    .setIssuer(opts.iss ?? clientId)
    .setSubject(opts.sub ?? clientId)
    .setAudience(opts.aud ?? TOKEN_URL)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresIn ?? 240));
  if (!opts.omitJti) jwt.setJti(opts.jti ?? crypto.randomUUID());
  return jwt.sign(key.privateKey);
}

/** Registers a private_key_jwt client with an inline JWK Set; returns its key. */
export async function keyClient(db: Database, clientId: string, scope: string, organizationId: string | null = null, alg: 'RS384' | 'ES384' = 'ES384'): Promise<ClientKey> {
  const key = await clientKey(alg);
  await registerClient(db.dataSource, { clientId, jwks: { keys: [key.publicJwk] }, scope, organizationId });
  return key;
}

export function tokenRequest(app: Express, form: Record<string, string>, basic?: [string, string]) {
  const req = request(app).post('/auth/token').type('form');
  if (basic) req.auth(basic[0], basic[1]);
  return req.send(form);
}

/** A real access token from the app's own token endpoint. */
export async function backendToken(app: Express, clientId: string, key: ClientKey, scope: string): Promise<string> {
  const res = await tokenRequest(app, {
    grant_type: 'client_credentials',
    scope,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await assertion(clientId, key),
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token;
}

/** An app under test, configured as GATEWAY, optionally trusting an external identity provider. */
export function testApp(db: Database, env: Record<string, string> = {}): Express {
  return createApp({ config: loadConfig({ PORT: '0', PUBLIC_BASE_URL: GATEWAY, ...env }), db, logger: createLogger('silent') });
}

/**
 * A stand-in for the external identity provider: a real HTTP server publishing a JWK Set, and the
 * private key to sign user tokens with.
 */
export class ExternalIdp {
  private server!: http.Server;
  issuer!: string;
  jwksUri!: string;
  key!: ClientKey;
  /** Served JWK Set requests, to show caching. */
  fetches = 0;

  static async start(alg: 'RS384' | 'ES384' = 'ES384'): Promise<ExternalIdp> {
    const idp = new ExternalIdp();
    idp.key = await clientKey(alg);
    const app = express();
    app.get('/.well-known/jwks.json', (_req, res) => {
      idp.fetches++;
      res.json({ keys: [idp.key.publicJwk] });
    });
    idp.server = http.createServer(app);
    idp.server.listen(0, '127.0.0.1');
    await once(idp.server, 'listening');
    const { port } = idp.server.address() as AddressInfo;
    idp.issuer = `http://127.0.0.1:${port}/`;
    idp.jwksUri = `http://127.0.0.1:${port}/.well-known/jwks.json`;
    return idp;
  }

  env(audience = `${GATEWAY}/fhir`): Record<string, string> {
    return { AUTH_EXTERNAL_ISSUER: this.issuer, AUTH_EXTERNAL_JWKS_URI: this.jwksUri, AUTH_AUDIENCE: audience };
  }

  /** A user token; override any claim (undefined removes it) or sign with another key. */
  async token(claims: Record<string, unknown>, opts: { key?: ClientKey; expiresIn?: number; notBefore?: number } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const base: Record<string, unknown> = {
      iss: this.issuer,
      aud: `${GATEWAY}/fhir`,
      iat: now,
      exp: now + (opts.expiresIn ?? 300),
      ...(opts.notBefore !== undefined ? { nbf: now + opts.notBefore } : {}),
    };
    const payload = Object.fromEntries(Object.entries({ ...base, ...claims }).filter(([, v]) => v !== undefined));
    const key = opts.key ?? this.key;
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
