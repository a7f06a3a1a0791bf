/**
 * PNG output through pngjs: a grid of greyscale images (real or generated digits) and a general
 * RGBA writer for plots, both written atomically; plus a reader for tests. No drawing beyond the grid.
 */
import { readFileSync } from "node:fs";
import { PNG } from "pngjs";
import { ensureParentDir, writeFileAtomic } from "../util/fs.js";

/** Grey level of the border lines between grid cells. */
export const BORDER_GREY = 128;

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
  const png = PNG.sync.read(readFileSync(path));
  return { width: png.width, height: png.height, data: png.data };
}

export interface GridOptions {
  rows: number;
  cols: number;
  /** Size of one image (default 28x28). */
  height?: number;
  width?: number;
  /** Each image pixel becomes a scale x scale block (default 2). */
  scale?: number;
  /** Width in output pixels of the grey lines between cells and around the edge (default 1). */
  border?: number;
}

/** Maps a value in [-1, 1] to a byte: -1 -> 0 (black), 1 -> 255 (white), clamped outside; NaN -> 0. */
export function toByte(v: number): number {
  const b = Math.round((v + 1) * 127.5);
  return b > 255 ? 255 : b >= 0 ? b : 0;
}

/**
 * Writes `count` images as a rows x cols grid, filled row by row (cells past `count` stay black),
 * white ink on black. Output size: cols*width*scale + (cols+1)*border by rows*height*scale + (rows+1)*border.
 * @param images (count, height, width) values in [-1, 1], row-major; count <= rows*cols
 */
export function writeImageGrid(path: string, images: Float32Array, opts: GridOptions): void {
  const { rows, cols, height: h = 28, width: w = 28, scale = 2, border = 1 } = opts;
  const count = images.length / (h * w);
  if (!Number.isInteger(count)) throw new Error(`writeImageGrid: ${images.length} values is not a whole number of ${h}x${w} images`);
  if (count > rows * cols) throw new Error(`writeImageGrid: ${count} images do not fit a ${rows}x${cols} grid`);
  const cellW = w * scale;
  const cellH = h * scale;
  const outW = cols * cellW + (cols + 1) * border;
  const outH = rows * cellH + (rows + 1) * border;
  const rgba = new Uint8Array(outW * outH * 4);
  // Grey everywhere, opaque; the cells are painted over it, leaving the border lines.
  for (let o = 0; o < rgba.length; o += 4) {
    rgba[o] = rgba[o + 1] = rgba[o + 2] = BORDER_GREY;
    rgba[o + 3] = 255;
  }
  for (let cell = 0; cell < rows * cols; cell++) {
    const x0 = border + (cell % cols) * (cellW + border);
    const y0 = border + Math.floor(cell / cols) * (cellH + border);
    for (let y = 0; y < cellH; y++) {
      for (let x = 0; x < cellW; x++) {
        const v = cell < count ? toByte(images[cell * h * w + Math.floor(y / scale) * w + Math.floor(x / scale)]!) : 0;
        const o = 4 * ((y0 + y) * outW + x0 + x);
        rgba[o] = rgba[o + 1] = rgba[o + 2] = v;
      }
    }
  }
  writeRgbPng(path, outW, outH, rgba);
}
