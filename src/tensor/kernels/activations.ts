/**
 * The passes over memory of relu and leakyRelu, forward and backward. A matmul kernel may run them
 * its own way (`MatmulKernel.activations`: the SIMD kernel runs them as WebAssembly SIMD in its
 * memory); `referenceActivations` is the TypeScript one, and `activationKernel()` the one the ops
 * use. Every one computes in float32 as PyTorch does, so every backend gives the same bits
 * (test/activations.test.ts):
 *   relu(x)       = max(x, 0)                  (+0 for x <= 0, NaN stays NaN)
 *   leakyRelu(x)  = x > 0 ? x : x * s          (s and the product in float32)
 *   backward      dx (+)= x > 0 ? g : g * s    (s = 0 for relu; the product, then the sum, in float32)
 * The derivative at the kink x = 0 is PyTorch's choice, the left one.
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
};

/** The activations of the active matmul kernel, or the reference ones. */
export function activationKernel(): ActivationKernel {
  return matmulKernel().activations ?? referenceActivations;
}
