/**
 * The optimizer's passes (kernels/optimizer.ts): the reference and the SIMD kernel's, on one thread
 * and on two, give the same bits, at lengths that do and do not fill the last four-lane vector;
 * the reference is RMSprop's formula and clipping's definition; and a model packed while the SIMD
 * kernel is active keeps its flat buffers in the kernel's memory, where steps update them in place.
 */
import { describe, expect, it } from "vitest";
import { simdKernelPair } from "./backends.js";
import { referenceOptimizer, type OptimizerKernel } from "../src/tensor/kernels/optimizer.js";
import { matmulBlocked, setMatmulKernel } from "../src/tensor/kernels/matmul.js";
import { Prng } from "../src/tensor/index.js";
import { Linear, RMSprop, clipWeights } from "../src/nn/index.js";
import { firstBitDifference } from "./gradcheck.js";

/**
 * firstBitDifference, except that a NaN matches any NaN in the same place: which NaN (sign, payload)
 * an operation on a NaN gives is the engine's choice (V8's Math.max gives -NaN here, wasm may keep
 * the operand's).
 */
function sameBitsButNaN(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return i;
  const nan = (x: Float32Array): Float32Array => x.map((y) => (Number.isNaN(y) ? 0 : y));
  return firstBitDifference(nan(a), nan(b));
}

