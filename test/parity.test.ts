/**
 * The engine's WGAN training step against PyTorch's, model by model: from the same initial weights,
 * real batches and noise, three critic steps and one generator step must give PyTorch's losses and
 * PyTorch's state afterwards, in float32.
 * Runs without PyTorch: it replays fixtures recorded by the PyTorch twin in reference/, made with
 *     /usr/bin/python3 reference/make_fixture.py        (from the project's root; needs python3-torch)
 * which writes test/fixtures/parity-{mlp,conv}.safetensors (contents listed in its header): batches
 * of 8 real MNIST digits, lr 1e-4 and clip 0.02 (larger than training's, so that every step shows).
 * The order is the project's schedule at batch 0 with n_critic 5: critic step 0, the generator
 * step, critic steps 1 and 2.
 * The initial weights are not in the files: both sides derive them from an exact integer formula
 * (`initialState` here, `initial_state` in make_fixture.py) computed bit-identically in both
 * languages; the files hold a few probes of it, which must match exactly. The critic's state after
 * the last step and its clip is stored whole and checked entry by entry. The generator's state after
 * its step is stored as a fixed sample: every entry of a tensor of fewer than 4096 entries (all
 * biases and batch-norm parameters and statistics), and the flattened entries 0, 17, 34, ... of a
 * larger one (the weights; 17 is prime and divides none of the models' dimensions, so every row of a
 * weight matrix holds sampled entries and, across rows, every column does). The generator's root-mean-
 * square difference counts each sampled entry 17 times, estimating the whole state's.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Prng, Tensor } from "../src/tensor/index.js";
import type { Safetensors } from "../src/nn/safetensors.js";
import { parseSafetensors } from "../src/nn/safetensors.js";
import { loadModuleFrom } from "../src/nn/checkpoint.js";
import type { Module } from "../src/nn/module.js";
import { createCritic, createGenerator, MODEL_KINDS } from "../src/gan/models.js";
import type { ModelKind } from "../src/gan/models.js";
import { Wgan } from "../src/gan/wgan.js";
import { PARITY_LOSS_ABS_TOL, PARITY_MAX_ABS_TOL, PARITY_RMS_TOL } from "./tolerances.js";
import { onEveryBackend } from "./backends.js";

const CRITIC_STEPS = 3;

/** 32-bit FNV-1a of an ASCII string. */
function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** u_k = fmix32((k · 2654435761 + salt) mod 2^32) / 2^32, exact: make_fixture.py's `unit`. */
function unit(k: number, salt: number): number {
  let h = (Math.imul(k, 2654435761) + salt) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 2 ** 32;
}

/**
 * The fixture's initial state of `m` (make_fixture.py's `initial_state`), `prefix` "G." or "D." naming
 * the model in each tensor's salt: a weight of 2 or more dimensions and the bias beside it
 * (2u - 1) / sqrt(fan_in) with fan_in = shape[1] · prod(shape[2:]) of the weight, in float64 and rounded
 * once to float32; batch norm (a 1-D weight) weight 1, bias 0, running mean 0, running var 1, count 0.
 */
function initialState(prefix: string, m: Module): Safetensors {
  const entries = m.stateEntries();
  const shapes = new Map(entries.map(([n, t]) => [n, t.shape]));
  const tensors: Safetensors["tensors"] = new Map();
  for (const [name, t] of entries) {
    const dot = name.lastIndexOf(".");
    const [module, leaf] = [name.slice(0, dot), name.slice(dot + 1)];
    const weight = shapes.get(`${module}.weight`);
    const data = new Float32Array(t.data.length);
    if ((leaf === "weight" || leaf === "bias") && weight && weight.length >= 2) {
      const fanIn = weight.slice(1).reduce((a, b) => a * b, 1);
      const bound = 1 / Math.sqrt(fanIn);
      const salt = fnv1a32(prefix + name);
      for (let k = 0; k < data.length; k++) data[k] = (2 * unit(k, salt) - 1) * bound;
    } else if ((leaf === "weight" || leaf === "running_var") && weight && weight.length === 1) data.fill(1);
    else if (!(((leaf === "bias" || leaf === "running_mean") && weight && weight.length === 1) || leaf === "num_batches_tracked"))
      throw new Error(`initialState: no rule for ${prefix}${name}`);
    tensors.set(name, { dtype: t.dtype, shape: [...t.shape], data });
  }
  return { tensors, metadata: {} };
}

