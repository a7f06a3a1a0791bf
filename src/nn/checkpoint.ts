/**
 * Checkpoints of a module's state (parameters and buffers, PyTorch `state_dict()` names) and of an
 * optimizer's state, as parsed safetensors with string metadata (architecture, epoch, step, seed).
 * Loading checks names, shapes and dtypes against the receiver before copying anything in. Bytes
 * only: the files are read and written by `src/io/checkpoint.ts`.
 */
import { shapeStr } from "../tensor/index.js";
import type { Module } from "./module.js";
import type { Optimizer } from "./optim.js";
import type { Safetensors, TensorEntry } from "./safetensors.js";

/** Copies a parsed checkpoint into `module` (same architecture); returns its metadata. `name` names the file in errors. */
export function loadModuleFrom(file: Safetensors, name: string, module: Module): Record<string, string> {
  const mine = module.stateEntries();
  checkMatches(name, "model", mine, file);
  for (const [n, t] of mine) t.data.set(file.tensors.get(n)!.data);
  return file.metadata;
}

/** Copies a parsed optimizer checkpoint (same optimizer kind, same model) into `opt`; returns its metadata. */
export function loadOptimizerFrom(file: Safetensors, name: string, opt: Optimizer): Record<string, string> {
  checkMatches(name, "optimizer", opt.stateEntries(), file);
  opt.loadStateEntries(file.tensors);
  return file.metadata;
}

/** Throws one line `<file>: <problem>` unless `file` holds exactly `expected`'s names, shapes and dtypes. */
function checkMatches(name: string, what: string, expected: readonly TensorEntry[], file: Safetensors): void {
  const want = new Set(expected.map(([n]) => n));
  const missing = expected.map(([n]) => n).filter((n) => !file.tensors.has(n));
  const unexpected = [...file.tensors.keys()].filter((n) => !want.has(n));
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [];
    if (missing.length > 0) parts.push(`missing ${list(missing)}`);
    if (unexpected.length > 0) parts.push(`unexpected ${list(unexpected)}`);
    throw new Error(`${name}: not a checkpoint of this ${what}: ${parts.join(", ")}`);
  }
  for (const [n, t] of expected) {
    const f = file.tensors.get(n)!;
    if (shapeStr(f.shape) !== shapeStr(t.shape))
      throw new Error(`${name}: ${n} has shape ${shapeStr(f.shape)}, this ${what} expects ${shapeStr(t.shape)}`);
    if (f.dtype !== t.dtype) throw new Error(`${name}: ${n} is ${f.dtype}, this ${what} expects ${t.dtype}`);
  }
}

/** At most 8 names, then a count of the rest. */
function list(names: string[]): string {
  return names.length <= 8 ? names.join(", ") : `${names.slice(0, 8).join(", ")} and ${names.length - 8} more`;
}
