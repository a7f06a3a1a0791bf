/**
 * Presenting an `Evaluation`: a plain-text summary for the terminal, a Markdown report, and the
 * confusion matrix as a heat map in RGBA pixels. Formatting only: every number comes from
 * evaluate.ts, and the files are written by `src/io/report.ts`.
 */
import { NUM_CLASSES } from "../mnist/image.js";
import type { Rgba } from "../mnist/grid.js";
import type { Evaluation, Scores } from "./evaluate.js";
import type { ConfusionMatrix } from "./metrics.js";

const fmt = {
  pct: (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : "-"),
  num: (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "-"),
};

/** The headline rows: label, samples' value, real digits' value. */
function headline(ev: Evaluation): [string, string, string][] {
  const row = (label: string, f: (s: Scores) => string): [string, string, string] => [label, f(ev), f(ev.real)];
  return [
    row("images", (s) => String(s.n)),
    row("conditional accuracy", (s) => fmt.pct(s.conditional_accuracy)),
    row("Fréchet distance (vs test)", (s) => fmt.num(s.fid, 3)),
    row("classifier score (max 10)", (s) => fmt.num(s.classifier_score, 3)),
    row("diversity (real = 1)", (s) => fmt.num(s.diversity, 3)),
  ];
}

/** A terminal summary: headline figures side by side, per-digit scores, the confusion matrix. */
export function formatEvaluation(ev: Evaluation, title: string): string {
  const lines = [title, `  classifier ${ev.classifier} (test accuracy ${fmt.pct(ev.classifier_test_accuracy)})`, `  ${ev.reference}`, ""];
  lines.push(`${"".padEnd(28)}${"samples".padStart(10)}${"real".padStart(10)}`);
  for (const [label, a, b] of headline(ev)) lines.push(`${label.padEnd(28)}${a.padStart(10)}${b.padStart(10)}`);
  lines.push("", "digit      n   precision   recall       F1  diversity   | real: precision   recall       F1");
  const p = ev.per_digit;
  const r = ev.real.per_digit;
  for (let d = 0; d < NUM_CLASSES; d++)
    lines.push(
      `  ${d}   ${String(p.count[d]).padStart(6)}  ${fmt.pct(p.precision[d]!).padStart(10)} ${fmt.pct(p.recall[d]!).padStart(8)} ${fmt.pct(p.f1[d]!).padStart(8)} ${fmt.num(p.diversity[d]!, 3).padStart(10)}   |     ${fmt.pct(r.precision[d]!).padStart(10)} ${fmt.pct(r.recall[d]!).padStart(8)} ${fmt.pct(r.f1[d]!).padStart(8)}`,
    );
  lines.push("", "confusion matrix (rows = requested digit, columns = predicted):");
  lines.push(`     ${Array.from({ length: NUM_CLASSES }, (_, k) => String(k).padStart(6)).join("")}`);
  ev.confusion.forEach((row, d) => lines.push(`  ${d}  ${row.map((c) => String(c).padStart(6)).join("")}`));
  return lines.join("\n");
}

