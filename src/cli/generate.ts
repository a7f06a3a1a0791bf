/**
 * `generate`: draws new images of a digit (or of every digit) from a trained generator into a PNG
 * grid. The same --seed gives the same images; without one a fresh seed is drawn and printed, so
 * every run shows new digits and a liked one can be drawn again.
 */
import { randomInt } from "node:crypto";
import { defineFlags, formatHelp, parseFlags } from "./args.js";
import { BACKEND_FLAGS, withBackend } from "./backend.js";
import { UsageError } from "./errors.js";
import { Prng, alloc } from "../tensor/index.js";
import { writeImageGrid } from "../io/png.js";
import { DEFAULT_GENERATOR_PATH, loadGenerator } from "../io/generator.js";
import { digitLabels, generateImages, tileNoise } from "../gan/sampling.js";

const FLAGS = defineFlags({
  digit: { type: "string", help: "a digit 0..9, or 'all' for a 10x10 grid with row d showing digit d" },
  count: { type: "int", min: 1, default: 16, help: "images of the digit (ignored with --digit all)" },
  seed: { type: "int", help: "noise seed (default: fresh, printed)" },
  checkpoint: { type: "string", help: "generator .safetensors file or run folder (default: the trained one in models/)" },
  out: { type: "string", help: "PNG file to write (default: digit-D.png, or digits.png for --digit all)" },
  scale: { type: "int", min: 1, default: 2, help: "pixels per image pixel" },
  styles: { type: "bool", help: "with --digit all: each column is one noise vector (one handwriting style) drawn as every digit" },
  ...BACKEND_FLAGS,
  help: { type: "bool", help: "show this help" },
});
const USAGE = "tsx src/main.ts generate --digit 0..9|all [--count N] [--seed S] [--checkpoint FILE] [--out FILE.png]";

/** Parses --digit: "all" or a single digit 0..9. */
export function parseDigit(command: string, value: unknown): number | "all" {
  if (value === undefined) throw new UsageError(`${command}: --digit is required (0..9 or all)`);
  if (value === "all") return "all";
  if (typeof value !== "string" || !/^[0-9]$/.test(value)) throw new UsageError(`${command}: --digit must be 0..9 or all, got '${value}'`);
  return Number(value);
}

export const command = {
  async run(argv: string[]): Promise<void> {
    const f = parseFlags(argv, FLAGS, "generate");
    if (f.help) return void console.log(formatHelp(USAGE, FLAGS));
    const digit = parseDigit("generate", f.digit);
    if (f.styles && digit !== "all") throw new UsageError("generate: --styles needs --digit all");
    await withBackend("generate", f, () => {
      const out = f.out ?? (digit === "all" ? "digits.png" : `digit-${digit}.png`);
      const seed = f.seed ?? randomInt(0, 2 ** 31);
      const { G, path } = loadGenerator(f.checkpoint ?? DEFAULT_GENERATOR_PATH);
      const count = f.count;
      const labels = digit === "all" ? digitLabels(10) : digitLabels(count, [digit]);
      const prng = new Prng(seed);
      // --styles: ten noise vectors, one per column, each drawn as every digit (row d is digit d)
      const noise = f.styles ? tileNoise(prng.fillNormal(alloc(10 * G.latent)), 10) : undefined;
      const images = generateImages(G, labels, noise ?? prng);
      const cols = digit === "all" ? 10 : Math.ceil(Math.sqrt(count));
      const rows = digit === "all" ? 10 : Math.ceil(count / cols);
      writeImageGrid(out, images, { rows, cols, scale: f.scale });
      console.log(`wrote ${out}: ${labels.length} images of ${digit === "all" ? "every digit" : `digit ${digit}`} from ${path} (seed ${seed})`);
    });
  },
};
