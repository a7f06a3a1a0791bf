/**
 * Classification losses: logSoftmax over the last axis of (N, C) scores, the negative
 * log-likelihood of integer labels, and their composition, cross-entropy (mean over the batch).
 *   logSoftmax: y = x - log(sum(exp(x)))          dx = dy - softmax(x) * sum(dy)
 *   nll:        L = -(1/N) sum_n logp[n, label_n]  dlogp[n, label_n] = -1/N
 */
import { alloc } from "../storage.js";
import { Tensor, shapeStr } from "../tensor.js";

/** Row-wise log-softmax of (N, C) scores, computed stably (max subtracted). */
export function logSoftmax(a: Tensor): Tensor {
  if (a.ndim !== 2) throw new Error(`logSoftmax: expects (N,C), got ${shapeStr(a.shape)}`);
  const [N, C] = a.shape as [number, number];
  const x = a.data;
  const out = alloc(N * C);
  for (let n = 0; n < N; n++) {
    const r = n * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, x[r + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x[r + c]! - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < C; c++) out[r + c] = x[r + c]! - lse;
  }
  return Tensor.fromOp("logSoftmax", [N, C], out, [a], (y) => {
    const g = y.grad!;
    const ga = a.gradBuffer();
    const yd = y.data;
    for (let n = 0; n < N; n++) {
      const r = n * C;
      let gs = 0;
      for (let c = 0; c < C; c++) gs += g[r + c]!;
      for (let c = 0; c < C; c++) ga[r + c]! += g[r + c]! - Math.exp(yd[r + c]!) * gs;
    }
  });
}

/** Mean negative log-likelihood of `labels` (N integers in [0, C)) under log-probabilities (N, C). */
export function nllLoss(logp: Tensor, labels: ArrayLike<number>): Tensor {
  if (logp.ndim !== 2 || labels.length !== logp.shape[0])
    throw new Error(`nllLoss: log-probabilities ${shapeStr(logp.shape)} and ${labels.length} labels`);
  const [N, C] = logp.shape as [number, number];
  let s = 0;
  for (let n = 0; n < N; n++) {
    const l = labels[n]!;
    if (!Number.isInteger(l) || l < 0 || l >= C) throw new Error(`nllLoss: label ${l} at row ${n} outside [0, ${C})`);
    s -= logp.data[n * C + l]!;
  }
  const out = alloc(1);
  out[0] = s / N;
  return Tensor.fromOp("nllLoss", [], out, [logp], (y) => {
    const g = y.grad![0]! / N;
    const gl = logp.gradBuffer();
    for (let n = 0; n < N; n++) gl[n * C + labels[n]!]! -= g;
  });
}

/** Cross-entropy of (N, C) scores against integer labels: nllLoss(logSoftmax(scores)). */
export function crossEntropy(scores: Tensor, labels: ArrayLike<number>): Tensor {
  return nllLoss(logSoftmax(scores), labels);
}
