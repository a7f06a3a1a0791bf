/**
 * The train, generate and sample commands end to end, as child processes: what they write, that a
 * seed repeats, and every bad-input case: one line on stderr, exit code 2 for a wrongly written
 * command and 1 for a failure at run time, and no output file left behind.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Prng } from "../src/tensor/index.js";
import { saveModule } from "../src/io/checkpoint.js";
import { createCritic, createGenerator } from "../src/gan/models.js";
import { readImagesLabels, writeIdx } from "../src/io/idx.js";
import { loadMnist } from "../src/io/mnist.js";
import { readPng } from "../src/io/png.js";
import { expectCliFailure, runCli } from "./cli.js";

const dir = mkdtempSync(join(tmpdir(), "cli-gan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runCli;
const expectFailure = expectCliFailure;

const gen = join(dir, "g.safetensors");
const critic = join(dir, "d.safetensors");
saveModule(gen, createGenerator("conv", 100, new Prng(1)), { architecture: "conv", role: "generator", latent: "100" });
saveModule(critic, createCritic("conv", new Prng(1)), { architecture: "conv", role: "critic" });

describe("generate and sample", () => {
  it("generate: the same seed draws the same grid, another seed another", () => {
    const a = join(dir, "a.png"), b = join(dir, "b.png"), c = join(dir, "c.png");
    expect(run("generate", "--digit", "7", "--count", "6", "--seed", "42", "--checkpoint", gen, "--out", a).code).toBe(0);
    expect(run("generate", "--digit", "7", "--count", "6", "--seed", "42", "--checkpoint", gen, "--out", b).code).toBe(0);
    const r = run("generate", "--digit", "all", "--checkpoint", gen, "--out", c);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/seed \d+/); // a fresh seed, printed
    expect(readFileSync(a)).toEqual(readFileSync(b));
    expect(readPng(a).width).toBe(3 * 56 + 4); // 6 images: 3 columns of 28x2 pixels and 4 border lines
    expect(readPng(c).width).toBe(10 * 56 + 11);
    const d = join(dir, "d.png");
    run("generate", "--digit", "7", "--count", "6", "--seed", "43", "--checkpoint", gen, "--out", d);
    expect(readFileSync(d)).not.toEqual(readFileSync(a));
  });

  it("generate --styles: column c is one noise vector drawn as every digit", () => {
    const plain = join(dir, "plain.png"), styles = join(dir, "styles.png");
    expect(run("generate", "--digit", "all", "--seed", "5", "--checkpoint", gen, "--out", plain).code).toBe(0);
    expect(run("generate", "--digit", "all", "--seed", "5", "--styles", "--checkpoint", gen, "--out", styles).code).toBe(0);
    const p = readPng(plain), s = readPng(styles);
    const row = (img: typeof p, r: number): Uint8Array => img.data.subarray(4 * img.width * (1 + r * 57), 4 * img.width * (1 + r * 57 + 56));
    // both draw noise vectors 0..9 from the seed: the plain grid gives them to row 0's cells, the
    // styles grid to its columns, so row 0 (digit 0) is the same picture and every other row differs
    expect(row(s, 0)).toEqual(row(p, 0));
    for (let r = 1; r < 10; r++) expect(row(s, r)).not.toEqual(row(p, r));
  });

  it("without --checkpoint, generate and evaluate use the generator shipped in models/", () => {
    const out = join(dir, "shipped-3.png");
    const r = run("generate", "--digit", "3", "--count", "4", "--seed", "1", "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/from .*models\/generator\.safetensors/);
    expect(readPng(out).width).toBe(2 * 56 + 3);
    const e = run("evaluate", "--per-digit", "5", "--report", join(dir, "shipped", "report.md"), "--json");
    expect(e.code, e.err).toBe(0);
    expect(e.out).toMatch(/evaluation of .*models\/generator\.safetensors \(5 per digit, seed 0\)/);
    expect(existsSync(join(dir, "shipped", "report.md"))).toBe(true);
  });

  it("sample: an IDX pair any MNIST reader takes, labels the requested digits", () => {
    const prefix = join(dir, "s");
    expect(run("sample", "--per-digit", "3", "--seed", "1", "--checkpoint", gen, "--out", prefix).code).toBe(0);
    const s = readImagesLabels(`${prefix}-images-idx3-ubyte`, `${prefix}-labels-idx1-ubyte`);
    expect(s.n).toBe(30);
    expect([...s.labels]).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9]);
    expect(new Set(s.images).size).toBeGreaterThan(50);
  });

  it("evaluate --checkpoint draws its own samples and judges them", () => {
    // a small MNIST folder keeps the classifier's reference statistics quick to compute
    const mnist = join(dir, "mnist");
    const test = loadMnist("test");
    for (const split of ["train", "t10k"]) {
      writeIdx(join(mnist, `${split}-images-idx3-ubyte`), [300, 28, 28], test.images.subarray(0, 300 * 784));
      writeIdx(join(mnist, `${split}-labels-idx1-ubyte`), [300], test.labels.subarray(0, 300));
    }
    const r = run("evaluate", "--checkpoint", gen, "--per-digit", "5", "--data", mnist, "--json");
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out.trim().split("\n").pop()!);
    expect(json.n).toBe(50);
    for (const k of ["conditional_accuracy", "fid", "classifier_score", "diversity"]) {
      expect(typeof json[k]).toBe("number");
      expect(typeof json.real[k]).toBe("number");
    }
    expect(json.real.conditional_accuracy).toBeGreaterThan(0.95); // real digits, the ceiling
    expect(existsSync(join(dir, "report.md"))).toBe(true);
    expectFailure(run("evaluate", "--checkpoint", gen, "--samples", join(dir, "s")), 2, /either --samples PREFIX or --checkpoint G/);
  });

  it("bad input: one line, exit 2 for usage and 1 at run time, no partial output", () => {
    const out = join(dir, "never.png");
    expectFailure(run("generate", "--digit", "12", "--checkpoint", gen, "--out", out), 2, /--digit must be 0\.\.9 or all, got '12'/);
    expectFailure(run("generate", "--digit", "3", "--bogus", "1"), 2, /unknown flag --bogus/);
    expectFailure(run("generate", "--digit", "3", "--styles", "--checkpoint", gen, "--out", out), 2, /--styles needs --digit all/);
    expectFailure(run("generate", "--digit", "3", "--count", "x", "--checkpoint", gen, "--out", out), 2, /--count must be an integer/);
    expectFailure(run("generate", "--digit", "3", "--checkpoint", join(dir, "missing.safetensors"), "--out", out), 1, /no such file/);
    const corrupt = join(dir, "corrupt.safetensors");
    writeFileSync(corrupt, readFileSync(gen).subarray(0, 5000));
    expectFailure(run("generate", "--digit", "3", "--checkpoint", corrupt, "--out", out), 1, /corrupt\.safetensors: /);
    expectFailure(run("generate", "--digit", "3", "--checkpoint", critic, "--out", out), 1, /a critic checkpoint, not a generator/);
    const otherModel = join(dir, "other.safetensors"); // conv weights under a label that says mlp
    saveModule(otherModel, createGenerator("conv", 100, new Prng(1)), { architecture: "mlp", role: "generator" });
    expectFailure(run("generate", "--digit", "3", "--checkpoint", otherModel, "--out", out), 1, /other\.safetensors: not a checkpoint of this model: missing net\.0\.weight/);
    expectFailure(run("sample", "--checkpoint", dir, "--out", join(dir, "x")), 1, /run folder has no generator\.safetensors/);
    expectFailure(run("generate", "--digit", "3", "--checkpoint", gen, "--out", join(gen, "sub", "x.png")), 1, /cannot (create|write)/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });
});

describe("train", () => {
  const runDir = join(dir, "run");
  it("trains, writes the run folder, and resumes", () => {
    const r = run("train", "--model", "mlp", "--epochs", "1", "--limit-batches", "3", "--seed", "5", "--eval-every", "0", "--out", runDir);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/epoch 1\/1 .*critic -?\d/);
    for (const f of ["config.json", "state.json", "generator.safetensors", "critic.safetensors", "losses.jsonl", "losses.svg", "samples/epoch-001.png"])
      expect(existsSync(join(runDir, f)), f).toBe(true);
    expect(readFileSync(join(runDir, "losses.jsonl"), "utf8").trim().split("\n")).toHaveLength(3);
    const again = run("train", "--resume", runDir, "--epochs", "2");
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/resuming .* after epoch 1 of 2/);
    expect(existsSync(join(runDir, "samples/epoch-002.png"))).toBe(true);
    expect(run("generate", "--digit", "1", "--checkpoint", runDir, "--out", join(dir, "from-run.png")).code).toBe(0);
  });

  it("--ema keeps a moving average of the generator, saved beside it, which generate draws from", () => {
    const emaDir = join(dir, "ema-run");
    const r = run("train", "--model", "mlp", "--epochs", "1", "--limit-batches", "4", "--n-critic", "2", "--seed", "6", "--eval-every", "0", "--ema", "0.99", "--out", emaDir);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(readFileSync(join(emaDir, "config.json"), "utf8")).ema).toBe(0.99);
    const avg = join(emaDir, "generator-average.safetensors");
    expect(existsSync(avg)).toBe(true);
    expect(readFileSync(avg).equals(readFileSync(join(emaDir, "generator.safetensors")))).toBe(false);
    const g = run("generate", "--digit", "4", "--checkpoint", avg, "--out", join(dir, "from-average.png"));
    expect(g.code, g.err).toBe(0);
    // the run folder itself means the average, as its grids do
    const f = run("generate", "--digit", "4", "--checkpoint", emaDir, "--out", join(dir, "from-folder.png"));
    expect(f.code, f.err).toBe(0);
    expect(f.out).toContain("generator-average.safetensors");
  });

  it("an epoch with no generator step (the paper's schedule) says so rather than printing NaN", () => {
    const r = run("train", "--model", "mlp", "--recipe", "plain", "--paper-schedule", "--epochs", "1", "--limit-batches", "3", "--seed", "5", "--eval-every", "0", "--out", join(dir, "paper-run"));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/epoch 1\/1 .*generator none this epoch/);
    expect(r.out).not.toMatch(/NaN/);
  });

  it("bad input", () => {
    expectFailure(run("train", "--model", "gru"), 2, /--model must be mlp or conv, got 'gru'/);
    expectFailure(run("train", "--epochs", "0"), 2, /--epochs must be at least 1/);
    expectFailure(run("train", "--threads", "17"), 2, /--threads must be at most 16, got 17/); // the pool's most
    expectFailure(run("serve", "--port", "65536"), 2, /--port must be at most 65535, got 65536/);
    expectFailure(run("train", "--resume", runDir, "--lr", "0.1"), 2, /--lr cannot change when resuming/);
    expectFailure(run("train", "--ema", "1"), 2, /--ema must be 0 \(none\) or a decay below 1, got 1/);
    expectFailure(run("train", "--resume", runDir, "--ema", "0.9"), 2, /--ema cannot change when resuming/);
    expectFailure(run("train", "--resume", join(dir, "none")), 1, /not a run folder/);
    expectFailure(run("train", "--out", runDir, "--epochs", "1"), 1, /already holds a run/);
  });

  // Linux's /proc refuses a new folder with ENOENT, on which Node's recursive mkdir spins forever.
  it.runIf(process.platform === "linux")("--out where no folder can be made: one line, not a hang", () => {
    expectFailure(run("train", "--out", "/proc/wgan-ts-run", "--epochs", "1", "--limit-batches", "1"), 1, /cannot create folder \/proc\/wgan-ts-run/);
  });
});

describe("train --data", () => {
  /** A folder holding the first `n` images of the bundled test split as its train split, and `test` if asked. */
  function dataFolder(name: string, n: number, withTest: boolean): string {
    const folder = join(dir, name);
    const src = loadMnist("test");
    const write = (split: string, count: number): void => {
      writeIdx(join(folder, `${split}-images-idx3-ubyte`), [count, 28, 28], src.images.subarray(0, count * 784));
      writeIdx(join(folder, `${split}-labels-idx1-ubyte`), [count], src.labels.subarray(0, count));
    };
    write("train", n);
    if (withTest) write("t10k", n);
    return folder;
  }

  it("is saved in the run's config, trained on, and fixed on resume", () => {
    const data = dataFolder("small", 96, false);
    const out = join(dir, "data-run");
    const r = run("train", "--data", data, "--epochs", "1", "--batch", "16", "--seed", "3", "--eval-every", "0", "--out", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/96 images, 6 batches of 16/);
    expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).data).toBe(data);
    expectFailure(run("train", "--resume", out, "--epochs", "2", "--data", join(dir, "other")), 2, /--data cannot change when resuming/);
    rmSync(join(data, "train-images-idx3-ubyte")); // the resumed run must read its own data, not the bundled copy
    expectFailure(run("train", "--resume", out, "--epochs", "2"), 1, /train-images-idx3-ubyte: not found \(looked for .*small/);
  });

  it("is the data the evaluator judges against", () => {
    const noTest = dataFolder("no-test", 64, false);
    const args = ["--epochs", "1", "--batch", "16", "--limit-batches", "2", "--seed", "3", "--eval-every", "1", "--eval-per-digit", "5"];
    expectFailure(run("train", "--data", noTest, ...args, "--out", join(dir, "judged-a")), 1, /t10k-images-idx3-ubyte: not found \(looked for .*no-test/);
    const full = dataFolder("full", 300, true);
    const r = run("train", "--data", full, ...args, "--out", join(dir, "judged-b"));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/judged by the classifier \(5 per digit, the average of weights\)/); // the default recipe samples from the average
  });
});

