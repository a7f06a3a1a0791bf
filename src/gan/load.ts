/**
 * Finding and loading a trained generator: `--checkpoint` names a generator `.safetensors` file or
 * a run folder (its latest generator). The architecture and noise size come from the file's
 * metadata; a critic's or optimizer's file, or one of the other architecture, is a one-line error.
 */
import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { Prng } from "../tensor/index.js";
import { loadModuleFrom, readSafetensors } from "../nn/index.js";
import { createGenerator, MODEL_KINDS } from "./models.js";
import type { Generator, ModelKind } from "./models.js";
import { RUN_FILES } from "./run.js";

/** The generator file that `--checkpoint X` means: X itself, or X/generator.safetensors for a run folder. */
export function resolveGeneratorPath(checkpoint: string): string {
  if (!existsSync(checkpoint)) throw new Error(`${checkpoint}: no such file or folder`);
  if (statSync(checkpoint).isDirectory()) {
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

/** Loads the generator named by `--checkpoint` (a file or a run folder). */
export function loadGenerator(checkpoint: string): LoadedGenerator {
  const path = resolveGeneratorPath(checkpoint);
  const file = readSafetensors(path);
  const { metadata } = file;
  if (metadata.role !== undefined && metadata.role !== "generator")
    throw new Error(`${path}: a ${metadata.role} checkpoint, not a generator`);
  const kind = metadata.architecture as ModelKind;
  if (!MODEL_KINDS.includes(kind)) throw new Error(`${path}: metadata names no known architecture (got '${metadata.architecture ?? ""}')`);
  const latent = Number(metadata.latent ?? 100);
  if (!Number.isInteger(latent) || latent < 1) throw new Error(`${path}: bad latent size '${metadata.latent}' in metadata`);
  const G = createGenerator(kind, latent, new Prng(0));
  loadModuleFrom(file, basename(path), G);
  G.eval();
  return { G, path, metadata };
}
