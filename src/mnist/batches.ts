/**
 * Mini-batches for training: each epoch visits the examples in a fresh order drawn from a seeded
 * `Prng`, copying them into ONE preallocated set of buffers. A batch is therefore only valid until
 * the next one is drawn: copy anything you want to keep. Not a loader: the data is already in memory.
 */
import type { Prng } from "../tensor/prng.js";
import { alloc, allocLasting } from "../tensor/storage.js";
import { IMAGE_SIZE, NUM_CLASSES } from "./image.js";

/** What a batcher draws from: `pixels` (N, 1, 28, 28) in [-1, 1] and `labels` (N) digits 0..9. */
export interface BatchSource {
  n: number;
  pixels: Float32Array;
  labels: Uint8Array;
}

/** One mini-batch of B examples; its arrays are views of the batcher's buffers (valid until the next batch). */
export interface Batch {
  /** (B, 1, 28, 28) pixels in [-1, 1]. */
  images: Float32Array;
  /** (B) digits 0..9. */
  labels: Uint8Array;
  /** (B, 10) one-hot rows of `labels`. */
  oneHot: Float32Array;
  /** B: the batch size, smaller than requested only for a kept last partial batch. */
  size: number;
  /** Position of this batch in its epoch, from 0. */
  index: number;
}

export interface BatcherOptions {
  batchSize: number;
  /** Keep the last, smaller batch of an epoch (default false: dropped, so every batch has B examples). */
  keepLast?: boolean;
}

/** Writes one-hot rows of `labels` into `out` (B, classes), zeroing it first. @param labels (B) */
export function oneHot(labels: Uint8Array, classes = NUM_CLASSES, out: Float32Array = alloc(labels.length * classes)): Float32Array {
  if (out.length < labels.length * classes) throw new Error(`oneHot: out holds ${out.length}, need ${labels.length * classes}`);
  out.fill(0, 0, labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (c >= classes) throw new Error(`oneHot: label ${c} at index ${i} is not below ${classes}`);
    out[i * classes + c] = 1;
  }
  return out;
}

/** Shuffled mini-batches over a `BatchSource`; every epoch draws its order from `prng`. */
export class Batcher {
  readonly batchSize: number;
  readonly keepLast: boolean;
  /** Batches each epoch yields. */
  readonly batchesPerEpoch: number;
  /** Epochs started so far. */
  epochs = 0;
  /** The current epoch's order: example `order[k]` is the k-th visited. */
  readonly order: Uint32Array;
  private readonly images: Float32Array; // (B, 1, 28, 28)
  private readonly labels: Uint8Array; // (B)
  private readonly hot: Float32Array; // (B, 10)

  constructor(private readonly src: BatchSource, private readonly prng: Prng, opts: BatcherOptions) {
    const b = opts.batchSize;
    if (!Number.isInteger(b) || b < 1) throw new Error(`Batcher: batch size must be a positive integer, got ${b}`);
    if (src.pixels.length !== src.n * IMAGE_SIZE || src.labels.length !== src.n)
      throw new Error(`Batcher: source of ${src.n} examples has ${src.pixels.length} pixels and ${src.labels.length} labels`);
    this.batchSize = b;
    this.keepLast = opts.keepLast ?? false;
    this.batchesPerEpoch = this.keepLast ? Math.ceil(src.n / b) : Math.floor(src.n / b);
    this.order = new Uint32Array(src.n);
    // as long as the batcher: in the matmul kernel's memory when it has one, where the ops read them in place
    this.images = allocLasting(b * IMAGE_SIZE);
    this.labels = new Uint8Array(b);
    this.hot = allocLasting(b * NUM_CLASSES);
  }

  /** Shuffles, then yields this epoch's batches, each overwriting the previous one's buffers. */
  *epoch(): Generator<Batch> {
    this.prng.permutation(this.src.n, this.order);
    this.epochs++;
    const { pixels, labels } = this.src;
    for (let index = 0; index < this.batchesPerEpoch; index++) {
      const start = index * this.batchSize;
      const size = Math.min(this.batchSize, this.src.n - start);
      for (let i = 0; i < size; i++) {
        const k = this.order[start + i]!;
        this.images.set(pixels.subarray(k * IMAGE_SIZE, (k + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
        this.labels[i] = labels[k]!;
      }
      const full = size === this.batchSize;
      const lab = full ? this.labels : this.labels.subarray(0, size);
      yield {
        images: full ? this.images : this.images.subarray(0, size * IMAGE_SIZE),
        labels: lab,
        oneHot: oneHot(lab, NUM_CLASSES, full ? this.hot : this.hot.subarray(0, size * NUM_CLASSES)),
        size,
        index,
      };
    }
  }
}
