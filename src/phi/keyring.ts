import crypto from 'node:crypto';
import { inspect } from 'node:util';

/**
 * The PHI key ring: AES-256 keys by key id, the first one current (new ciphertexts use it), the others
 * kept to read what was written before a rotation. Its text form is PHI_KEYS:
 * `k2:<base64 of 32 bytes>,k1:<base64 of 32 bytes>`.
 */

export const KEY_BYTES = 32;
const KID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** What a good PHI_KEYS looks like, for error messages. */
export const PHI_KEYS_FORMAT =
  'comma-separated kid:base64key entries with 32-byte keys, the current key first (make a key with: openssl rand -base64 32)';

/**
 * PHI_KEYS cannot be parsed. `got` describes the problem by entry position and key id only: the text
 * around a mistake may well be key material, so none of it is ever repeated.
 */
export class PhiKeysError extends Error {
  override name = 'PhiKeysError';
  constructor(readonly expected: string, readonly got: string) {
    super(`PHI_KEYS: expected ${expected}, got ${got}`);
  }
}

/** A ciphertext names a key id the ring does not hold. */
export class PhiKeyMissingError extends Error {
  override name = 'PhiKeyMissingError';
  constructor(readonly kid: string, ring: PhiKeyRing) {
    super(`PHI key "${kid}" is not in PHI_KEYS (it holds ${ring.kids.join(', ')}): add it after the current key`);
  }
}

export class PhiKeyRing {
  // A true private field: JSON.stringify, util.inspect and pino never see the keys.
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly current: string;

  constructor(entries: readonly { kid: string; key: Buffer }[]) {
    if (entries.length === 0) throw new PhiKeysError(PHI_KEYS_FORMAT, 'no key');
    const keys = new Map<string, Buffer>();
    for (const { kid, key } of entries) {
      if (!KID.test(kid)) throw new PhiKeysError(PHI_KEYS_FORMAT, 'an invalid key id (1 to 32 of A-Z a-z 0-9 _ -)');
      if (keys.has(kid)) throw new PhiKeysError(PHI_KEYS_FORMAT, `key id "${kid}" twice`);
      if (key.length !== KEY_BYTES) throw new PhiKeysError(PHI_KEYS_FORMAT, `key "${kid}" of ${key.length} bytes, not ${KEY_BYTES}`);
      keys.set(kid, Buffer.from(key));
    }
    this.#keys = keys;
    this.current = entries[0].kid;
  }

  /** Key ids, current first. */
  get kids(): string[] {
    return [...this.#keys.keys()];
  }

  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  key(kid: string): Buffer {
    const key = this.#keys.get(kid);
    if (key === undefined) throw new PhiKeyMissingError(kid, this);
    return key;
  }

  /** The PHI_KEYS text of this ring (for the embedded key file only). */
  format(): string {
    return [...this.#keys].map(([kid, key]) => `${kid}:${key.toString('base64')}`).join(',');
  }

  toJSON(): { current: string; kids: string[] } {
    return { current: this.current, kids: this.kids };
  }

  [inspect.custom](): string {
    return `PhiKeyRing { current: ${this.current}, kids: ${this.kids.join(', ')} }`;
  }
}

/** Parses PHI_KEYS; throws PhiKeysError naming the entry (never its text) when it is malformed. */
export function parsePhiKeys(raw: string): PhiKeyRing {
  const parts = raw.split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === '') throw new PhiKeysError(PHI_KEYS_FORMAT, 'nothing');
  const entries = parts.map((part, i) => {
    const where = `entry ${i + 1}`;
    if (part === '') throw new PhiKeysError(PHI_KEYS_FORMAT, `an empty ${where}`);
    const colon = part.indexOf(':');
    if (colon < 0) throw new PhiKeysError(PHI_KEYS_FORMAT, `${where} without a ":" between key id and key`);
    const kid = part.slice(0, colon).trim();
    const encoded = part.slice(colon + 1).trim();
    if (!KID.test(kid)) throw new PhiKeysError(PHI_KEYS_FORMAT, `${where} with an invalid key id (1 to 32 of A-Z a-z 0-9 _ -)`);
    // Buffer.from(.., 'base64') skips what it cannot read; a typo would silently make a different key.
    if (encoded === '' || !BASE64.test(encoded)) throw new PhiKeysError(PHI_KEYS_FORMAT, `key "${kid}" that is not base64`);
    return { kid, key: Buffer.from(encoded, 'base64') };
  });
  return new PhiKeyRing(entries);
}

/** A ring of one fresh random key. */
export function generatePhiKeyRing(kid: string): PhiKeyRing {
  return new PhiKeyRing([{ kid, key: crypto.randomBytes(KEY_BYTES) }]);
}
