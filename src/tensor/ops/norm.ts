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
 */
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
  const mean = alloc(C);
  const invStd = alloc(C);
  if (opts.training) {
    // Per-channel sums in float64, read in memory order (n, c, k): for (N, C) input a channel-major
    // loop would stride through memory C floats at a time.
    // (N, C) input (S = 1) gets loops of its own, channels innermost: a loop per (n, c) over a single
    // value costs more in bookkeeping than in arithmetic (4-12 ns per value, measured).
    const sum = new Float64Array(C);
    if (S === 1) for (let n = 0, o = 0; n < N; n++, o += C) for (let c = 0; c < C; c++) sum[c]! += xd[o + c]!;
    else
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let k = (n * C + c) * S, e = k + S; k < e; k++) s += xd[k]!;
          sum[c]! += s;
        }
    for (let c = 0; c < C; c++) sum[c]! /= M; // now the means
    const sq = new Float64Array(C);
    if (S === 1)
      for (let n = 0, o = 0; n < N; n++, o += C)
        for (let c = 0; c < C; c++) {
          const d = xd[o + c]! - sum[c]!;
          sq[c]! += d * d;
        }
    else
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const mu = sum[c]!;
          let v = 0;
          for (let k = (n * C + c) * S, e = k + S; k < e; k++) {
            const d = xd[k]! - mu;
            v += d * d;
          }
          sq[c]! += v;
        }
    for (let c = 0; c < C; c++) {
      const mu = sum[c]!;
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
  const bd = beta.data;
  // Per-channel values read once per run of S into locals: V8 cannot prove that the stores below
  // leave mean, invStd, gamma and beta alone (typed arrays may share a buffer), so inside the loop
  // it would read them again for every element (twice as slow, measured).
  if (S === 1)
    for (let n = 0, o = 0; n < N; n++, o += C)
      for (let c = 0; c < C; c++) {
        const h = (xd[o + c]! - mean[c]!) * invStd[c]!;
        xhat[o + c] = h;
        out[o + c] = gd[c]! * h + bd[c]!;
      }
  else
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) {
        const mu = mean[c]!, is = invStd[c]!, ga = gd[c]!, be = bd[c]!;
        for (let k = (n * C + c) * S, e = k + S; k < e; k++) {
          const h = (xd[k]! - mu) * is;
          xhat[k] = h;
          out[k] = ga * h + be;
        }
      }
  const training = opts.training;
  return Tensor.fromOp("batchNorm", x.shape, out, [x, gamma, beta], (y) => {
    const g = y.grad!;
    const sumG = new Float64Array(C);
    const sumGH = new Float64Array(C);
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
    if (gamma.requiresGrad) {
      const gg = gamma.gradBuffer();
      for (let c = 0; c < C; c++) gg[c]! += sumGH[c]!;
    }
    if (beta.requiresGrad) {
      const gb = beta.gradBuffer();
      for (let c = 0; c < C; c++) gb[c]! += sumG[c]!;
    }
    if (x.requiresGrad) {
      const gx = x.gradBuffer();
      // dx = scale * (dy - mg - xhat * mgh) per channel; in eval mode mg = mgh = 0
      const scale = new Float64Array(C), mg = new Float64Array(C), mgh = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        scale[c] = gd[c]! * invStd[c]!;
        mg[c] = training ? sumG[c]! / M : 0;
        mgh[c] = training ? sumGH[c]! / M : 0;
      }
      if (S === 1)
        for (let n = 0, o = 0; n < N; n++, o += C)
          for (let c = 0; c < C; c++) gx[o + c]! += scale[c]! * (g[o + c]! - mg[c]! - xhat[o + c]! * mgh[c]!);
      else
        for (let n = 0; n < N; n++)
          for (let c = 0; c < C; c++) {
            const sc = scale[c]!, m1 = mg[c]!, m2 = mgh[c]!;
            for (let k = (n * C + c) * S, e = k + S; k < e; k++) gx[k]! += sc * (g[k]! - m1 - xhat[k]! * m2);
          }
    }
  });
}
