import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { openDatabase, type Database } from '../../src/db/datasource';
import { tokenRequest, testApp, TOKEN_URL } from '../support/auth';
import { runTs } from '../support/child';
import { createScratchDatabase, testBackend, type ScratchDatabase } from '../support/database';

/** `npm run cli -- clients ...` as an operator runs it, then the registered clients used for real. */
describe(`clients CLI (${testBackend()})`, () => {
  let scratch: ScratchDatabase;
  let dir: string;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medilens-keys-'));
    expect((await cli('migrate')).code).toBe(0);
  });
  afterAll(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await scratch.drop();
  });

  async function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = runTs('src/cli/index.ts', args, scratch.env);
    const code = await child.exited();
    return { code, stdout: child.stdout(), stderr: child.stderr() };
  }

  async function withGateway<T>(work: (db: Database) => Promise<T>): Promise<T> {
    const db = await openDatabase(scratch.config);
    try {
      return await work(db);
    } finally {
      await db.close();
    }
  }

  it('generates a key pair, registers both kinds of client, and their credentials get tokens', async () => {
    const prefix = path.join(dir, 'ehr');
    const keygen = await cli('clients', 'keygen', '--alg', 'RS384', '--out', prefix);
    expect(keygen.code).toBe(0);
    const privateJwk = JSON.parse(fs.readFileSync(`${prefix}.private.jwk.json`, 'utf8'));
    const jwks = JSON.parse(fs.readFileSync(`${prefix}.jwks.json`, 'utf8'));
    expect(fs.statSync(`${prefix}.private.jwk.json`).mode & 0o777).toBe(0o600);
    expect(privateJwk).toMatchObject({ kty: 'RSA', alg: 'RS384', kid: jwks.keys[0].kid });
    expect(jwks.keys[0].d).toBeUndefined();
    expect(keygen.stdout).toContain(`kid ${privateJwk.kid}`);

    const added = await cli('clients', 'add', '--id', 'ehr', '--jwks', `${prefix}.jwks.json`, '--scope', 'system/*.rs not-a-scope');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('registered ehr (private_key_jwt, scope "system/*.rs", every organization)');

    const secretClient = await cli('clients', 'add', '--id', 'hospital', '--secret', '--scope', 'system/Patient.read');
    expect(secretClient.code).toBe(0);
    const secret = /client secret \(shown once, store it now\): (\S+)/.exec(secretClient.stdout)![1];

    const assertion = await cli('clients', 'assertion', '--id', 'ehr', '--key', `${prefix}.private.jwk.json`, '--token-url', TOKEN_URL);
    expect(assertion.code).toBe(0);
    const jwt = assertion.stdout.trim();
    expect(decodeProtectedHeader(jwt)).toMatchObject({ alg: 'RS384', kid: privateJwk.kid });
    expect(decodeJwt(jwt)).toMatchObject({ iss: 'ehr', sub: 'ehr', aud: TOKEN_URL });

    const listed = await cli('clients', 'list');
    expect(listed.stdout.trim().split('\n')).toEqual([
      'ehr\tprivate_key_jwt\tjwks (1 keys)\tall-organizations\tsystem/*.rs',
      'hospital\tclient_secret_basic\tsecret\tall-organizations\tsystem/Patient.read',
      'clients: 2 registered',
    ]);

    await withGateway(async (db) => {
      const app = testApp(db);
      const byKey = await tokenRequest(app, {
        grant_type: 'client_credentials',
        scope: 'system/Observation.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: jwt,
      });
      expect(byKey.status).toBe(200);
      expect(byKey.body.scope).toBe('system/Observation.rs');
      const bySecret = await tokenRequest(app, { grant_type: 'client_credentials', scope: 'system/Patient.read' }, ['hospital', secret]);
      expect(bySecret.status).toBe(200);
      expect(bySecret.body.scope).toBe('system/Patient.read');
      const [{ secret_hash }] = await db.dataSource.query(`SELECT secret_hash FROM oauth_clients WHERE client_id = 'hospital'`);
      expect(secret_hash).toMatch(/^scrypt\$/);
      expect(secret_hash).not.toContain(secret);
    });

    const removed = await cli('clients', 'remove', '--id', 'hospital');
    expect(removed.stdout).toContain('clients: removed hospital');
    await withGateway(async (db) => {
      const refused = await tokenRequest(testApp(db), { grant_type: 'client_credentials', scope: 'system/Patient.read' }, ['hospital', secret]);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_client');
    });
  });

  it('refuses bad registrations with one line and exit code 2, changing nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['--id', 'p', '--secret', '--scope', 'system/*.rs'], /client id: 3 to 255 characters/],
      [['--id', 'patient-app', '--secret', '--scope', 'patient/*.rs'], /no valid system\/ scope/],
      [['--id', 'two-ways', '--secret', '--jwks-url', 'https://example.org/jwks', '--scope', 'system/*.rs'], /exactly one of/],
      [['--id', 'plain-http', '--jwks-url', 'http://example.org/jwks', '--scope', 'system/*.rs'], /must be https/],
      [['--id', 'no-org', '--secret', '--scope', 'system/*.rs', '--organization', '7d0e4b1a-1111-4222-8333-944455556666'], /organization .* does not exist/],
      [['--id', 'ehr', '--secret', '--scope', 'system/*.rs'], /client ehr already exists/],
    ];
    for (const [args, message] of cases) {
      const run = await cli('clients', 'add', ...args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    }
    const missing = await cli('clients', 'remove', '--id', 'nobody');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no client nobody');
    expect((await cli('clients', 'list')).stdout).toContain('clients: 1 registered');
  });
});
