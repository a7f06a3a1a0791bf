/**
 * The `classifier` and `evaluate` commands given bad input, run as child processes: a missing or
 * corrupt IDX pair, images that are not 28x28, a label outside 0..9, a classifier checkpoint that is
 * missing, not safetensors, or of another shape. Each must exit 1 with one line and no stack trace
 * (2 for a wrongly written command). These fail before any real work, so they are quick.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeIdx } from "../src/io/idx.js";
import { Linear } from "../src/nn/index.js";
import { saveModule } from "../src/io/checkpoint.js";
import { Classifier } from "../src/recognition/classifier.js";
import { saveClassifier } from "../src/io/evaluator.js";
import { Prng } from "../src/tensor/prng.js";
import { expectCliFailure, runCli, type CliResult } from "./cli.js";

const dir = mkdtempSync(join(tmpdir(), "recognition-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runCli;
const expectOneLineFailure = (r: CliResult, pattern: RegExp): void => expectCliFailure(r, 1, pattern);

/** Writes a sample pair PREFIX-images/labels with the given image size and labels. */
function writePair(prefix: string, labels: number[], h = 28, w = 28): void {
  writeIdx(`${prefix}-images-idx3-ubyte`, [labels.length, h, w], new Uint8Array(labels.length * h * w));
  writeIdx(`${prefix}-labels-idx1-ubyte`, [labels.length], Uint8Array.from(labels));
}

describe("evaluate: bad samples", () => {
  it("a missing IDX pair", () => {
    expectOneLineFailure(run("evaluate", "--samples", join(dir, "nothing")), /nothing-images-idx3-ubyte: not found/);
  });

  it("a corrupt images file", () => {
    const prefix = join(dir, "corrupt");
    writePair(prefix, [1, 2]);
    writeFileSync(`${prefix}-images-idx3-ubyte`, "this is not an IDX file");
    expectOneLineFailure(run("evaluate", "--samples", prefix), /corrupt-images-idx3-ubyte: not an IDX file/);
  });

  it("a truncated images file", () => {
    const prefix = join(dir, "short");
    writePair(prefix, [1, 2]);
    const bytes = new Uint8Array(4 + 12 + 784); // the header says 2 images, the data holds 1
    bytes.set([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28]);
    writeFileSync(`${prefix}-images-idx3-ubyte`, bytes);
    expectOneLineFailure(run("evaluate", "--samples", prefix), /short-images-idx3-ubyte: truncated/);
  });

  it("images that are not 28x28", () => {
    const prefix = join(dir, "small");
    writePair(prefix, [1, 2, 3], 20, 20);
    expectOneLineFailure(run("evaluate", "--samples", prefix), /small-images-idx3-ubyte: images are 20x20, expected 28x28/);
  });

  it("a label outside 0..9", () => {
    const prefix = join(dir, "label");
    writePair(prefix, [1, 10, 3]);
    expectOneLineFailure(run("evaluate", "--samples", prefix), /label-labels-idx1-ubyte: label 10 at index 1 is not a digit 0\.\.9/);
  });

  it("image and label counts that differ", () => {
    const prefix = join(dir, "count");
    writePair(prefix, [1, 2, 3]);
    writeIdx(`${prefix}-labels-idx1-ubyte`, [2], new Uint8Array([1, 2]));
    expectOneLineFailure(run("evaluate", "--samples", prefix), /holds 3 images but count-labels-idx1-ubyte holds 2 labels/);
  });

  it("both --samples and --checkpoint is a usage error (exit 2)", () => {
    const r = run("evaluate", "--samples", "x", "--checkpoint", "y");
    expect(r.code).toBe(2);
    expect(r.err).toBe("error: evaluate: give either --samples PREFIX or --checkpoint G, not both (see --help)\n");
  });
});

describe("bad classifier checkpoints", () => {
  const prefix = join(dir, "good");
  writePair(prefix, [0, 1, 2, 3]);

  it("a missing checkpoint, for evaluate and for classifier test", () => {
    const path = join(dir, "none.safetensors");
    expectOneLineFailure(run("evaluate", "--samples", prefix, "--classifier", path), /classifier checkpoint not found: .*none\.safetensors/);
    expectOneLineFailure(run("classifier", "test", "--checkpoint", path), /classifier checkpoint not found/);
  });

  it("a file that is not safetensors", () => {
    const path = join(dir, "junk.safetensors");
    writeFileSync(path, "junk");
    expectOneLineFailure(run("evaluate", "--samples", prefix, "--classifier", path), /junk\.safetensors: too short for safetensors/);
  });

  it("a checkpoint of another model", () => {
    const path = join(dir, "linear.safetensors");
    saveModule(path, new Linear(3, 2, new Prng(1)));
    expectOneLineFailure(run("classifier", "test", "--checkpoint", path), /linear\.safetensors: not a checkpoint of this model: missing net\.0\.weight/);
  });

  it("a classifier whose tensors do not match the architecture its metadata names", () => {
    const path = join(dir, "narrow.safetensors");
    const narrow = new Classifier(new Prng(1), { conv1: 4, conv2: 16, hidden: 128 });
    saveClassifier(path, narrow, { config: JSON.stringify({ conv1: 8, conv2: 16, hidden: 128 }) });
    expectOneLineFailure(run("evaluate", "--samples", prefix, "--classifier", path), /narrow\.safetensors: net\.0\.weight has shape \(4,1,5,5\), this model expects \(8,1,5,5\)/);
  });

  it("an unknown classifier subcommand is a usage error", () => {
    expect(run("classifier", "fit").code).toBe(2);
  });
});
