/**
 * Checkpoint files: safetensors written atomically and read with every failure as one line naming
 * the file. The format itself (encoding, parsing, matching a model) is `src/nn/safetensors.ts` and
 * `src/nn/checkpoint.ts`; this is the Node side only.
 */
import { basename } from "node:path";
import { encodeSafetensors, parseSafetensors } from "../nn/safetensors.js";
import type { Safetensors, TensorEntry } from "../nn/safetensors.js";
import { loadModuleFrom, loadOptimizerFrom } from "../nn/checkpoint.js";
import type { Module, Optimizer } from "../nn/index.js";
import { readBytes, writeFileAtomic } from "./files.js";

/**
 * Writes `entries` (in order) and `metadata` to `path` as safetensors, atomically.
 * @param entries [name, {data (row-major, shape's size), shape, dtype}]
 */
export function writeSafetensors(path: string, entries: readonly TensorEntry[], metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(entries, metadata));
}

/** Reads and validates a safetensors file; every failure is one line naming the file. */
export function readSafetensors(path: string): Safetensors {
  return parseSafetensors(readBytes(path), basename(path));
}

/** Writes `module.stateEntries()` and `metadata` to `path` (atomically). */
export function saveModule(path: string, module: Module, metadata: Record<string, string> = {}): void {
  writeSafetensors(path, module.stateEntries(), metadata);
}

/** Loads a checkpoint written by `saveModule` for this architecture into `module`; returns its metadata. */
export function loadModule(path: string, module: Module): Record<string, string> {
  return loadModuleFrom(readSafetensors(path), basename(path), module);
}

/** Writes `opt.stateEntries()` and `metadata` to `path` (atomically). */
export function saveOptimizer(path: string, opt: Optimizer, metadata: Record<string, string> = {}): void {
  writeSafetensors(path, opt.stateEntries(), metadata);
}

/** Loads a checkpoint written by `saveOptimizer` (same optimizer kind, same model) into `opt`. */
export function loadOptimizer(path: string, opt: Optimizer): Record<string, string> {
  return loadOptimizerFrom(readSafetensors(path), basename(path), opt);
}
