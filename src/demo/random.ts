/**
 * A small seeded PRNG for the demo data: sfc32 (Chris Doty-Humphrey's Small Fast Counter, 128-bit state,
 * passes PractRand), its 128-bit state seeded by hashing the stream key (MurmurHash3 x86_128).
 *
 * Every entity draws from its own stream, derived from the dataset key, a stream tag and its index
 * (`Random.derive(key, STREAM.patient, i)`), so a value never depends on how many draws an unrelated
 * entity made: the same seed and sizes give the same rows, whatever the batch size.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  private constructor(a: number, b: number, c: number, d: number) {
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /**
   * A stream for one entity: any number of 32-bit integers as its key, hashed to the full 128-bit state
   * (MurmurHash3 x86_128), so distinct keys give distinct streams even across millions of entities.
   */
  static derive(...parts: number[]): Random {
    const [a, b, c, d] = murmur3x128(parts, 0x6d656469);
    return new Random(a, b, c, d);
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** One of the items, with probability proportional to its weight. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1][0];
  }

  /** Standard normal (Box-Muller; one value per call, so the stream stays easy to reason about). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Poisson-distributed count (Knuth for small means, a rounded normal for large ones). */
  poisson(mean: number): number {
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** A version-4-shaped UUID whose bits come from this stream. */
  uuid(): string {
    const w0 = this.u32();
    const w1 = ((this.u32() & 0xffff0fff) | 0x00004000) >>> 0; // version 4
    const w2 = ((this.u32() & 0x3fffffff) | 0x80000000) >>> 0; // variant 10xx
    const w3 = this.u32();
    const h = hex8(w0) + hex8(w1) + hex8(w2) + hex8(w3);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** Lower-case letters and digits, e.g. for external ids. */
  token(length: number): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[this.u32() % alphabet.length];
    return out;
  }
}

/** MurmurHash3 x86_128 (Austin Appleby) over 32-bit words: four 32-bit lanes. */
export function murmur3x128(words: readonly number[], seed: number): [number, number, number, number] {
  const c1 = 0x239b961b;
  const c2 = 0xab0e9789;
  const c3 = 0x38b34ae5;
  const c4 = 0xa1e38b93;
  let h1 = seed >>> 0;
  let h2 = seed >>> 0;
  let h3 = seed >>> 0;
  let h4 = seed >>> 0;
  const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
  const block = (k1: number, k2: number, k3: number, k4: number): void => {
    k1 = Math.imul(rotl(Math.imul(k1, c1), 15), c2);
    h1 ^= k1;
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, c2), 16), c3);
    h2 ^= k2;
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, c3), 17), c4);
    h3 ^= k3;
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, c4), 18), c1);
    h4 ^= k4;
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  };
  const n = words.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) block(words[i] | 0, words[i + 1] | 0, words[i + 2] | 0, words[i + 3] | 0);
  // Tail: up to three words, mixed in as the reference implementation mixes tail bytes.
  if (i < n) {
    if (n - i >= 3) h3 ^= Math.imul(rotl(Math.imul(words[i + 2] | 0, c3), 17), c4);
    if (n - i >= 2) h2 ^= Math.imul(rotl(Math.imul(words[i + 1] | 0, c2), 16), c3);
    h1 ^= Math.imul(rotl(Math.imul(words[i] | 0, c1), 15), c2);
  }
  const len = n * 4;
  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h3 = fmix32(h3);
  h4 = fmix32(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over UTF-16 code units, finished with splitmix32: a 32-bit key for a string. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return splitmix32(h >>> 0);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** 32-bit unsigned integer as 8 lower-case hex digits. */
export function hex8(n: number): string {
  return HEX[(n >>> 24) & 255] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255];
}

/** Rounds half away from zero, as Postgres rounds numeric, so a value rounded here is what the column stores. */
export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return (Math.sign(value) * Math.round(Math.abs(value) * f + 1e-9)) / f;
}

export function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}
