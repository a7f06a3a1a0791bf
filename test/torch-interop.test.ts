/**
 * Our generator checkpoints load into the PyTorch reference (shared/anchors/torch_cwgan.py) with
 * load_state_dict(strict=True) and draw the same images from the same noise. Runs only where
 * Debian's python3-torch is installed and shared/anchors is beside the project; skipped otherwise.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as T from "../src/tensor/index.js";
import { Prng } from "../src/tensor/index.js";
import { saveModule, writeSafetensors } from "../src/io/checkpoint.js";
import { createGenerator, MODEL_KINDS } from "../src/gan/models.js";
import { TORCH_ABS_TOL } from "./tolerances.js";

const anchors = resolve(import.meta.dirname, "../../shared/anchors");
const python = "/usr/bin/python3";
const hasTorch =
  existsSync(join(anchors, "torch_cwgan.py")) && spawnSync(python, ["-c", "import torch"], { stdio: "ignore" }).status === 0;
const tmp = mkdtempSync(join(tmpdir(), "torch-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!hasTorch)("PyTorch interop", () => {
  for (const kind of MODEL_KINDS)
    it(`${kind}: our generator loads strictly into PyTorch and draws the same images`, () => {
      const prng = new Prng(21);
      const G = createGenerator(kind, 100, prng);
      // a few training-mode passes so the batch-norm running statistics are not their defaults
      const z = T.zeros([16, 100]);
      const y = T.zeros([16, 10]);
      for (let i = 0; i < 16; i++) y.data[i * 10 + (i % 10)] = 1;
      for (let k = 0; k < 3; k++) {
        prng.fillNormal(z.data);
        T.noGrad(() => G.forward(z, y));
      }
      const ckpt = join(tmp, `${kind}.safetensors`);
      saveModule(ckpt, G, { architecture: kind, role: "generator" });
      prng.fillNormal(z.data);
      writeSafetensors(join(tmp, "inputs.safetensors"), [
        ["z", { data: z.data, shape: z.shape, dtype: "float32" }],
        ["y", { data: y.data, shape: y.shape, dtype: "float32" }],
      ]);
      const out = join(tmp, `${kind}.f32`);
      const r = spawnSync(python, [join(import.meta.dirname, "fixtures/torch_load.py"), anchors, kind, ckpt, join(tmp, "inputs.safetensors"), out], {
        encoding: "utf8",
      });
      expect(r.stderr).toBe("");
      expect(r.stdout).toContain("loaded strict (16, 1, 28, 28)");
      const theirs = new Float32Array(readFileSync(out).buffer.slice(0));
      G.eval();
      const ours = T.noGrad(() => G.forward(z, y)).data;
      let worst = 0;
      for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!));
      expect(worst).toBeLessThan(TORCH_ABS_TOL);
    });
});
