/**
 * Training the conditional WGAN, one epoch at a time: this is the loop. Each epoch shuffles the
 * real digits into batches, and each batch is one `Wgan.step` (a critic step, and a generator step
 * when the schedule says so); a callback sees every step's losses. Everything a run must carry from
 * epoch to epoch (networks, optimizers, counters, the PRNG, the loss and metric records) lives in
 * `Training`; saving it to a folder and reporting on it are the caller's (`src/io/run-folder.ts`).
 */
import { Prng } from "../tensor/index.js";
import type { PrngState } from "../tensor/index.js";
import { Batcher } from "../mnist/batches.js";
import type { BatchSource } from "../mnist/batches.js";
import type { TrainConfig } from "./config.js";
import { createGuide } from "./guide.js";
import { createCritic, createGenerator } from "./models.js";
import type { Generator } from "./models.js";
import { WeightAverage } from "./average.js";
import { Wgan } from "./wgan.js";
import type { StepLosses } from "./wgan.js";

/** Settings that do not change the training arithmetic. */
export interface TrainingOptions {
  /** Batches of 256 random (z, y) that re-estimate the average's batch norm (default 40; fewer for quick tests). */
  recalibrationBatches?: number;
}

/** Seed offset of the average's batch-norm re-estimation: apart from the training stream. */
const RECALIBRATION_SEED_OFFSET = 0xba7c;

/** One line of losses.jsonl: a critic step, and the generator step after it if one ran. */
export interface LossRecord {
  step: number;
  epoch: number;
  critic_loss: number;
  wasserstein: number;
  generator_loss: number | null;
  /** the guide's cross-entropy on the real batch (guided recipe) */
  guide_loss?: number | null;
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

/** Counters and PRNG state at the end of an epoch: with the weights and optimizer state, all a resume needs. */
export interface TrainingState {
  epoch: number;
  criticSteps: number;
  generatorSteps: number;
  criticSinceG: number;
  prng: PrngState;
}

export interface EpochSummary {
  epoch: number;
  batches: number;
  seconds: number;
  criticLoss: number;
  wasserstein: number;
  /** The last generator step's loss this epoch (NaN if none ran). */
  generatorLoss: number;
}

export class Training {
  readonly wgan: Wgan;
  readonly batcher: Batcher;
  /** Epochs completed. */
  epoch = 0;
  readonly losses: LossRecord[] = [];
  readonly metrics: MetricsRecord[] = [];
  /** The moving average of the generator's weights (`config.ema` > 0), or null. */
  readonly average: WeightAverage | null;
  /** The epoch the average's batch norm was last re-estimated at (see `sampler`). */
  private recalibratedAt = -1;

  /**
   * A fresh run: G, D (and the guided recipe's guide C), their optimizers and the batch order, all
   * drawn from one PRNG seeded by `config.seed`.
   */
  constructor(readonly config: TrainConfig, data: BatchSource, private readonly opts: TrainingOptions = {}) {
    const prng = new Prng(config.seed);
    const G = createGenerator(config.model, config.latent, prng);
    const D = createCritic(config.model, prng);
    const C = config.recipe === "guided" ? createGuide(config.model, prng) : null;
    this.wgan = new Wgan(G, D, prng, config, C);
    this.batcher = new Batcher(data, prng, { batchSize: config.batch });
    // the average's twin draws its (overwritten) initial weights from a PRNG of its own: the run's is untouched
    this.average = config.ema > 0 ? new WeightAverage(createGenerator(config.model, config.latent, new Prng(0)), G, config.ema) : null;
  }

  /**
   * The generator that draws the run's grids and evaluations: the average, its batch-norm
   * statistics re-estimated for this epoch (a PRNG of its own, seeded by the run's seed and the
   * epoch, so it never perturbs training), or the generator as trained. The statistics are
   * re-estimated once per epoch, which suits the ends of epochs; `fresh` re-estimates them now, for
   * an average taken in the middle of one (whose weights have moved since).
   */
  sampler(fresh = false): Generator {
    if (!this.average) return this.wgan.G;
    if (fresh || this.recalibratedAt !== this.epoch) {
      this.average.recalibrate(this.config.seed + RECALIBRATION_SEED_OFFSET + this.epoch, this.opts.recalibrationBatches);
      this.recalibratedAt = this.epoch;
    }
    return this.average.average;
  }

  /** Batches the coming epoch trains on. */
  batchesThisEpoch(): number {
    return Math.min(this.batcher.batchesPerEpoch, this.config.limitBatches ?? Infinity);
  }

  /** Trains one epoch; `onStep` sees each step's losses (for a progress bar). */
  trainEpoch(onStep?: (done: number, losses: StepLosses) => void): EpochSummary {
    const t0 = performance.now();
    const total = this.batchesThisEpoch();
    this.epoch++;
    let done = 0;
    let last: StepLosses = { criticLoss: NaN, wasserstein: NaN, generatorLoss: null, guideLoss: null };
    let lastG = NaN;
    for (const batch of this.batcher.epoch()) {
      if (done >= total) break;
      last = this.wgan.step(batch.images, batch.oneHot, batch.index);
      if (last.generatorLoss !== null) {
        lastG = last.generatorLoss;
        this.average?.update(this.wgan.G, this.wgan.generatorSteps - 1);
      }
      this.losses.push({
        step: this.wgan.criticSteps, epoch: this.epoch, critic_loss: last.criticLoss,
        wasserstein: last.wasserstein, generator_loss: last.generatorLoss,
        ...(last.guideLoss !== null ? { guide_loss: last.guideLoss } : {}),
      });
      done++;
      onStep?.(done, last);
    }
    const seconds = (performance.now() - t0) / 1000;
    return { epoch: this.epoch, batches: done, seconds, criticLoss: last.criticLoss, wasserstein: last.wasserstein, generatorLoss: lastG };
  }

  /** The counters and PRNG state to save after an epoch. */
  state(): TrainingState {
    const w = this.wgan;
    return { epoch: this.epoch, criticSteps: w.criticSteps, generatorSteps: w.generatorSteps, criticSinceG: w.criticSinceG, prng: w.prng.getState() };
  }

  /**
   * Puts back a saved state (the weights and optimizer state are loaded separately), keeping only
   * the records up to it: those of an epoch that was cut short are dropped.
   */
  restore(s: TrainingState, losses: readonly LossRecord[], metrics: readonly MetricsRecord[]): void {
    this.wgan.prng.setState(s.prng);
    this.epoch = s.epoch;
    this.wgan.criticSteps = s.criticSteps;
    this.wgan.generatorSteps = s.generatorSteps;
    this.wgan.criticSinceG = s.criticSinceG;
    // a loop, not push(...records): a long run has more records than a call takes arguments
    for (const r of losses) if (r.step <= s.criticSteps) this.losses.push(r);
    for (const r of metrics) if (r.epoch <= s.epoch) this.metrics.push(r);
  }
}
