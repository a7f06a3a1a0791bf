/**
 * The bundled MNIST (loaded once per split) and the batcher over it: known counts, the [-1, 1]
 * scaling, and that the seeded shuffle is a permutation that repeats from its seed.
 */
import { describe, expect, it } from "vitest";
import { Batcher, oneHot } from "../src/mnist/batches.js";
import { scalePixels } from "../src/mnist/dataset.js";
import { IMAGE_SIZE } from "../src/mnist/image.js";
import { loadMnist } from "../src/io/mnist.js";
import { Prng } from "../src/tensor/prng.js";
import { alloc } from "../src/tensor/storage.js";

const train = loadMnist("train");
const test = loadMnist("test");

describe("bundled MNIST", () => {
  it("has 60,000 train and 10,000 test digits, with the known class counts", () => {
    expect(train.n).toBe(60_000);
    expect(test.n).toBe(10_000);
    expect(train.images.length).toBe(60_000 * 784);
    const zeros = train.labels.filter((l) => l === 0).length;
    const ones = train.labels.filter((l) => l === 1).length;
    expect([zeros, ones]).toEqual([5923, 6742]);
  });

  it("scales pixels once to x / 127.5 - 1", () => {
    expect(train.pixels.length).toBe(train.images.length);
    expect(Array.from(scalePixels(new Uint8Array([0, 255, 51])))).toEqual([-1, 1, Math.fround(51 / 127.5 - 1)]);
    for (const i of [0, 12345, train.pixels.length - 1, 200 + 784 * 7]) expect(train.pixels[i]).toBe(Math.fround(train.images[i]! / 127.5 - 1));
  });
});

/** A small source: example i has every pixel = i / 100 - 1 (so its index can be read back) and label i mod 10. */
function tinySource(n: number) {
  const pixels = alloc(n * IMAGE_SIZE);
  for (let i = 0; i < n; i++) pixels.fill(i / 100 - 1, i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE);
  return { n, pixels, labels: new Uint8Array(n).map((_, i) => i % 10) };
}

/** The example indices visited in one epoch, read back from the batches' pixels. */
function visit(b: Batcher): number[] {
  const seen: number[] = [];
  for (const batch of b.epoch())
    for (let i = 0; i < batch.size; i++) seen.push(Math.round((batch.images[i * IMAGE_SIZE]! + 1) * 100));
  return seen;
}

describe("Batcher", () => {
  it("each epoch is a permutation; it repeats from its seed; other seeds and epochs differ", () => {
    const src = tinySource(50);
    const a = new Batcher(src, new Prng(7), { batchSize: 10 });
    const e1 = visit(a);
    const e2 = visit(a);
    expect([...e1].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(e2).not.toEqual(e1);
    const again = new Batcher(src, new Prng(7), { batchSize: 10 });
    expect(visit(again)).toEqual(e1);
    expect(visit(again)).toEqual(e2);
    expect(visit(new Batcher(src, new Prng(8), { batchSize: 10 }))).not.toEqual(e1);
  });

  it("drops the last partial batch by default, keeps it on request", () => {
    const src = tinySource(23);
    const drop = new Batcher(src, new Prng(1), { batchSize: 5 });
    expect(drop.batchesPerEpoch).toBe(4);
    expect(visit(drop).length).toBe(20);
    const keep = new Batcher(src, new Prng(1), { batchSize: 5, keepLast: true });
    const sizes = Array.from(keep.epoch(), (b) => [b.index, b.size, b.images.length, b.labels.length, b.oneHot.length]);
    expect(sizes.at(-1)).toEqual([4, 3, 3 * 784, 3, 30]);
    expect(new Set(visit(keep)).size).toBe(23);
  });

  it("yields (B,1,28,28) images in [-1,1] with matching labels and one-hot rows, in one reused buffer", () => {
    const b = new Batcher(train, new Prng(3), { batchSize: 64 });
    expect(b.batchesPerEpoch).toBe(937);
    let first: Float32Array | undefined;
    let count = 0;
    for (const batch of b.epoch()) {
      first ??= batch.images;
      expect(batch.images).toBe(first); // the same buffer every time
      expect(batch.images.length).toBe(64 * 1 * 28 * 28);
      expect(batch.labels.length).toBe(64);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of batch.images) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(lo).toBeGreaterThanOrEqual(-1);
      expect(hi).toBeLessThanOrEqual(1);
      for (let i = 0; i < 64; i++) {
        const k = b.order[batch.index * 64 + i]!;
        expect(batch.labels[i]).toBe(train.labels[k]);
        expect(batch.images[i * 784 + 400]).toBe(train.pixels[k * 784 + 400]);
        const row = Array.from(batch.oneHot.subarray(i * 10, i * 10 + 10));
        expect(row).toEqual(row.map((_, c) => (c === batch.labels[i] ? 1 : 0)));
      }
      if (++count === 3) break;
    }
  });

  it("oneHot makes rows with a single 1 and rejects labels out of range", () => {
    expect(Array.from(oneHot(new Uint8Array([2, 0]), 3))).toEqual([0, 0, 1, 1, 0, 0]);
    const out = alloc(4).fill(9);
    expect(Array.from(oneHot(new Uint8Array([1, 1]), 2, out))).toEqual([0, 1, 0, 1]);
    expect(() => oneHot(new Uint8Array([10]))).toThrow("oneHot: label 10 at index 0 is not below 10");
  });
});

it("the test split has the same 28x28 layout", () => {
  expect(test.pixels.length).toBe(10_000 * 784);
});