/** `state` as the fixture stores G_end: a tensor of `fullBelow` entries or more as its entries 0, stride, ... (1-D). */
function sampled(state: Safetensors, stride: number, fullBelow: number): Safetensors {
  const tensors: Safetensors["tensors"] = new Map();
  for (const [n, t] of state.tensors) {
    if (t.data.length < fullBelow) tensors.set(n, t);
    else {
      const data = new Float32Array(Math.ceil(t.data.length / stride));
      for (let i = 0; i < data.length; i++) data[i] = t.data[i * stride]!;
      tensors.set(n, { dtype: t.dtype, shape: [data.length], data });
    }
  }
  return { tensors, metadata: {} };
}

/** The fixture's entries named `prefix<name>`, renamed `<name>`, as a file of their own. */
function withPrefix(file: Safetensors, prefix: string): Safetensors {
  const tensors: Safetensors["tensors"] = new Map();
  for (const [n, t] of file.tensors) if (n.startsWith(prefix)) tensors.set(n.slice(prefix.length), t);
  return { tensors, metadata: {} };
}

function tensor(file: Safetensors, name: string): Tensor {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`fixture has no ${name}`);
  return new Tensor(t.shape, t.data);
}

interface Difference {
  /** largest |a - b| over every entry, and the tensor it is in */
  max: number;
  where: string;
  /** root-mean-square of a - b over every entry (each entry of tensor n counted weight(n) times) */
  rms: number;
}

/**
 * How far each of `a`'s state entries is from `b`'s same-named one. `weight` counts each entry of a
 * sampled tensor as the entries it stands for, so that `rms` estimates the whole state's.
 */
function difference(a: Safetensors, b: Safetensors, weight: (name: string) => number = () => 1): Difference {
  let max = 0;
  let where = "";
  let sumSq = 0;
  let count = 0;
  for (const [n, ta] of a.tensors) {
    const tb = b.tensors.get(n);
    if (!tb || tb.data.length !== ta.data.length) throw new Error(`${n}: missing or of another size`);
    let tensorSq = 0;
    for (let i = 0; i < ta.data.length; i++) {
      const d = Math.abs(ta.data[i]! - tb.data[i]!);
      tensorSq += d * d;
      if (d > max) [max, where] = [d, n];
    }
    sumSq += weight(n) * tensorSq;
    count += weight(n) * ta.data.length;
  }
  return { max, where, rms: Math.sqrt(sumSq / count) };
}

/** A module's state as a file, for `difference`. */
function stateOf(m: Module): Safetensors {
  return { tensors: new Map(m.stateEntries().map(([n, t]) => [n, { ...t, shape: [...t.shape] }])), metadata: {} };
}

interface Replay {
  file: Safetensors;
  clip: number;
  /** the initial states the steps started from */
  G0: Safetensors;
  D0: Safetensors;
  /** `sampled` as the fixture's G_end, and the weight of each of its tensors' entries */
  sample: (s: Safetensors) => Safetensors;
  weight: (name: string) => number;
  criticLosses: number[];
  generatorLoss: number;
  wgan: Wgan;
}

/** Builds the engine's models, gives them the fixture's initial state and replays its four steps. */
function replay(kind: ModelKind): Replay {
  const name = `parity-${kind}.safetensors`;
  const file = parseSafetensors(readFileSync(join(import.meta.dirname, "fixtures", name)), name);
  expect(file.metadata.kind).toBe(kind);
  const lr = Number(file.metadata.lr);
  const clip = Number(file.metadata.clip);
  const prng = new Prng(0);
  const G = createGenerator(kind, 100, prng);
  const D = createCritic(kind, prng);
  const [G0, D0] = [initialState("G.", G), initialState("D.", D)];
  loadModuleFrom(G0, `initial state of ${name} (G)`, G);
  loadModuleFrom(D0, `initial state of ${name} (D)`, D);
  const stride = Number(file.metadata.G_end_stride);
  const fullBelow = Number(file.metadata.G_end_full_below);
  expect(stride).toBeGreaterThan(1);
  const sample = (s: Safetensors): Safetensors => sampled(s, stride, fullBelow);
  const weight = (n: string): number => (G0.tensors.get(n)!.data.length < fullBelow ? 1 : stride);
  const wgan = new Wgan(G, D, prng, { lr, clip, nCritic: 5, paperSchedule: false, guideWeight: 0 }); // the plain recipe

  const criticLosses: number[] = [];
  let generatorLoss = NaN;
  for (let k = 0; k < CRITIC_STEPS; k++) {
    const y = tensor(file, `step${k}.y`);
    criticLosses.push(wgan.criticStep(tensor(file, `step${k}.x`), y, tensor(file, `step${k}.z`)));
    if (k === 0) generatorLoss = wgan.generatorStep(y, tensor(file, "gen.z"));
  }
  return { file, clip, G0, D0, sample, weight, criticLosses, generatorLoss, wgan };
}

