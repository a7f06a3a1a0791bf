/**
 * A generator from a parsed checkpoint: the architecture and noise size come from the file's
 * metadata; a critic's or optimizer's file, or one of an unknown architecture, is a one-line error
 * naming it. Bytes only: finding and reading the file is `src/io/generator.ts` (or a page's fetch).
 */
import { Prng } from "../tensor/index.js";
import { loadModuleFrom } from "../nn/index.js";
import type { Safetensors } from "../nn/index.js";
import { createGenerator, MODEL_KINDS } from "./models.js";
import type { Generator, ModelKind } from "./models.js";

/** The generator a checkpoint holds, in eval mode. `name` names the file in errors. */
export function generatorFromCheckpoint(file: Safetensors, name: string): Generator {
  const { metadata } = file;
  if (metadata.role !== undefined && metadata.role !== "generator") throw new Error(`${name}: a ${metadata.role} checkpoint, not a generator`);
  const kind = metadata.architecture as ModelKind;
  if (!MODEL_KINDS.includes(kind)) throw new Error(`${name}: metadata names no known architecture (got '${metadata.architecture ?? ""}')`);
  const latent = Number(metadata.latent ?? 100);
  if (!Number.isInteger(latent) || latent < 1) throw new Error(`${name}: bad latent size '${metadata.latent}' in metadata`);
  const G = createGenerator(kind, latent, new Prng(0));
  loadModuleFrom(file, name, G);
  G.eval();
  return G;
}
