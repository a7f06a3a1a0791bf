/**
 * `sample`: writes generated digits as an MNIST-format IDX pair (PREFIX-images-idx3-ubyte,
 * PREFIX-labels-idx1-ubyte): uint8 pixels, 0 background and 255 ink, labels the requested digits,
 * so any MNIST tool (and our `evaluate`) can read them.
 */
import { randomInt } from "node:crypto";
import { defineFlags, formatHelp, parseFlags } from "./args.js";
import { BACKEND_FLAGS, withBackend } from "./backend.js";
import { UsageError } from "./errors.js";
import { Prng } from "../tensor/index.js";
import { writeIdx } from "../io/idx.js";
import { DEFAULT_GENERATOR_PATH, loadGenerator } from "../io/generator.js";
import { digitLabels, generateImages, toMnistBytes } from "../gan/sampling.js";
import { IMAGE_H, IMAGE_W } from "../mnist/image.js";

const FLAGS = defineFlags({
  "per-digit": { type: "int", min: 1, default: 1000, help: "images of each digit 0..9" },
  seed: { type: "int", help: "noise seed (default: fresh, printed)" },
  checkpoint: { type: "string", help: "generator .safetensors file or run folder (default: the trained one in models/)" },
  out: { type: "string", help: "output prefix: writes PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte (required)" },
  ...BACKEND_FLAGS,
  help: { type: "bool", help: "show this help" },
});
const USAGE = "tsx src/main.ts sample [--per-digit N] [--seed S] [--checkpoint FILE] --out PREFIX";

export const command = {
  async run(argv: string[]): Promise<void> {
    const f = parseFlags(argv, FLAGS, "sample");
    if (f.help) return void console.log(formatHelp(USAGE, FLAGS));
    if (f.out === undefined) throw new UsageError("sample: --out PREFIX is required");
    const prefix = f.out;
    await withBackend("sample", f, () => {
      const seed = f.seed ?? randomInt(0, 2 ** 31);
      const { G, path } = loadGenerator(f.checkpoint ?? DEFAULT_GENERATOR_PATH);
      const labels = digitLabels(f["per-digit"]);
      const bytes = toMnistBytes(generateImages(G, labels, new Prng(seed)));
      writeIdx(`${prefix}-images-idx3-ubyte`, [labels.length, IMAGE_H, IMAGE_W], bytes);
      writeIdx(`${prefix}-labels-idx1-ubyte`, [labels.length], labels);
      console.log(`wrote ${prefix}-images-idx3-ubyte and ${prefix}-labels-idx1-ubyte: ${labels.length} images from ${path} (seed ${seed})`);
    });
  },
};
