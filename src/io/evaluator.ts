/**
 * The digit classifier and its evaluator, from files: the classifier checkpoint (default: the one
 * shipped in models/), and the MNIST splits its reference statistics are computed on.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { classifierFromCheckpoint, classifierMetadata } from "../recognition/classifier.js";
import type { Classifier } from "../recognition/classifier.js";
import { buildEvaluator, evaluateWith } from "../recognition/evaluate.js";
import type { Evaluation, Evaluator } from "../recognition/evaluate.js";
import { readSafetensors, saveModule } from "./checkpoint.js";
import type { Mnist } from "../mnist/dataset.js";
import { loadMnist } from "./mnist.js";

/** models/classifier.safetensors in this repository, found from this file (works from any cwd). */
export const DEFAULT_CLASSIFIER_PATH = fileURLToPath(new URL("../../models/classifier.safetensors", import.meta.url));

/** Writes the classifier's weights (atomically) with its architecture in the metadata, plus `extra`. */
export function saveClassifier(path: string, model: Classifier, extra: Record<string, string> = {}): void {
  saveModule(path, model, classifierMetadata(model, extra));
}

/**
 * Loads a classifier checkpoint; every problem (missing file, not safetensors, wrong tensors or
 * shapes) is one line naming the file. Returns the model in eval mode and the file's metadata.
 */
export function loadClassifier(path: string = DEFAULT_CLASSIFIER_PATH): { model: Classifier; metadata: Record<string, string> } {
  if (!existsSync(path)) throw new Error(`classifier checkpoint not found: ${path} (train one with: tsx src/main.ts classifier train)`);
  const file = readSafetensors(path);
  return { model: classifierFromCheckpoint(file, basename(path)), metadata: file.metadata };
}

export interface EvaluatorOptions {
  /** Classifier checkpoint path, or a loaded model. Default: models/classifier.safetensors of this repo. */
  classifier?: string | Classifier;
  /** Folder of the MNIST IDX files (default: the bundled copy). */
  dataDir?: string;
  /** Real images used: the first `realLimit` training images (the "real" column) and the first
   * `realLimit` test images (the reference for distance and diversity). Default 10,000. */
  realLimit?: number;
  /** The training split, if the caller has it loaded already (saves reading and scaling it again). */
  train?: Mnist;
}

/** Loads the classifier and MNIST, and builds the evaluator (see `buildEvaluator`). */
export function createEvaluator(opts: EvaluatorOptions = {}): Evaluator {
  let model: Classifier;
  let classifierPath: string | undefined;
  let classifierTestAccuracy = NaN;
  if (typeof opts.classifier === "object") model = opts.classifier;
  else {
    classifierPath = opts.classifier ?? DEFAULT_CLASSIFIER_PATH;
    const loaded = loadClassifier(classifierPath);
    model = loaded.model;
    if (loaded.metadata.test_accuracy !== undefined) classifierTestAccuracy = Number(loaded.metadata.test_accuracy);
  }
  const test = loadMnist("test", opts.dataDir);
  const train = opts.train ?? loadMnist("train", opts.dataDir);
  return buildEvaluator(model, test, train, { classifierPath, classifierTestAccuracy, limit: opts.realLimit });
}

/** Evaluators already built, by classifier path, data folder and limit (the references take a while). */
const cache = new Map<string, Evaluator>();

/**
 * Scores conditional samples and puts the same figures for real training digits beside them.
 * With a checkpoint path (or none), the evaluator is built once and cached for later calls.
 * @param images (N, 28, 28): bytes 0..255, or float pixels in [-1, 1] (as the generator makes them)
 * @param labels (N) the digit each image was requested as, 0..9
 */
export function evaluateSamples(images: Uint8Array | Float32Array, labels: Uint8Array, opts: EvaluatorOptions = {}): Evaluation {
  let ev: Evaluator;
  if (typeof opts.classifier === "object") ev = createEvaluator(opts);
  else {
    const key = `${opts.classifier ?? DEFAULT_CLASSIFIER_PATH}|${opts.dataDir ?? ""}|${opts.realLimit ?? 10_000}`;
    ev = cache.get(key) ?? createEvaluator(opts);
    cache.set(key, ev);
  }
  return evaluateWith(ev, images, labels);
}
