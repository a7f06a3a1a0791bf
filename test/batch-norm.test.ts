/**
 * Batch norm's passes: the SIMD kernel's (WebAssembly) against the reference (TypeScript), which
 * differ only in rounding (sums in another order, float32 lane arithmetic), on both layouts, (N, C)
 * and (N, C, S), with channel counts and runs that do and do not fill four lanes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { referenceBatchNorm, type BatchNormKernel, type InputGradientCoefficients } from "../src/tensor/kernels/batch-norm.js";
import { createSimdMatmul, type SimdMatmul } from "../src/tensor/kernels/wasm/simd-kernel.js";
import { Prng } from "../src/tensor/index.js";
import { firstBitDifference, maxRelDiff } from "./gradcheck.js";
import { simdKernelPair } from "./backends.js";
import { KERNEL_REL_TOL } from "./tolerances.js";

describe("batch-norm passes: simd against the reference", () => {
  let simd: SimdMatmul | undefined;
  beforeAll(async () => {
    simd = await createSimdMatmul({ threads: 1 });
  });
  afterAll(async () => {
    await simd?.dispose();
  });

  // (N, C, S): S = 1 is the (N, C) layout; 49 and 5 leave one lane over a vector, 196 none; C = 7 leaves three channels
  for (const [N, C, S] of [[4, 7, 1], [3, 8, 1], [64, 3136, 1], [2, 3, 49], [5, 2, 5], [8, 32, 196], [1, 1, 3], [2, 5, 4]] as const)
    it(`(${N}, ${C}, ${S}): channel sums, moments, normalisation, gradient sums and input gradient`, () => {
      const prng = new Prng(N * 1000 + C * 10 + S);
      const n = N * C * S;
      const x = prng.fillUniform(new Float32Array(n), -2, 3);
      const g = prng.fillUniform(new Float32Array(n), -1, 1);
      const per = (lo: number, hi: number): Float32Array => prng.fillUniform(new Float32Array(C), lo, hi);
      const gamma = per(0.5, 2), beta = per(-1, 1);
      const k: InputGradientCoefficients = { scale: per(0.1, 3), mg: per(-0.2, 0.2), mgh: per(-0.5, 0.5) };
      const gx0 = prng.fillUniform(new Float32Array(n), -1, 1);
      const run = (bn: BatchNormKernel) => {
        const sums = new Float64Array(C).fill(NaN); // written over
        bn.channelSums(x, N, C, S, sums);
        const mean = new Float64Array(C).fill(NaN), sq = new Float64Array(C).fill(NaN);
        bn.moments(x, N, C, S, mean, sq);
        const mean32 = Float32Array.from(mean), invStd = Float32Array.from(sq, (v) => 1 / Math.sqrt(v / (N * S) + 1e-5));
        const xhat = new Float32Array(n).fill(NaN), out = new Float32Array(n).fill(NaN);
        // the same statistics into both kernels' normalisation, so that it alone is compared
        const refMean = new Float64Array(C), refSq = new Float64Array(C);
        referenceBatchNorm.moments(x, N, C, S, refMean, refSq);
        const m32 = Float32Array.from(refMean), is = Float32Array.from(refSq, (v) => 1 / Math.sqrt(v / (N * S) + 1e-5));
        bn.normalize(x, N, C, S, m32, is, gamma, beta, xhat, out);
        const sumG = new Float64Array(C).fill(NaN), sumGH = new Float64Array(C).fill(NaN);
        const fresh = new Float32Array(n).fill(NaN), acc = gx0.slice();
        bn.backward(g, xhat, N, C, S, sumG, sumGH, () => k, fresh, false);
        bn.backward(g, xhat, N, C, S, new Float64Array(C), new Float64Array(C), () => k, acc, true);
        let called = false;
        bn.backward(g, xhat, N, C, S, new Float64Array(C), new Float64Array(C), () => ((called = true), null), null, false);
        expect(called).toBe(true);
        return { sums, mean, sq, mean32, invStd, xhat, out, sumG, sumGH, fresh, acc };
      };
      const want = run(referenceBatchNorm), got = run(simd!.batchNorm!);
      for (const key of Object.keys(want) as (keyof typeof want)[])
        expect(maxRelDiff(got[key], want[key]), key).toBeLessThan(KERNEL_REL_TOL);
      // and the reference is what the formulas say, at a few entries
      const c = C - 1, idx = (N - 1) * C * S + c * S + (S - 1);
      let s = 0;
      for (let m = 0; m < N; m++) for (let q = 0; q < S; q++) s += x[(m * C + c) * S + q]!;
      expect(want.sums[c]).toBeCloseTo(s, 9);
      expect(want.mean[c]).toBeCloseTo(s / (N * S), 10);
      expect(want.fresh[idx]).toBeCloseTo(k.scale[c]! * (g[idx]! - k.mg[c]! - want.xhat[idx]! * k.mgh[c]!), 5);
      expect(want.acc[idx]).toBeCloseTo(gx0[idx]! + want.fresh[idx]!, 5);
    });
});

describe("batch-norm passes on two threads", () => {
  const simd = simdKernelPair();
  // normalisation and input gradient are split by images on two threads, the per-channel sums by
  // channels: the same bits as one thread
  for (const [N, C, S] of [[64, 3136, 1], [8, 32, 196], [5, 7, 5], [3, 2, 49], [6, 13, 1]] as const)
    it(`(${N}, ${C}, ${S}): channel sums, moments, gradient sums, normalisation and input gradient give one thread's bits`, () => {
      const prng = new Prng(N + C + S);
      const n = N * C * S;
      const x = prng.fillUniform(new Float32Array(n), -2, 3), g = prng.fillUniform(new Float32Array(n), -1, 1);
      const per = (lo: number, hi: number): Float32Array => prng.fillUniform(new Float32Array(C), lo, hi);
      const [mean, invStd, gamma, beta] = [per(-1, 1), per(0.5, 2), per(0.5, 2), per(-1, 1)];
      const k: InputGradientCoefficients = { scale: per(0.1, 3), mg: per(-0.2, 0.2), mgh: per(-0.5, 0.5) };
      const gx0 = prng.fillUniform(new Float32Array(n), -1, 1);
      const run = (bn: BatchNormKernel) => {
        const xhat = new Float32Array(n), out = new Float32Array(n), fresh = new Float32Array(n).fill(NaN), acc = gx0.slice();
        const [sums, mu, sq, sumG, sumGH] = [0, 0, 0, 0, 0].map(() => new Float64Array(C));
        bn.channelSums(x, N, C, S, sums!);
        bn.moments(x, N, C, S, mu!, sq!);
        bn.normalize(x, N, C, S, mean, invStd, gamma, beta, xhat, out);
        bn.backward(g, xhat, N, C, S, sumG!, sumGH!, () => k, fresh, false);
        bn.backward(g, xhat, N, C, S, new Float64Array(C), new Float64Array(C), () => k, acc, true);
        return [xhat, out, fresh, acc, sums!, mu!, sq!, sumG!, sumGH!];
      };
      const one = run(simd.one().batchNorm!), two = run(simd.two().batchNorm!);
      const bytes = (a: Float32Array | Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      one.forEach((a, i) => expect(firstBitDifference(bytes(two[i]!), bytes(a)), `output ${i}`).toBe(-1));
    });
});
