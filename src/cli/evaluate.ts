/**
 * `evaluate --samples PREFIX`: judges conditional samples stored as an IDX pair (PREFIX-images-idx3-ubyte,
 * PREFIX-labels-idx1-ubyte, labels = requested digit) with the MNIST classifier, beside real training
 * digits; prints the figures and writes report.md (with two PNGs) beside the samples. Reads only MNIST.
 */
import { dirname, join } from "node:path";
import { formatHelp, parseFlags, type FlagSpecs } from "./args.js";
import { UsageError } from "./errors.js";
import { readImagesLabels } from "../mnist/idx.js";
import { evaluateSamples, evaluationJson } from "../recognition/evaluate.js";
import { formatEvaluation, writeReport } from "../recognition/report.js";

const USAGE = "tsx src/main.ts evaluate --samples PREFIX [--json] [--report FILE] [--classifier FILE]";

const FLAGS: FlagSpecs = {
  samples: { type: "string", help: "reads PREFIX-images-idx3-ubyte and PREFIX-labels-idx1-ubyte (plain or .gz)" },
  json: { type: "bool", help: "end with one line of JSON holding every figure" },
  report: { type: "string", help: "Markdown report to write (default: report.md beside the samples)" },
  classifier: { type: "string", help: "classifier checkpoint (default: models/classifier.safetensors of this repo)" },
  data: { type: "string", help: "folder with the four MNIST IDX files (default: the bundled copy)" },
  help: { type: "bool", help: "show this help" },
};

export const command = {
  summary: "judge conditional samples (an IDX pair) with the classifier, beside real digits; write a report",
  run(argv: string[]): void {
    const f = parseFlags(argv, FLAGS, "evaluate");
    if (f.help) return void console.log(formatHelp(USAGE, FLAGS));
    const prefix = f.samples as string | undefined;
    if (prefix === undefined || prefix === "") throw new UsageError("evaluate: give --samples PREFIX (see --help)");
    const { images, labels } = readImagesLabels(`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`);
    if (labels.length === 0) throw new Error(`${prefix}-labels-idx1-ubyte: no samples`);
    const ev = evaluateSamples(images, labels, {
      classifier: f.classifier as string | undefined,
      dataDir: f.data as string | undefined,
    });
    const reportPath = (f.report as string | undefined) ?? join(dirname(prefix), "report.md");
    const files = writeReport(reportPath, ev, { images, labels, source: prefix });
    console.log(formatEvaluation(ev, `evaluation of ${prefix}`));
    console.log(`\nwrote ${files.report}, ${files.samples}, ${files.confusion}`);
    if (f.json) console.log(JSON.stringify(evaluationJson(ev)));
  },
};
