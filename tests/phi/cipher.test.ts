import crypto from 'node:crypto';
import { decryptField, encryptField, isEnvelope, PhiDecryptError, type PhiEnvelope } from '../../src/phi/cipher';
import { parsePhiKeys, PhiKeyMissingError } from '../../src/phi/keyring';

const b64 = (): string => crypto.randomBytes(32).toString('base64');
const k1 = b64();
const k2 = b64();
const ring1 = parsePhiKeys(`k1:${k1}`);
const ring21 = parsePhiKeys(`k2:${k2},k1:${k1}`);
const alice = crypto.randomUUID();
const bob = crypto.randomUUID();
const history = [{ condition: 'Type 2 diabetes mellitus', code: '44054006', since: '2015' }];

/** The envelope with one base64 field's bytes changed. */
function flip(envelope: PhiEnvelope, field: 'iv' | 'ct' | 'tag'): PhiEnvelope {
  const bytes = Buffer.from(envelope[field], 'base64');
  bytes[bytes.length - 1] ^= 0x01;
  return { ...envelope, [field]: bytes.toString('base64') };
}

describe('the PHI field cipher', () => {
  it('round-trips JSON values under the current key, recording its id', () => {
    for (const value of [history, [], ['penicillin', 'latex'], [{ name: 'metformin', dose: '500 mg' }], { a: 'ünïcødé ✓' }, 'text', 0, null]) {
      const envelope = encryptField(ring21, 'medical_history', alice, value);
      expect(envelope).toEqual({ enc: 'A256GCM', kid: 'k2', iv: expect.any(String), ct: expect.any(String), tag: expect.any(String) });
      expect(Buffer.from(envelope.iv, 'base64')).toHaveLength(12);
      expect(Buffer.from(envelope.tag, 'base64')).toHaveLength(16);
      expect(isEnvelope(envelope)).toBe(true);
      expect(decryptField(ring21, 'medical_history', alice, envelope)).toEqual(value);
      // and through the JSONB column's text form
      expect(decryptField(ring21, 'medical_history', alice, JSON.parse(JSON.stringify(envelope)))).toEqual(value);
    }
  });

  it('uses a fresh IV each time', () => {
    const a = encryptField(ring1, 'allergies', alice, ['penicillin']);
    const b = encryptField(ring1, 'allergies', alice, ['penicillin']);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ct).not.toBe(b.ct);
  });

  it('reads ciphertexts under an older key of the ring', () => {
    const old = encryptField(ring1, 'medications', bob, history);
    expect(old.kid).toBe('k1');
    expect(decryptField(ring21, 'medications', bob, old)).toEqual(history);
  });

  it('returns legacy plaintext as it is', () => {
    for (const value of [history, [], ['x'], { enc: 'something else' }, { enc: 'A256GCM', kid: 'k1' }, null, 'text']) {
      expect(isEnvelope(value)).toBe(false);
      expect(decryptField(ring21, 'allergies', alice, value)).toEqual(value);
    }
  });

  it('binds a ciphertext to its row and column: copied elsewhere it does not decrypt', () => {
    const envelope = encryptField(ring21, 'medical_history', alice, history);
    expect(() => decryptField(ring21, 'medical_history', bob, envelope)).toThrow(PhiDecryptError);
    expect(() => decryptField(ring21, 'medications', alice, envelope)).toThrow(PhiDecryptError);
    expect(() => decryptField(ring21, 'allergies', bob, envelope)).toThrow(
      `user_profiles.allergies of user ${bob} does not decrypt under key "k2": the ciphertext was altered or belongs to another row or column`,
    );
  });

  it('detects tampering with the ciphertext, tag, IV or key id', () => {
    const envelope = encryptField(ring21, 'medical_history', alice, history);
    for (const field of ['iv', 'ct', 'tag'] as const) {
      expect(() => decryptField(ring21, 'medical_history', alice, flip(envelope, field))).toThrow(PhiDecryptError);
    }
    expect(() => decryptField(ring21, 'medical_history', alice, { ...envelope, kid: 'k1' })).toThrow(PhiDecryptError);
    // A truncated tag is refused, not checked against fewer bytes.
    const shortTag = { ...envelope, tag: Buffer.from(envelope.tag, 'base64').subarray(0, 4).toString('base64') };
    expect(() => decryptField(ring21, 'medical_history', alice, shortTag)).toThrow('malformed ciphertext envelope');
    expect(() => decryptField(ring21, 'medical_history', alice, { ...envelope, ct: '' })).toThrow(PhiDecryptError);
  });

  it('names a key id the ring does not hold', () => {
    const envelope = encryptField(ring21, 'medical_history', alice, history);
    expect(() => decryptField(ring1, 'medical_history', alice, envelope)).toThrow(PhiKeyMissingError);
    expect(() => decryptField(ring1, 'medical_history', alice, envelope)).toThrow('PHI key "k2" is not in PHI_KEYS');
  });
});
