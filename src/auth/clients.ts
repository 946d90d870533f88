import type { DataSource } from 'typeorm';
import { OAuthClient, type ClientAuthMethod } from '../../entities/oauth-client';
import { UUID, withMaintenanceContext } from '../db/context';
import { RESOURCE_TYPES } from './resource-types';
import { formatScope, parseScopes } from './scopes';
import { generateSecret, hashSecret } from './secrets';

/** A registration the caller got wrong; the message says what to change. */
export class ClientRegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientRegistrationError';
  }
}

export interface NewClient {
  clientId: string;
  /** Exactly one way to authenticate. */
  jwks?: unknown;
  jwksUrl?: string;
  secret?: boolean;
  scope: string;
  organizationId?: string | null;
  description?: string | null;
}

/** What a client id may be; anything else is refused before it reaches a query. */
export const CLIENT_ID = /^[A-Za-z0-9._~-]{3,255}$/;
const KEY_TYPES = new Set(['RSA', 'EC']);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/**
 * Registers a backend-services client. Its allowed scope keeps only well-formed system/ scopes (a
 * backend client has no user or patient to act for). Returns the secret for secret clients: the only
 * time it exists outside the caller's hands; the database keeps its scrypt hash.
 */
export async function registerClient(ds: DataSource, input: NewClient): Promise<{ client: OAuthClient; secret?: string }> {
  if (!CLIENT_ID.test(input.clientId)) {
    throw new ClientRegistrationError('client id: 3 to 255 characters from letters, digits and . _ ~ -');
  }
  const methods = [input.jwks !== undefined, input.jwksUrl !== undefined, input.secret === true].filter(Boolean).length;
  if (methods !== 1) throw new ClientRegistrationError('give exactly one of a JWK Set, a JWK Set URL or a generated secret');

  const parsed = parseScopes(input.scope, RESOURCE_TYPES);
  const system = parsed.resource.filter((s) => s.context === 'system');
  if (system.length === 0) {
    throw new ClientRegistrationError(`scope: no valid system/ scope in "${input.scope}" (e.g. "system/Patient.rs system/Observation.rs")`);
  }
  const organizationId = input.organizationId ?? null;
  if (organizationId !== null) {
    if (!UUID.test(organizationId)) throw new ClientRegistrationError(`organization: "${organizationId}" is not a UUID`);
    // As the platform: FORCE ROW LEVEL SECURITY hides organizations from a bare (non-superuser) owner.
    const [org] = await withMaintenanceContext(ds, (tx) =>
      tx.query(`SELECT 1 FROM organizations WHERE id = $1 AND deleted_at IS NULL`, [organizationId]),
    );
    if (!org) throw new ClientRegistrationError(`organization ${organizationId} does not exist`);
  }

  const client = new OAuthClient();
  client.clientId = input.clientId;
  client.allowedScope = system.map(formatScope).join(' ');
  client.organizationId = organizationId;
  client.description = input.description ?? null;
  client.jwks = null;
  client.jwksUrl = null;
  client.secretHash = null;
  let secret: string | undefined;
  let method: ClientAuthMethod = 'private_key_jwt';
  if (input.jwks !== undefined) client.jwks = validJwks(input.jwks);
  else if (input.jwksUrl !== undefined) client.jwksUrl = validJwksUrl(input.jwksUrl);
  else {
    secret = generateSecret();
    client.secretHash = await hashSecret(secret);
    method = 'client_secret_basic';
  }
  client.authMethod = method;

  const inserted: unknown[] = await ds.query(
    `INSERT INTO oauth_clients (client_id, auth_method, jwks, jwks_url, secret_hash, allowed_scope, organization_id, description)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (client_id) DO NOTHING RETURNING client_id`,
    [client.clientId, method, client.jwks, client.jwksUrl, client.secretHash, client.allowedScope, organizationId, client.description],
  );
  if (inserted.length === 0) throw new ClientRegistrationError(`client ${input.clientId} already exists (remove it first)`);
  return { client: (await findClient(ds, input.clientId))!, secret };
}

/** A fresh secret for a secret client (the demo client at each start); the old one stops working. */
export async function resetClientSecret(ds: DataSource, clientId: string): Promise<string> {
  const secret = generateSecret();
  const rows: unknown[] = await ds.query(
    `UPDATE oauth_clients SET secret_hash = $2 WHERE client_id = $1 AND auth_method = 'client_secret_basic' RETURNING client_id`,
    [clientId, await hashSecret(secret)],
  );
  if (rows.length === 0) throw new ClientRegistrationError(`no secret client ${clientId}`);
  return secret;
}

export function findClient(ds: DataSource, clientId: string): Promise<OAuthClient | null> {
  return ds.getRepository(OAuthClient).findOneBy({ clientId });
}

export function listClients(ds: DataSource): Promise<OAuthClient[]> {
  return ds.getRepository(OAuthClient).find({ order: { clientId: 'ASC' } });
}

/** Removes a client; its tokens stop being accepted by introspection at once and expire within minutes. */
export async function removeClient(ds: DataSource, clientId: string): Promise<boolean> {
  const result = await ds.getRepository(OAuthClient).delete({ clientId });
  return (result.affected ?? 0) > 0;
}

function validJwks(value: unknown): { keys: Record<string, unknown>[] } {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new ClientRegistrationError('JWK Set: expected {"keys": [...]} with at least one key');
  for (const [i, key] of keys.entries()) {
    if (typeof key !== 'object' || key === null) throw new ClientRegistrationError(`JWK Set: keys[${i}] is not an object`);
    const k = key as Record<string, unknown>;
    if (!KEY_TYPES.has(String(k.kty))) throw new ClientRegistrationError(`JWK Set: keys[${i}].kty must be RSA or EC`);
    if (typeof k.kid !== 'string' || k.kid === '') throw new ClientRegistrationError(`JWK Set: keys[${i}] needs a kid`);
    if (PRIVATE_MEMBERS.some((m) => m in k)) throw new ClientRegistrationError(`JWK Set: keys[${i}] holds private key material; register the public key only`);
  }
  return { keys: keys as Record<string, unknown>[] };
}

function validJwksUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ClientRegistrationError(`JWK Set URL: "${raw}" is not an absolute URL`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ClientRegistrationError('JWK Set URL: must be https (http only on localhost)');
  }
  return url.toString();
}
