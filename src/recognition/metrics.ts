/**
 * Scores computed from a classifier's outputs: the confusion matrix and per-digit precision, recall
 * and F1; the classifier score (Inception-Score style); and feature spread, the basis of diversity.
 * Pure functions over arrays: no model, no files. Sums in float64 (statistics, not a hot path).
 *
 * Legend: N = number of examples, C = number of classes (10), D = feature dimension.
 */

/** A C x C count table: `counts[t][p]` = examples of true (requested) class t predicted as p. */
export type ConfusionMatrix = number[][];

/**
 * Counts (true, predicted) pairs.
 * @param truth (N) true or requested class of each example, in [0, C)
 * @param predicted (N) predicted class of each example, in [0, C)
 */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes = 10): ConfusionMatrix {
  if (truth.length !== predicted.length)
    throw new Error(`confusionMatrix: ${truth.length} labels but ${predicted.length} predictions`);
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = predicted[i]!;
    if (!(t >= 0 && t < classes && p >= 0 && p < classes && Number.isInteger(t) && Number.isInteger(p)))
      throw new Error(`confusionMatrix: pair (${t}, ${p}) at index ${i} outside [0, ${classes})`);
    m[t]![p]!++;
  }
  return m;
}

/** Per-class scores; each array has one entry per class. */
export interface ClassScores {
  /** Fraction of all examples on the diagonal. */
  accuracy: number;
  /** Of the examples predicted as c, the fraction truly c (0 when none were predicted as c). */
  precision: number[];
  /** Of the examples truly c, the fraction predicted as c (0 when there are none). */
  recall: number[];
  /** Harmonic mean of precision and recall (0 when both are 0). */
  f1: number[];
  /** Examples truly c (row sums). */
  support: number[];
}

/** Accuracy and per-class precision, recall, F1 and support from a confusion matrix. */
export function classScores(m: ConfusionMatrix): ClassScores {
  const c = m.length;
  const support = m.map((row) => row.reduce((s, x) => s + x, 0));
  const predicted = Array.from({ length: c }, (_, p) => m.reduce((s, row) => s + row[p]!, 0));
  const total = support.reduce((s, x) => s + x, 0);
  let correct = 0;
  for (let k = 0; k < c; k++) correct += m[k]![k]!;
  const precision = m.map((row, k) => (predicted[k]! > 0 ? row[k]! / predicted[k]! : 0));
  const recall = m.map((row, k) => (support[k]! > 0 ? row[k]! / support[k]! : 0));
  const f1 = precision.map((p, k) => {
    const r = recall[k]!;
    return p + r > 0 ? (2 * p * r) / (p + r) : 0;
  });
  return { accuracy: total > 0 ? correct / total : 0, precision, recall, f1, support };
}

/** Index of the largest entry of each row. @param scores (N, C) @returns (N) */
export function argmaxRows(scores: Float32Array, n: number, classes = 10): Uint8Array {
  if (scores.length !== n * classes) throw new Error(`argmaxRows: ${scores.length} values is not ${n} rows of ${classes}`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (scores[i * classes + k]! > scores[i * classes + best]!) best = k;
    out[i] = best;
  }
  return out;
}

/** Row-wise softmax of (N, C) scores (logits) into probabilities, computed stably. */
export function softmaxRows(logits: Float32Array, n: number, classes = 10): Float64Array {
  if (logits.length !== n * classes) throw new Error(`softmaxRows: ${logits.length} values is not ${n} rows of ${classes}`);
  const p = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) {
    const r = i * classes;
    let m = -Infinity;
    for (let k = 0; k < classes; k++) m = Math.max(m, logits[r + k]!);
    let s = 0;
    for (let k = 0; k < classes; k++) s += p[r + k] = Math.exp(logits[r + k]! - m);
    for (let k = 0; k < classes; k++) p[r + k]! /= s;
  }
  return p;
}

/**
 * Classifier score, the Inception Score with our MNIST classifier: exp(mean_i KL(p(y|x_i) || p(y)))
 * where p(y) is the mean of the rows. Between 1 (every image gets the same distribution) and C
 * (each image confidently one class, classes used evenly).
 * @param probs (N, C) class probabilities, each row summing to 1
 */
export function classifierScore(probs: Float64Array | Float32Array, n: number, classes = 10): number {
  if (probs.length !== n * classes || n < 1) throw new Error(`classifierScore: ${probs.length} values is not ${n} rows of ${classes}`);
  const marginal = new Float64Array(classes);
  for (let i = 0; i < n; i++) for (let k = 0; k < classes; k++) marginal[k]! += probs[i * classes + k]! / n;
  let kl = 0;
  for (let i = 0; i < n; i++)
    for (let k = 0; k < classes; k++) {
      const p = probs[i * classes + k]!;
      if (p > 0) kl += p * (Math.log(p) - Math.log(marginal[k]!)); // 0 log 0 = 0
    }
  return Math.exp(kl / n);
}

/**
 * Feature spread per class: the mean Euclidean distance of each example's features from the mean
 * features of its class. NaN for a class with no examples.
 * @param features (N, D) feature rows  @param labels (N) class of each row
 * @returns (C) spread of each class
 */
export function classSpread(features: Float32Array, labels: ArrayLike<number>, dim: number, classes = 10): number[] {
  const n = labels.length;
  if (features.length !== n * dim) throw new Error(`classSpread: ${features.length} values is not ${n} rows of ${dim}`);
  const means = new Float64Array(classes * dim);
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    counts[c]!++;
    for (let j = 0; j < dim; j++) means[c * dim + j]! += features[i * dim + j]!;
  }
  for (let c = 0; c < classes; c++) for (let j = 0; j < dim; j++) means[c * dim + j]! /= counts[c]! || 1;
  const dist = new Array<number>(classes).fill(0);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    let s = 0;
    for (let j = 0; j < dim; j++) s += (features[i * dim + j]! - means[c * dim + j]!) ** 2;
    dist[c]! += Math.sqrt(s);
  }
  return dist.map((d, c) => (counts[c]! > 0 ? d / counts[c]! : NaN));
}

/**
 * Diversity of a sample set against a reference (real digits): per class, the samples' spread over
 * the reference's; overall, the mean spread over the classes present in both, over the same for the
 * reference. 1.0 = as varied as the reference, ~0 = mode collapse (the same image again and again).
 * @param sampleSpread (C) from `classSpread` of the samples  @param realSpread (C) of the reference
 */
export function diversity(sampleSpread: number[], realSpread: number[]): { overall: number; perClass: number[] } {
  const perClass = sampleSpread.map((s, c) => (Number.isFinite(s) && realSpread[c]! > 0 ? s / realSpread[c]! : NaN));
  let num = 0;
  let den = 0;
  sampleSpread.forEach((s, c) => {
    const r = realSpread[c]!;
    if (Number.isFinite(s) && Number.isFinite(r) && r > 0) {
      num += s;
      den += r;
    }
  });
  return { overall: den > 0 ? num / den : NaN, perClass };
}
