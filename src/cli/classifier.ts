/**
 * `classifier train | test`: train the MNIST classifier that evaluates generated digits and save it
 * (atomically) with its test accuracy in the metadata; or measure a checkpoint on the 10,000 test
 * images (accuracy, per-digit precision and recall; `--json` ends with one JSON line).
 */
import { defineFlags, formatHelp, parseFlags } from "./args.js";
import { BACKEND_FLAGS, withBackend } from "./backend.js";
import { UsageError } from "./errors.js";
import { IMAGE_SIZE } from "../mnist/image.js";
import { loadMnist, mnistDir } from "../io/mnist.js";
import { DEFAULT_CLASSIFIER, classify, trainClassifier, type Classifier } from "../recognition/classifier.js";
import { DEFAULT_CLASSIFIER_PATH, loadClassifier, saveClassifier } from "../io/evaluator.js";
import { argmaxRows, classScores, confusionMatrix, type ClassScores } from "../recognition/metrics.js";
import { ensureParentDir } from "../io/files.js";
import { ProgressBar } from "../io/progress.js";

const USAGE = "tsx src/main.ts classifier (train | test) [flags]";

const TRAIN_FLAGS = defineFlags({
  epochs: { type: "int", help: "passes over the training images (the last at a tenth of the learning rate)", default: 4, min: 1 },
  out: { type: "string", help: "checkpoint to write (default: models/classifier.safetensors of this repo)" },
  seed: { type: "int", help: "seed for the initial weights and the batch order", default: 1 },
  limit: { type: "int", help: "train on only the first N training images", min: 1 },
  batch: { type: "int", help: "mini-batch size", default: 64, min: 1 },
  lr: { type: "float", help: "Adam learning rate", default: 1e-3, min: 0 },
  data: { type: "string", help: "folder with the four MNIST IDX files (default: the bundled copy)" },
  ...BACKEND_FLAGS,
  help: { type: "bool", help: "show this help" },
});

const TEST_FLAGS = defineFlags({
  checkpoint: { type: "string", help: "classifier checkpoint (default: models/classifier.safetensors of this repo)" },
  json: { type: "bool", help: "end with one line of JSON: accuracy and per-digit precision, recall, F1" },
  data: { type: "string", help: "folder with the four MNIST IDX files (default: the bundled copy)" },
  ...BACKEND_FLAGS,
  help: { type: "bool", help: "show this help" },
});

function help(): string {
  return [
    `usage: ${USAGE}`,
    "",
    formatHelp("tsx src/main.ts classifier train [flags]", TRAIN_FLAGS),
    "",
    formatHelp("tsx src/main.ts classifier test [flags]", TEST_FLAGS),
  ].join("\n");
}

export const command = {
  async run(argv: string[]): Promise<void> {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === "--help" || sub === "-h") {
      console.log(help());
      if (sub === undefined) throw new UsageError("classifier: give train or test (see --help)");
      return;
    }
    if (sub === "train") return train(rest);
    if (sub === "test") return test(rest);
    throw new UsageError(`classifier: unknown subcommand '${sub}' (train or test)`);
  },
};

async function train(argv: string[]): Promise<void> {
  const f = parseFlags(argv, TRAIN_FLAGS, "classifier train");
  if (f.help) return void console.log(formatHelp("tsx src/main.ts classifier train [flags]", TRAIN_FLAGS));
  await withBackend("classifier train", f, () => trainWith(f));
}

function trainWith(f: ReturnType<typeof parseFlags<typeof TRAIN_FLAGS>>): void {
  const out = f.out ?? DEFAULT_CLASSIFIER_PATH;
  const epochs = f.epochs;
  const seed = f.seed;
  const batchSize = f.batch;
  const lr = f.lr;
  const dir = f.data ?? mnistDir();
  ensureParentDir(out); // fail before training, not after
  const full = loadMnist("train", dir);
  const n = Math.min(f.limit ?? full.n, full.n);
  const data = { n, pixels: full.pixels.subarray(0, n * IMAGE_SIZE), labels: full.labels.subarray(0, n) };
  console.log(`training classifier on ${n} images: ${epochs} epochs, batch ${batchSize}, Adam lr ${lr}, seed ${seed}`);
  const start = performance.now();
  let bar: ProgressBar | null = null;
  const model = trainClassifier(data, {
    epochs,
    seed,
    batchSize,
    lr,
    config: DEFAULT_CLASSIFIER,
    onStep: (epoch, step, steps, loss) => {
      if (step === 1) bar = new ProgressBar(`epoch ${epoch}/${epochs}`, steps, "img");
      bar!.update(step, `loss ${loss.toFixed(4)}`, batchSize);
    },
    onEpoch: (epoch, loss, acc, secs) => {
      bar?.done();
      console.log(`epoch ${epoch}/${epochs}  loss ${loss.toFixed(4)}  train acc ${(100 * acc).toFixed(2)}%  ${secs.toFixed(1)} s`);
    },
  });
  const seconds = (performance.now() - start) / 1000;
  const test = loadMnist("test", dir);
  const scores = measure(model, test.pixels, test.labels);
  saveClassifier(out, model, {
    epochs: String(epochs),
    seed: String(seed),
    batch_size: String(batchSize),
    lr: String(lr),
    train_images: String(n),
    train_seconds: seconds.toFixed(0),
    test_accuracy: scores.accuracy.toFixed(4),
  });
  console.log(`test accuracy ${(100 * scores.accuracy).toFixed(2)}% on ${test.n} images; ${seconds.toFixed(0)} s of training; wrote ${out}`);
}

async function test(argv: string[]): Promise<void> {
  const f = parseFlags(argv, TEST_FLAGS, "classifier test");
  if (f.help) return void console.log(formatHelp("tsx src/main.ts classifier test [flags]", TEST_FLAGS));
  await withBackend("classifier test", f, () => testWith(f));
}

function testWith(f: ReturnType<typeof parseFlags<typeof TEST_FLAGS>>): void {
  const path = f.checkpoint ?? DEFAULT_CLASSIFIER_PATH;
  const { model, metadata } = loadClassifier(path);
  const test = loadMnist("test", f.data ?? mnistDir());
  const s = measure(model, test.pixels, test.labels);
  const lines = [
    `classifier ${path}`,
    `  ${metadata.architecture ?? "(no architecture in metadata)"}`,
    `  trained ${metadata.epochs ?? "?"} epochs, seed ${metadata.seed ?? "?"}`,
    "",
    `accuracy ${(100 * s.accuracy).toFixed(2)}% on ${test.n} test images`,
    "",
    "digit  precision  recall    F1      support",
  ];
  for (let d = 0; d < s.precision.length; d++)
    lines.push(`  ${d}    ${pct(s.precision[d]!)}    ${pct(s.recall[d]!)}   ${pct(s.f1[d]!)}   ${String(s.support[d]).padStart(5)}`);
  console.log(lines.join("\n"));
  if (f.json)
    console.log(JSON.stringify({ checkpoint: path, n: test.n, accuracy: s.accuracy, precision: s.precision, recall: s.recall, f1: s.f1, support: s.support }));
}

/** Accuracy and per-digit scores of `model` on images (N, 1, 28, 28) in [-1, 1] with labels (N). */
function measure(model: Classifier, pixels: Float32Array, labels: Uint8Array): ClassScores {
  const out = classify(model, pixels);
  return classScores(confusionMatrix(labels, argmaxRows(out.logits, out.n)));
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`.padStart(7);
}
