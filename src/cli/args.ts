/**
 * A small command-line flag parser: `--name value`, `--name=value` and boolean `--name`. Each
 * command declares its flags with a type, a default and a line of help; anything undeclared, a
 * missing value or a value of the wrong type is a `UsageError` naming the flag. The values come
 * back typed from the declarations (declare them with `defineFlags`): a string flag is a `string`,
 * a number flag a `number`, either `| undefined` when it has no default; a bool flag is a `boolean`.
 */
import { UsageError } from "./errors.js";

export type FlagType = "string" | "int" | "float" | "bool";

export interface FlagSpec {
  type: FlagType;
  help: string;
  /** Default value; flags without one are `undefined` when absent. */
  default?: string | number | boolean;
  /** Inclusive lower bound for int/float flags. */
  min?: number;
  /** Inclusive upper bound for int/float flags. */
  max?: number;
}

export type FlagSpecs = Record<string, FlagSpec>;

/** The parsed value of one declared flag. */
export type FlagValue<S extends FlagSpec> = S["type"] extends "bool"
  ? boolean
  : (S["type"] extends "string" ? string : number) | (S extends { default: string | number } ? never : undefined);
export type FlagValues<S extends FlagSpecs> = { -readonly [K in keyof S]: FlagValue<S[K]> };

/** Declares a command's flags, keeping their literal types so `parseFlags` can type the values. */
export function defineFlags<const S extends FlagSpecs>(specs: S): S {
  return specs;
}

/** Parses `argv` (the words after the command) against `specs`. */
export function parseFlags<S extends FlagSpecs>(argv: string[], specs: S, command: string): FlagValues<S> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = spec.type === "bool" ? spec.default ?? false : spec.default;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith("--")) throw new UsageError(`${command}: unexpected argument '${word}' (see --help)`);
    let name = word.slice(2);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = specs[name];
    if (!spec) throw new UsageError(`${command}: unknown flag --${name} (see --help)`);
    if (spec.type === "bool") {
      if (value !== undefined && value !== "true" && value !== "false")
        throw new UsageError(`${command}: --${name} takes no value`);
      out[name] = value !== "false";
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${command}: --${name} needs a value`);
    }
    out[name] = convert(command, name, spec, value);
  }
  return out as FlagValues<S>;
}

/** Whether `--name` (or `--name=...`) is among the words, whatever its value. */
export function flagGiven(argv: readonly string[], name: string): boolean {
  return argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
}

function convert(command: string, name: string, spec: FlagSpec, value: string): string | number {
  if (spec.type === "string") return value;
  const num = Number(value);
  const ok = value.trim() !== "" && Number.isFinite(num) && (spec.type === "float" || Number.isInteger(num));
  if (!ok) throw new UsageError(`${command}: --${name} must be ${spec.type === "int" ? "an integer" : "a number"}, got '${value}'`);
  if (spec.min !== undefined && num < spec.min) throw new UsageError(`${command}: --${name} must be at least ${spec.min}, got ${value}`);
  if (spec.max !== undefined && num > spec.max) throw new UsageError(`${command}: --${name} must be at most ${spec.max}, got ${value}`);
  return num;
}

/** Help text for a command: its usage line, then one line per flag with its default. */
export function formatHelp(usage: string, specs: FlagSpecs): string {
  const lines = [`usage: ${usage}`, ""];
  const width = Math.max(...Object.keys(specs).map((n) => n.length + (specs[n]!.type === "bool" ? 2 : 8)), 10);
  for (const [name, spec] of Object.entries(specs)) {
    const left = spec.type === "bool" ? `--${name}` : `--${name} ${spec.type === "string" ? "S" : "N"}`;
    const def = spec.default !== undefined && spec.type !== "bool" ? ` (default ${spec.default})` : "";
    lines.push(`  ${left.padEnd(width + 2)} ${spec.help}${def}`);
  }
  return lines.join("\n");
}
