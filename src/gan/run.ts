/**
 * A training run and its folder. `runs/<name>/` holds config.json, the latest checkpoint (both
 * networks, both optimizers' state, and state.json with the counters and PRNG state, written last),
 * losses.jsonl with the loss-curve PNG, and a 10x10 grid per epoch (row d is digit d, the same noise
 * every epoch). Resuming restores all of it, so epoch k+1 after a resume is bit-identical to an
 * uninterrupted run's.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Prng, alloc } from "../tensor/index.js";
import type { PrngState } from "../tensor/index.js";
import { loadModule, loadOptimizer, saveModule, saveOptimizer } from "../nn/index.js";
import { Batcher } from "../mnist/batches.js";
import type { BatchSource } from "../mnist/batches.js";
import { writeImageGrid } from "../mnist/png.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import { medianFilter, writeLinePlot } from "../util/plot.js";
import { createCritic, createGenerator, MODEL_KINDS } from "./models.js";
import type { ModelKind } from "./models.js";
import { digitLabels, generateImages } from "./sampling.js";
import { Wgan } from "./wgan.js";
import type { Evaluator } from "../recognition/evaluate.js";
import type { StepLosses } from "./wgan.js";

export interface TrainConfig {
  model: ModelKind;
  epochs: number;
  batch: number;
  lr: number;
  clip: number;
  nCritic: number;
  latent: number;
  seed: number;
  /** Train on only the first N batches of each epoch (quick runs); null for all. */
  limitBatches: number | null;
  paperSchedule: boolean;
  /** Evaluate the generator with the digit classifier every N epochs (0: never). */
  evalEvery: number;
  /** Samples of each digit drawn for an evaluation. */
  evalPerDigit: number;
}

/** The plain recipe of the WGAN paper's code and our PyTorch reference. */
export const DEFAULT_CONFIG: Omit<TrainConfig, "seed"> = {
  model: "mlp",
  epochs: 25,
  batch: 64,
  lr: 5e-5,
  clip: 0.01,
  nCritic: 5,
  latent: 100,
  limitBatches: null,
  paperSchedule: false,
  evalEvery: 1,
  evalPerDigit: 1000,
};

/** Settings a resumed run may change: none of them alter the training arithmetic. */
export type ResumeChangeable = "epochs" | "evalEvery" | "evalPerDigit";

export const RUN_FILES = {
  config: "config.json",
  state: "state.json",
  generator: "generator.safetensors",
  critic: "critic.safetensors",
  optimG: "optim-generator.safetensors",
  optimD: "optim-critic.safetensors",
  losses: "losses.jsonl",
  lossPlot: "losses.png",
  metrics: "metrics.jsonl",
  metricsPlot: "metrics.png",
  samples: "samples",
} as const;

/** Counters and PRNG state at the end of an epoch: with the checkpoint files, all a resume needs. */
interface RunState {
  epoch: number;
  criticSteps: number;
  generatorSteps: number;
  criticSinceG: number;
  prng: PrngState;
}

/** One line of losses.jsonl: a critic step, and the generator step after it if one ran. */
export interface LossRecord {
  step: number;
  epoch: number;
  critic_loss: number;
  wasserstein: number;
  generator_loss: number | null;
}

/** One line of metrics.jsonl: the generator judged by the digit classifier after an epoch. */
export interface MetricsRecord {
  epoch: number;
  step: number;
  conditional_accuracy: number;
  fid: number;
  classifier_score: number;
  diversity: number;
}

export interface EpochSummary {
  epoch: number;
  batches: number;
  seconds: number;
  criticLoss: number;
  wasserstein: number;
  generatorLoss: number;
}

/** Seeds of the fixed noise for grids and evaluations: apart from the training stream, so neither perturbs training. */
const GRID_SEED_OFFSET = 0x5eed;
const EVAL_SEED_OFFSET = 0xe7a1;

export class TrainingRun {
  readonly wgan: Wgan;
  readonly batcher: Batcher;
  epoch = 0;
  readonly losses: LossRecord[] = [];
  readonly metrics: MetricsRecord[] = [];
  private readonly gridNoise: Float32Array;

  private constructor(readonly dir: string, readonly config: TrainConfig, data: BatchSource) {
    const prng = new Prng(config.seed);
    const G = createGenerator(config.model, config.latent, prng);
    const D = createCritic(config.model, prng);
    this.wgan = new Wgan(G, D, prng, config);
    this.batcher = new Batcher(data, prng, { batchSize: config.batch });
    this.gridNoise = new Prng(config.seed + GRID_SEED_OFFSET).fillNormal(alloc(100 * config.latent));
  }

  /** Starts a new run in `dir` (created; an existing run there is an error, to be resumed instead). */
  static create(dir: string, config: TrainConfig, data: BatchSource): TrainingRun {
    if (existsSync(join(dir, RUN_FILES.state)))
      throw new Error(`${dir} already holds a run: resume it with --resume ${dir}, or choose another --out`);
    validateConfig(config);
    ensureDir(join(dir, RUN_FILES.samples));
    writeFileAtomic(join(dir, RUN_FILES.config), JSON.stringify(config, null, 2) + "\n");
    return new TrainingRun(dir, config, data);
  }

