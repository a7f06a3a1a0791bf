/**
 * `data`: look at the MNIST files before training on them. `--stats` prints the digits per class and
 * the mean pixel of each split; `--grid FILE.png` draws real digits, one row per class. Reads only.
 */
import { defineFlags, formatHelp, parseFlags } from "./args.js";
import { UsageError } from "./errors.js";
import type { Mnist, Split } from "../mnist/dataset.js";
import { NUM_CLASSES } from "../mnist/image.js";
import { loadMnist, mnistDir, splitPaths } from "../io/mnist.js";
import { readImagesLabels } from "../io/idx.js";
import { writeDigitGrid } from "../io/png.js";

const USAGE = "tsx src/main.ts data (--stats | --grid FILE.png) [--data DIR] [--per-row N] [--split S]";

const FLAGS = defineFlags({
  stats: { type: "bool", help: "print the count of each digit and the mean pixel of train and test" },
  grid: { type: "string", help: "write a PNG of real digits, one row per class" },
  data: { type: "string", help: "folder with the four IDX files, plain or .gz (default: the bundled copy)" },
  "per-row": { type: "int", help: "digits per row of the grid", default: 10, min: 1 },
  split: { type: "string", help: "split the grid draws from: train or test", default: "train" },
  help: { type: "bool", help: "show this help" },
});

export const command = {
  run(argv: string[]): void {
    const f = parseFlags(argv, FLAGS, "data");
    if (f.help) return void console.log(formatHelp(USAGE, FLAGS));
    if (!f.stats && f.grid === undefined) throw new UsageError("data: give --stats or --grid FILE.png (see --help)");
    if (f.split !== "train" && f.split !== "test") throw new UsageError(`data: --split must be train or test, got '${f.split}'`);
    const dir = f.data ?? mnistDir();
    if (f.stats) printStats(dir);
    if (f.grid !== undefined) writeGrid(f.grid, dir, f.split, f["per-row"]);
  },
};

/** Prints a table: one row per digit with its count in each split, then the mean pixel in both scales. */
function printStats(dir: string): void {
  const splits: Mnist[] = [loadMnist("train", dir), loadMnist("test", dir)];
  const counts = splits.map((s) => {
    const c = new Array<number>(NUM_CLASSES).fill(0);
    for (let i = 0; i < s.n; i++) c[s.labels[i]!]!++;
    return c;
  });
  const means = splits.map((s) => {
    let bytes = 0;
    let scaled = 0; // float64 sums: 47 million terms would lose digits in float32
    for (let i = 0; i < s.images.length; i++) {
      bytes += s.images[i]!;
      scaled += s.pixels[i]!;
    }
    return { bytes: bytes / s.images.length, scaled: scaled / s.pixels.length };
  });
  const row = (label: string, cells: string[]) => label.padEnd(22) + cells.map((c) => c.padStart(10)).join("");
  const lines = [`MNIST in ${dir}`, "", row("digit", splits.map((s) => s.split)), row("", ["-----", "----"])];
  for (let d = 0; d < NUM_CLASSES; d++) lines.push(row(`  ${d}`, counts.map((c) => String(c[d]))));
  lines.push(row("total", splits.map((s) => String(s.n))), "");
  lines.push(row("mean pixel (0..255)", means.map((m) => m.bytes.toFixed(3))));
  lines.push(row("mean pixel ([-1, 1])", means.map((m) => m.scaled.toFixed(4))));
  console.log(lines.join("\n"));
}

/** Writes the first `perRow` examples of each digit (file order) as a 10-row grid. */
function writeGrid(path: string, dir: string, split: Split, perRow: number): void {
  const p = splitPaths(split, dir);
  const { images, labels } = readImagesLabels(p.images, p.labels);
  writeDigitGrid(path, images, labels, perRow);
  console.log(`wrote ${path}: ${NUM_CLASSES} rows (digits 0..9) x ${perRow} ${split} digits`);
}
