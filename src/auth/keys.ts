import crypto from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type JWK, type JWTVerifyGetKey, type KeyLike } from 'jose';
import type { DataSource } from 'typeorm';

/** The algorithm of the gateway's own access tokens. */
export const TOKEN_ALG = 'ES256';

export interface Keyring {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: KeyLike | Uint8Array;
  /** The public keys published at the JWKS endpoint (the current one, and retired ones still in use). */
  readonly jwks: { keys: JWK[] };
  readonly verifyKey: JWTVerifyGetKey;
  /** For HMACs the gateway keeps to itself (search cursors); derived, never published. */
  readonly secret: Buffer;
}

/** How long a retired key stays published: longer than any token it signed lives. */
const RETIRED_KEY_GRACE = '1 hour';

/**
 * The current signing key from the database, created on first use. Several gateways starting together
 * on an empty database converge on one key: the partial unique index lets only one current row in.
 */
export async function loadKeyring(ds: DataSource): Promise<Keyring> {
  let rows = await currentKeys(ds);
  if (!rows.some((r) => r.retired_at === null)) {
    const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    await ds.query(
      `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk) VALUES ($1, $2, $3, $4)
       ON CONFLICT ((true)) WHERE retired_at IS NULL DO NOTHING`,
      [kid, TOKEN_ALG, { ...privateJwk, kid, alg: TOKEN_ALG }, { ...publicJwk, kid, alg: TOKEN_ALG, use: 'sig' }],
    );
    rows = await currentKeys(ds);
  }
  const current = rows.find((r) => r.retired_at === null)!;
  const jwks = { keys: rows.map((r) => r.public_jwk) };
  return {
    kid: current.kid,
    alg: current.alg,
    privateKey: await importJWK(current.private_jwk, current.alg),
    jwks,
    verifyKey: createLocalJWKSet(jwks),
    secret: crypto.createHash('sha256').update('medilens-cursor\0').update(String(current.private_jwk.d)).digest(),
  };
}

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk: JWK;
  public_jwk: JWK;
  retired_at: Date | null;
}

function currentKeys(ds: DataSource): Promise<KeyRow[]> {
  return ds.query(
    `SELECT kid, alg, private_jwk, public_jwk, retired_at FROM signing_keys
     WHERE retired_at IS NULL OR retired_at > now() - interval '${RETIRED_KEY_GRACE}'
     ORDER BY created_at DESC`,
  );
}
