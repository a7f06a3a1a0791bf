/**
 * The conditional WGAN: both models' PyTorch names and shapes, output shapes and ranges, a short
 * training run that lowers the critic loss while keeping every critic weight inside the clip,
 * seeded sampling, and bit-exact resumption of a run.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matmulBlocked, matmulKernel, setMatmulKernel } from "../src/tensor/kernels/matmul.js";
import { createSimdMatmul } from "../src/tensor/kernels/wasm/simd-kernel.js";
import * as T from "../src/tensor/index.js";
import { Prng } from "../src/tensor/index.js";
import { loadMnist } from "../src/io/mnist.js";
import type { BatchSource } from "../src/mnist/batches.js";
import { Batcher } from "../src/mnist/batches.js";
import { createCritic, createGenerator, labelPlanes, MODEL_KINDS } from "../src/gan/models.js";
import type { ConvCritic } from "../src/gan/models.js";
import { DEFAULT_CONFIG } from "../src/gan/config.js";
import type { TrainConfig } from "../src/gan/config.js";
import { Training } from "../src/gan/training.js";
import { createGuide } from "../src/gan/guide.js";
import { oneHot } from "../src/mnist/batches.js";
import { RUN_FILES, RunFolder } from "../src/io/run-folder.js";
import { evaluationReporter, gridReporter } from "../src/io/reports.js";
import { digitLabels, generateImages, toMnistBytes } from "../src/gan/sampling.js";
import { Wgan } from "../src/gan/wgan.js";
import { WeightAverage } from "../src/gan/average.js";
import type { ConvGenerator } from "../src/gan/models.js";
import { BatchNorm1d } from "../src/nn/index.js";
import { createEvaluator } from "../src/io/evaluator.js";
import { IMAGE_SIZE } from "../src/mnist/image.js";
import { onEveryBackend } from "./backends.js";
import { firstBitDifference, maxRelDiff } from "./gradcheck.js";
import { setStorageHeap } from "../src/tensor/storage.js";
import { KERNEL_REL_TOL } from "./tolerances.js";

const tmp = mkdtempSync(join(tmpdir(), "gan-"));
/** The default recipe keeps an average of weights whose batch norm is re-estimated each epoch: 2 batches, not 40, here. */
const QUICK = { recalibrationBatches: 2 };
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** state_dict() names and shapes of shared/anchors/torch_cwgan.py, read off its layer definitions. */
const BN = (i: number, c: number): [string, number[]][] => [
  [`net.${i}.weight`, [c]], [`net.${i}.bias`, [c]], [`net.${i}.running_mean`, [c]], [`net.${i}.running_var`, [c]], [`net.${i}.num_batches_tracked`, []],
];
const TORCH_NAMES: Record<string, [string, number[]][]> = {
  "mlp generator": [
    ["net.0.weight", [128, 110]], ["net.0.bias", [128]],
    ["net.2.weight", [256, 128]], ["net.2.bias", [256]], ...BN(3, 256),
    ["net.5.weight", [512, 256]], ["net.5.bias", [512]], ...BN(6, 512),
    ["net.8.weight", [1024, 512]], ["net.8.bias", [1024]], ...BN(9, 1024),
    ["net.11.weight", [784, 1024]], ["net.11.bias", [784]],
  ],
  "mlp critic": [
    ["net.0.weight", [512, 794]], ["net.0.bias", [512]], ["net.2.weight", [512, 512]], ["net.2.bias", [512]],
    ["net.4.weight", [512, 512]], ["net.4.bias", [512]], ["net.6.weight", [1, 512]], ["net.6.bias", [1]],
  ],
  "conv generator": [
    ["fc.0.weight", [3136, 110]], ["fc.0.bias", [3136]],
    ...BN(1, 3136).map(([n, s]): [string, number[]] => [n.replace("net.", "fc."), s]),
    ["up.0.weight", [64, 32, 4, 4]], ["up.0.bias", [32]],
    ...BN(1, 32).map(([n, s]): [string, number[]] => [n.replace("net.", "up."), s]),
    ["up.3.weight", [32, 1, 4, 4]], ["up.3.bias", [1]],
  ],
  "conv critic": [
    ["conv.0.weight", [32, 11, 4, 4]], ["conv.0.bias", [32]], ["conv.2.weight", [64, 32, 4, 4]], ["conv.2.bias", [64]],
    ["fc.weight", [1, 3136]], ["fc.bias", [1]],
  ],
};