onEveryBackend(() => {
  for (const kind of MODEL_KINDS)
    describe(`${kind}: the WGAN step matches PyTorch's`, () => {
      let r: Replay;
      beforeAll(() => {
        r = replay(kind);
      });

      it("the initial state derived here is the one the fixture started from, bit for bit", () => {
        let probed = 0;
        for (const [prefix, state] of [["G.", r.G0], ["D.", r.D0]] as const)
          for (const [n, t] of state.tensors) {
            if (t.dtype !== "float32") continue;
            const n1 = t.data.length;
            const ours = [t.data[0]!, t.data[n1 >> 1]!, t.data[n1 - 1]!]; // entries 0, n // 2, n - 1
            expect(ours, `${prefix}${n}`).toEqual([...tensor(r.file, `init.${prefix}${n}`).data]);
            probed++;
          }
        expect(probed).toBe([...r.file.tensors.keys()].filter((n) => n.startsWith("init.")).length);
      });

      it("the fixture's steps move the weights far more than the tolerances, and its clip is active", () => {
        const dEnd = withPrefix(r.file, "D_end.");
        const pairs = [[dEnd, r.D0, () => 1], [withPrefix(r.file, "G_end."), r.sample(r.G0), r.weight]] as const;
        for (const [after, before, weight] of pairs) {
          const moved = difference(after, before, weight);
          expect(moved.rms).toBeGreaterThan(100 * PARITY_RMS_TOL);
          expect(moved.max).toBeGreaterThan(10 * PARITY_MAX_ABS_TOL);
        }
        let atClip = 0;
        let total = 0;
        for (const t of dEnd.tensors.values()) {
          for (const v of t.data) if (Math.abs(v) === Math.fround(r.clip)) atClip++;
          total += t.data.length;
        }
        expect(atClip).toBeGreaterThan(0.05 * total);
        expect(atClip).toBeLessThan(0.5 * total);
      });

      it("critic losses of the three steps", () => {
        const theirs = tensor(r.file, "critic_loss").data;
        expect(theirs.length).toBe(CRITIC_STEPS);
        for (let k = 0; k < CRITIC_STEPS; k++)
          expect(Math.abs(r.criticLosses[k]! - theirs[k]!), `step ${k}`).toBeLessThanOrEqual(PARITY_LOSS_ABS_TOL);
      });

      it("generator loss", () => {
        const theirs = tensor(r.file, "generator_loss").data[0]!;
        expect(Math.abs(r.generatorLoss - theirs)).toBeLessThanOrEqual(PARITY_LOSS_ABS_TOL);
      });

      it("every critic weight after the last step and its clip", () => {
        const d = difference(stateOf(r.wgan.D), withPrefix(r.file, "D_end."));
        expect(d.max, `worst in ${d.where}`).toBeLessThanOrEqual(PARITY_MAX_ABS_TOL);
        expect(d.rms).toBeLessThanOrEqual(PARITY_RMS_TOL);
        let largest = 0;
        for (const [, t] of r.wgan.D.stateEntries()) for (const v of t.data) largest = Math.max(largest, Math.abs(v));
        expect(largest).toBeLessThanOrEqual(Math.fround(r.clip));
      });

      it("the generator's sampled weights after its step, and its batch-norm statistics after all four passes", () => {
        const d = difference(r.sample(stateOf(r.wgan.G)), withPrefix(r.file, "G_end."), r.weight);
        expect(d.max, `worst in ${d.where}`).toBeLessThanOrEqual(PARITY_MAX_ABS_TOL);
        expect(d.rms).toBeLessThanOrEqual(PARITY_RMS_TOL);
      });
    });
});
