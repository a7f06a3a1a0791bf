/**
 * Finding and loading a trained generator: `--checkpoint` names a generator `.safetensors` file or
 * a run folder (its latest generator: the average of weights if the run keeps one).
 */
import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatorFromCheckpoint } from "../gan/load.js";
import type { Generator } from "../gan/models.js";
import { readSafetensors } from "./checkpoint.js";
import { RUN_FILES } from "./run-folder.js";

/** models/generator.safetensors in this repository: the trained generator `generate`, `sample` and `evaluate` use by default. */
export const DEFAULT_GENERATOR_PATH = fileURLToPath(new URL("../../models/generator.safetensors", import.meta.url));

/**
 * The generator file that `--checkpoint X` means: X itself, or for a run folder the generator its
 * grids and evaluations come from: X/generator-average.safetensors when the run keeps an average
 * of weights (--ema), else X/generator.safetensors.
 */
export function resolveGeneratorPath(checkpoint: string): string {
  if (!existsSync(checkpoint)) throw new Error(`${checkpoint}: no such file or folder`);
  if (statSync(checkpoint).isDirectory()) {
    const average = join(checkpoint, RUN_FILES.generatorAverage);
    if (existsSync(average)) return average;
    const p = join(checkpoint, RUN_FILES.generator);
    if (!existsSync(p)) throw new Error(`${checkpoint}: run folder has no ${RUN_FILES.generator} yet (no epoch finished)`);
    return p;
  }
  return checkpoint;
}

export interface LoadedGenerator {
  G: Generator;
  path: string;
  metadata: Record<string, string>;
}

/** Loads the generator named by `--checkpoint` (a file or a run folder), in eval mode. */
export function loadGenerator(checkpoint: string): LoadedGenerator {
  const path = resolveGeneratorPath(checkpoint);
  const file = readSafetensors(path);
  return { G: generatorFromCheckpoint(file, basename(path)), path, metadata: file.metadata };
}