/** The Markdown report; `samplesPng` and `confusionPng` are the pictures' file names beside it. */
export function reportMarkdown(ev: Evaluation, source: string, samplesPng: string, confusionPng: string): string {
  const md: string[] = [];
  const table = (head: string[], rows: string[][]) => {
    md.push(`| ${head.join(" | ")} |`, `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`);
    for (const r of rows) md.push(`| ${r.join(" | ")} |`);
  };
  md.push(`# Evaluation of ${source}`, "");
  md.push(`- samples: ${ev.n} images from \`${source}\`, labelled with the digit each was requested as`);
  md.push(`- classifier: \`${ev.classifier}\` (test accuracy ${fmt.pct(ev.classifier_test_accuracy)})`);
  md.push(`- ${ev.reference}`, "");
  md.push("## Summary", "");
  table(["", "samples", "real MNIST digits"], headline(ev));
  md.push(
    "",
    "- *conditional accuracy*: fraction of samples the classifier reads as the digit requested.",
    "- *Fréchet distance*: between Gaussians fitted to the classifier's penultimate features of these images and of the MNIST test set (FID with our classifier instead of Inception; lower is better, not comparable with published FID).",
    "- *classifier score*: exp(mean KL(p(y|x) ‖ p(y))) with our classifier (Inception-Score style), 1 to 10.",
    "- *diversity*: mean feature distance of each sample from its digit's mean, over the same for real test digits (1 = as varied as real handwriting, near 0 = mode collapse).",
    "",
  );
  md.push("## Per digit", "");
  const p = ev.per_digit;
  const r = ev.real.per_digit;
  table(
    ["digit", "samples", "precision", "recall", "F1", "diversity", "real precision", "real recall", "real F1"],
    Array.from({ length: NUM_CLASSES }, (_, d) => [
      String(d),
      String(p.count[d]),
      fmt.pct(p.precision[d]!),
      fmt.pct(p.recall[d]!),
      fmt.pct(p.f1[d]!),
      fmt.num(p.diversity[d]!, 3),
      fmt.pct(r.precision[d]!),
      fmt.pct(r.recall[d]!),
      fmt.pct(r.f1[d]!),
    ]),
  );
  md.push("", "## Confusion matrix", "", "Rows: requested digit; columns: the classifier's reading.", "");
  table(["", ...Array.from({ length: NUM_CLASSES }, (_, k) => String(k))], ev.confusion.map((row, d) => [String(d), ...row.map(String)]));
  md.push("", `![confusion matrix, row-normalised](${confusionPng})`, "");
  md.push("## Samples", "", "The first 10 samples of each requested digit, one row per digit (0 at the top).", "");
  md.push(`![samples](${samplesPng})`, "");
  return md.join("\n");
}

/** 3x5 digit glyphs, each row 3 bits, most significant on the left . */
const DIGITS = [
  [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
  [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 1, 1], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
];

/**
 * The confusion matrix as a heat map: cell (t, p) shaded white -> dark blue by its share of row t,
 * with its count written in it; digits label the rows (left, requested) and columns (top, predicted).
 */
export function confusionHeatMap(m: ConfusionMatrix): Rgba {
  const C = m.length;
  const cell = 40;
  const margin = 24;
  const size = margin + C * cell + 4;
  const rgba = new Uint8Array(size * size * 4).fill(255);
  const put = (x: number, y: number, c: readonly number[]) => {
    if (x >= 0 && y >= 0 && x < size && y < size) rgba.set([c[0]!, c[1]!, c[2]!, 255], (y * size + x) * 4);
  };
  /** Writes `text` (digits only) centred at (cx, cy), each glyph pixel as a 2x2 block. */
  const text = (s: string, cx: number, cy: number, c: readonly number[]) => {
    const w = s.length * 8 - 2;
    let x0 = Math.round(cx - w / 2);
    const y0 = Math.round(cy - 5);
    for (const ch of s) {
      const g = DIGITS[Number(ch)]!;
      for (let gy = 0; gy < 5; gy++)
        for (let gx = 0; gx < 3; gx++)
          if ((g[gy]! >> (2 - gx)) & 1) for (let k = 0; k < 4; k++) put(x0 + 2 * gx + (k & 1), y0 + 2 * gy + (k >> 1), c);
      x0 += 8;
    }
  };
  const ink = [0, 0, 0];
  for (let k = 0; k < C; k++) {
    text(String(k), margin / 2, margin + k * cell + cell / 2, ink); // row label
    text(String(k), margin + k * cell + cell / 2, margin / 2, ink); // column label
  }
  const low = [247, 251, 255]; // near white
  const high = [8, 48, 107]; // dark blue
  m.forEach((row, t) => {
    const total = row.reduce((s, x) => s + x, 0);
    row.forEach((count, p) => {
      const f = total > 0 ? count / total : 0;
      const colour = low.map((l, i) => Math.round(l + (high[i]! - l) * Math.sqrt(f))); // sqrt: small errors stay visible
      const x0 = margin + p * cell;
      const y0 = margin + t * cell;
      for (let y = 1; y < cell; y++) for (let x = 1; x < cell; x++) put(x0 + x, y0 + y, colour);
      if (count > 0) text(String(count), x0 + cell / 2, y0 + cell / 2, Math.sqrt(f) > 0.5 ? [255, 255, 255] : ink);
    });
  });
  return { width: size, height: size, rgba };
}
