import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { encryptField } from '../../src/phi/cipher';
import { KEY_FILE, resolvePhiKeys } from '../../src/phi/resolve';
import { assertPhiKeysCoverDatabase, PhiKeysUnavailableError } from '../../src/phi/stored';
import { openTestDatabase, testBackend } from '../support/database';
import { insertOrganization } from '../support/fixtures';
import { insertProfile, newKey, rings } from './helpers';

const SERVER_MESSAGE =
  'PHI_KEYS: expected the PHI key ring when DATABASE_URL is set: comma-separated kid:base64key entries, the current key first ' +
  '(make a key with: openssl rand -base64 32, then set PHI_KEYS=k1:<that key>), got nothing';

describe('where the PHI key ring comes from', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medilens-phi-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is PHI_KEYS when set, whatever the database', () => {
    const key = newKey();
    for (const env of [{ DATA_DIR: dir }, { DATABASE_URL: 'postgres://u@h/db' }, { DATABASE_URL: 'postgres://u@h/db', DATABASE_DRIVER: 'neon' }]) {
      expect(resolvePhiKeys(loadConfig({ ...env, PHI_KEYS: `k9:${key}` })).kids).toEqual(['k9']);
    }
    expect(fs.existsSync(path.join(dir, KEY_FILE))).toBe(false);
  });

  it('refuses a server deployment without PHI_KEYS, saying what to set and how to make a key', () => {
    for (const env of [{ DATABASE_URL: 'postgres://u@h/db' }, { DATABASE_URL: 'postgres://u@h/db', DATABASE_DRIVER: 'neon' }]) {
      const config = loadConfig(env);
      expect(() => resolvePhiKeys(config)).toThrow(ConfigError);
      expect(() => resolvePhiKeys(config)).toThrow(SERVER_MESSAGE);
    }
  });

  it('generates the embedded database’s key once, in DATA_DIR with mode 0600, and reuses it', () => {
    const dataDir = path.join(dir, 'data'); // not there yet, as on a first start
    const first = resolvePhiKeys(loadConfig({ DATA_DIR: dataDir }));
    const file = path.join(dataDir, KEY_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toMatch(/^local1:[A-Za-z0-9+/]{43}=\n$/);
    const again = resolvePhiKeys(loadConfig({ DATA_DIR: dataDir }));
    expect(again.format()).toBe(first.format());
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    expect(fs.readdirSync(dataDir)).toEqual([KEY_FILE]); // no temporary file left behind
    // A ciphertext written with the first ring reads with the second.
    const envelope = encryptField(first, 'allergies', '00000000-0000-4000-8000-000000000001', ['latex']);
    expect(again.key(envelope.kid).equals(first.key('local1'))).toBe(true);
  });

  it('names the key file when it is damaged, without showing its content', () => {
    const damaged = newKey().slice(0, 20);
    fs.writeFileSync(path.join(dir, KEY_FILE), `local1:${damaged}\n`, { mode: 0o600 });
    const error = (() => {
      try {
        resolvePhiKeys(loadConfig({ DATA_DIR: dir }));
      } catch (err) {
        return err as Error;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.message).toMatch(`PHI_KEYS (in ${path.join(dir, KEY_FILE)}): expected comma-separated kid:base64key entries`);
    expect(error!.message).toMatch(/got key "local1" of 15 bytes, not 32$/);
    expect(error!.message).not.toContain(damaged);
  });

  it('is an ephemeral key for a throw-away embedded database', () => {
    const a = resolvePhiKeys(loadConfig({ DATA_DIR: ':memory:' }));
    const b = resolvePhiKeys(loadConfig({ DATA_DIR: ':memory:' }));
    expect(a.kids).toEqual(['ephemeral']);
    expect(a.key('ephemeral').equals(b.key('ephemeral'))).toBe(false);
  });

  it('stops the gateway at start-up with one line when a server deployment has no PHI_KEYS', () => {
    for (const driver of ['pg', 'neon']) {
      const result = spawnSync(process.execPath, ['node_modules/.bin/ts-node', '--transpile-only', 'src/main.ts'], {
        env: { ...process.env, PHI_KEYS: '', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nowhere', DATABASE_DRIVER: driver, PORT: '0' },
        encoding: 'utf8',
        timeout: 60000,
      });
      expect(result.stderr.trim().split('\n')).toEqual([`Configuration error: ${SERVER_MESSAGE}`]);
      expect(result.status).toBe(2);
      expect(result.stdout).toBe('');
    }
  });
});

describe(`the start-up check of stored key ids (${testBackend()})`, () => {
  it('refuses a ring that lacks a key id the database uses, naming it', async () => {
    const { ring } = rings();
    const db = await openTestDatabase();
    try {
      const org = await insertOrganization(db.dataSource, 'Kid clinic');
      await assertPhiKeysCoverDatabase(db.dataSource, ring('k2')); // plaintext only: nothing to miss
      for (const kid of ['k1', 'k0']) {
        const id = await insertProfile(db.dataSource, org, kid, {});
        await db.dataSource.query(`UPDATE user_profiles SET medications = $2::jsonb, allergies = $3::jsonb WHERE user_id = $1`, [
          id,
          JSON.stringify(encryptField(ring(kid), 'medications', id, ['x'])),
          JSON.stringify(encryptField(ring(kid), 'allergies', id, [])),
        ]);
      }
      await assertPhiKeysCoverDatabase(db.dataSource, ring('k2', 'k1', 'k0'));
      await expect(assertPhiKeysCoverDatabase(db.dataSource, ring('k2', 'k0'))).rejects.toThrow(
        'the database holds PHI encrypted under key id "k1" (2 fields) that PHI_KEYS lacks (it holds k2, k0): add that key to PHI_KEYS after the current one',
      );
      const missing = await assertPhiKeysCoverDatabase(db.dataSource, ring('k2')).catch((err: unknown) => err);
      expect(missing).toBeInstanceOf(PhiKeysUnavailableError);
      expect([...(missing as PhiKeysUnavailableError).missing.keys()].sort()).toEqual(['k0', 'k1']);
      expect((missing as Error).message).toMatch(/^the database holds PHI encrypted under key ids "k[01]" \(2 fields\), "k[01]" \(2 fields\) that PHI_KEYS lacks/);
    } finally {
      await db.close();
    }
  });
});
