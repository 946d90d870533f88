import crypto from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config';
import { parsePhiKeys, PhiKeyMissingError } from '../../src/phi/keyring';

const b64 = (bytes: number): string => crypto.randomBytes(bytes).toString('base64');

describe('PHI_KEYS', () => {
  it('parses kid:base64key entries, the first one current', () => {
    const k2 = b64(32);
    const k1 = b64(32);
    const ring = parsePhiKeys(` k2:${k2} , old_key-1:${k1}`);
    expect(ring.current).toBe('k2');
    expect(ring.kids).toEqual(['k2', 'old_key-1']);
    expect(ring.key('k2').equals(Buffer.from(k2, 'base64'))).toBe(true);
    expect(ring.key('old_key-1').equals(Buffer.from(k1, 'base64'))).toBe(true);
    expect(ring.has('k3')).toBe(false);
    expect(parsePhiKeys(ring.format()).format()).toBe(ring.format());
  });

  it('comes from the environment into the configuration; unset means null', () => {
    expect(loadConfig({}).phiKeys).toBeNull();
    expect(loadConfig({ PHI_KEYS: '  ' }).phiKeys).toBeNull();
    expect(loadConfig({ PHI_KEYS: `a:${b64(32)}` }).phiKeys?.current).toBe('a');
  });

  it('names a missing key id', () => {
    const ring = parsePhiKeys(`k2:${b64(32)},k1:${b64(32)}`);
    expect(() => ring.key('k0')).toThrow(PhiKeyMissingError);
    expect(() => ring.key('k0')).toThrow('PHI key "k0" is not in PHI_KEYS (it holds k2, k1)');
  });

  const short = b64(16);
  const long = b64(33);
  const good = b64(32);
  it.each([
    ['a 16-byte key', `k1:${short}`, 'key "k1" of 16 bytes, not 32'],
    ['a 33-byte key', `k2:${good},k1:${long}`, 'key "k1" of 33 bytes, not 32'],
    ['a key that is not base64', `k1:${good.slice(0, 20)}!${good.slice(21)}`, 'key "k1" that is not base64'],
    ['base64 with a missing character', `k1:${good.slice(1)}`, 'key "k1" that is not base64'],
    ['an empty key', 'k1:', 'key "k1" that is not base64'],
    ['a duplicate key id', `k1:${good},k1:${b64(32)}`, 'key id "k1" twice'],
    ['an empty entry', `k1:${good},,k2:${b64(32)}`, 'an empty entry 2'],
    ['a trailing comma', `k1:${good},`, 'an empty entry 2'],
    ['a bare key', good, 'entry 1 without a ":" between key id and key'],
    ['key and id swapped', `${good}:k1`, 'entry 1 with an invalid key id'],
    ['a key id too long', `${'k'.repeat(33)}:${good}`, 'entry 1 with an invalid key id'],
    ['a key id with a space', `key one:${good}`, 'entry 1 with an invalid key id'],
    ['only commas', ',', 'an empty entry 1'],
  ])('rejects %s, naming PHI_KEYS and never echoing key material', (_case, raw, got) => {
    let error: unknown;
    try {
      loadConfig({ PHI_KEYS: raw });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect((error as ConfigError).variable).toBe('PHI_KEYS');
    expect(message).toMatch(/^PHI_KEYS: expected comma-separated kid:base64key entries with 32-byte keys, the current key first \(make a key with: openssl rand -base64 32\), got /);
    expect(message).toContain(got);
    for (const entry of raw.split(',')) {
      const secret = entry.includes(':') ? entry.slice(entry.indexOf(':') + 1) : entry;
      if (secret.length >= 8) expect(message).not.toContain(secret.slice(0, 8));
      if (entry.includes(':') && entry.indexOf(':') > 8) expect(message).not.toContain(entry.slice(0, 8));
    }
    expect(message).not.toContain('\n');
  });

  it('rejects an empty value when parsed directly', () => {
    expect(() => parsePhiKeys('')).toThrow('PHI_KEYS: expected comma-separated kid:base64key entries');
    expect(() => parsePhiKeys('')).toThrow(/got nothing$/);
  });

  it('never shows its keys in JSON, util.inspect or string form', () => {
    const key = b64(32);
    const ring = parsePhiKeys(`k1:${key}`);
    const config = loadConfig({ PHI_KEYS: `k1:${key}` });
    const hex = Buffer.from(key, 'base64').toString('hex');
    for (const shown of [JSON.stringify(ring), JSON.stringify(config), inspect(ring, { depth: 5, showHidden: true }), inspect(config, { depth: 5 }), String(ring)]) {
      expect(shown).not.toContain(key);
      expect(shown).not.toContain(hex.slice(0, 16));
    }
    expect(JSON.parse(JSON.stringify(ring))).toEqual({ current: 'k1', kids: ['k1'] });
  });
});
