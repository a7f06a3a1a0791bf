/**
 * Batch norm's passes over memory (ops/norm.ts has the op and its formulas), for input x of
 * (N, C, S) values, S = H*W (S = 1 for (N, C) input): per-channel sums, the normalisation, and the
 * backward's sums and input gradient. A matmul kernel may run them its own way
 * (`MatmulKernel.batchNorm`: the SIMD kernel runs them as WebAssembly SIMD in its memory);
 * `referenceBatchNorm` is the TypeScript one, and `batchNormKernel()` the one the op uses. The two
 * differ only in rounding: sums in float64 in another order, the element-wise arithmetic in float32
 * where the reference rounds once from float64 (test/batch-norm.test.ts).
 *
 * Loops read in memory order (n, c, s). For (N, C) input, S = 1, they get loops of their own with the
 * channels innermost: a loop per (n, c) over a single value costs more in bookkeeping than in
 * arithmetic (4-12 ns per value, measured). Per-channel values are read once per run into locals:
 * V8 cannot prove that the stores leave them alone (typed arrays may share a buffer), so inside the
 * loop it would read them again for every element (twice as slow, measured).
 */
import { matmulKernel } from "./matmul.js";

/** The per-channel numbers of the input gradient, float32 (C each). */
export interface InputGradientCoefficients {
  scale: Float32Array;
  mg: Float32Array;
  mgh: Float32Array;
}

export interface BatchNormKernel {
  /** sum[c] = Σ over n, s of x[n, c, s] (float64), written over: also a convolution bias's gradient. */
  channelSums(x: Float32Array, N: number, C: number, S: number, sum: Float64Array): void;
  /** mean[c] = Σ over n, s of x[n, c, s] / (N·S), then sq[c] = Σ (x - mean[c])², both float64, written over. */
  moments(x: Float32Array, N: number, C: number, S: number, mean: Float64Array, sq: Float64Array): void;
  /** xhat = (x - mean[c]) · invStd[c];  out = gamma[c] · xhat + beta[c]. */
  normalize(x: Float32Array, N: number, C: number, S: number, mean: Float32Array, invStd: Float32Array, gamma: Float32Array, beta: Float32Array, xhat: Float32Array, out: Float32Array): void;
  /**
   * sumG[c] = Σ g and sumGH[c] = Σ g · xhat (float64, written over); then, if `coefficients` (called
   * once the sums are in) gives the per-channel numbers, gx (+)= scale[c] · (g - mg[c] - xhat ·
   * mgh[c]): added with `accumulate`, else written over. One call, so a kernel that copies g and xhat
   * into its own memory copies them once.
   */
  backward(g: Float32Array, xhat: Float32Array, N: number, C: number, S: number, sumG: Float64Array, sumGH: Float64Array, coefficients: () => InputGradientCoefficients | null, gx: Float32Array | null, accumulate: boolean): void;
}

/** The reference's passes, one by one. */
const passes = {
  sum(x: Float32Array, N: number, C: number, S: number, sum: Float64Array): void {
    if (S === 1) for (let n = 0, o = 0; n < N; n++, o += C) for (let c = 0; c < C; c++) sum[c]! += x[o + c]!;
    else
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let k = (n * C + c) * S, e = k + S; k < e; k++) s += x[k]!;
          sum[c]! += s;
        }
  },
  squaredDeviations(x: Float32Array, N: number, C: number, S: number, mean: Float64Array, sq: Float64Array): void {
    if (S === 1)
      for (let n = 0, o = 0; n < N; n++, o += C)
        for (let c = 0; c < C; c++) {
          const d = x[o + c]! - mean[c]!;
          sq[c]! += d * d;
        }
    else
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const mu = mean[c]!;
          let v = 0;
          for (let k = (n * C + c) * S, e = k + S; k < e; k++) {
            const d = x[k]! - mu;
            v += d * d;
          }
          sq[c]! += v;
        }
  },
  normalize(x: Float32Array, N: number, C: number, S: number, mean: Float32Array, invStd: Float32Array, gamma: Float32Array, beta: Float32Array, xhat: Float32Array, out: Float32Array): void {
    if (S === 1)
      for (let n = 0, o = 0; n < N; n++, o += C)
        for (let c = 0; c < C; c++) {
          const h = (x[o + c]! - mean[c]!) * invStd[c]!;
          xhat[o + c] = h;
          out[o + c] = gamma[c]! * h + beta[c]!;
        }
    else
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const mu = mean[c]!, is = invStd[c]!, ga = gamma[c]!, be = beta[c]!;
          for (let k = (n * C + c) * S, e = k + S; k < e; k++) {
            const h = (x[k]! - mu) * is;
            xhat[k] = h;
            out[k] = ga * h + be;
          }
        }
  },
  gradientSums(g: Float32Array, xhat: Float32Array, N: number, C: number, S: number, sumG: Float64Array, sumGH: Float64Array): void {
    if (S === 1)
      for (let n = 0, o = 0; n < N; n++, o += C)
        for (let c = 0; c < C; c++) {
          sumG[c]! += g[o + c]!;
          sumGH[c]! += g[o + c]! * xhat[o + c]!;
        }
    else
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          let sg = 0, sgh = 0; // in locals, not an add to sumG[c] per element (a store, then a load, each time)
          for (let k = (n * C + c) * S, e = k + S; k < e; k++) {
            sg += g[k]!;
            sgh += g[k]! * xhat[k]!;
          }
          sumG[c]! += sg;
          sumGH[c]! += sgh;
        }
  },
  inputGradient(g: Float32Array, xhat: Float32Array, N: number, C: number, S: number, { scale, mg, mgh }: InputGradientCoefficients, gx: Float32Array, accumulate: boolean): void {
    const acc = accumulate ? 1 : 0; // gx[k] * 0 would turn a NaN left in a fresh buffer into NaN: select instead
    if (S === 1)
      for (let n = 0, o = 0; n < N; n++, o += C)
        for (let c = 0; c < C; c++) {
          const d = scale[c]! * (g[o + c]! - mg[c]! - xhat[o + c]! * mgh[c]!);
          gx[o + c] = acc ? gx[o + c]! + d : d;
        }
    else
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const sc = scale[c]!, m1 = mg[c]!, m2 = mgh[c]!;
          const e = (n * C + c) * S + S;
          if (acc) for (let k = e - S; k < e; k++) gx[k]! += sc * (g[k]! - m1 - xhat[k]! * m2);
          else for (let k = e - S; k < e; k++) gx[k] = sc * (g[k]! - m1 - xhat[k]! * m2);
        }
  },
};

export const referenceBatchNorm: BatchNormKernel = {
  channelSums(x, N, C, S, sum) {
    sum.fill(0);
    passes.sum(x, N, C, S, sum);
  },
  moments(x, N, C, S, mean, sq) {
    mean.fill(0);
    passes.sum(x, N, C, S, mean);
    for (let c = 0; c < C; c++) mean[c]! /= N * S;
    sq.fill(0);
    passes.squaredDeviations(x, N, C, S, mean, sq);
  },
  normalize: passes.normalize,
  backward(g, xhat, N, C, S, sumG, sumGH, coefficients, gx, accumulate) {
    sumG.fill(0);
    sumGH.fill(0);
    passes.gradientSums(g, xhat, N, C, S, sumG, sumGH);
    const k = coefficients();
    if (k && gx) passes.inputGradient(g, xhat, N, C, S, k, gx, accumulate);
  },
};

/** The batch-norm passes of the active matmul kernel, or the reference ones. */
export function batchNormKernel(): BatchNormKernel {
  return matmulKernel().batchNorm ?? referenceBatchNorm;
}
