import type { DataSource } from 'typeorm';
import type { Config } from '../config';
import crypto from 'node:crypto';
import type { BearerDeps } from './bearer';
import type { ClientAuthDeps } from './client-auth';
import { hashSecret } from './secrets';
import { loadKeyring, type Keyring } from './keys';
import { RemoteJwksCache } from './remote-jwks';
import { tokenEndpoints } from './tokens';
import { UserDirectory } from './users';
import { VerifiedTokens } from './verified-tokens';

/** Everything authentication and authorization need, built once per app from its explicit dependencies. */
export interface AuthServices extends BearerDeps, ClientAuthDeps {
  ds: DataSource;
}

export function createAuthServices(config: Config, ds: DataSource): AuthServices {
  // Loaded on first use and kept: the key lives in the database, which may still be migrating at start.
  let keyring: Promise<Keyring> | null = null;
  let decoy: Promise<string> | null = null;
  return {
    ds,
    endpoints: tokenEndpoints(config.publicBaseUrl),
    keyring: () =>
      (keyring ??= loadKeyring(ds).catch((err: unknown) => {
        keyring = null;
        throw err;
      })),
    external: config.externalAuth,
    remoteJwks: new RemoteJwksCache(),
    users: new UserDirectory(ds),
    verified: new VerifiedTokens(),
    decoyHash: () => (decoy ??= hashSecret(crypto.randomUUID())),
  };
}
