/**
 * Layers: gradients of every layer (inputs and parameters) by central differences (gradcheck.ts),
 * PyTorch's state names and shapes, PyTorch's default and DCGAN initialisation, and batch norm's
 * training/eval behaviour against running statistics worked out by hand.
 */
import { describe, expect, it } from "vitest";
import * as T from "../src/tensor/index.js";
import { Prng } from "../src/tensor/index.js";
import {
  BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, LeakyReLU, Linear, MaxPool2d, ReLU, Sequential, Tanh,
  initDcgan,
} from "../src/nn/index.js";
import type { Layer } from "../src/nn/index.js";
import { checkGradients, randAwayFromZero, randTensor } from "./gradcheck.js";
import { onEveryBackend } from "./backends.js";

const prng = new Prng(31);
const r = (...shape: number[]): T.Tensor => randTensor(prng, shape);

/** Checks d/dx and d/dparam of the layer's output for every parameter. */
function checkLayer(layer: Layer, x: T.Tensor): void {
  checkGradients(([xi]) => layer.forward(xi!), [x, ...layer.parameters()]);
}

/** Mean and standard deviation (population) of a buffer, in float64. */
function stats(a: ArrayLike<number>): { mean: number; std: number; maxAbs: number } {
  let s = 0, s2 = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i]!;
    m = Math.max(m, Math.abs(a[i]!));
  }
  const mean = s / a.length;
  for (let i = 0; i < a.length; i++) s2 += (a[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(s2 / a.length), maxAbs: m };
}

onEveryBackend(() => {
  describe("layer gradients (central differences, inputs and parameters)", () => {
    it("Linear, with and without bias", () => {
      checkLayer(new Linear(5, 3, prng), r(4, 5));
      checkLayer(new Linear(1, 6, prng, { bias: false }), r(2, 1));
    });
    it("Conv2d: 3x3 stride 1, and 4x4 stride 2 padding 1", () => {
      checkLayer(new Conv2d(2, 3, 3, prng), r(2, 2, 5, 5));
      checkLayer(new Conv2d(3, 2, 4, prng, { stride: 2, padding: 1 }), r(1, 3, 6, 6));
    });
    it("ConvTranspose2d: 4x4 stride 2 padding 1, and without bias", () => {
      checkLayer(new ConvTranspose2d(3, 2, 4, prng, { stride: 2, padding: 1 }), r(2, 3, 3, 3));
      checkLayer(new ConvTranspose2d(2, 1, 3, prng, { bias: false }), r(1, 2, 2, 3));
    });
    it("BatchNorm1d and BatchNorm2d in training mode (batch statistics depend on x)", () => {
      const bn1 = new BatchNorm1d(3);
      prng.fillUniform(bn1.weight.data, 0.5, 1.5);
      prng.fillUniform(bn1.bias.data, -0.5, 0.5);
      checkLayer(bn1, r(5, 3));
      const bn2 = new BatchNorm2d(2);
      prng.fillUniform(bn2.weight.data, 0.5, 1.5);
      prng.fillUniform(bn2.bias.data, -0.5, 0.5);
      checkLayer(bn2, r(2, 2, 3, 3));
    });
    it("BatchNorm2d in eval mode", () => {
      const bn = new BatchNorm2d(3);
      bn.forward(r(4, 3, 2, 2)); // running statistics away from (0, 1)
      bn.eval();
      checkLayer(bn, r(2, 3, 2, 2));
    });
    it("ReLU, LeakyReLU, Tanh, Flatten", () => {
      checkLayer(new ReLU(), randAwayFromZero(prng, [3, 7]));
      checkLayer(new LeakyReLU(0.2), randAwayFromZero(prng, [2, 3, 2, 2]));
      checkLayer(new Tanh(), r(4, 5));
      checkLayer(new Flatten(), r(2, 3, 2, 2));
    });
    it("MaxPool2d, with values 0.1 apart so a step of 0.01 never changes the maximum", () => {
      const x = new T.Tensor([2, 2, 4, 6], undefined, true);
      const perm = prng.permutation(x.size);
      for (let i = 0; i < x.size; i++) x.data[i] = perm[i]! * 0.1 - 4;
      checkLayer(new MaxPool2d(2), x);
      checkLayer(new MaxPool2d(3), x);
    });
    it("Sequential(Linear, BatchNorm1d, Tanh, Linear): the chain's gradients", () => {
      const net = new Sequential(new Linear(4, 5, prng), new BatchNorm1d(5), new Tanh(), new Linear(5, 2, prng));
      checkLayer(net, r(6, 4));
    });
  });
});