  /** Reads a run folder's config.json. */
  static readConfig(dir: string): TrainConfig {
    const path = join(dir, RUN_FILES.config);
    if (!existsSync(path)) throw new Error(`${dir}: not a run folder (no ${RUN_FILES.config})`);
    const config = parseJson<TrainConfig>(readFileSync(path, "utf8"), path);
    validateConfig(config, path);
    return config;
  }

  /** Reopens a run at its last completed epoch; the target epochs and the evaluation settings may change. */
  static resume(dir: string, data: BatchSource, changes: Partial<Pick<TrainConfig, ResumeChangeable>> = {}): TrainingRun {
    const config = { ...TrainingRun.readConfig(dir), ...changes };
    const statePath = join(dir, RUN_FILES.state);
    if (!existsSync(statePath)) throw new Error(`${dir}: no completed epoch to resume from (no ${RUN_FILES.state})`);
    const state = parseJson<RunState>(readFileSync(statePath, "utf8"), statePath);
    const run = new TrainingRun(dir, config, data);
    const { G, D, optG, optD, prng } = run.wgan;
    const files: [string, Record<string, string>][] = [
      [RUN_FILES.generator, loadModule(join(dir, RUN_FILES.generator), G)],
      [RUN_FILES.critic, loadModule(join(dir, RUN_FILES.critic), D)],
      [RUN_FILES.optimG, loadOptimizer(join(dir, RUN_FILES.optimG), optG)],
      [RUN_FILES.optimD, loadOptimizer(join(dir, RUN_FILES.optimD), optD)],
    ];
    for (const [name, meta] of files)
      if (meta.epoch !== String(state.epoch))
        throw new Error(`${join(dir, name)}: from epoch ${meta.epoch}, but ${RUN_FILES.state} is at epoch ${state.epoch} (interrupted save?)`);
    prng.setState(state.prng);
    run.epoch = state.epoch;
    run.wgan.criticSteps = state.criticSteps;
    run.wgan.generatorSteps = state.generatorSteps;
    run.wgan.criticSinceG = state.criticSinceG;
    // records past the checkpoint (an epoch that was cut short) are dropped
    // (a loop, not push(...records): a long run has more records than a call takes arguments)
    for (const r of readJsonLines<LossRecord>(join(dir, RUN_FILES.losses))) if (r.step <= state.criticSteps) run.losses.push(r);
    for (const r of readJsonLines<MetricsRecord>(join(dir, RUN_FILES.metrics))) if (r.epoch <= state.epoch) run.metrics.push(r);
    return run;
  }

  /** Batches the coming epoch trains on. */
  batchesThisEpoch(): number {
    return Math.min(this.batcher.batchesPerEpoch, this.config.limitBatches ?? Infinity);
  }

  /** Trains one epoch; `onBatch` sees each step's losses (for a progress bar). */
  trainEpoch(onBatch?: (done: number, losses: StepLosses) => void): EpochSummary {
    const t0 = performance.now();
    const total = this.batchesThisEpoch();
    this.epoch++;
    let done = 0;
    let last: StepLosses = { criticLoss: NaN, wasserstein: NaN, generatorLoss: null };
    let lastG = NaN;
    for (const batch of this.batcher.epoch()) {
      if (done >= total) break;
      last = this.wgan.step(batch.images, batch.oneHot, batch.index);
      if (last.generatorLoss !== null) lastG = last.generatorLoss;
      this.losses.push({
        step: this.wgan.criticSteps, epoch: this.epoch, critic_loss: last.criticLoss,
        wasserstein: last.wasserstein, generator_loss: last.generatorLoss,
      });
      done++;
      onBatch?.(done, last);
    }
    return {
      epoch: this.epoch, batches: done, seconds: (performance.now() - t0) / 1000,
      criticLoss: last.criticLoss, wasserstein: last.wasserstein, generatorLoss: lastG,
    };
  }

  /** The 10x10 grid of this epoch (fixed noise; row d is digit d), at samples/epoch-NNN.png. */
  writeGrid(): string {
    const path = join(this.dir, RUN_FILES.samples, `epoch-${String(this.epoch).padStart(3, "0")}.png`);
    const images = generateImages(this.wgan.G, digitLabels(10), this.wgan.prng, this.gridNoise);
    writeImageGrid(path, images, { rows: 10, cols: 10, scale: 2 });
    return path;
  }

