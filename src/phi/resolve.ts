import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type Config } from '../config';
import { generatePhiKeyRing, parsePhiKeys, PhiKeysError, type PhiKeyRing } from './keyring';

/** The embedded database's key file in DATA_DIR: a PHI_KEYS value, mode 0600. */
export const KEY_FILE = 'phi-keys';

/**
 * The key ring the gateway and the CLI encrypt with: PHI_KEYS when set. Without it, an embedded database
 * gets a key generated on its first start and kept next to it in DATA_DIR (so `npm start` needs no
 * set-up), a throw-away one (`:memory:`) an ephemeral key; a server deployment refuses, since a key
 * generated on one machine would leave every other gateway process unable to read the data.
 */
export function resolvePhiKeys(config: Pick<Config, 'phiKeys' | 'database'>): PhiKeyRing {
  if (config.phiKeys !== null) return config.phiKeys;
  const db = config.database;
  if (db.kind !== 'embedded') {
    throw new ConfigError(
      'PHI_KEYS',
      'the PHI key ring when DATABASE_URL is set: comma-separated kid:base64key entries, the current key first ' +
        '(make a key with: openssl rand -base64 32, then set PHI_KEYS=k1:<that key>)',
      undefined,
    );
  }
  if (db.dataDir === null) return generatePhiKeyRing('ephemeral');
  return keyFileRing(db.dataDir);
}

function keyFileRing(dataDir: string): PhiKeyRing {
  const file = path.join(dataDir, KEY_FILE);
  if (!fs.existsSync(file)) createKeyFile(dataDir, file);
  try {
    return parsePhiKeys(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err instanceof PhiKeysError) throw new ConfigError(`PHI_KEYS (in ${file})`, err.expected, { described: err.got });
    throw err;
  }
}

/**
 * Written to a temporary file, flushed, then linked into place: a crash never leaves a half-written
 * key, and of two processes starting at once one creates the key and the other reads it (link fails
 * when the name exists).
 */
function createKeyFile(dataDir: string, file: string): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    fs.writeSync(fd, `${generatePhiKeyRing('local1').format()}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(temp, file);
    const dir = fs.openSync(dataDir, 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}
