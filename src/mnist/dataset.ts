/**
 * MNIST in memory: one split's images, labels and pixels scaled once to [-1, 1]. Pure: the files are
 * found and read by `src/io/mnist.ts` (Node) or fetched by a page, then handed to `mnistFromFiles`.
 * It does not cache: load each split once and pass it around (the scaled training set is 188 MB).
 */
import { alloc } from "../tensor/storage.js";
import type { ImagesLabels } from "./idx.js";

export type Split = "train" | "test";

/** File names of each split, as in the original distribution (a `.gz` form is found too). */
export const SPLIT_FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
};

/** One split of MNIST. Image i is bytes/pixels [i*784, (i+1)*784), rows top to bottom. */
export interface Mnist {
  split: Split;
  n: number;
  /** (N, 28, 28) raw bytes 0..255 (0 = background). */
  images: Uint8Array;
  /** (N) digits 0..9. */
  labels: Uint8Array;
  /** (N, 1, 28, 28) the same pixels as float32, x / 127.5 - 1, so in [-1, 1] with -1 = background. */
  pixels: Float32Array;
}

/** A split from its parsed pair of files, pixels scaled. */
export function mnistFromFiles(split: Split, files: ImagesLabels): Mnist {
  const { n, images, labels } = files;
  return { split, n, images, labels, pixels: scalePixels(images) };
}

/** Maps bytes 0..255 to [-1, 1] (x / 127.5 - 1), into `out` if given. @param bytes (any shape) */
export function scalePixels(bytes: Uint8Array, out: Float32Array = alloc(bytes.length)): Float32Array {
  if (out.length !== bytes.length) throw new Error(`scalePixels: out holds ${out.length}, need ${bytes.length}`);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / 127.5 - 1;
  return out;
}
