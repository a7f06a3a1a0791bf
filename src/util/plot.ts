/**
 * Small line plots as PNG, drawn pixel by pixel (no plotting dependency): axes, grid lines with
 * numeric tick labels in a built-in 3x5 digit font, and one or more series. Written atomically.
 * Enough for a loss curve or a metric over epochs; not a general charting library.
 */
import { writeRgbPng } from "../mnist/png.js";

type Rgb = [number, number, number];

/** 3x5 glyphs for tick labels: each row is 3 bits, most significant on the left. */
const GLYPHS: Record<string, number[]> = {
  "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
  "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
  ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], "e": [0, 7, 7, 4, 7], "k": [4, 5, 6, 5, 5],
};

class Canvas {
  readonly rgba: Uint8Array;
  constructor(readonly width: number, readonly height: number, bg: Rgb) {
    this.rgba = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) this.rgba.set([...bg, 255], i * 4);
  }
  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.rgba.set(c, (y * this.width + x) * 4);
  }
  /** Straight line by Bresenham's algorithm. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
    x0 = Math.round(x0); y0 = Math.round(y0); x1 = Math.round(x1); y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      this.set(x0, y0, c);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  }
  /** Text in the 3x5 font at `scale`, left edge x, top y. Unknown characters are skipped. */
  text(x: number, y: number, s: string, c: Rgb, scale = 2): void {
    for (const ch of s) {
      const g = GLYPHS[ch];
      if (g) for (let r = 0; r < 5; r++) for (let b = 0; b < 3; b++)
        if (g[r]! & (4 >> b)) for (let i = 0; i < scale; i++) for (let j = 0; j < scale; j++) this.set(x + b * scale + j, y + r * scale + i, c);
      x += 4 * scale;
    }
  }
}

/** A tick label: short, in the glyphs the font has (e.g. 0.25, -1.5, 12k, 3e-5). */
export function tickLabel(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 10000) return `${+(v / 1000).toFixed(1)}k`;
  if (a >= 1) return String(+v.toFixed(2));
  if (a >= 0.001) return String(+v.toPrecision(2));
  return v.toExponential(0).replace("+", "");
}

/** About `n` round tick values spanning [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export interface Series {
  /** y values; x is `xs[i]` if given, else i. */
  values: readonly number[];
  xs?: readonly number[];
  color: Rgb;
}

/** Draws the series on shared axes and writes a width x height PNG. Non-finite values are skipped. */
export function writeLinePlot(path: string, series: Series[], opts: { width?: number; height?: number } = {}): void {
  const W = opts.width ?? 640;
  const H = opts.height ?? 360;
  const cv = new Canvas(W, H, [255, 255, 255]);
  const left = 64, right = 16, top = 16, bottom = 32;
  let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
  for (const s of series)
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const x = s.xs ? s.xs[i]! : i;
      xmin = Math.min(xmin, x); xmax = Math.max(xmax, x);
      ymin = Math.min(ymin, v); ymax = Math.max(ymax, v);
    });
  if (!Number.isFinite(xmin)) { xmin = 0; xmax = 1; ymin = 0; ymax = 1; }
  if (xmax === xmin) xmax = xmin + 1;
  if (ymax === ymin) { ymin -= 0.5; ymax += 0.5; }
  const pad = (ymax - ymin) * 0.05;
  ymin -= pad; ymax += pad;
  const px = (x: number): number => left + ((x - xmin) / (xmax - xmin)) * (W - left - right);
  const py = (y: number): number => H - bottom - ((y - ymin) / (ymax - ymin)) * (H - top - bottom);
  const grid: Rgb = [225, 225, 225], axis: Rgb = [0, 0, 0], label: Rgb = [60, 60, 60];
  for (const t of niceTicks(ymin, ymax)) {
    cv.line(left, py(t), W - right, py(t), grid);
    const s = tickLabel(t);
    cv.text(left - 6 - s.length * 8, py(t) - 5, s, label);
  }
  for (const t of niceTicks(xmin, xmax, 6)) {
    cv.line(px(t), top, px(t), H - bottom, grid);
    const s = tickLabel(t);
    cv.text(px(t) - s.length * 4, H - bottom + 8, s, label);
  }
  cv.line(left, top, left, H - bottom, axis);
  cv.line(left, H - bottom, W - right, H - bottom, axis);
  for (const s of series) {
    let prev: [number, number] | null = null;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) { prev = null; return; }
      const p: [number, number] = [px(s.xs ? s.xs[i]! : i), py(v)];
      if (prev) cv.line(prev[0], prev[1], p[0], p[1], s.color);
      else cv.set(p[0], p[1], s.color);
      prev = p;
    });
  }
  writeRgbPng(path, W, H, cv.rgba);
}

/** Running median over a centred window of `k` values (shrinking at the ends), as the WGAN paper smooths its curves. */
export function medianFilter(values: readonly number[], k: number): number[] {
  const h = Math.floor(k / 2);
  return values.map((_, i) => {
    const w = values.slice(Math.max(0, i - h), Math.min(values.length, i + h + 1)).filter(Number.isFinite).sort((a, b) => a - b);
    return w.length ? w[Math.floor(w.length / 2)]! : NaN;
  });
}
