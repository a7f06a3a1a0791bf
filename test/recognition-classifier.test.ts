/**
 * The MNIST classifier: layer names and shapes, features and logits agreeing with batched inference,
 * seeded training repeating exactly, a checkpoint round trip, and a brief training run (2,000 images,
 * one epoch) that clearly beats chance on 1,000 held-out test images.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mnist } from "../src/mnist/dataset.js";
import { IMAGE_SIZE } from "../src/mnist/image.js";
import { loadMnist } from "../src/io/mnist.js";
import { Classifier, classify, trainClassifier } from "../src/recognition/classifier.js";
import { loadClassifier, saveClassifier } from "../src/io/evaluator.js";
import { argmaxRows } from "../src/recognition/metrics.js";
import * as T from "../src/tensor/index.js";
import { setStorageHeap } from "../src/tensor/storage.js";
import { matmulKernel } from "../src/tensor/kernels/matmul.js";

const dir = mkdtempSync(join(tmpdir(), "recognition-classifier-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let train: Mnist;
let test: Mnist;
beforeAll(() => {
  train = loadMnist("train");
  test = loadMnist("test");
});

/** The first n examples of a split, as a batch source. */
function head(m: Mnist, n: number) {
  return { n, pixels: m.pixels.subarray(0, n * IMAGE_SIZE), labels: m.labels.subarray(0, n) };
}

describe("Classifier", () => {
  it("has PyTorch names and LeNet shapes; features (B,H) and logits (B,10)", () => {
    const model = new Classifier(new T.Prng(1));
    expect(model.namedParameters().map(([n, p]) => `${n} ${T.shapeStr(p.shape)}`)).toEqual([
      "net.0.weight (8,1,5,5)",
      "net.0.bias (8)",
      "net.3.weight (16,8,5,5)",
      "net.3.bias (16)",
      "net.7.weight (128,784)",
      "net.7.bias (128)",
      "net.9.weight (10,128)",
      "net.9.bias (10)",
    ]);
    const x = new T.Tensor([3, 1, 28, 28], test.pixels.slice(0, 3 * IMAGE_SIZE));
    const f = model.features(x);
    expect(f.shape).toEqual([3, 128]);
    for (const v of f.data) expect(v).toBeGreaterThanOrEqual(0); // after a ReLU
    const logits = model.logits(x);
    expect(logits.shape).toEqual([3, 10]);
    // Batched inference (eval mode, no graph, ragged last batch) gives the same numbers.
    const out = classify(model, test.pixels.subarray(0, 3 * IMAGE_SIZE), 2);
    expect(Array.from(out.logits)).toEqual(Array.from(logits.data));
    expect(Array.from(out.features)).toEqual(Array.from(f.data));
  });

  it("repeats training exactly from its seed", () => {
    const a = trainClassifier(head(train, 256), { epochs: 1, seed: 5, batchSize: 32 });
    const b = trainClassifier(head(train, 256), { epochs: 1, seed: 5, batchSize: 32 });
    expect(a.flatParameters().data).toEqual(b.flatParameters().data);
  });

  it("recycles a training step's buffers for the next step, and the batches of classify", () => {
    let fresh = 0; // buffers the step scopes could not take from their free lists
    const afterStep: number[] = [];
    setStorageHeap({ alloc: (n) => (fresh++, new Float32Array(n)) });
    try {
      trainClassifier(head(train, 128), { epochs: 1, seed: 5, batchSize: 32, onStep: () => afterStep.push(fresh) });
      expect(afterStep).toHaveLength(4);
      expect(afterStep[0]).toBeGreaterThan(0);
      expect(afterStep.slice(1)).toEqual([afterStep[0], afterStep[0], afterStep[0]]); // steps 2-4 take none
      const model = new Classifier(new T.Prng(2));
      const beforeWarmUp = fresh;
      classify(model, test.pixels.subarray(0, 12 * IMAGE_SIZE), 4); // a first batch takes buffers, the next two reuse them
      expect(fresh).toBeGreaterThan(beforeWarmUp);
      const before = fresh;
      classify(model, test.pixels.subarray(0, 12 * IMAGE_SIZE), 4);
      expect(fresh).toBe(before);
    } finally {
      setStorageHeap(matmulKernel().storage ?? null);
    }
  });

  it("round-trips through a checkpoint with its metadata", () => {
    const model = new Classifier(new T.Prng(9), { conv1: 4, conv2: 6, hidden: 32 });
    const path = join(dir, "c.safetensors");
    saveClassifier(path, model, { test_accuracy: "0.5" });
    const { model: back, metadata } = loadClassifier(path);
    expect(back.config).toEqual({ conv1: 4, conv2: 6, hidden: 32 });
    expect(metadata.test_accuracy).toBe("0.5");
    expect(metadata.architecture).toContain("conv(1->4,5x5,pad2)");
    const px = test.pixels.subarray(0, 5 * IMAGE_SIZE);
    expect(classify(back, px).logits).toEqual(classify(model, px).logits);
  });

  it("clearly beats chance after one epoch on 2,000 images (> 70% on 1,000 held-out)", () => {
    const losses: number[] = [];
    const model = trainClassifier(head(train, 2000), {
      epochs: 1,
      seed: 1,
      batchSize: 32,
      onEpoch: (_e, loss) => losses.push(loss),
    });
    expect(losses).toHaveLength(1);
    expect(losses[0]).toBeLessThan(Math.log(10)); // below the loss of a uniform guess
    const out = classify(model, test.pixels.subarray(0, 1000 * IMAGE_SIZE));
    const pred = argmaxRows(out.logits, 1000);
    let correct = 0;
    for (let i = 0; i < 1000; i++) if (pred[i] === test.labels[i]) correct++;
    expect(correct / 1000).toBeGreaterThan(0.7);
  });
});