describe("optimizer passes", () => {
  const simd = simdKernelPair();
  const kernels: [string, () => OptimizerKernel][] = [["simd", () => simd.one().optimizer!], ["simd, 2 threads", () => simd.two().optimizer!]];

  /** w, g, v for n parameters: weights in [-0.1, 0.1], gradients over six decades, v >= 0 (some 0). */
  function state(n: number, seed: number): { w: Float32Array; g: Float32Array; v: Float32Array } {
    const prng = new Prng(seed);
    const w = prng.fillUniform(new Float32Array(n), -0.1, 0.1);
    const g = Float32Array.from(prng.fillUniform(new Float32Array(n), -1, 1), (u, i) => u * 10 ** -(i % 7));
    const v = Float32Array.from(prng.fillUniform(new Float32Array(n), 0, 1e-4), (x, i) => (i % 5 === 0 ? 0 : x));
    return { w, g, v };
  }

  for (const [name, get] of kernels)
    it(`${name}: RMSprop and clipping give the reference's bits, at every length up to 37 and at 1001`, () => {
      for (const n of [...Array.from({ length: 37 }, (_, i) => i + 1), 1001]) {
        const a = state(n, n), b = state(n, n);
        for (let step = 0; step < 3; step++) {
          referenceOptimizer.rmsprop(a.w, a.g, a.v, 5e-4, 0.99, 1e-8);
          get().rmsprop(b.w, b.g, b.v, 5e-4, 0.99, 1e-8);
        }
        expect(firstBitDifference(b.w, a.w), `w, n ${n}`).toBe(-1);
        expect(firstBitDifference(b.v, a.v), `v, n ${n}`).toBe(-1);
        const c = 0.0991; // clips some of the weights
        const wa = Float32Array.from(a.w, (x, i) => (i % 9 === 0 ? -x * 3 : x)), wb = wa.slice();
        if (n > 3) [wa[1], wb[1], wa[2], wb[2]] = [-0, -0, Infinity, Infinity];
        if (n > 6) [wa[3], wb[3], wa[4], wb[4], wa[5], wb[5]] = [NaN, NaN, -Infinity, -Infinity, 0, 0];
        referenceOptimizer.clip(wa, c);
        get().clip(wb, c);
        if (n > 6) {
          // a NaN stays NaN; which NaN (sign, payload) is the engine's choice (V8's Math.max gives -NaN here)
          expect([wa[3], wb[3]].every(Number.isNaN), `NaN clipped, n ${n}`).toBe(true);
          wa[3] = wb[3] = 0;
        }
        expect(firstBitDifference(wb, wa), `clip, n ${n}`).toBe(-1);
        // a step that clips in the same pass: the bits of the step and then the clip
        const fused = state(n, n + 100), apart = state(n, n + 100), ref = state(n, n + 100);
        for (const s of [fused, apart, ref]) {
          s.w.forEach((x, i) => (s.w[i] = i % 4 === 0 ? x * 3 : x)); // some beyond the bound
          if (n > 1) s.g[1] = NaN; // a NaN gradient: that weight and its average become NaN, and stay NaN through the clip
        }
        get().rmsprop(fused.w, fused.g, fused.v, 5e-3, 0.99, 1e-8, c);
        get().rmsprop(apart.w, apart.g, apart.v, 5e-3, 0.99, 1e-8);
        get().clip(apart.w, c);
        referenceOptimizer.rmsprop(ref.w, ref.g, ref.v, 5e-3, 0.99, 1e-8, c);
        expect(sameBitsButNaN(fused.w, apart.w), `rmsprop with clip, n ${n}`).toBe(-1);
        expect(sameBitsButNaN(fused.w, ref.w), `rmsprop with clip against the reference, n ${n}`).toBe(-1);
        expect(sameBitsButNaN(fused.v, apart.v), `v with clip, n ${n}`).toBe(-1);
        expect(sameBitsButNaN(fused.v, ref.v), `v with clip against the reference, n ${n}`).toBe(-1);
        expect(fused.w.every((x, i) => (n > 1 && i === 1 ? Number.isNaN(x) : Math.abs(x) <= Math.fround(c)))).toBe(true);
      }
    });

  it("the reference is the formula: one step against float64, and clipping's definition", () => {
    const { w, g, v } = state(64, 9);
    const [w0, v0] = [Float64Array.from(w), Float64Array.from(v)];
    referenceOptimizer.rmsprop(w, g, v, 1e-3, 0.9, 1e-8);
    for (let i = 0; i < 64; i++) {
      const vi = 0.9 * v0[i]! + 0.1 * g[i]! * g[i]!;
      expect(Math.abs(v[i]! - vi)).toBeLessThanOrEqual(1e-6 * vi + 1e-30); // float32 against float64
      expect(w[i]! - w0[i]!).toBeCloseTo((-1e-3 * g[i]!) / (Math.sqrt(vi) + 1e-8), 6);
    }
    const fused = state(64, 9), apart = state(64, 9);
    referenceOptimizer.rmsprop(fused.w, fused.g, fused.v, 1e-2, 0.9, 1e-8, 0.05);
    referenceOptimizer.rmsprop(apart.w, apart.g, apart.v, 1e-2, 0.9, 1e-8);
    referenceOptimizer.clip(apart.w, 0.05);
    expect(firstBitDifference(fused.w, apart.w)).toBe(-1);
    expect(() => new RMSprop(new Linear(2, 2, new Prng(1)), { lr: 1e-3, clip: 0 })).toThrow("RMSprop: clip must be a positive number, got 0");
    const x = new Float32Array([0.5, -0.5, 0.01, -0, Infinity, -Infinity, NaN]);
    referenceOptimizer.clip(x, 0.25);
    expect(Array.from(x)).toEqual([0.25, -0.25, Math.fround(0.01), -0, 0.25, -0.25, NaN]);
    expect(Object.is(x[3], -0)).toBe(true);
  });

  it("a model packed under the SIMD kernel keeps its buffers in the kernel's memory and steps them in place", () => {
    setMatmulKernel(simd.two());
    try {
      const lin = new Linear(300, 7, new Prng(1));
      const flat = lin.pack();
      expect(flat.data.buffer).toBeInstanceOf(SharedArrayBuffer);
      const opt = new RMSprop(lin, { lr: 1e-3 });
      expect(opt.squareAvg.buffer).toBeInstanceOf(SharedArrayBuffer);
      flat.grad.fill(0.5);
      const before = flat.data.slice(), ref = { w: flat.data.slice(), v: new Float32Array(flat.data.length) };
      opt.step();
      clipWeights(lin, 0.05);
      referenceOptimizer.rmsprop(ref.w, flat.grad, ref.v, 1e-3, 0.99, 1e-8);
      referenceOptimizer.clip(ref.w, 0.05);
      expect(firstBitDifference(flat.data, ref.w)).toBe(-1);
      expect(firstBitDifference(opt.squareAvg, ref.v)).toBe(-1);
      expect(firstBitDifference(flat.data, before)).not.toBe(-1);
      // an optimizer that clips: the same bits as the step and clipWeights above, from the same start
      const lin2 = new Linear(300, 7, new Prng(1));
      const opt2 = new RMSprop(lin2, { lr: 1e-3, clip: 0.05 });
      lin2.pack().grad.fill(0.5);
      opt2.step();
      expect(firstBitDifference(lin2.pack().data, ref.w)).toBe(-1);
    } finally {
      setMatmulKernel(matmulBlocked);
    }
  });
});
