/**
 * Evaluation with the shipped classifier (models/classifier.safetensors) on sets whose answers are
 * known: real test digits (high accuracy, small distance, diversity near 1), the same digits with
 * shuffled labels (accuracy near chance), noise images (a large distance), and a collapsed set (one
 * image repeated per digit: diversity near 0); then the report files. The references use 2,000 real
 * images instead of 10,000 to keep the test quick; the samples are test images 2,000..2,999, from the
 * same half of the test set as the reference (its two halves were written by different people and
 * differ measurably: test images 8,000..8,999 are at distance ~53 from images 0..1,999, 3,000..3,999 at ~6).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mnist } from "../src/mnist/dataset.js";
import { IMAGE_SIZE } from "../src/mnist/image.js";
import { loadMnist } from "../src/io/mnist.js";
import { readPng } from "../src/io/png.js";
import { evaluateWith, evaluationJson, type Evaluation, type Evaluator } from "../src/recognition/evaluate.js";
import { createEvaluator } from "../src/io/evaluator.js";
import { writeReport } from "../src/io/report.js";
import { Prng } from "../src/tensor/prng.js";

const dir = mkdtempSync(join(tmpdir(), "recognition-evaluate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const N = 1000;
let ev: Evaluator;
let test: Mnist;
let images: Uint8Array; // (N, 28, 28) test images 2000..2999
let labels: Uint8Array; // (N)
let real: Evaluation;

beforeAll(() => {
  ev = createEvaluator({ realLimit: 2000 });
  test = loadMnist("test");
  images = test.images.slice(2000 * IMAGE_SIZE, (2000 + N) * IMAGE_SIZE);
  labels = test.labels.slice(2000, 2000 + N);
  real = evaluateWith(ev, images, labels);
});

describe("evaluate on sets with known answers", () => {
  it("real digits: high accuracy, small distance, diversity near 1, like the real column", () => {
    expect(real.n).toBe(N);
    expect(real.conditional_accuracy).toBeGreaterThan(0.97);
    expect(real.real.conditional_accuracy).toBeGreaterThan(0.97);
    expect(real.diversity).toBeGreaterThan(0.8);
    expect(real.diversity).toBeLessThan(1.2);
    expect(real.real.diversity).toBeGreaterThan(0.8);
    expect(real.real.diversity).toBeLessThan(1.2);
    expect(real.classifier_score).toBeGreaterThan(8); // confident and balanced: near 10
    expect(real.per_digit.count.reduce((s, c) => s + c, 0)).toBe(N);
    for (const r of real.per_digit.recall) expect(r).toBeGreaterThan(0.9);
    const cm = real.confusion;
    expect(cm.flat().reduce((s, c) => s + c, 0)).toBe(N);
    expect(cm.reduce((s, row, d) => s + row[d]!, 0)).toBe(Math.round(real.conditional_accuracy * N));
  });

  it("shuffled labels: accuracy near chance, the same distance (it ignores labels)", () => {
    const shuffled = labels.slice();
    const perm = new Prng(3).permutation(N);
    for (let i = 0; i < N; i++) shuffled[i] = labels[perm[i]!]!;
    const s = evaluateWith(ev, images, shuffled);
    expect(s.conditional_accuracy).toBeLessThan(0.2);
    expect(s.fid).toBeCloseTo(real.fid, 6);
    expect(s.diversity).toBeGreaterThan(real.diversity); // mixed digits spread more around each mean
  });

  it("noise images: a distance far larger than for real digits", () => {
    const noise = new Uint8Array(N * IMAGE_SIZE);
    const prng = new Prng(4);
    for (let i = 0; i < noise.length; i++) noise[i] = prng.int(256);
    const s = evaluateWith(ev, noise, labels);
    expect(s.fid).toBeGreaterThan(20 * real.fid);
    expect(s.diversity).toBeGreaterThan(0); // a number, not NaN
  });

  it("a collapsed set (one image repeated per digit): diversity near 0", () => {
    const collapsed = new Uint8Array(N * IMAGE_SIZE);
    const first = new Map<number, number>(); // digit -> index of its first image
    for (let i = 0; i < N; i++) if (!first.has(labels[i]!)) first.set(labels[i]!, i);
    for (let i = 0; i < N; i++) {
      const src = first.get(labels[i]!)!;
      collapsed.set(images.subarray(src * IMAGE_SIZE, (src + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    }
    const s = evaluateWith(ev, collapsed, labels);
    expect(s.diversity).toBeLessThan(0.01);
    expect(s.fid).toBeGreaterThan(5 * real.fid);
  });

  it("accepts float pixels in [-1, 1] (the generator's output) with the same result", () => {
    const px = Float32Array.from(images, (b) => b / 127.5 - 1);
    const s = evaluateWith(ev, px, labels);
    expect(s.conditional_accuracy).toBe(real.conditional_accuracy);
    expect(s.fid).toBeCloseTo(real.fid, 9);
  });

  it("rejects mismatched sizes and labels outside 0..9 with one line", () => {
    expect(() => evaluateWith(ev, images.subarray(0, 10), labels)).toThrow(/^evaluate: 10 pixels for 1000 labels/);
    expect(() => evaluateWith(ev, new Uint8Array(IMAGE_SIZE), new Uint8Array([11]))).toThrow("evaluate: label 11 at index 0 is not a digit 0..9");
  });
});

describe("report", () => {
  it("writes report.md with its tables and two PNGs beside it; JSON with the real column", () => {
    const files = writeReport(join(dir, "out", "report.md"), real, { images, labels, source: "test images 2000..2999" });
    expect(files.samples).toBe(join(dir, "out", "report-samples.png"));
    const md = readFileSync(files.report, "utf8");
    expect(md).toContain("| conditional accuracy |");
    expect(md).toContain("## Per digit");
    expect(md).toContain("![samples](report-samples.png)");
    expect(md).toContain("![confusion matrix, row-normalised](report-confusion.png)");
    const grid = readPng(files.samples);
    expect([grid.width, grid.height]).toEqual([10 * 56 + 11, 10 * 56 + 11]); // 10 x 10 cells of 28*2 with borders
    const heat = readPng(files.confusion);
    expect(heat.width).toBe(heat.height);
    const json = JSON.parse(JSON.stringify(evaluationJson(real))) as Record<string, unknown>;
    for (const k of ["conditional_accuracy", "fid", "classifier_score", "diversity", "per_digit", "real"]) expect(json).toHaveProperty(k);
    expect(Object.keys(json.real as object)).toEqual(expect.arrayContaining(["conditional_accuracy", "fid", "classifier_score", "diversity"]));
  });
});
