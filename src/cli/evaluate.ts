/**
 * `evaluate --samples PREFIX`: judges conditional samples stored as an IDX pair (PREFIX-images-idx3-ubyte,
 * PREFIX-labels-idx1-ubyte, labels = requested digit) with the MNIST classifier, beside real training
 * digits; `evaluate --checkpoint G` draws the samples from a generator itself. Prints the figures and
 * writes report.md (with two PNGs) beside the samples, or in the generator's folder.
 */
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { defineFlags, formatHelp, parseFlags } from "./args.js";
import { BACKEND_FLAGS, withBackend } from "./backend.js";
import { UsageError } from "./errors.js";
import { readImagesLabels } from "../io/idx.js";
import { evaluateSamples } from "../io/evaluator.js";
import { writeReport } from "../io/report.js";
import { evaluationJson } from "../recognition/evaluate.js";
import { formatEvaluation } from "../recognition/report.js";
import { Prng } from "../tensor/index.js";
import { DEFAULT_GENERATOR_PATH, loadGenerator } from "../io/generator.js";
import { digitLabels, generateImages } from "../gan/sampling.js";

const USAGE = "tsx src/main.ts evaluate [--samples PREFIX | --checkpoint G [--per-digit N] [--seed S]] [--json] [--report FILE] [--classifier FILE]";

const FLAGS = defineFlags({
  samples: { type: "string", help: "reads PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte (plain or .gz)" },
  checkpoint: { type: "string", help: "draw the samples from this generator (.safetensors file or run folder); with neither flag, the trained one in models/" },
  "per-digit": { type: "int", min: 1, default: 1000, help: "with --checkpoint: samples drawn of each digit" },
  seed: { type: "int", default: 0, help: "with --checkpoint: noise seed" },
  json: { type: "bool", help: "end with one line of JSON holding every figure" },
  report: { type: "string", help: "Markdown report to write (default: report.md beside the samples)" },
  classifier: { type: "string", help: "classifier checkpoint (default: models/classifier.safetensors of this repo)" },
  data: { type: "string", help: "folder with the four MNIST IDX files (default: the bundled copy)" },
  ...BACKEND_FLAGS,
  help: { type: "bool", help: "show this help" },
});

export const command = {
  async run(argv: string[]): Promise<void> {
    const f = parseFlags(argv, FLAGS, "evaluate");
    if (f.help) return void console.log(formatHelp(USAGE, FLAGS));
    const prefix = f.samples;
    if (prefix !== undefined && f.checkpoint !== undefined)
      throw new UsageError("evaluate: give either --samples PREFIX or --checkpoint G, not both (see --help)");
    if (prefix === "" || f.checkpoint === "") throw new UsageError("evaluate: --samples and --checkpoint need a name");
    await withBackend("evaluate", f, () => {
      // neither: the shipped generator, with its report in the current folder rather than in models/
      const checkpoint = prefix === undefined ? f.checkpoint ?? DEFAULT_GENERATOR_PATH : undefined;
      let images: Uint8Array | Float32Array;
      let labels: Uint8Array;
      let source: string;
      let reportDir: string;
      if (checkpoint) {
        const { G, path } = loadGenerator(checkpoint);
        labels = digitLabels(f["per-digit"]);
        images = generateImages(G, labels, new Prng(f.seed));
        source = `${path} (${f["per-digit"]} per digit, seed ${f.seed})`;
        reportDir = f.checkpoint === undefined ? "." : statSync(checkpoint).isDirectory() ? checkpoint : dirname(checkpoint);
      } else {
        ({ images, labels } = readImagesLabels(`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`));
        if (labels.length === 0) throw new Error(`${prefix}-labels-idx1-ubyte: no samples`);
        source = prefix!;
        reportDir = dirname(prefix!);
      }
      const ev = evaluateSamples(images, labels, {
        classifier: f.classifier,
        dataDir: f.data,
      });
      const reportPath = f.report ?? join(reportDir, "report.md");
      const files = writeReport(reportPath, ev, { images, labels, source });
      console.log(formatEvaluation(ev, `evaluation of ${source}`));
      console.log(`\nwrote ${files.report}, ${files.samples}, ${files.confusion}`);
      if (f.json) console.log(JSON.stringify(evaluationJson(ev)));
    });
  },
};
