/**
 * A training run's settings: `TrainConfig`, each recipe's defaults (`RECIPE_DEFAULTS`) and `train`'s
 * (`DEFAULT_CONFIG`: the guided recipe), and the one validation every
 * source of a config goes through (flags, or a run folder's config.json). Pure data: no files here.
 */
import { MODEL_KINDS } from "./models.js";
import type { ModelKind } from "./models.js";

/**
 * How the label takes hold. `plain`: the WGAN paper's recipe, as the PyTorch reference runs it
 * (the generator learns digit shapes but ignores the label). `guided`: the same, plus a guide, a
 * classifier trained inside the run on real digits, whose cross-entropy on generated digits joins
 * the generator's loss with weight `guideWeight` (src/gan/wgan.ts).
 */
export const RECIPES = ["guided", "plain"] as const;
export type Recipe = (typeof RECIPES)[number];

/**
 * Each recipe's learning rate, guide weight, critic steps per generator step, clip and average of
 * weights, used unless the run sets its own. plain: the WGAN paper's (clip 0.01, no average).
 * guided: measured on the PyTorch twin and on this engine (README, Training the GAN).
 */
export const RECIPE_DEFAULTS: Record<Recipe, { lr: number; guideWeight: number; nCritic: number; clip: number; ema: number }> = {
  plain: { lr: 5e-5, guideWeight: 0, nCritic: 5, clip: 0.01, ema: 0 },
  guided: { lr: 5e-4, guideWeight: 2, nCritic: 2, clip: 0.05, ema: 0.999 },
};

export interface TrainConfig {
  recipe: Recipe;
  model: ModelKind;
  epochs: number;
  batch: number;
  /** RMSprop's learning rate, for every network. */
  lr: number;
  /** λ: the weight of the guide's cross-entropy in the generator's loss (guided recipe; 0 for plain). */
  guideWeight: number;
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
  /** Folder of the MNIST IDX files the run trains and is judged on; null for the bundled copy. */
  data: string | null;
  /**
   * Decay of the moving average of the generator's weights (gan/average.ts) that the run's grids,
   * evaluations and generator-average.safetensors use; 0: none, they use the generator as trained.
   */
  ema: number;
}

/** `train`'s defaults: the guided recipe on the conv model, with the WGAN paper's batch. */
export const DEFAULT_CONFIG: Omit<TrainConfig, "seed"> = {
  recipe: "guided",
  model: "conv",
  epochs: 25,
  batch: 64,
  ...RECIPE_DEFAULTS.guided,
  latent: 100,
  limitBatches: null,
  paperSchedule: false,
  evalEvery: 1,
  evalPerDigit: 1000,
  data: null,
};

/** Settings a resumed run may change: none of them alter the training arithmetic or its data. */
export const RESUME_CHANGEABLE = ["epochs", "evalEvery", "evalPerDigit"] as const;
export type ResumeChangeable = (typeof RESUME_CHANGEABLE)[number];

/** A config value out of range: `field` names the setting, `problem` what is wrong with its value. */
export class ConfigError extends Error {
  constructor(where: string, readonly field: keyof TrainConfig, readonly problem: string) {
    super(`${where}: ${field} ${problem}`);
  }
}

/**
 * `c` checked (a config.json written before `data` existed reads as the bundled data); the error is
 * one line beginning with `where`, the config's source.
 */
export function validateConfig(input: unknown, where = "config"): TrainConfig {
  const bad = (field: keyof TrainConfig, problem: string): never => {
    throw new ConfigError(where, field, problem);
  };
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new Error(`${where}: not a JSON object`);
  const c = { ...(input as Partial<TrainConfig>) } as TrainConfig;
  c.data ??= null;
  c.ema ??= 0; // written before the average existed
  // a config.json written before recipes existed describes a plain run
  c.recipe ??= "plain";
  c.guideWeight ??= 0;
  if (!RECIPES.includes(c.recipe)) bad("recipe", `must be ${RECIPES.join(" or ")}, got '${c.recipe}'`);
  if (!MODEL_KINDS.includes(c.model)) bad("model", `must be ${MODEL_KINDS.join(" or ")}, got '${c.model}'`);
  for (const k of ["epochs", "batch", "nCritic", "latent"] as const)
    if (!Number.isInteger(c[k]) || c[k] < 1) bad(k, `must be a positive integer, got ${c[k]}`);
  if (c.batch < 2) bad("batch", `must be at least 2 (batch norm needs two values), got ${c.batch}`);
  if (!(typeof c.lr === "number" && c.lr > 0)) bad("lr", `must be positive, got ${c.lr}`);
  if (!(typeof c.clip === "number" && c.clip > 0)) bad("clip", `must be positive, got ${c.clip}`);
  if (!(typeof c.guideWeight === "number" && c.guideWeight >= 0)) bad("guideWeight", `must be 0 or more, got ${c.guideWeight}`);
  if (c.recipe === "plain" && c.guideWeight !== 0) bad("guideWeight", `must be 0 for the plain recipe (it has no guide), got ${c.guideWeight}`);
  if (!Number.isInteger(c.seed)) bad("seed", `must be an integer, got ${c.seed}`);
  if (typeof c.paperSchedule !== "boolean") bad("paperSchedule", `must be true or false, got ${c.paperSchedule}`);
  if (!Number.isInteger(c.evalEvery) || c.evalEvery < 0) bad("evalEvery", `must be a whole number, got ${c.evalEvery}`);
  if (!Number.isInteger(c.evalPerDigit) || c.evalPerDigit < 1) bad("evalPerDigit", `must be a positive integer, got ${c.evalPerDigit}`);
  if (c.limitBatches !== null && (!Number.isInteger(c.limitBatches) || c.limitBatches < 1))
    bad("limitBatches", `must be a positive integer, got ${c.limitBatches}`);
  if (!(typeof c.ema === "number" && c.ema >= 0 && c.ema < 1)) bad("ema", `must be 0 (none) or a decay below 1, got ${c.ema}`);
  if (c.data !== null && (typeof c.data !== "string" || c.data === "")) bad("data", `must be a folder name or null, got ${JSON.stringify(c.data)}`);
  return c;
}
