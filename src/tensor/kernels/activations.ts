/**
 * The passes over memory of relu and leakyRelu, forward and backward, and of tanh. A matmul kernel may run them
 * its own way (`MatmulKernel.activations`: the SIMD kernel runs them as WebAssembly SIMD in its
 * memory); `referenceActivations` is the TypeScript one, and `activationKernel()` the one the ops
 * use. Every one computes in float32 as PyTorch does, so every backend gives the same bits
 * (test/activations.test.ts):
 *   relu(x)       = max(x, 0)                  (+0 for x <= 0, NaN stays NaN)
 *   leakyRelu(x)  = x > 0 ? x : x * s          (s and the product in float32)
 *   backward      dx (+)= x > 0 ? g : g * s    (s = 0 for relu; the product, then the sum, in float32)
 * The derivative at the kink x = 0 is PyTorch's choice, the left one.
 *
 * tanh is computed in float64 by a fixed sequence of IEEE operations (below, `tanhOf`) and rounded
 * once to float32, so the TypeScript loop and the SIMD kernel's two f64 lanes give the same bits,
 * within one float32 ulp of Math.tanh (test/activations.test.ts). Math.tanh costs about 12 ns a
 * value here (the SIMD pass about 4), and the generator's last layer runs on every pixel of every fake.
 */
import { matmulKernel } from "./matmul.js";

export interface ActivationKernel {
  /** out[i] = max(x[i], 0). x and out of the same length. */
  relu(x: Float32Array, out: Float32Array): void;
  /** out[i] = x[i] > 0 ? x[i] : x[i] * slope, in float32. */
  leakyRelu(x: Float32Array, out: Float32Array, slope: number): void;
  /**
   * gx[i] = (x[i] > 0 ? g[i] : g[i] * slope), added to gx with `accumulate`, else written over it:
   * the backward of leakyRelu (slope 0: of relu). x, g and gx of the same length.
   */
  backward(x: Float32Array, g: Float32Array, gx: Float32Array, slope: number, accumulate: boolean): void;
  /** out[i] = tanhOf(x[i]) rounded to float32. x and out of the same length. */
  tanh(x: Float32Array, out: Float32Array): void;
}

/**
 * tanh(|x|) = m / (m + 2) with m = e^y - 1, y = 2|x|, which has no cancellation near 0 (1 - 2/(e^y + 1)
 * would have). y is capped at 40, where m / (m + 2) is 1 in float64. m comes from y = n·ln 2 + r,
 * |r| <= ln 2 / 2: e^y - 1 = 2^n·q + (2^n - 1), q = e^r - 1 = r + r²/2! + ... + r⁹/9! (the series'
 * remainder, below r⁹/10!, is under 3e-11 of q), in Horner's form from the highest power. n is
 * y/ln 2 rounded to the nearest integer by adding and subtracting 1.5·2^52 (ties to even, as the
 * SIMD kernel's addition rounds). The sign is then copied from x (so tanh(-0) = -0).
 */
export const TANH_Y_MAX = 40;
/** 1.5·2^52: a float64 sum with this rounds a value under 2^51 in magnitude to an integer. */
export const ROUND_TO_INTEGER = 6755399441055744;
/** 1/9!, 1/8!, ..., 1/2!, 1/1!: the coefficients of q(r) / r, highest first. */
export const EXPM1_COEFFICIENTS: readonly number[] = Array.from({ length: 9 }, (_, i) => {
  let f = 1;
  for (let k = 2; k <= 9 - i; k++) f *= k;
  return 1 / f;
});
/** 2^n for n = 0..58, exact. */
const POW2 = Array.from({ length: 59 }, (_, n) => 2 ** n);

/** tanh of one value in float64 by the steps above (the caller rounds it to float32). */
export function tanhOf(x: number): number {
  const a = Math.abs(x);
  const y = Math.min(a + a, TANH_Y_MAX);
  const n = y * Math.LOG2E + ROUND_TO_INTEGER - ROUND_TO_INTEGER;
  const r = y - n * Math.LN2;
  const c = EXPM1_COEFFICIENTS;
  let p = c[0]!;
  for (let k = 1; k < c.length; k++) p = p * r + c[k]!;
  const q = p * r;
  const s = POW2[n] ?? NaN; // n is NaN only when x is
  const m = s * q + (s - 1);
  const t = m / (m + 2);
  return x < 0 ? -t : x === 0 ? x : t;
}

// Each loop is branch-free: a `v > 0 ? a : b` per element compiles to a jump that the CPU
// mispredicts about half the time on activations of mixed sign (2.2-2.5 ms for 401,408 random
// values, forward or backward), where `+(v > 0)` as a number or an index costs 0.4-0.6 ms. The
// products are exact in float64 (two float32 significands fit its 53 bits), so storing them in a
// Float32Array rounds once: a float32 multiply.
export const referenceActivations: ActivationKernel = {
  relu(x, out) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const r = (v + Math.abs(v)) * 0.5; // v if v > 0, else +0 (exact: computed in float64), NaN for NaN
      out[i] = r === r ? r : v === -Infinity ? 0 : r; // and -inf, whose sum is NaN too (a branch almost never taken)
    }
  },
  leakyRelu(x, out, slope) {
    const factor = new Float64Array([Math.fround(slope), 1]); // indexed by +(x > 0)
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      out[i] = v * factor[+(v > 0)]!;
    }
  },
  backward(x, g, gx, slope, accumulate) {
    const factor = new Float64Array([Math.fround(slope), 1]);
    if (accumulate) for (let i = 0; i < x.length; i++) gx[i]! += Math.fround(g[i]! * factor[+(x[i]! > 0)]!);
    else for (let i = 0; i < x.length; i++) gx[i] = g[i]! * factor[+(x[i]! > 0)]!;
  },
  tanh(x, out) {
    for (let i = 0; i < x.length; i++) out[i] = tanhOf(x[i]!);
  },
};

/** The activations of the active matmul kernel, or the reference ones. */
export function activationKernel(): ActivationKernel {
  return matmulKernel().activations ?? referenceActivations;
}