  /** losses.jsonl (rewritten whole, atomically) and the loss curve: -L_D median-filtered, as the WGAN paper plots it. */
  writeLosses(): void {
    writeFileAtomic(join(this.dir, RUN_FILES.losses), this.losses.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const steps = this.losses.map((r) => r.step);
    // window 101 steps, as in the paper's plots, narrower for short runs so the curve keeps its shape
    const window = Math.min(101, 2 * Math.floor(steps.length / 40) + 1);
    const smooth = medianFilter(this.losses.map((r) => r.wasserstein), window);
    const every = Math.max(1, Math.ceil(steps.length / 2000)); // at most ~2000 points drawn
    const keep = (_: number, i: number): boolean => i % every === 0 || i === steps.length - 1;
    writeLinePlot(join(this.dir, RUN_FILES.lossPlot), [{ values: smooth.filter(keep), xs: steps.filter(keep), color: [200, 40, 40] }]);
  }

  /** Whether this epoch is one to evaluate (every evalEvery-th, and the last). */
  evaluationDue(): boolean {
    const k = this.config.evalEvery;
    return k > 0 && (this.epoch % k === 0 || this.epoch === this.config.epochs);
  }

  /**
   * Judges the generator with the digit classifier on evalPerDigit samples of each digit (the same
   * noise every time), and appends the result to metrics.jsonl and its plot.
   */
  evaluate(evaluator: Evaluator): MetricsRecord {
    const labels = digitLabels(this.config.evalPerDigit);
    const noise = new Prng(this.config.seed + EVAL_SEED_OFFSET);
    const s = evaluator.score(generateImages(this.wgan.G, labels, noise), labels);
    const rec: MetricsRecord = {
      epoch: this.epoch, step: this.wgan.criticSteps, conditional_accuracy: s.conditional_accuracy,
      fid: s.fid, classifier_score: s.classifier_score, diversity: s.diversity,
    };
    this.metrics.push(rec);
    writeFileAtomic(join(this.dir, RUN_FILES.metrics), this.metrics.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const epochs = this.metrics.map((r) => r.epoch);
    writeLinePlot(join(this.dir, RUN_FILES.metricsPlot), [
      { values: this.metrics.map((r) => r.conditional_accuracy), xs: epochs, color: [30, 100, 200] },
      { values: this.metrics.map((r) => r.diversity), xs: epochs, color: [40, 160, 60] },
    ]);
    return rec;
  }

  /** Saves both networks and optimizers, then state.json last: a resume trusts only a complete set. */
  saveCheckpoint(): void {
    const { G, D, optG, optD, prng } = this.wgan;
    const meta = (role: string): Record<string, string> => ({
      architecture: this.config.model, role, latent: String(this.config.latent), epoch: String(this.epoch),
      step: String(this.wgan.criticSteps), generator_steps: String(this.wgan.generatorSteps), seed: String(this.config.seed),
    });
    saveModule(join(this.dir, RUN_FILES.generator), G, meta("generator"));
    saveModule(join(this.dir, RUN_FILES.critic), D, meta("critic"));
    saveOptimizer(join(this.dir, RUN_FILES.optimG), optG, meta("generator-optimizer"));
    saveOptimizer(join(this.dir, RUN_FILES.optimD), optD, meta("critic-optimizer"));
    const state: RunState = {
      epoch: this.epoch, criticSteps: this.wgan.criticSteps, generatorSteps: this.wgan.generatorSteps,
      criticSinceG: this.wgan.criticSinceG, prng: prng.getState(),
    };
    writeFileAtomic(join(this.dir, RUN_FILES.state), JSON.stringify(state) + "\n");
  }
}

/** `text` parsed as JSON, or a one-line error naming `where`. */
function parseJson<R>(text: string, where: string): R {
  try {
    return JSON.parse(text) as R;
  } catch {
    throw new Error(`${where}: not valid JSON`);
  }
}

/** The records of a JSON-lines file, or none if it does not exist. */
function readJsonLines<R>(path: string): R[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").flatMap((l, i) => (l.trim() ? [parseJson<R>(l, `${path} line ${i + 1}`)] : []));
}

/** Checks a configuration's values (from flags or a config.json); `where` names the source in errors. */
export function validateConfig(c: TrainConfig, where = "config"): void {
  const bad = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  if (!MODEL_KINDS.includes(c.model)) bad(`model must be one of ${MODEL_KINDS.join(", ")}, got '${c.model}'`);
  for (const k of ["epochs", "batch", "nCritic", "latent"] as const)
    if (!Number.isInteger(c[k]) || c[k] < 1) bad(`${k} must be a positive integer, got ${c[k]}`);
  if (c.batch < 2) bad(`batch must be at least 2 (batch norm needs two values), got ${c.batch}`);
  if (!(c.lr > 0)) bad(`lr must be positive, got ${c.lr}`);
  if (!(c.clip > 0)) bad(`clip must be positive, got ${c.clip}`);
  if (!Number.isInteger(c.seed)) bad(`seed must be an integer, got ${c.seed}`);
  if (!Number.isInteger(c.evalEvery) || c.evalEvery < 0) bad(`evalEvery must be a whole number, got ${c.evalEvery}`);
  if (!Number.isInteger(c.evalPerDigit) || c.evalPerDigit < 1) bad(`evalPerDigit must be a positive integer, got ${c.evalPerDigit}`);
  if (c.limitBatches !== null && (!Number.isInteger(c.limitBatches) || c.limitBatches < 1))
    bad(`limitBatches must be a positive integer, got ${c.limitBatches}`);
}
