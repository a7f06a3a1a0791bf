/**
 * PNG output: a digit grid written then read back (size, border, pixel mapping, upscaling) and the
 * general RGBA writer's round trip.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BORDER_GREY, toByte } from "../src/mnist/grid.js";
import { readPng, writeImageGrid, writeRgbPng } from "../src/io/png.js";
import { alloc } from "../src/tensor/storage.js";

const dir = mkdtempSync(join(tmpdir(), "mnist-png-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("PNG", () => {
  it("maps [-1, 1] to 0..255, clamped", () => {
    expect([-1, 0, 1, -3, 2, NaN].map(toByte)).toEqual([0, 128, 255, 0, 255, 0]);
  });

  it("writes a grid that reads back with the right size, borders and pixels", () => {
    // Three 4x3 images in a 2x2 grid at scale 2, border 1: image k is all -1 except pixel (row 1, col 2) = v[k].
    const h = 4, w = 3;
    const v = [1, 0, -0.5];
    const images = alloc(3 * h * w).fill(-1);
    v.forEach((x, k) => (images[k * h * w + 1 * w + 2] = x));
    const path = join(dir, "sub/grid.png");
    writeImageGrid(path, images, { rows: 2, cols: 2, height: h, width: w, scale: 2, border: 1 });
    const png = readPng(path);
    expect([png.width, png.height]).toEqual([2 * 6 + 3, 2 * 8 + 3]);
    const at = (x: number, y: number) => Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 4));
    expect(at(0, 0)).toEqual([BORDER_GREY, BORDER_GREY, BORDER_GREY, 255]);
    expect(at(7, 5)).toEqual([BORDER_GREY, BORDER_GREY, BORDER_GREY, 255]); // the line between the columns
    // Cell k's pixel (1, 2) covers output x = x0 + 4..5, y = y0 + 2..3, with x0 = 1 + col*7, y0 = 1 + row*9.
    const cells = [[1, 1], [8, 1], [1, 10], [8, 10]] as const;
    const expected = [255, 128, 64, 0];
    cells.forEach(([x0, y0], k) => {
      for (const [dx, dy] of [[4, 2], [5, 3]] as const) expect(at(x0 + dx, y0 + dy)).toEqual([expected[k], expected[k], expected[k], 255]);
      expect(at(x0, y0)).toEqual([0, 0, 0, 255]); // background is black
    });
    expect(readdirSync(join(dir, "sub"))).toEqual(["grid.png"]); // no temporary file left behind
  });

  it("rejects more images than cells", () => {
    expect(() => writeImageGrid(join(dir, "x.png"), alloc(5 * 784), { rows: 2, cols: 2 })).toThrow("5 images do not fit a 2x2 grid");
  });

  it("round-trips RGBA bytes", () => {
    const rgba = new Uint8Array(3 * 2 * 4).map((_, i) => (i * 37) % 256);
    writeRgbPng(join(dir, "rgba.png"), 3, 2, rgba);
    const back = readPng(join(dir, "rgba.png"));
    expect([back.width, back.height]).toEqual([3, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(rgba));
  });
});
