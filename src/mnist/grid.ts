/**
 * Digit images laid out as a grid of RGBA pixels, ready for a PNG file or a page's canvas: white ink
 * on black, each image pixel a scale x scale block, grey lines between cells. Pure: no file here
 * (the PNG writer is `src/io/png.ts`).
 */
import { alloc } from "../tensor/storage.js";
import { scalePixels } from "./dataset.js";
import { IMAGE_H, IMAGE_SIZE, IMAGE_W, NUM_CLASSES } from "./image.js";

/** Grey level of the border lines between grid cells. */
export const BORDER_GREY = 128;

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

/** An image as 8-bit RGBA. `rgba` is (height, width, 4) bytes, row-major. */
export interface Rgba {
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** Maps a value in [-1, 1] to a byte: -1 -> 0 (black), 1 -> 255 (white), clamped outside; NaN -> 0. */
export function toByte(v: number): number {
  const b = Math.round((v + 1) * 127.5);
  return b > 255 ? 255 : b >= 0 ? b : 0;
}

/**
 * `count` images as a rows x cols grid, filled row by row (cells past `count` stay black).
 * Output size: cols*width*scale + (cols+1)*border by rows*height*scale + (rows+1)*border.
 * @param images (count, height, width) values in [-1, 1], row-major; count <= rows*cols
 */
export function imageGrid(images: Float32Array, opts: GridOptions): Rgba {
  const { rows, cols, height: h = IMAGE_H, width: w = IMAGE_W, scale = 2, border = 1 } = opts;
  const count = images.length / (h * w);
  if (!Number.isInteger(count)) throw new Error(`imageGrid: ${images.length} values is not a whole number of ${h}x${w} images`);
  if (count > rows * cols) throw new Error(`imageGrid: ${count} images do not fit a ${rows}x${cols} grid`);
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
  return { width: outW, height: outH, rgba };
}

/**
 * The first `perRow` images of each digit, in the order given, as the cells of a 10-row grid: row d
 * holds digit d (cells stay black, -1, where a digit runs short).
 * @param images (N, 28, 28) bytes 0..255 or pixels in [-1, 1]  @param labels (N) digits
 * @returns (10 * perRow, 28, 28) pixels in [-1, 1], for `imageGrid` with rows 10, cols perRow
 */
export function digitRows(images: Uint8Array | Float32Array, labels: Uint8Array, perRow: number): Float32Array {
  const grid = alloc(NUM_CLASSES * perRow * IMAGE_SIZE).fill(-1);
  const filled = new Array<number>(NUM_CLASSES).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const d = labels[i]!;
    if (d >= NUM_CLASSES || filled[d]! >= perRow) continue;
    const cell = d * perRow + filled[d]!++;
    const dst = grid.subarray(cell * IMAGE_SIZE, (cell + 1) * IMAGE_SIZE);
    const src = images.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE);
    if (src instanceof Uint8Array) scalePixels(src, dst);
    else dst.set(src);
  }
  return grid;
}
