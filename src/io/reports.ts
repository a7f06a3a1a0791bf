/**
 * What `train` draws and measures after each epoch, as reporters for the run folder: the 10x10
 * sample grid (fixed noise; row d is digit d), the loss curve, and the digit classifier's judgement
 * of the generator with its plot. They read the `Training` and write into the run folder; none of
 * them changes the training arithmetic (their noise comes from their own PRNGs).
 */
import { join } from "node:path";
import { Prng } from "../tensor/index.js";
import type { MetricsRecord } from "../gan/training.js";
import { digitLabels, generateImages, gridNoise } from "../gan/sampling.js";
import { NUM_CLASSES } from "../mnist/image.js";
import type { Evaluator } from "../recognition/evaluate.js";
import { linePlotSvg, medianFilter } from "../util/plot.js";
import { writeFileAtomic } from "./files.js";
import { writeImageGrid } from "./png.js";
import { RUN_FILES } from "./run-folder.js";
import type { EpochReporter } from "./run-folder.js";

/** Seed offset of the evaluations' fixed noise: apart from the training stream, so it never perturbs training. */
const EVAL_SEED_OFFSET = 0xe7a1;

/** samples/epoch-NNN.png: the same 100 noise vectors every epoch, row d drawn as digit d. */
export function gridReporter(): EpochReporter {
  let noise: Float32Array | undefined;
  return (t, dir) => {
    noise ??= gridNoise(t.config);
    const path = join(dir, RUN_FILES.samples, `epoch-${String(t.epoch).padStart(3, "0")}.png`);
    const images = generateImages(t.sampler(), digitLabels(NUM_CLASSES), noise);
    writeImageGrid(path, images, { rows: NUM_CLASSES, cols: NUM_CLASSES, scale: 2 });
  };
}

/** losses.svg: the Wasserstein estimate -L_D per critic step, median-filtered as the WGAN paper plots it. */
export function lossPlotReporter(): EpochReporter {
  return (t, dir) => {
    const steps = t.losses.map((r) => r.step);
    // window 101 steps, as in the paper's plots, narrower for short runs so the curve keeps its shape
    const window = Math.min(101, 2 * Math.floor(steps.length / 40) + 1);
    const smooth = medianFilter(t.losses.map((r) => r.wasserstein), window);
    const every = Math.max(1, Math.ceil(steps.length / 2000)); // at most ~2000 points drawn
    const keep = (_: number, i: number): boolean => i % every === 0 || i === steps.length - 1;
    const svg = linePlotSvg(
      [{ name: `-L_D, median of ${window}`, values: smooth.filter(keep), xs: steps.filter(keep), color: "#c82828" }],
      { title: `Wasserstein estimate (${t.config.model}, seed ${t.config.seed})`, xLabel: "critic steps", yLabel: "mean D(real) - mean D(fake)" },
    );
    writeFileAtomic(join(dir, RUN_FILES.lossPlot), svg);
  };
}

/**
 * Every `evalEvery`-th epoch (and the last): judges the generator with the digit classifier on
 * `evalPerDigit` samples of each digit (the same noise every time), adds the record to the run's
 * metrics and draws metrics.svg. `evaluator` is called only when first needed (it takes a while).
 */
export function evaluationReporter(evaluator: () => Evaluator): EpochReporter {
  return (t, dir) => {
    const { evalEvery: k, evalPerDigit, epochs, seed } = t.config;
    if (!(k > 0 && (t.epoch % k === 0 || t.epoch === epochs))) return;
    const labels = digitLabels(evalPerDigit);
    const s = evaluator().score(generateImages(t.sampler(), labels, new Prng(seed + EVAL_SEED_OFFSET)), labels);
    const rec: MetricsRecord = {
      epoch: t.epoch, step: t.wgan.criticSteps, conditional_accuracy: s.conditional_accuracy,
      fid: s.fid, classifier_score: s.classifier_score, diversity: s.diversity,
    };
    t.metrics.push(rec);
    const epochsX = t.metrics.map((r) => r.epoch);
    const svg = linePlotSvg(
      [
        { name: "conditional accuracy", values: t.metrics.map((r) => r.conditional_accuracy), xs: epochsX, color: "#1e64c8" },
        { name: "diversity (real = 1)", values: t.metrics.map((r) => r.diversity), xs: epochsX, color: "#28a03c" },
      ],
      { title: `Generator judged by the digit classifier (${evalPerDigit} per digit)`, xLabel: "epoch", yLabel: "fraction", integerX: true },
    );
    writeFileAtomic(join(dir, RUN_FILES.metricsPlot), svg);
  };
}