describe("models", () => {
  for (const kind of MODEL_KINDS) {
    it(`${kind}: state names and shapes are PyTorch's`, () => {
      const prng = new Prng(1);
      const names = (m: { stateEntries(): [string, { shape: readonly number[] }][] }): [string, number[]][] =>
        m.stateEntries().map(([n, t]) => [n, [...t.shape]]);
      expect(names(createGenerator(kind, 100, prng))).toEqual(TORCH_NAMES[`${kind} generator`]);
      expect(names(createCritic(kind, prng))).toEqual(TORCH_NAMES[`${kind} critic`]);
    });

    it(`${kind}: generator gives (B,1,28,28) in [-1,1]; critic gives (B,1)`, () => {
      const prng = new Prng(2);
      const G = createGenerator(kind, 100, prng), D = createCritic(kind, prng);
      const z = T.zeros([5, 100]);
      prng.fillNormal(z.data, 0, 3);
      const y = T.tensor([5, 10], Array.from({ length: 50 }, (_, i) => (i % 10 === i / 10 ? 1 : 0)));
      const x = G.forward(z, y);
      expect(x.shape).toEqual([5, 1, 28, 28]);
      expect(Math.max(...x.data)).toBeLessThanOrEqual(1);
      expect(Math.min(...x.data)).toBeGreaterThanOrEqual(-1);
      expect(new Set(x.data).size).toBeGreaterThan(100);
      expect(D.forward(x, y).shape).toEqual([5, 1]);
    });
  }

  it("label planes put ones on the digit's plane only", () => {
    const y = T.tensor([2, 10], [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    const p = labelPlanes(y).data;
    const plane = (b: number, c: number): number[] => [...p.subarray((b * 10 + c) * 784, (b * 10 + c + 1) * 784)];
    expect(plane(0, 2).every((v) => v === 1)).toBe(true);
    expect(plane(1, 9).every((v) => v === 1)).toBe(true);
    expect(p.reduce((s, v) => s + v, 0)).toBe(2 * 784);
  });
});

/** The first n test images as a batch source (quicker to load than the training set). */
function subset(n: number): BatchSource {
  const d = loadMnist("test");
  return { n, pixels: d.pixels.subarray(0, n * IMAGE_SIZE), labels: d.labels.subarray(0, n) };
}

describe("training", () => {
  for (const kind of MODEL_KINDS)
    it(`${kind}: a few dozen critic steps lower the critic loss and keep every critic weight within the clip`, () => {
      const prng = new Prng(3);
      const c = { ...DEFAULT_CONFIG, lr: 1e-3, nCritic: 5 }; // a larger step than the recipe's, to see progress in few steps
      const wgan = new Wgan(createGenerator(kind, 100, prng), createCritic(kind, prng), prng, c);
      const batcher = new Batcher(subset(1024), prng, { batchSize: 16 });
      const losses: number[] = [];
      let gSteps = 0;
      for (const b of batcher.epoch()) {
        const l = wgan.step(b.images, b.oneHot, b.index);
        losses.push(l.criticLoss);
        if (l.generatorLoss !== null) gSteps++;
        if (losses.length === 25) break;
      }
      const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
      expect(mean(losses.slice(-10))).toBeLessThan(mean(losses.slice(0, 5)));
      expect(gSteps).toBe(5); // after batches 0, 5, ..., 20
      let largest = 0;
      for (const v of wgan.D.flatParameters().data) largest = Math.max(largest, Math.abs(v));
      expect(largest).toBe(Math.fround(c.clip)); // every weight within the clip, and the clip is active, not vacuous
    });

  it("the paper's schedule runs 100 critic steps before each of the first generator steps", () => {
    const prng = new Prng(4);
    const wgan = new Wgan(createGenerator("mlp", 100, prng), createCritic("mlp", prng), prng, { ...DEFAULT_CONFIG, nCritic: 5, paperSchedule: true });
    expect(wgan.criticItersNeeded()).toBe(100);
    wgan.generatorSteps = 30;
    expect(wgan.criticItersNeeded()).toBe(5);
    wgan.generatorSteps = 500;
    expect(wgan.criticItersNeeded()).toBe(100);
  });
});

describe("conv critic", () => {
  it("computing the label planes' part once per digit gives the concatenation's scores and gradients", () => {
    const D = createCritic("conv", new Prng(12)) as ConvCritic;
    const src = subset(12);
    const x = new T.Tensor([12, 1, 28, 28], src.pixels.slice());
    const y = new T.Tensor([12, 10], oneHot(src.labels));
    const up = new T.Tensor([12, 1], new Prng(13).fillNormal(T.alloc(12))); // a random upstream gradient
    const run = (scores: () => T.Tensor): { out: Float32Array; grad: Float32Array } => {
      D.zeroGrad();
      const s = scores();
      T.sum(T.mul(s, up)).backward();
      return { out: s.data.slice(), grad: D.pack().grad.slice() };
    };
    const fast = run(() => D.forward(x, y));
    const reference = run(() => D.fc.forward(T.flatten(D.conv.forward(T.concat([x, labelPlanes(y)], 1)))));
    expect(maxRelDiff(fast.out, reference.out)).toBeLessThan(KERNEL_REL_TOL);
    expect(maxRelDiff(fast.grad, reference.grad)).toBeLessThan(KERNEL_REL_TOL);
  });

  it("scoring two batches in one call (the label planes' part made once) gives each one's scores, and the same gradients", () => {
    const D = createCritic("conv", new Prng(14)) as ConvCritic;
    const a = new T.Tensor([6, 1, 28, 28], subset(6).pixels.slice());
    const b = new T.Tensor([6, 1, 28, 28], new Prng(15).fillUniform(T.alloc(6 * 784), -1, 1));
    const y = new T.Tensor([6, 10], oneHot(Uint8Array.from([3, 1, 4, 1, 5, 9])));
    const run = (scores: () => T.Tensor[]): { out: Float32Array[]; grad: Float32Array } => {
      D.zeroGrad();
      const [sa, sb] = scores();
      T.sub(T.mean(sa!), T.mean(sb!)).backward();
      return { out: [sa!.data.slice(), sb!.data.slice()], grad: D.pack().grad.slice() };
    };
    const each = run(() => D.forwardEach([a, b], y));
    const apart = run(() => [D.forward(a, y), D.forward(b, y)]);
    expect(firstBitDifference(each.out[0]!, apart.out[0]!)).toBe(-1);
    expect(firstBitDifference(each.out[1]!, apart.out[1]!)).toBe(-1);
    expect(maxRelDiff(each.grad, apart.grad)).toBeLessThan(KERNEL_REL_TOL); // the planes' gradient summed before its convolution, not after
  });
});

describe("buffers recycled between steps", () => {
  // allocForOverwrite hands a step the buffers of the previous one, values and all: every op must
  // write the whole of its output. With those buffers poisoned (NaN) between steps, a few steps of
  // each model and recipe must give bit for bit the weights of the same steps run unpoisoned.
  for (const kind of MODEL_KINDS)
    for (const recipe of ["plain", "guided"] as const)
      it(`${kind}, ${recipe}: no op reads a value left over from an earlier step`, () => {
        const run = (poisoned: boolean): Float32Array[] => {
          const prng = new Prng(11);
          const cfg = { ...DEFAULT_CONFIG, recipe, nCritic: 2 };
          const wgan = new Wgan(createGenerator(kind, 100, prng), createCritic(kind, prng), prng, cfg, recipe === "guided" ? createGuide(kind, prng) : null);
          const batcher = new Batcher(subset(64), prng, { batchSize: 16 });
          T.poisonRecycledBuffers(poisoned);
          try {
            for (const b of batcher.epoch()) wgan.step(b.images, b.oneHot, b.index);
          } finally {
            T.poisonRecycledBuffers(false);
          }
          return [wgan.G.pack().data.slice(), wgan.D.pack().data.slice()];
        };
        const [clean, poisoned] = [run(false), run(true)];
        expect(poisoned[0]!.every(Number.isFinite)).toBe(true);
        expect(firstBitDifference(poisoned[0]!, clean[0]!), "G").toBe(-1);
        expect(firstBitDifference(poisoned[1]!, clean[1]!), "D").toBe(-1);
      });
});

describe("the moving average of the generator's weights (--ema)", () => {
  // Re-estimating batch norm draws 10,240 samples per epoch: on the SIMD kernel, not the JS one.
  let simd: Awaited<ReturnType<typeof createSimdMatmul>> | undefined;
  beforeAll(async () => {
    simd = await createSimdMatmul({ threads: 1 });
    setMatmulKernel(simd);
  });
  afterAll(async () => {
    setMatmulKernel(matmulBlocked);
    await simd?.dispose();
  });

  it("follows avg = d avg + (1 - d) w with d = min(decay, (1 + t) / (10 + t)), and starts as the generator", () => {
    const G = createGenerator("mlp", 100, new Prng(1));
    const avg = new WeightAverage(createGenerator("mlp", 100, new Prng(2)), G, 0.5);
    expect(firstBitDifference(avg.average.pack().data, G.pack().data)).toBe(-1);
    const a0 = avg.average.pack().data.slice();
    const w = G.pack().data;
    new Prng(3).fillUniform(w, -1, 1); // the generator moves
    avg.update(G, 0); // d = min(0.5, 1/10) = 0.1
    const a1 = avg.average.pack().data;
    for (const i of [0, 17, 5000, a1.length - 1]) expect(a1[i]).toBe(Math.fround(0.1 * a0[i]! + 0.9 * w[i]!));
    const before = a1.slice();
    avg.update(G, 100); // d = min(0.5, 101/110) = 0.5
    for (const i of [0, 17, 5000]) expect(avg.average.pack().data[i]).toBe(Math.fround(0.5 * before[i]! + 0.5 * w[i]!));
  });

  it("re-estimates batch norm's statistics as the mean over its batches, deterministically", () => {
    const G = createGenerator("conv", 100, new Prng(4)) as ConvGenerator;
    const avg = new WeightAverage(createGenerator("conv", 100, new Prng(5)), G, 0.999);
    avg.recalibrate(77, 3, 16);
    const A = avg.average as ConvGenerator;
    const bn = A.fc.layers[1] as BatchNorm1d;
    // The same draws, replayed: the first batch-norm layer sees Linear([z, y]); its running mean must be
    // the mean of the three batches' means, which with equal batches is the mean over all 48 inputs.
    const prng = new Prng(77);
    const sum = new Float64Array(bn.numFeatures);
    T.noGrad(() => {
      for (let k = 0; k < 3; k++) {
        const z = new T.Tensor([16, 100], prng.fillNormal(T.alloc(1600)));
        const digits = new Uint8Array(16).map(() => prng.int(10));
        const h = A.fc.layers[0]!.forward(T.concat([z, new T.Tensor([16, 10], oneHot(digits))], 1));
        for (let i = 0; i < h.data.length; i++) sum[i % bn.numFeatures]! += h.data[i]!;
      }
    });
    const want = Float32Array.from(sum, (s) => s / 48);
    expect(maxRelDiff(bn.runningMean.data, want)).toBeLessThan(1e-5);
    expect(bn.momentum).toBe(bn.defaultMomentum); // put back
    const first = bn.runningVar.data.slice();
    avg.recalibrate(77, 3, 16);
    expect(firstBitDifference(bn.runningVar.data, first)).toBe(-1);
  });

  it("re-estimating batch norm holds one batch's buffers at a time, however many batches it runs", () => {
    const G = createGenerator("conv", 100, new Prng(4));
    const avg = new WeightAverage(createGenerator("conv", 100, new Prng(5)), G, 0.999);
    let fresh = 0; // buffers the step scopes could not take from their free lists
    setStorageHeap({ alloc: (n) => (fresh++, new Float32Array(n)) });
    try {
      avg.recalibrate(77, 1, 16); // fills the free lists with one batch's buffers
      expect(fresh).toBeGreaterThan(0);
      fresh = 0;
      avg.recalibrate(77, 5, 16);
      expect(fresh).toBe(0);
    } finally {
      setStorageHeap(matmulKernel().storage ?? null); // the active kernel's, as setMatmulKernel left it
    }
  });

  it("a run with --ema resumes bit-exactly, average and grids included, and samples from the average", () => {
    const dir = join(tmp, "ema");
    const config: TrainConfig = { ...DEFAULT_CONFIG, model: "conv", epochs: 2, batch: 8, limitBatches: 4, seed: 12, ema: 0.9 };
    const data = subset(64);
    const straight = RunFolder.create(join(dir, "straight"), config);
    const quick = QUICK;
    const a = straight.training(data, quick);
    for (let e = 0; e < 2; e++) {
      a.trainEpoch();
      straight.endEpoch(a, [gridReporter()]);
    }
    expect(a.sampler()).toBe(a.average!.average);
    const first = RunFolder.create(join(dir, "resumed"), config);
    const b = first.training(data, quick);
    b.trainEpoch();
    first.endEpoch(b, [gridReporter()]);
    const again = RunFolder.open(join(dir, "resumed"));
    const c = again.training(data, quick);
    c.trainEpoch();
    again.endEpoch(c, [gridReporter()]);
    for (const f of [RUN_FILES.generator, RUN_FILES.generatorAverage, RUN_FILES.state, "samples/epoch-002.png"])
      expect(firstBitDifference(readFileSync(join(dir, "resumed", f)), readFileSync(join(dir, "straight", f))), f).toBe(-1);
    // the average is not the generator as trained
    expect(firstBitDifference(readFileSync(join(dir, "straight", RUN_FILES.generatorAverage)), readFileSync(join(dir, "straight", RUN_FILES.generator)))).not.toBe(-1);
  });
});

describe("the guided recipe", () => {
  const guided = (seed: number, kind: "mlp" | "conv" = "mlp"): Wgan => {
    const prng = new Prng(seed);
    const G = createGenerator(kind, 100, prng);
    const D = createCritic(kind, prng);
    return new Wgan(G, D, prng, { ...DEFAULT_CONFIG, guideWeight: 2 }, createGuide(kind, prng));
  };

  it("the generator's loss is -mean(D(G(z,y),y)) + λ CE(C(G(z,y)), y); the step moves G and neither D nor C", () => {
    const wgan = guided(7);
    const src = subset(16);
    const y = new T.Tensor([16, 10], oneHot(src.labels));
    const z = new T.Tensor([16, 100], new Prng(8).fillNormal(T.alloc(1600)));
    const { adversarial, ce } = T.noGrad(() => {
      const fake = wgan.G.forward(z, y); // training mode, batch statistics: the same images the step makes
      return { adversarial: -T.mean(wgan.D.forward(fake, y)).item(), ce: T.crossEntropy(wgan.C!.forward(fake), src.labels).item() };
    });
    expect(ce).toBeGreaterThan(1); // an untrained guide: near ln 10, far from 0, so the term is visible
    const before = { G: wgan.G.pack().data.slice(), D: wgan.D.pack().data.slice(), C: wgan.C!.pack().data.slice() };
    const loss = wgan.generatorStep(y, z);
    expect(loss).toBeCloseTo(adversarial + 2 * ce, 4);
    expect(firstBitDifference(wgan.G.pack().data, before.G)).not.toBe(-1);
    expect(firstBitDifference(wgan.D.pack().data, before.D)).toBe(-1);
    expect(firstBitDifference(wgan.C!.pack().data, before.C)).toBe(-1);
  });

  it("the guide learns digits from real images only: 150 steps beat chance by far on unseen digits", () => {
    const wgan = guided(9);
    const data = subset(2048);
    const batcher = new Batcher({ n: 1536, pixels: data.pixels.subarray(0, 1536 * IMAGE_SIZE), labels: data.labels.subarray(0, 1536) }, new Prng(1), { batchSize: 32 });
    let steps = 0;
    for (let e = 0; e < 4 && steps < 150; e++)
      for (const b of batcher.epoch()) {
        wgan.guideStep(new T.Tensor([b.size, 1, 28, 28], b.images), new T.Tensor([b.size, 10], b.oneHot));
        if (++steps >= 150) break;
      }
    const held = new T.Tensor([512, 1, 28, 28], data.pixels.slice(1536 * IMAGE_SIZE));
    const scores = T.noGrad(() => wgan.C!.forward(held)).data;
    let right = 0;
    for (let i = 0; i < 512; i++) {
      let best = 0;
      for (let k = 1; k < 10; k++) if (scores[i * 10 + k]! > scores[i * 10 + best]!) best = k;
      if (best === data.labels[1536 + i]) right++;
    }
    expect(right / 512).toBeGreaterThan(0.6);
  });

  it("a step reports the guide's loss; the plain recipe has no guide", () => {
    const wgan = guided(10);
    const src = subset(16);
    const l = wgan.step(src.pixels, oneHot(src.labels), 0);
    expect(l.guideLoss).toBeGreaterThan(0);
    expect(l.generatorLoss).not.toBeNull();
    const plain = new Training({ ...DEFAULT_CONFIG, recipe: "plain", guideWeight: 0, seed: 1 }, src);
    expect(plain.wgan.C).toBeNull();
    expect(plain.wgan.step(src.pixels, oneHot(src.labels), 0).guideLoss).toBeNull();
  });
});

describe("sampling", () => {
  it("is repeatable by seed, differs between seeds, and gives MNIST bytes", () => {
    const G = createGenerator("mlp", 100, new Prng(5));
    const labels = digitLabels(3);
    const a = generateImages(G, labels, new Prng(42));
    const b = generateImages(G, labels, new Prng(42));
    const c = generateImages(G, labels, new Prng(43));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.length).toBe(30 * 784);
    expect([...toMnistBytes(new Float32Array([-1, 0, 1, 2, -3]))]).toEqual([0, 128, 255, 255, 0]);
    expect(G.training).toBe(true); // restored after sampling in eval mode
  });
});

// Bit-exact within one backend and thread count (each sums in its own fixed order).
onEveryBackend((backend) => {
  it("the mlp critic scores fakes and reals as one batch: each one's scores, and the gradients of two calls (bit for bit on the SIMD kernel)", () => {
    const D = createCritic("mlp", new Prng(16));
    const a = new T.Tensor([64, 1, 28, 28], new Prng(17).fillUniform(T.alloc(64 * 784), -1, 1));
    const b = new T.Tensor([64, 1, 28, 28], subset(64).pixels.slice());
    const y = new T.Tensor([64, 10], oneHot(subset(64).labels));
    const run = (scores: () => T.Tensor[]): { out: Float32Array[]; grad: Float32Array } => {
      D.zeroGrad();
      const [sa, sb] = scores();
      T.sub(T.mean(sa!), T.mean(sb!)).backward(); // the critic loss: fakes' mean minus reals'
      return { out: [sa!.data.slice(), sb!.data.slice()], grad: D.pack().grad.slice() };
    };
    const each = run(() => D.forwardEach!([a, b], y));
    const apart = run(() => [D.forward(a, y), D.forward(b, y)]);
    expect(firstBitDifference(each.out[0]!, apart.out[0]!)).toBe(-1);
    expect(firstBitDifference(each.out[1]!, apart.out[1]!)).toBe(-1);
    // the SIMD kernel's products carry on a gradient's sums; the js kernel sums each k block in
    // float64 and rounds it into the gradient, so two calls round once more there
    if (backend === "js") expect(maxRelDiff(each.grad, apart.grad)).toBeLessThan(KERNEL_REL_TOL);
    else expect(firstBitDifference(each.grad, apart.grad), backend).toBe(-1);
  });

  describe("resume", () => {
    const dir = join(tmp, backend.replace(/\W+/g, "-")); // one folder per backend
    const config: TrainConfig = { ...DEFAULT_CONFIG, model: "conv", epochs: 2, batch: 8, limitBatches: 4, seed: 11 };
    const data = subset(128);
    const trainTo = (folder: RunFolder, t: Training, epochs: number): void => {
      while (t.epoch < epochs) {
        t.trainEpoch();
        folder.endEpoch(t);
      }
    };
    const files = [RUN_FILES.generator, RUN_FILES.critic, RUN_FILES.optimG, RUN_FILES.optimD, RUN_FILES.guide, RUN_FILES.optimC, RUN_FILES.state];

    it("resuming after epoch 1 gives bit-identical weights, optimizer state and counters after epoch 2", () => {
      const straight = RunFolder.create(join(dir, "straight"), config);
      trainTo(straight, straight.training(data, QUICK), 2);
      const first = RunFolder.create(join(dir, "resumed"), config);
      trainTo(first, first.training(data, QUICK), 1);
      const again = RunFolder.open(join(dir, "resumed"));
      const resumed = again.training(data, QUICK);
      expect(resumed.epoch).toBe(1);
      trainTo(again, resumed, 2);
      for (const f of files) expect(firstBitDifference(readFileSync(join(dir, "resumed", f)), readFileSync(join(dir, "straight", f))), f).toBe(-1);
      expect(readFileSync(join(dir, "resumed", RUN_FILES.losses), "utf8")).toBe(readFileSync(join(dir, "straight", RUN_FILES.losses), "utf8"));
    });

    it("evaluation after an epoch appends the classifier's judgement to metrics.jsonl", () => {
      const folder = RunFolder.create(join(dir, "judged"), { ...config, epochs: 1, evalPerDigit: 20 });
      const t = folder.training(data, QUICK);
      t.trainEpoch();
      folder.endEpoch(t, [evaluationReporter(() => createEvaluator({ realLimit: 500 }))]);
      expect(t.metrics.length).toBe(1);
      const m = t.metrics[0]!;
      expect(m.epoch).toBe(1);
      expect(m.conditional_accuracy).toBeGreaterThanOrEqual(0);
      expect(m.conditional_accuracy).toBeLessThanOrEqual(1);
      expect(m.fid).toBeGreaterThan(0);
      expect(m.diversity).toBeGreaterThan(0);
      const lines = readFileSync(join(dir, "judged", RUN_FILES.metrics), "utf8").trim().split("\n");
      expect(lines.map((l) => JSON.parse(l))).toEqual([m]);
    });

    it("refuses to start over an existing run and to resume a folder without one", () => {
      expect(() => RunFolder.create(join(dir, "straight"), config)).toThrow(/already holds a run/);
      expect(() => RunFolder.open(join(dir, "nothing-here"))).toThrow(/not a run folder/);
      cpSync(join(dir, "straight"), join(dir, "broken"), { recursive: true });
      writeFileSync(join(dir, "broken", RUN_FILES.state), "{");
      expect(() => RunFolder.open(join(dir, "broken")).training(data, QUICK)).toThrow(/broken\/state\.json: not valid JSON$/);
    });
  });
});
