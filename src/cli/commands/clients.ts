import fs from 'node:fs';
import crypto from 'node:crypto';
import { Command, Option } from 'commander';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { listClients, registerClient, removeClient } from '../../auth/clients';
import { withDatabase } from '../database';
import { UsageError } from '../errors';

/** `clients add|list|remove`, plus `keygen` and `assertion` so the backend-services flow works from a shell. */
export function clientsCommand(): Command {
  const clients = new Command('clients').description("manage the backend-services clients of the gateway's token endpoint");

  clients
    .command('add')
    .description('register a client (exactly one of --jwks, --jwks-url, --secret)')
    .requiredOption('--id <client-id>', 'the client id')
    .option('--jwks <file>', 'a JSON file holding the public JWK Set (private_key_jwt)')
    .option('--jwks-url <url>', 'where the client publishes its JWK Set (private_key_jwt; also the only jku allowed)')
    .option('--secret', 'generate a client secret (client_secret_basic); printed once, only its hash is kept')
    .requiredOption('--scope <scopes>', 'the most the client may be granted, e.g. "system/Patient.rs system/Observation.rs"')
    .option('--organization <organization-id>', "bound every token to this organization's data")
    .option('--description <text>', 'what the client is')
    .action(async (flags: { id: string; jwks?: string; jwksUrl?: string; secret?: boolean; scope: string; organization?: string; description?: string }) => {
      const jwks = flags.jwks === undefined ? undefined : readJson(flags.jwks, 'JWK Set');
      const { client, secret } = await withDatabase(({ dataSource }) =>
        registerClient(dataSource, {
          clientId: flags.id,
          jwks,
          jwksUrl: flags.jwksUrl,
          secret: flags.secret,
          scope: flags.scope,
          organizationId: flags.organization ?? null,
          description: flags.description ?? null,
        }),
      );
      console.log(
        `clients: registered ${client.clientId} (${client.authMethod}, scope "${client.allowedScope}", ` +
          `${client.organizationId ? `organization ${client.organizationId}` : 'every organization'})`,
      );
      if (secret) console.log(`client secret (shown once, store it now): ${secret}`);
    });

  clients
    .command('list')
    .description('list the registered clients')
    .action(async () => {
      const all = await withDatabase(({ dataSource }) => listClients(dataSource));
      for (const c of all) {
        const keys = c.authMethod === 'client_secret_basic' ? 'secret' : c.jwksUrl ? `jwks-url ${c.jwksUrl}` : `jwks (${c.jwks?.keys.length ?? 0} keys)`;
        console.log([c.clientId, c.authMethod, keys, c.organizationId ?? 'all-organizations', c.allowedScope].join('\t'));
      }
      console.log(`clients: ${all.length} registered`);
    });

  clients
    .command('remove')
    .description("remove a client: its tokens stop working at introspection at once, and expire within 5 minutes")
    .requiredOption('--id <client-id>', 'the client id')
    .action(async (flags: { id: string }) => {
      const removed = await withDatabase(({ dataSource }) => removeClient(dataSource, flags.id));
      if (!removed) throw new UsageError(`no client ${flags.id}`);
      console.log(`clients: removed ${flags.id}`);
    });

  clients
    .command('keygen')
    .description('create a key pair for private_key_jwt: <out>.private.jwk.json (keep it) and <out>.jwks.json (register it)')
    .addOption(new Option('--alg <alg>', 'signing algorithm').choices(['ES384', 'RS384']).default('ES384'))
    .requiredOption('--out <prefix>', 'file name prefix')
    .action(async (flags: { alg: 'ES384' | 'RS384'; out: string }) => {
      const { privateKey, publicKey } = await generateKeyPair(flags.alg, { extractable: true });
      const publicJwk = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(publicJwk);
      const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: flags.alg };
      fs.writeFileSync(`${flags.out}.private.jwk.json`, JSON.stringify(privateJwk, null, 2) + '\n', { mode: 0o600 });
      fs.writeFileSync(`${flags.out}.jwks.json`, JSON.stringify({ keys: [{ ...publicJwk, kid, alg: flags.alg, use: 'sig' }] }, null, 2) + '\n');
      console.log(`clients: wrote ${flags.out}.private.jwk.json and ${flags.out}.jwks.json (${flags.alg}, kid ${kid})`);
    });

  clients
    .command('assertion')
    .description('print a signed client assertion (valid 5 minutes, single use) for a token request')
    .requiredOption('--id <client-id>', 'the client id (iss and sub)')
    .requiredOption('--key <file>', 'the private JWK written by keygen')
    .requiredOption('--token-url <url>', 'the token endpoint (aud)')
    .action(async (flags: { id: string; key: string; tokenUrl: string }) => {
      const jwk = readJson(flags.key, 'private JWK') as JWK;
      if (!jwk.d || !jwk.kid || !jwk.alg) throw new UsageError(`${flags.key}: expected a private JWK with kid and alg (from clients keygen)`);
      const key = await importJWK(jwk, jwk.alg);
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' })
        .setIssuer(flags.id)
        .setSubject(flags.id)
        .setAudience(flags.tokenUrl)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(crypto.randomUUID())
        .sign(key);
      console.log(jwt);
    });

  return clients;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${what} file ${file}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not JSON`);
  }
}
