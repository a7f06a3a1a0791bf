/**
 * Batch normalisation (Ioffe and Szegedy, 2015) as one fused op over (N,C) or (N,C,H,W), with
 * statistics per channel over the M = N*H*W values of that channel.
 *   training: xhat = (x - mean) / sqrt(var + eps) with the batch's mean and biased variance;
 *             running stats move by momentum towards the batch's mean and unbiased variance
 *   eval:     the running statistics take the batch's place
 *   y = gamma * xhat + beta
 * Backward in training (the batch statistics depend on x):
 *   dx = gamma / (M * std) * (M * dy - sum(dy) - xhat * sum(dy * xhat))
 *   dgamma = sum(dy * xhat), dbeta = sum(dy)
 * The passes over memory run on the active kernel (kernels/batch-norm.ts: TypeScript, or WebAssembly
 * SIMD in the SIMD kernel's memory); this file computes the per-channel numbers between them.
 */
import { batchNormKernel, type InputGradientCoefficients } from "../kernels/batch-norm.js";
import { alloc, allocForOverwrite } from "../storage.js";
import { Tensor, shapeStr } from "../tensor.js";

export interface BatchNormOptions {
  training: boolean;
  eps?: number;
  momentum?: number;
  /** (C) running mean and variance; updated in place in training, read in eval. */
  runningMean?: Float32Array;
  runningVar?: Float32Array;
}

/** @param x (N,C) or (N,C,H,W)  @param gamma (C)  @param beta (C)  @returns same shape as x */
export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, opts: BatchNormOptions): Tensor {
  if ((x.ndim !== 2 && x.ndim !== 4) || gamma.size !== x.shape[1] || beta.size !== x.shape[1])
    throw new Error(`batchNorm: input ${shapeStr(x.shape)} with weight ${shapeStr(gamma.shape)} and bias ${shapeStr(beta.shape)}`);
  const eps = opts.eps ?? 1e-5;
  const momentum = opts.momentum ?? 0.1;
  const N = x.shape[0]!;
  const C = x.shape[1]!;
  const S = x.ndim === 4 ? x.shape[2]! * x.shape[3]! : 1;
  const M = N * S;
  if (opts.training && M < 2) throw new Error(`batchNorm: training needs more than one value per channel, got ${shapeStr(x.shape)}`);
  const xd = x.data;
  const k = batchNormKernel();
  const mean = alloc(C);
  const invStd = alloc(C);
  if (opts.training) {
    const mu64 = new Float64Array(C); // per-channel means and sums of squared deviations, float64
    const sq = new Float64Array(C);
    k.moments(xd, N, C, S, mu64, sq);
    for (let c = 0; c < C; c++) {
      const mu = mu64[c]!;
      const v = sq[c]!;
      mean[c] = mu;
      invStd[c] = 1 / Math.sqrt(v / M + eps);
      if (opts.runningMean) opts.runningMean[c] = (1 - momentum) * opts.runningMean[c]! + momentum * mu;
      if (opts.runningVar) opts.runningVar[c] = (1 - momentum) * opts.runningVar[c]! + momentum * (v / (M - 1));
    }
  } else {
    if (!opts.runningMean || !opts.runningVar) throw new Error("batchNorm: eval mode needs running statistics");
    for (let c = 0; c < C; c++) {
      mean[c] = opts.runningMean[c]!;
      invStd[c] = 1 / Math.sqrt(opts.runningVar[c]! + eps);
    }
  }
  const xhat = allocForOverwrite(xd.length);
  const out = allocForOverwrite(xd.length);
  const gd = gamma.data;
  k.normalize(xd, N, C, S, mean, invStd, gd, beta.data, xhat, out);
  const training = opts.training;
  return Tensor.fromOp("batchNorm", x.shape, out, [x, gamma, beta], (y) => {
    const g = y.grad!;
    const sumG = new Float64Array(C);
    const sumGH = new Float64Array(C);
    const target = x.requiresGrad ? x.gradTarget() : null;
    // dx = scale * (dy - mg - xhat * mgh) per channel; in eval mode mg = mgh = 0
    const coefficients = (): InputGradientCoefficients | null => {
      if (gamma.requiresGrad) {
        const gg = gamma.gradBuffer();
        for (let c = 0; c < C; c++) gg[c]! += sumGH[c]!;
      }
      if (beta.requiresGrad) {
        const gb = beta.gradBuffer();
        for (let c = 0; c < C; c++) gb[c]! += sumG[c]!;
      }
      if (!target) return null;
      const scale = alloc(C), mg = alloc(C), mgh = alloc(C);
      for (let c = 0; c < C; c++) {
        scale[c] = gd[c]! * invStd[c]!;
        mg[c] = training ? sumG[c]! / M : 0;
        mgh[c] = training ? sumGH[c]! / M : 0;
      }
      return { scale, mg, mgh };
    };
    batchNormKernel().backward(g, xhat, N, C, S, sumG, sumGH, coefficients, target?.grad ?? null, target?.accumulate ?? false);
  });
}