describe("PyTorch's names and layouts", () => {
  it("Sequential(Linear, BatchNorm1d, LeakyReLU, Linear) has state_dict()'s names, order, shapes and dtypes", () => {
    const net = new Sequential(new Linear(4, 5, prng), new BatchNorm1d(5), new LeakyReLU(0.2), new Linear(5, 2, prng));
    // torch: nn.Sequential(nn.Linear(4,5), nn.BatchNorm1d(5), nn.LeakyReLU(0.2), nn.Linear(5,2)).state_dict()
    expect(net.stateEntries().map(([n, t]) => [n, [...t.shape], t.dtype])).toEqual([
      ["0.weight", [5, 4], "float32"],
      ["0.bias", [5], "float32"],
      ["1.weight", [5], "float32"],
      ["1.bias", [5], "float32"],
      ["1.running_mean", [5], "float32"],
      ["1.running_var", [5], "float32"],
      ["1.num_batches_tracked", [], "int64"],
      ["3.weight", [2, 5], "float32"],
      ["3.bias", [2], "float32"],
    ]);
    expect(net.namedParameters().map(([n]) => n)).toEqual(["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]);
    expect(net.parameterCount()).toBe(5 * 4 + 5 + 5 + 5 + 2 * 5 + 2);
  });
  it("Conv2d weight is (out,in,k,k), ConvTranspose2d weight is (in,out,k,k); parameter-free layers register nothing", () => {
    expect(new Conv2d(11, 32, 4, prng).weight.shape).toEqual([32, 11, 4, 4]);
    const ct = new ConvTranspose2d(64, 32, 4, prng, { stride: 2, padding: 1 });
    expect(ct.stateEntries().map(([n, t]) => [n, [...t.shape]])).toEqual([["weight", [64, 32, 4, 4]], ["bias", [32]]]);
    expect(ct.forward(r(1, 64, 7, 7)).shape).toEqual([1, 32, 14, 14]);
    expect(new Linear(3, 2, prng, { bias: false }).stateEntries().map(([n]) => n)).toEqual(["weight"]);
    for (const l of [new ReLU(), new LeakyReLU(0.2), new Tanh(), new Flatten(), new MaxPool2d()]) expect(l.stateEntries()).toEqual([]);
  });
  it("batch norm checks its input rank", () => {
    expect(() => new BatchNorm1d(3).forward(r(2, 3, 2, 2))).toThrow("BatchNorm1d: expects a 2-d input, got (2,3,2,2)");
    expect(() => new BatchNorm2d(3).forward(r(4, 3))).toThrow("BatchNorm2d: expects a 4-d input, got (4,3)");
  });
});

describe("initialisation", () => {
  it("Linear: weights and biases U(-1/sqrt(in), 1/sqrt(in)), std ≈ bound/sqrt(3)", () => {
    const l = new Linear(256, 128, new Prng(5));
    const bound = 1 / Math.sqrt(256);
    const w = stats(l.weight.data);
    expect(w.maxAbs).toBeLessThanOrEqual(bound);
    expect(w.maxAbs).toBeGreaterThan(0.99 * bound);
    expect(Math.abs(w.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.1);
    expect(Math.abs(w.mean)).toBeLessThan(0.05 * bound);
    const b = stats(l.bias!.data);
    expect(b.maxAbs).toBeLessThanOrEqual(bound);
    expect(b.maxAbs).toBeGreaterThan(0.9 * bound);
  });
  it("Conv2d uses fan_in = in*k*k; ConvTranspose2d (in,out,k,k) uses PyTorch's out*k*k", () => {
    const c = stats(new Conv2d(8, 16, 3, new Prng(6)).weight.data);
    expect(c.maxAbs).toBeLessThanOrEqual(1 / Math.sqrt(8 * 9));
    expect(c.maxAbs).toBeGreaterThan(0.99 / Math.sqrt(8 * 9));
    // in*k*k = 1024 would give a bound of 1/32; out*k*k = 512 gives 1/sqrt(512) ≈ 0.0442
    const ct = new ConvTranspose2d(64, 32, 4, new Prng(7));
    const w = stats(ct.weight.data);
    const bound = 1 / Math.sqrt(32 * 16);
    expect(w.maxAbs).toBeLessThanOrEqual(bound);
    expect(w.maxAbs).toBeGreaterThan(0.99 * bound);
    expect(Math.abs(w.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.1);
    expect(stats(ct.bias!.data).maxAbs).toBeLessThanOrEqual(bound);
    expect(stats(ct.bias!.data).maxAbs).toBeGreaterThan(1 / 32);
  });
  it("the same seed gives the same weights", () => {
    const a = new Sequential(new Linear(6, 4, new Prng(9)));
    const b = new Sequential(new Linear(6, 4, new Prng(9)));
    expect(a.stateEntries()[0]![1].data).toEqual(b.stateEntries()[0]![1].data);
  });
  it("initDcgan: weights N(0, 0.02), batch-norm weights N(1, 0.02), biases 0, buffers untouched", () => {
    const p = new Prng(10);
    const net = new Sequential(new Linear(64, 200, p), new BatchNorm1d(200), new ReLU(), new ConvTranspose2d(8, 16, 4, p), new Conv2d(16, 8, 3, p));
    const bn = net.layers[1] as BatchNorm1d;
    bn.runningMean.data.fill(0.25);
    initDcgan(net, new Prng(11));
    for (const i of [0, 3, 4]) {
      const l = net.layers[i] as Linear | Conv2d | ConvTranspose2d;
      const w = stats(l.weight.data);
      expect(Math.abs(w.std / 0.02 - 1), `layer ${i}`).toBeLessThan(0.1);
      expect(Math.abs(w.mean)).toBeLessThan(0.002);
      expect(stats(l.bias!.data).maxAbs).toBe(0);
    }
    const g = stats(bn.weight.data);
    expect(Math.abs(g.mean - 1)).toBeLessThan(0.005);
    expect(Math.abs(g.std / 0.02 - 1)).toBeLessThan(0.15); // 200 draws
    expect(stats(bn.bias.data).maxAbs).toBe(0);
    expect(bn.runningMean.data.every((v) => v === 0.25)).toBe(true);
  });
});

describe("BatchNorm: training vs eval", () => {
  it("training normalises each channel with the batch's statistics (mean ≈ 0, variance ≈ 1)", () => {
    const bn = new BatchNorm2d(3);
    const x = randTensor(prng, [8, 3, 4, 4], -3, 5);
    const y = bn.forward(x).data;
    for (let c = 0; c < 3; c++) {
      const vals: number[] = [];
      for (let n = 0; n < 8; n++) for (let k = 0; k < 16; k++) vals.push(y[(n * 3 + c) * 16 + k]!);
      const s = stats(vals);
      expect(Math.abs(s.mean)).toBeLessThan(1e-5);
      expect(Math.abs(s.std ** 2 - 1)).toBeLessThan(1e-4); // var / (var + eps), var ≈ 5
    }
  });

  it("running statistics after two known batches (momentum 0.1, unbiased variance), then eval uses them", () => {
    const bn = new BatchNorm1d(2);
    // batch 1, (3,2): channel 0 = 1, 3, 5: mean 3, unbiased var (4 + 0 + 4)/2 = 4
    //                 channel 1 = 2, 6, 10: mean 6, unbiased var (16 + 0 + 16)/2 = 16
    bn.forward(T.tensor([3, 2], [1, 2, 3, 6, 5, 10]));
    // running_mean = 0.9 * 0 + 0.1 * [3, 6] = [0.3, 0.6];  running_var = 0.9 * 1 + 0.1 * [4, 16] = [1.3, 2.5]
    expect(Array.from(bn.runningMean.data)).toEqual([0.3, 0.6].map(Math.fround));
    expect(bn.runningVar.data[0]).toBeCloseTo(1.3, 6);
    expect(bn.runningVar.data[1]).toBeCloseTo(2.5, 6);
    // batch 2, (2,2): channel 0 = 0, 2: mean 1, unbiased var (1 + 1)/1 = 2
    //                 channel 1 = 1, -1: mean 0, unbiased var (1 + 1)/1 = 2
    bn.forward(T.tensor([2, 2], [0, 1, 2, -1]));
    // running_mean = 0.9 * [0.3, 0.6] + 0.1 * [1, 0] = [0.37, 0.54]
    // running_var  = 0.9 * [1.3, 2.5] + 0.1 * [2, 2] = [1.37, 2.45]
    const rm = Array.from(bn.runningMean.data);
    const rv = Array.from(bn.runningVar.data);
    [0.37, 0.54].forEach((v, i) => expect(rm[i]).toBeCloseTo(v, 6));
    [1.37, 2.45].forEach((v, i) => expect(rv[i]).toBeCloseTo(v, 6));
    expect(bn.numBatchesTracked.data[0]).toBe(2);

    // eval: y = (x - running_mean) / sqrt(running_var + 1e-5) * gamma + beta, with gamma = 2, beta = -1
    bn.weight.data.fill(2);
    bn.bias.data.fill(-1);
    bn.eval();
    const y = bn.forward(T.tensor([1, 2], [1.37, 0.54])).data;
    expect(y[0]).toBeCloseTo((2 * (1.37 - 0.37)) / Math.sqrt(1.37 + 1e-5) - 1, 5);
    expect(y[1]).toBeCloseTo(-1, 5);
    // eval neither moves the running statistics nor counts the batch
    expect(Array.from(bn.runningMean.data)).toEqual(rm);
    expect(Array.from(bn.runningVar.data)).toEqual(rv);
    expect(bn.numBatchesTracked.data[0]).toBe(2);
    bn.train();
    bn.forward(T.tensor([2, 2], [0, 1, 2, -1]));
    expect(bn.numBatchesTracked.data[0]).toBe(3);
  });

  it("train()/eval() on a Sequential reach the batch norm inside it", () => {
    const bn = new BatchNorm1d(2);
    const net = new Sequential(new Linear(2, 2, prng), bn);
    net.eval();
    expect(bn.training).toBe(false);
    net.train();
    expect(bn.training).toBe(true);
  });
});
