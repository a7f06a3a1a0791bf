/**
 * `evaluate --samples PREFIX`: judges conditional samples stored as an IDX pair (PREFIX-images-idx3-ubyte,
 * PREFIX-labels-idx1-ubyte, labels = requested digit) with the MNIST classifier, beside real training
 * digits; `evaluate --checkpoint G` draws the samples from a generator itself. Prints the figures and
 * writes report.md (with two PNGs) beside the samples, or in the generator's folder.
 */
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { formatHelp, parseFlags, type FlagSpecs } from "./args.js";
import { UsageError } from "./errors.js";
import { readImagesLabels } from "../mnist/idx.js";
import { evaluateSamples, evaluationJson } from "../recognition/evaluate.js";
import { formatEvaluation, writeReport } from "../recognition/report.js";
import { Prng } from "../tensor/index.js";
import { loadGenerator } from "../gan/load.js";
import { digitLabels, generateImages } from "../gan/sampling.js";

const USAGE = "tsx src/main.ts evaluate (--samples PREFIX | --checkpoint G [--per-digit N] [--seed S]) [--json] [--report FILE] [--classifier FILE]";

const FLAGS: FlagSpecs = {
  samples: { type: "string", help: "reads PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte (plain or .gz)" },
  checkpoint: { type: "string", help: "draw the samples from this generator (.safetensors file or run folder) instead" },
  "per-digit": { type: "int", min: 1, default: 1000, help: "with --checkpoint: samples drawn of each digit" },
  seed: { type: "int", default: 0, help: "with --checkpoint: noise seed" },
  json: { type: "bool", help: "end with one line of JSON holding every figure" },
  report: { type: "string", help: "Markdown report to write (default: report.md beside the samples)" },
  classifier: { type: "string", help: "classifier checkpoint (default: models/classifier.safetensors of this repo)" },
  data: { type: "string", help: "folder with the four MNIST IDX files (default: the bundled copy)" },
  help: { type: "bool", help: "show this help" },
};

export const command = {
  run(argv: string[]): void {
    const f = parseFlags(argv, FLAGS, "evaluate");
    if (f.help) return void console.log(formatHelp(USAGE, FLAGS));
    const prefix = f.samples as string | undefined;
    const checkpoint = f.checkpoint as string | undefined;
    if ((prefix === undefined || prefix === "") === (checkpoint === undefined || checkpoint === ""))
      throw new UsageError("evaluate: give either --samples PREFIX or --checkpoint G (see --help)");
    let images: Uint8Array | Float32Array;
    let labels: Uint8Array;
    let source: string;
    let reportDir: string;
    if (checkpoint) {
      const { G, path } = loadGenerator(checkpoint);
      labels = digitLabels(f["per-digit"] as number);
      images = generateImages(G, labels, new Prng(f.seed as number));
      source = `${path} (${f["per-digit"]} per digit, seed ${f.seed})`;
      reportDir = statSync(checkpoint).isDirectory() ? checkpoint : dirname(checkpoint);
    } else {
      ({ images, labels } = readImagesLabels(`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`));
      if (labels.length === 0) throw new Error(`${prefix}-labels-idx1-ubyte: no samples`);
      source = prefix!;
      reportDir = dirname(prefix!);
    }
    const ev = evaluateSamples(images, labels, {
      classifier: f.classifier as string | undefined,
      dataDir: f.data as string | undefined,
    });
    const reportPath = (f.report as string | undefined) ?? join(reportDir, "report.md");
    const files = writeReport(reportPath, ev, { images, labels, source });
    console.log(formatEvaluation(ev, `evaluation of ${source}`));
    console.log(`\nwrote ${files.report}, ${files.samples}, ${files.confusion}`);
    if (f.json) console.log(JSON.stringify(evaluationJson(ev)));
  },
};
