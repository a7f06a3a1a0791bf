/**
 * Classifier-output scores on hand-made predictions: confusion matrix, per-class precision, recall
 * and F1 worked out in the comments; the classifier score at its two extremes; feature spread and
 * diversity on a toy two-class feature set.
 */
import { describe, expect, it } from "vitest";
import { argmaxRows, classScores, classSpread, classifierScore, confusionMatrix, diversity, softmaxRows } from "../src/recognition/metrics.js";

describe("confusion matrix and class scores", () => {
  // 3 classes. True: 0 0 0 1 1 2 2 2 2; predicted: 0 0 1 1 2 2 2 2 0.
  const truth = [0, 0, 0, 1, 1, 2, 2, 2, 2];
  const pred = [0, 0, 1, 1, 2, 2, 2, 2, 0];
  const m = confusionMatrix(truth, pred, 3);

  it("counts rows = true class, columns = predicted class", () => {
    expect(m).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [1, 0, 3],
    ]);
  });

  it("gives precision, recall and F1 per class", () => {
    const s = classScores(m);
    expect(s.accuracy).toBeCloseTo(6 / 9, 15);
    expect(s.support).toEqual([3, 2, 4]);
    // precision = diagonal / column sum: 2/3, 1/2, 3/4
    expect(s.precision[0]).toBeCloseTo(2 / 3, 15);
    expect(s.precision[1]).toBeCloseTo(1 / 2, 15);
    expect(s.precision[2]).toBeCloseTo(3 / 4, 15);
    // recall = diagonal / row sum: 2/3, 1/2, 3/4 (this example is symmetric in that way)
    expect(s.recall).toEqual([2 / 3, 1 / 2, 3 / 4]);
    // F1 = 2pr/(p+r) = p when p = r
    expect(s.f1[2]).toBeCloseTo(3 / 4, 15);
  });

  it("scores a class never predicted as precision 0 and a class never present as recall 0", () => {
    const s = classScores(confusionMatrix([0, 0, 1], [0, 0, 0], 3));
    expect(s.precision).toEqual([2 / 3, 0, 0]);
    expect(s.recall).toEqual([1, 0, 0]);
    expect(s.f1[0]).toBeCloseTo((2 * (2 / 3)) / (2 / 3 + 1), 15);
    expect(s.f1[1]).toBe(0);
  });

  it("rejects a label outside the classes", () => {
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(/pair \(3, 0\) at index 1/);
  });

  it("takes argmax and softmax row by row", () => {
    const logits = new Float32Array([0, 2, 1, 5, -1, 5]);
    expect(Array.from(argmaxRows(logits, 2, 3))).toEqual([1, 0]); // ties go to the first
    const p = softmaxRows(logits, 2, 3);
    const e = [1, Math.E ** 2, Math.E];
    const z = e[0]! + e[1]! + e[2]!;
    expect(p[1]).toBeCloseTo(e[1]! / z, 12);
    expect(p[3]! + p[4]! + p[5]!).toBeCloseTo(1, 14);
  });
});

describe("classifierScore", () => {
  it("is C for confident, evenly used classes and 1 for identical rows", () => {
    const confident = new Float64Array(40); // 4 rows x 10 classes, one-hot on classes 0..3
    for (let i = 0; i < 4; i++) confident[i * 10 + i] = 1;
    expect(classifierScore(confident, 4)).toBeCloseTo(4, 12);
    const same = new Float64Array(30).fill(0.1);
    expect(classifierScore(same, 3)).toBeCloseTo(1, 12);
  });

  it("matches exp(mean KL) worked by hand for two classes", () => {
    // rows (0.9, 0.1) and (0.5, 0.5); marginal (0.7, 0.3)
    const p = new Float64Array([0.9, 0.1, 0.5, 0.5]);
    const kl1 = 0.9 * Math.log(0.9 / 0.7) + 0.1 * Math.log(0.1 / 0.3);
    const kl2 = 0.5 * Math.log(0.5 / 0.7) + 0.5 * Math.log(0.5 / 0.3);
    expect(classifierScore(p, 2, 2)).toBeCloseTo(Math.exp((kl1 + kl2) / 2), 12);
  });
});

describe("feature spread and diversity", () => {
  // Class 0: points (0,0), (2,0): mean (1,0), each at distance 1. Class 1: one point: spread 0.
  const features = new Float32Array([0, 0, 2, 0, 5, 5]);
  const labels = [0, 0, 1];

  it("measures the mean distance to the class mean, NaN for an absent class", () => {
    const s = classSpread(features, labels, 2, 3);
    expect(s[0]).toBe(1);
    expect(s[1]).toBe(0);
    expect(s[2]).toBeNaN();
  });

  it("divides sample spread by real spread over the classes both have", () => {
    const d = diversity([0.5, 0, NaN], [1, 2, 3]);
    expect(d.overall).toBeCloseTo(0.5 / 3, 15);
    expect(d.perClass[0]).toBe(0.5);
    expect(d.perClass[1]).toBe(0);
    expect(d.perClass[2]).toBeNaN();
  });
});
