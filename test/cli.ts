/**
 * Running the command line from tests: `runCli` spawns `node --import tsx src/main.ts ...` from the
 * project root; `expectCliFailure` asserts the failure contract every command keeps: the exit code,
 * exactly one line on stderr, `error: ...`, matching a pattern, and no stack frames.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";

const root = join(import.meta.dirname, "..");

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** A command that has not finished by then is stopped and fails its test (code null), rather than hanging the suite. */
const CLI_TIMEOUT_MS = 300_000;

export function runCli(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts", ...args], { cwd: root, encoding: "utf8", timeout: CLI_TIMEOUT_MS });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

export function expectCliFailure(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.code, r.err).toBe(code);
  expect(r.err.split("\n").filter((l) => l !== "")).toHaveLength(1);
  expect(r.err).toMatch(/^error: /);
  expect(r.err).toMatch(pattern);
  expect(r.err).not.toMatch(/\bat .*\.ts:\d+/); // no stack frames
}
