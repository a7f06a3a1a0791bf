/**
 * A training run's folder. `runs/<name>/` holds config.json, the latest checkpoint (the networks,
 * their optimizers' state, and state.json with the counters and PRNG state), losses.jsonl,
 * metrics.jsonl, and whatever the epoch's reporters draw (sample grids, plots). After each epoch
 * `endEpoch` writes them in one fixed order, state.json last: a resume trusts only a complete set,
 * so epoch k+1 after a resume is bit-identical to an uninterrupted run's.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { validateConfig } from "../gan/config.js";
import type { ResumeChangeable, TrainConfig } from "../gan/config.js";
import { Training } from "../gan/training.js";
import type { LossRecord, MetricsRecord, TrainingOptions, TrainingState } from "../gan/training.js";
import type { BatchSource } from "../mnist/batches.js";
import { loadModule, loadOptimizer, saveModule, saveOptimizer } from "./checkpoint.js";
import { ensureDir, writeFileAtomic } from "./files.js";

export const RUN_FILES = {
  config: "config.json",
  state: "state.json",
  generator: "generator.safetensors",
  /** The moving average of the generator's weights (--ema), its batch norm re-estimated. */
  generatorAverage: "generator-average.safetensors",
  critic: "critic.safetensors",
  optimG: "optim-generator.safetensors",
  optimD: "optim-critic.safetensors",
  guide: "guide.safetensors",
  optimC: "optim-guide.safetensors",
  losses: "losses.jsonl",
  lossPlot: "losses.svg",
  metrics: "metrics.jsonl",
  metricsPlot: "metrics.svg",
  samples: "samples",
} as const;

/** Something drawn or measured after an epoch, into the run folder (a grid, a plot, an evaluation). */
export type EpochReporter = (training: Training, dir: string) => void;

export class RunFolder {
  private constructor(readonly dir: string, readonly config: TrainConfig, private readonly resuming: boolean) {}

  /** A new run in `dir` (created; an existing run there is an error, to be resumed instead). */
  static create(dir: string, config: TrainConfig): RunFolder {
    if (existsSync(join(dir, RUN_FILES.state)))
      throw new Error(`${dir} already holds a run: resume it with --resume ${dir}, or choose another --out`);
    const checked = validateConfig(config);
    ensureDir(join(dir, RUN_FILES.samples));
    writeFileAtomic(join(dir, RUN_FILES.config), JSON.stringify(checked, null, 2) + "\n");
    return new RunFolder(dir, checked, false);
  }

  /** An existing run's folder; the target epochs and the evaluation settings may change. */
  static open(dir: string, changes: Partial<Pick<TrainConfig, ResumeChangeable>> = {}): RunFolder {
    return new RunFolder(dir, { ...readConfig(dir), ...changes }, true);
  }

  /** A fresh `Training` for a new run, or one restored to the last completed epoch for a resumed one. */
  training(data: BatchSource, opts: TrainingOptions = {}): Training {
    const t = new Training(this.config, data, opts);
    if (!this.resuming) return t;
    const statePath = join(this.dir, RUN_FILES.state);
    if (!existsSync(statePath)) throw new Error(`${this.dir}: no completed epoch to resume from (no ${RUN_FILES.state})`);
    const state = parseJson<TrainingState>(readFileSync(statePath, "utf8"), statePath);
    const { G, D, C, optG, optD, optC } = t.wgan;
    const at = (f: string): string => join(this.dir, f);
    const metas: [string, Record<string, string>][] = [
      [RUN_FILES.generator, loadModule(at(RUN_FILES.generator), G)],
      [RUN_FILES.critic, loadModule(at(RUN_FILES.critic), D)],
      [RUN_FILES.optimG, loadOptimizer(at(RUN_FILES.optimG), optG)],
      [RUN_FILES.optimD, loadOptimizer(at(RUN_FILES.optimD), optD)],
    ];
    if (C && optC)
      metas.push([RUN_FILES.guide, loadModule(at(RUN_FILES.guide), C)], [RUN_FILES.optimC, loadOptimizer(at(RUN_FILES.optimC), optC)]);
    if (t.average) metas.push([RUN_FILES.generatorAverage, loadModule(at(RUN_FILES.generatorAverage), t.average.average)]);
    for (const [name, meta] of metas)
      if (meta.epoch !== String(state.epoch))
        throw new Error(`${at(name)}: from epoch ${meta.epoch}, but ${RUN_FILES.state} is at epoch ${state.epoch} (interrupted save?)`);
    t.restore(state, readJsonLines<LossRecord>(at(RUN_FILES.losses)), readJsonLines<MetricsRecord>(at(RUN_FILES.metrics)));
    return t;
  }

  /**
   * After an epoch, in this order: the reporters (grids, plots, evaluation, which may add a metrics
   * record), losses.jsonl and metrics.jsonl, the checkpoint files, and state.json last.
   */
  endEpoch(t: Training, reporters: readonly EpochReporter[] = []): void {
    for (const report of reporters) report(t, this.dir);
    const at = (f: string): string => join(this.dir, f);
    writeJsonLines(at(RUN_FILES.losses), t.losses);
    if (t.metrics.length > 0) writeJsonLines(at(RUN_FILES.metrics), t.metrics);
    const { G, D, C, optG, optD, optC } = t.wgan;
    const meta = (role: string): Record<string, string> => ({
      architecture: t.config.model, role, latent: String(t.config.latent), epoch: String(t.epoch),
      step: String(t.wgan.criticSteps), generator_steps: String(t.wgan.generatorSteps), seed: String(t.config.seed),
    });
    saveModule(at(RUN_FILES.generator), G, meta("generator"));
    // role "generator": generate, sample and evaluate take it like any generator
    if (t.average) saveModule(at(RUN_FILES.generatorAverage), t.sampler(), { ...meta("generator"), weights: `moving average, decay ${t.config.ema}` });
    saveModule(at(RUN_FILES.critic), D, meta("critic"));
    saveOptimizer(at(RUN_FILES.optimG), optG, meta("generator-optimizer"));
    saveOptimizer(at(RUN_FILES.optimD), optD, meta("critic-optimizer"));
    if (C && optC) {
      saveModule(at(RUN_FILES.guide), C, meta("guide"));
      saveOptimizer(at(RUN_FILES.optimC), optC, meta("guide-optimizer"));
    }
    writeFileAtomic(at(RUN_FILES.state), JSON.stringify(t.state()) + "\n");
  }
}

/** A run folder's config.json, validated. */
export function readConfig(dir: string): TrainConfig {
  const path = join(dir, RUN_FILES.config);
  if (!existsSync(path)) throw new Error(`${dir}: not a run folder (no ${RUN_FILES.config})`);
  return validateConfig(parseJson<unknown>(readFileSync(path, "utf8"), path), path);
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

/** Rewrites a JSON-lines file whole, atomically. */
function writeJsonLines(path: string, records: readonly object[]): void {
  writeFileAtomic(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
}
