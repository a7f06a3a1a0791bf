/**
 * Line plots as SVG text: a title, axis titles with units, tick labels, a legend naming each line,
 * and optionally integer-only x ticks (epochs). SVG is text and lines, crisp at any size and readable
 * in any browser and in the README. Pure: returns the document; the caller writes it. Not a general
 * charting library: enough for a loss curve or metrics over epochs.
 */

export interface Series {
  /** The legend's name for this line. */
  name: string;
  /** y values; x is `xs[i]` if given, else i. Non-finite values break the line. */
  values: readonly number[];
  xs?: readonly number[];
  /** Any CSS colour, e.g. "#c82828". */
  color: string;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Only whole numbers on the x axis (epochs). */
  integerX?: boolean;
  width?: number;
  height?: number;
}

/** A tick label: short (e.g. 0.25, -1.5, 12k, 3e-5). */
export function tickLabel(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 10000) return `${+(v / 1000).toFixed(1)}k`;
  if (a >= 1) return String(+v.toFixed(2));
  if (a >= 0.001) return String(+v.toPrecision(2));
  return v.toExponential(0).replace("+", "");
}

/** About `n` round tick values spanning [lo, hi]: steps of 1, 2 or 5 times a power of ten (at least `minStep`). */
export function niceTicks(lo: number, hi: number, n = 5, minStep = 0): number[] {
  if (!(hi > lo)) return [lo];
  const raw = Math.max((hi - lo) / n, minStep);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** `s` safe inside SVG text. */
function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The series drawn on shared axes, as an SVG document. */
export function linePlotSvg(series: readonly Series[], opts: PlotOptions): string {
  const W = opts.width ?? 720;
  const H = opts.height ?? 400;
  const left = 72, right = 24, top = 44, bottom = 56;
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
  const px = (x: number): string => (left + ((x - xmin) / (xmax - xmin)) * (W - left - right)).toFixed(1);
  const py = (y: number): string => (H - bottom - ((y - ymin) / (ymax - ymin)) * (H - top - bottom)).toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(opts.title)}</text>`,
  ];
  for (const t of niceTicks(ymin, ymax)) {
    out.push(`<line x1="${left}" x2="${W - right}" y1="${py(t)}" y2="${py(t)}" stroke="#e1e1e1"/>`);
    out.push(`<text x="${left - 6}" y="${py(t)}" text-anchor="end" dominant-baseline="middle" fill="#3c3c3c">${tickLabel(t)}</text>`);
  }
  for (const t of niceTicks(xmin, xmax, 6, opts.integerX ? 1 : 0)) {
    out.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${top}" y2="${H - bottom}" stroke="#e1e1e1"/>`);
    out.push(`<text x="${px(t)}" y="${H - bottom + 16}" text-anchor="middle" fill="#3c3c3c">${tickLabel(t)}</text>`);
  }
  out.push(`<path d="M${left} ${top}V${H - bottom}H${W - right}" fill="none" stroke="black"/>`);
  out.push(`<text x="${(left + W - right) / 2}" y="${H - 14}" text-anchor="middle">${escape(opts.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(opts.yLabel)}</text>`);
  for (const s of series) {
    let d = "";
    let pen = "M";
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) { pen = "M"; return; }
      d += `${pen}${px(s.xs ? s.xs[i]! : i)} ${py(v)}`;
      pen = "L";
    });
    if (d) out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.values.length < 60 ? ` stroke-linejoin="round"` : ""}/>`);
    if (s.values.length < 60) // few points (per epoch): mark each one
      s.values.forEach((v, i) => {
        if (Number.isFinite(v)) out.push(`<circle cx="${px(s.xs ? s.xs[i]! : i)}" cy="${py(v)}" r="2.5" fill="${s.color}"/>`);
      });
  }
  series.forEach((s, k) => { // legend, top right inside the axes
    const y = top + 14 + k * 18;
    const x = W - right - 170;
    out.push(`<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="3"/>`);
    out.push(`<text x="${x + 30}" y="${y}" dominant-baseline="middle">${escape(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** Running median over a centred window of `k` values (shrinking at the ends), as the WGAN paper smooths its curves. */
export function medianFilter(values: readonly number[], k: number): number[] {
  const h = Math.floor(k / 2);
  return values.map((_, i) => {
    const w = values.slice(Math.max(0, i - h), Math.min(values.length, i + h + 1)).filter(Number.isFinite).sort((a, b) => a - b);
    return w.length ? w[Math.floor(w.length / 2)]! : NaN;
  });
}
