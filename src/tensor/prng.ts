/**
 * The project's one source of randomness: xoshiro128** (Blackman and Vigna, 2018), seeded through
 * splitmix32 so that any 32-bit seed gives a well-mixed state. Every random draw in `src/` goes
 * through a `Prng`, so a run repeats exactly from its seed; `getState`/`setState` let a resumed
 * training run continue the very same stream. Not cryptographic; a fresh seed, where none is given,
 * comes from the platform's crypto (`node:crypto` on the command line, `crypto.getRandomValues` in the page).
 */

/** splitmix32: one step of the seeding generator; returns [next state, output]. */
function splitmix32(s: number): [number, number] {
  s = (s + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [s, z >>> 0];
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** Serialisable generator state: the four xoshiro words, then the cached second normal (if any). */
export interface PrngState {
  s: [number, number, number, number];
  spare: number | null;
}

export class Prng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** Box–Muller makes normals in pairs; the second one waits here. */
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`Prng: seed must be an integer, got ${seed}`);
    let st = seed >>> 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(st);
      st = next;
      words.push(out);
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 random bits (exactly representable in float32). */
  uniform(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** Uniform integer in [0, n), without modulo bias (rejection sampling). */
  int(n: number): number {
    if (!(n > 0 && n <= 0x100000000 && Number.isInteger(n))) throw new Error(`Prng.int: bad range ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }

  /** Standard normal draw (Box–Muller; the pair's second value is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** Fills `out` with uniform draws in [lo, hi). */
  fillUniform(out: Float32Array, lo: number, hi: number): Float32Array {
    const w = hi - lo;
    for (let i = 0; i < out.length; i++) out[i] = lo + w * this.uniform();
    return out;
  }

  /** Fills `out` with normal draws of the given mean and standard deviation. */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    const n = out.length;
    let i = 0;
    if (n > 0 && this.spare !== null) out[i++] = mean + std * this.normal();
    // normal() and nextU32() inline: the same draws, operations and order, with the xoshiro state
    // in locals (a batch's noise is 6,400 draws; this loop takes two thirds of their time).
    let s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    let u1 = 0;
    for (let draw = 0, draws = (n - i) & ~1; draw < draws; draw++) {
      const w = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0; // nextU32()
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      if ((draw & 1) === 0) {
        u1 = 1 - (w >>> 8) / 16777216; // a pair's first uniform, as normal() draws it
        continue;
      }
      const u2 = (w >>> 8) / 16777216;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = mean + std * (r * Math.cos(2 * Math.PI * u2));
      out[i + 1] = mean + std * (r * Math.sin(2 * Math.PI * u2));
      i += 2;
    }
    [this.s0, this.s1, this.s2, this.s3] = [s0, s1, s2, s3];
    if (i < n) out[i] = mean + std * this.normal(); // an odd end: its pair's second value waits in spare
    return out;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates), written into `out` if given. */
  permutation(n: number, out: Uint32Array = new Uint32Array(n)): Uint32Array {
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i]!;
      out[i] = out[j]!;
      out[j] = t;
    }
    return out;
  }

  getState(): PrngState {
    return { s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spare: this.spare };
  }

  setState(state: PrngState): void {
    [this.s0, this.s1, this.s2, this.s3] = state.s.map((x) => x | 0) as [number, number, number, number];
    this.spare = state.spare;
  }
}
