/**
 * Judging conditional samples with the MNIST classifier: conditional accuracy, per-digit precision,
 * recall and F1, the confusion matrix, the Fréchet distance of classifier features to the MNIST test
 * set, the classifier score and diversity; and the same figures for real training digits, the ceiling.
 * In memory and pure: loading the classifier and MNIST from files is `src/io/evaluator.ts`, the report
 * writer is report.ts, the command is src/cli/evaluate.ts.
 *
 * Legend: N = samples, H = feature dimension, C = 10 digits. Images are (N, 28, 28), row-major.
 */
import { scalePixels } from "../mnist/dataset.js";
import type { Mnist } from "../mnist/dataset.js";
import { IMAGE_SIZE, NUM_CLASSES } from "../mnist/image.js";
import { classify, type Classifier } from "./classifier.js";
import { frechetDistance, meanCovariance, type Gaussian } from "./linalg.js";
import { argmaxRows, classScores, classSpread, classifierScore, confusionMatrix, diversity, softmaxRows, type ConfusionMatrix } from "./metrics.js";

/** Everything measured on one set of labelled images. Field names are those of the JSON output. */
export interface Scores {
  /** Number of images. */
  n: number;
  /** Fraction classified as the digit they were requested (or labelled) as. */
  conditional_accuracy: number;
  /** Fréchet distance between the Gaussians of classifier features: these images vs MNIST test. */
  fid: number;
  /** exp(mean KL(p(y|x) || p(y))): 1 (uninformative) to 10 (confident and balanced). */
  classifier_score: number;
  /** Feature spread within each digit over that of real test digits: 1 = as varied, ~0 = collapsed. */
  diversity: number;
  /** Per requested digit 0..9 (NaN, null in JSON, where a digit has no images). */
  per_digit: { precision: number[]; recall: number[]; f1: number[]; diversity: number[]; count: number[] };
  /** (10, 10): row = requested digit, column = predicted digit. */
  confusion: ConfusionMatrix;
}

/** Scores of the samples, and of real training digits (the ceiling) side by side. */
export interface Evaluation extends Scores {
  real: Scores;
  /** Checkpoint of the classifier used (or "(in memory)"). */
  classifier: string;
  /** The classifier's test accuracy, from its checkpoint metadata (NaN if absent). */
  classifier_test_accuracy: number;
  /** What the real figures and the references were computed on. */
  reference: string;
}

/** The classifier plus the statistics of real digits it measures samples against; reuse it across calls. */
export interface Evaluator {
  model: Classifier;
  classifierPath: string;
  classifierTestAccuracy: number;
  /** Gaussian of the test images' features. */
  testGaussian: Gaussian;
  /** (10) feature spread of each digit among the test images. */
  testSpread: number[];
  /** The first `limit` training images (buildEvaluator's option), scored as if they were samples. */
  real: Scores;
  reference: string;
  /** Scores N labelled images against the references. @param images (N, 28, 28) bytes, or pixels in [-1, 1] */
  score(images: Uint8Array | Float32Array, labels: Uint8Array): Scores;
}

/**
 * Computes the reference statistics for `model`: classifier features of the first `limit` MNIST test
 * images, and the scores of the first `limit` training images. About 20,000 forward passes: build it
 * once and reuse it.
 */
export function buildEvaluator(
  model: Classifier, test: Mnist, train: Mnist,
  opts: { classifierPath?: string; classifierTestAccuracy?: number; limit?: number } = {},
): Evaluator {
  const limit = opts.limit ?? 10_000;
  const nTest = Math.min(limit, test.n);
  const testOut = classify(model, test.pixels.subarray(0, nTest * IMAGE_SIZE));
  const testGaussian = meanCovariance(testOut.features, nTest, testOut.dim);
  const testSpread = classSpread(testOut.features, test.labels.subarray(0, nTest), testOut.dim);
  const refs = { model, testGaussian, testSpread };
  const nTrain = Math.min(limit, train.n);
  return {
    ...refs,
    classifierPath: opts.classifierPath ?? "(in memory)",
    classifierTestAccuracy: opts.classifierTestAccuracy ?? NaN,
    real: scoreImages(refs, train.pixels.subarray(0, nTrain * IMAGE_SIZE), train.labels.subarray(0, nTrain)),
    reference: `real = MNIST training images 0..${nTrain - 1}; references = MNIST test images 0..${nTest - 1}`,
    score: (images, labels) => scoreImages(refs, images, labels),
  };
}

function scoreImages(ev: Pick<Evaluator, "model" | "testGaussian" | "testSpread">, images: Uint8Array | Float32Array, labels: Uint8Array): Scores {
  const n = labels.length;
  if (images.length !== n * IMAGE_SIZE)
    throw new Error(`evaluate: ${images.length} pixels for ${n} labels; expected ${n} images of 28x28 (${n * IMAGE_SIZE})`);
  if (n === 0) throw new Error("evaluate: no samples");
  for (let i = 0; i < n; i++)
    if (labels[i]! >= NUM_CLASSES) throw new Error(`evaluate: label ${labels[i]} at index ${i} is not a digit 0..9`);
  const pixels = images instanceof Uint8Array ? scalePixels(images) : images;
  const out = classify(ev.model, pixels);
  const predicted = argmaxRows(out.logits, n);
  const confusion = confusionMatrix(labels, predicted);
  const s = classScores(confusion);
  const div = diversity(classSpread(out.features, labels, out.dim), ev.testSpread);
  return {
    n,
    conditional_accuracy: s.accuracy,
    fid: frechetDistance(meanCovariance(out.features, n, out.dim), ev.testGaussian),
    classifier_score: classifierScore(softmaxRows(out.logits, n), n),
    diversity: div.overall,
    per_digit: { precision: s.precision, recall: s.recall, f1: s.f1, diversity: div.perClass, count: s.support },
    confusion,
  };
}

/** Scores conditional samples with `ev` and puts the same figures for real training digits beside them. */
export function evaluateWith(ev: Evaluator, images: Uint8Array | Float32Array, labels: Uint8Array): Evaluation {
  return {
    ...ev.score(images, labels),
    real: ev.real,
    classifier: ev.classifierPath,
    classifier_test_accuracy: ev.classifierTestAccuracy,
    reference: ev.reference,
  };
}

/** The one-line JSON form: headline numbers, per digit, the confusion matrix, and the real column. */
export function evaluationJson(ev: Evaluation): Record<string, unknown> {
  const pick = (s: Scores) => ({
    n: s.n,
    conditional_accuracy: s.conditional_accuracy,
    fid: s.fid,
    classifier_score: s.classifier_score,
    diversity: s.diversity,
  });
  return {
    ...pick(ev),
    per_digit: ev.per_digit,
    confusion: ev.confusion,
    real: { ...pick(ev.real), per_digit: ev.real.per_digit },
    classifier: ev.classifier,
  };
}
