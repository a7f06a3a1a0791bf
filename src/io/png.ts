/**
 * PNG files through pngjs: an RGBA image written atomically, digit grids (laid out by
 * `src/mnist/grid.ts`), and a reader for tests.
 */
import { PNG } from "pngjs";
import { digitRows, imageGrid } from "../mnist/grid.js";
import type { GridOptions } from "../mnist/grid.js";
import { NUM_CLASSES } from "../mnist/image.js";
import { ensureParentDir, readBytes, writeFileAtomic } from "./files.js";

/** Writes an 8-bit RGBA PNG atomically. @param rgba (height, width, 4) bytes, row-major */
export function writeRgbPng(path: string, width: number, height: number, rgba: Uint8Array): void {
  if (rgba.length !== width * height * 4)
    throw new Error(`writeRgbPng: ${width}x${height} needs ${width * height * 4} bytes, got ${rgba.length}`);
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.length);
  ensureParentDir(path);
  writeFileAtomic(path, PNG.sync.write(png));
}

/** Reads a PNG as 8-bit RGBA. `data` is (height, width, 4) bytes, row-major. */
export function readPng(path: string): { width: number; height: number; data: Uint8Array } {
  const png = PNG.sync.read(Buffer.from(readBytes(path)));
  return { width: png.width, height: png.height, data: png.data };
}

/** Writes images as a PNG grid; see `imageGrid`. @param images (count, height, width) in [-1, 1] */
export function writeImageGrid(path: string, images: Float32Array, opts: GridOptions): void {
  const g = imageGrid(images, opts);
  writeRgbPng(path, g.width, g.height, g.rgba);
}

/**
 * The first `perRow` images of each digit as a 10-row PNG grid (row d = digit d).
 * @param images (N, 28, 28) bytes or [-1, 1] pixels  @param labels (N)
 */
export function writeDigitGrid(path: string, images: Uint8Array | Float32Array, labels: Uint8Array, perRow: number): void {
  writeImageGrid(path, digitRows(images, labels, perRow), { rows: NUM_CLASSES, cols: perRow });
}
