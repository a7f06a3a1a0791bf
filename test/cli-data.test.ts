/**
 * The `data` command end to end, run as a child process (`node --import tsx src/main.ts data ...`):
 * exit code 0 and the known counts for --stats, 2 for a wrongly written command, 1 for a corrupt file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeIdx } from "../src/io/idx.js";
import { readPng } from "../src/io/png.js";
import { runCli, type CliResult } from "./cli.js";

const dir = mkdtempSync(join(tmpdir(), "cli-data-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]): CliResult => runCli("data", ...args);

describe("data command", () => {
  it("--stats prints the per-digit counts of the bundled set", () => {
    const r = run("--stats");
    expect(r.code).toBe(0);
    expect(r.out).toContain("5923");
    expect(r.out).toContain("60000");
    expect(r.out).toMatch(/mean pixel \(0\.\.255\)\s+33\.3/);
  });

  it("exits 2 for an unknown flag or no action", () => {
    const unknown = run("--nope");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toBe("error: data: unknown flag --nope (see --help)\n");
    expect(run().code).toBe(2);
  });

  it("exits 1 with one line for a corrupt file in --data DIR", () => {
    writeIdx(join(dir, "train-images-idx3-ubyte"), [3, 28, 28], new Uint8Array(3 * 784));
    writeIdx(join(dir, "train-labels-idx1-ubyte.gz"), [3], new Uint8Array([1, 12, 3]));
    const r = run("--grid", join(dir, "g.png"), "--data", dir);
    expect(r.code).toBe(1);
    expect(r.err).toBe("error: train-labels-idx1-ubyte: label 12 at index 1 is not a digit 0..9\n");
  });

  it("--grid writes one row per class", () => {
    const path = join(dir, "real.png");
    const r = run("--grid", path, "--per-row", "4", "--split", "test");
    expect(r.code).toBe(0);
    const png = readPng(path);
    expect([png.width, png.height]).toEqual([4 * 56 + 5, 10 * 56 + 11]);
  });
});
