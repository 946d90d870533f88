import crypto from 'node:crypto';
import type { PhiKeyRing } from './keyring';

/**
 * Field-level encryption of the PHI columns of user_profiles. A ciphertext is stored in the column itself
 * (JSONB) as an envelope that names its key:
 *
 *   {"enc":"A256GCM","kid":"k2","iv":"<base64, 12 bytes>","ct":"<base64>","tag":"<base64, 16 bytes>"}
 *
 * The plaintext is the column's JSON text. The additional authenticated data is
 * `user_profiles.<column>:<user_id>`, so a ciphertext copied into another column or another patient's
 * row fails to decrypt instead of showing one patient's history as another's.
 */

export const PHI_COLUMNS = ['medical_history', 'medications', 'allergies'] as const;
export type PhiColumn = (typeof PHI_COLUMNS)[number];

export const ENC = 'A256GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface PhiEnvelope {
  enc: typeof ENC;
  kid: string;
  iv: string;
  ct: string;
  tag: string;
}

/** A stored value that could not be decrypted: altered, or moved from another row or column. */
export class PhiDecryptError extends Error {
  override name = 'PhiDecryptError';
}

export function isEnvelope(value: unknown): value is PhiEnvelope {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return v.enc === ENC && ['kid', 'iv', 'ct', 'tag'].every((k) => typeof v[k] === 'string');
}

function aad(column: PhiColumn, userId: string): Buffer {
  return Buffer.from(`user_profiles.${column}:${userId.toLowerCase()}`, 'utf8');
}

/** Encrypts a column's JSON value under the ring's current key. */
export function encryptField(ring: PhiKeyRing, column: PhiColumn, userId: string, value: unknown): PhiEnvelope {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`user_profiles.${column}: cannot encrypt ${typeof value}, only JSON values`);
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', ring.key(ring.current), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(column, userId));
  const ct = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return { enc: ENC, kid: ring.current, iv: iv.toString('base64'), ct: ct.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/**
 * The value of a stored PHI column. A value that is not an envelope is legacy plaintext (written before
 * encryption, or by a writer that does not encrypt) and comes back as it is; rotate-phi-key encrypts it.
 */
export function decryptField(ring: PhiKeyRing, column: PhiColumn, userId: string, stored: unknown): unknown {
  if (!isEnvelope(stored)) return stored;
  const key = ring.key(stored.kid);
  const iv = Buffer.from(stored.iv, 'base64');
  const tag = Buffer.from(stored.tag, 'base64');
  // Node accepts shorter GCM tags unless told the length; a truncated tag would be easier to forge.
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new PhiDecryptError(`user_profiles.${column} of user ${userId}: malformed ciphertext envelope`);
  }
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad(column, userId));
  decipher.setAuthTag(tag);
  let text: string;
  try {
    text = Buffer.concat([decipher.update(Buffer.from(stored.ct, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new PhiDecryptError(
      `user_profiles.${column} of user ${userId} does not decrypt under key "${stored.kid}": ` +
        'the ciphertext was altered or belongs to another row or column',
    );
  }
  return JSON.parse(text);
}
