/**
 * Optimizers against numbers worked out by hand (float64 arithmetic in the comments, float32 in the
 * code, OPTIM_ABS_TOL apart), and weight clipping. The parameter vector is split over two
 * parameters, w = [a0, a1, b0], so the step also exercises the packed flat buffer.
 *   w0 = [1, -0.5, 0.25],  g1 = [0.5, -1, 0],  g2 = [0.25, 0.5, 2]
 */
import { describe, expect, it } from "vitest";
import { Prng, Tensor } from "../src/tensor/index.js";
import * as T from "../src/tensor/index.js";
import { Adam, BatchNorm1d, Linear, Module, RMSprop, SGD, Sequential, clipWeights } from "../src/nn/index.js";
import type { Optimizer } from "../src/nn/index.js";
import { OPTIM_ABS_TOL } from "./tolerances.js";

class Tiny extends Module {
  readonly a: Tensor = this.param("a", [2]);
  readonly b: Tensor = this.param("b", [1]);
  constructor() {
    super();
    this.a.data.set([1, -0.5]);
    this.b.data.set([0.25]);
  }
}

const G1 = [0.5, -1, 0];
const G2 = [0.25, 0.5, 2];

/** Runs one step per gradient list, setting the model's gradients through its parameters' views. */
function run(model: Tiny, opt: Optimizer, grads: number[][]): number[] {
  for (const g of grads) {
    opt.zeroGrad();
    model.a.grad!.set(g.slice(0, 2));
    model.b.grad!.set(g.slice(2));
    opt.step();
  }
  return [...model.a.data, ...model.b.data];
}

function expectClose(actual: ArrayLike<number>, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(Math.abs(actual[i]! - e), `entry ${i}: ${actual[i]} vs ${e}`).toBeLessThan(OPTIM_ABS_TOL));
}

describe("RMSprop (v = alpha v + (1 - alpha) g²;  w -= lr g / (sqrt(v) + eps))", () => {
  it("two steps, lr 0.01, alpha 0.99, eps 1e-8", () => {
    const m = new Tiny();
    const opt = new RMSprop(m, { lr: 0.01 });
    // step 1: v = 0.01 g1² = [0.0025, 0.01, 0];  sqrt(v) = [0.05, 0.1, 0]
    //   w -= 0.01 * [0.5/0.05, -1/0.1, 0/(0 + 1e-8)] = [0.1, -0.1, 0] (less 2e-8 of eps)
    //   w1 = [0.90000002, -0.40000001, 0.25]
    expectClose(run(m, opt, [G1]), [0.900000019999996, -0.4000000099999991, 0.25]);
    expectClose(opt.squareAvg, [0.0025, 0.01, 0]);
    // step 2: v = 0.99 v + 0.01 g2² = [0.002475 + 0.000625, 0.0099 + 0.0025, 0 + 0.04] = [0.0031, 0.0124, 0.04]
    //   sqrt(v) = [0.05567764, 0.11135529, 0.2]
    //   w -= 0.01 * [0.25/0.05567764, 0.5/0.11135529, 2/0.2] = [0.04490133, 0.04490133, 0.1]
    //   w2 = [0.85509870, -0.44490133, 0.15000000]
    expectClose(run(m, opt, [G2]), [0.855098702557817, -0.44490133147443506, 0.1500000049999998]);
    expectClose(opt.squareAvg, [0.0031, 0.0124, 0.04]);
  });
  it("eps is added to sqrt(v), not under it: one step with eps 0.1", () => {
    const m = new Tiny();
    // v = [0.0025, 0.01, 0]; w -= 0.01 * [0.5/(0.05 + 0.1), -1/(0.1 + 0.1), 0] = [0.0333333, -0.05, 0]
    expectClose(run(m, new RMSprop(m, { lr: 0.01, eps: 0.1 }), [G1]), [0.9666666666666667, -0.45, 0.25]);
  });
});

describe("Adam (PyTorch: bias-corrected step size, eps added after dividing sqrt(v) by sqrt(1 - b2^t))", () => {
  it("two steps, lr 0.1, betas (0.9, 0.999), eps 1e-8", () => {
    const m = new Tiny();
    const opt = new Adam(m, { lr: 0.1 });
    // step 1 (t = 1): m = 0.1 g1 = [0.05, -0.1, 0];  v = 0.001 g1² = [0.00025, 0.001, 0]
    //   step size 0.1 / (1 - 0.9) = 1;  sqrt(v) / sqrt(1 - 0.999) = [0.5, 1, 0]
    //   w -= [0.05/0.5, -0.1/1, 0] = [0.1, -0.1, 0]  ->  w1 = [0.9, -0.4, 0.25]
    expectClose(run(m, opt, [G1]), [0.900000002, -0.400000001, 0.25]);
    // step 2 (t = 2): m = 0.9 m + 0.1 g2 = [0.045 + 0.025, -0.09 + 0.05, 0 + 0.2] = [0.07, -0.04, 0.2]
    //   v = 0.999 v + 0.001 g2² = [0.00024975 + 0.0000625, 0.000999 + 0.00025, 0.004] = [0.00031225, 0.001249, 0.004]
    //   step size 0.1 / (1 - 0.81) = 0.52631579;  sqrt(1 - 0.999²) = sqrt(0.001999) = 0.04471018
    //   denominators sqrt(v) / 0.04471018 = [0.01767060, 0.03534119, 0.06324555] / 0.04471018 = [0.39522538, 0.79045076, 1.41456725]
    //   w -= 0.52631579 * [0.07/0.39522538, -0.04/0.79045076, 0.2/1.41456725] = [0.09321796, -0.02663370, 0.07441368]
    //   w2 = [0.80678204, -0.37336630, 0.17558632]
    expectClose(run(m, opt, [G2]), [0.8067820404774624, -0.37336629737090316, 0.1755863181693544]);
    expectClose(opt.expAvg, [0.07, -0.04, 0.2]);
    expectClose(opt.expAvgSq, [0.00031225, 0.001249, 0.004]);
    expect(opt.stepCount).toBe(2);
    const step = opt.stateEntries().find(([n]) => n === "step")![1];
    expect([step.dtype, step.shape, step.data[0]]).toEqual(["int64", [], 2]);
  });
  it("eps placement: one step with eps 0.1", () => {
    const m = new Tiny();
    // w -= 1 * [0.05/(0.5 + 0.1), -0.1/(1 + 0.1), 0] = [0.0833333, -0.0909091, 0]
    expectClose(run(m, new Adam(m, { lr: 0.1, eps: 0.1 }), [G1]), [0.9166666666666666, -0.40909090909090906, 0.25]);
  });
});

describe("SGD", () => {
  it("momentum 0.9, lr 0.1: b = g1, then b = 0.9 b + g2", () => {
    const m = new Tiny();
    const opt = new SGD(m, { lr: 0.1, momentum: 0.9 });
    // step 1: b = g1 = [0.5, -1, 0];  w -= 0.1 b  ->  [0.95, -0.4, 0.25]
    expectClose(run(m, opt, [G1]), [0.95, -0.4, 0.25]);
    // step 2: b = 0.9 [0.5, -1, 0] + [0.25, 0.5, 2] = [0.7, -0.4, 2];  w -= 0.1 b  ->  [0.88, -0.36, 0.05]
    expectClose(run(m, opt, [G2]), [0.88, -0.36, 0.05]);
  });
  it("without momentum: w -= lr g, and no state", () => {
    const m = new Tiny();
    const opt = new SGD(m, { lr: 0.1 });
    expectClose(run(m, opt, [G1, G2]), [1 - 0.05 - 0.025, -0.5 + 0.1 - 0.05, 0.25 - 0.2]);
    expect(opt.stateEntries()).toEqual([]);
  });
});

describe("optimizers and the flat buffer", () => {
  it("the constructor packs the model; zeroGrad clears every gradient", () => {
    const net = new Sequential(new Linear(3, 4, new Prng(1)), new Linear(4, 2, new Prng(2)));
    const opt = new RMSprop(net, { lr: 0.01 });
    const flat = net.flatParameters();
    expect(flat.data.length).toBe(3 * 4 + 4 + 4 * 2 + 2);
    flat.grad.fill(1);
    opt.zeroGrad(); // marks the gradients zero; they read as zeros through the model
    for (const p of net.parameters()) expect(p.grad!.every((g) => g === 0)).toBe(true);
    flat.grad.fill(1);
    opt.zeroGrad();
    expect(net.flatParameters().grad.every((g) => g === 0)).toBe(true);
    for (const p of net.parameters()) expect(p.grad!.buffer).toBe(flat.grad.buffer);
  });

  it("old gradient values behind zeroGrad never reach a step: a backward writes over them, and a parameter left out reads zeros", () => {
    const first = new Linear(3, 4, new Prng(1)), unused = new Linear(4, 2, new Prng(2));
    const net = new Sequential(first, unused); // only `first` takes part in the loss below
    const opt = new RMSprop(net, { lr: 0.01 });
    const x = new Tensor([2, 3], Float32Array.of(1, -2, 0.5, 3, 0.25, -1));
    const gradOf = (): Float32Array => {
      opt.zeroGrad();
      T.sum(first.forward(x)).backward();
      return net.flatParameters().grad.slice();
    };
    const clean = gradOf();
    net.flatParameters().grad.fill(1e6); // stale values a lazy zero must hide
    const again = gradOf();
    expect(Array.from(again)).toEqual(Array.from(clean));
    expect(Array.from(unused.weight.grad!).every((g) => g === 0)).toBe(true);
    const before = Float32Array.from(unused.weight.data);
    net.flatParameters().grad.fill(1e6);
    opt.zeroGrad();
    T.sum(first.forward(x)).backward();
    opt.step(); // the unused layer's gradient is zero, so RMSprop leaves its weights where they were
    expect(Array.from(unused.weight.data)).toEqual(Array.from(before));
  });
});

describe("clipWeights", () => {
  /** Linear(3,4), BatchNorm1d(4), Linear(4,2) with parameters spread over [-3, 3]. */
  function critic(seed: number): Sequential {
    const net = new Sequential(new Linear(3, 4, new Prng(seed)), new BatchNorm1d(4), new Linear(4, 2, new Prng(seed + 1)));
    net.pack();
    new Prng(seed + 2).fillUniform(net.flatParameters().data, -3, 3);
    return net;
  }

  it("clamps every parameter (biases and batch-norm weights too) into [-c, c], leaves in-range values bit-exact", () => {
    const D = critic(1);
    const before = Float32Array.from(D.flatParameters().data);
    const c = Math.fround(0.5);
    clipWeights(D, c);
    const after = D.flatParameters().data;
    let clipped = 0;
    before.forEach((v, i) => {
      if (v > c) expect(after[i]).toBe(c);
      else if (v < -c) expect(after[i]).toBe(-c);
      else expect(after[i]).toBe(v);
      if (Math.abs(v) > c) clipped++;
    });
    expect(clipped).toBeGreaterThan(before.length / 2);
    for (const [name, p] of D.namedParameters())
      expect(p.data.every((v) => v >= -c && v <= c), name).toBe(true);
  });

  it("is exact at the bounds, for huge and tiny values and for -0", () => {
    const D = critic(2);
    const w = D.flatParameters().data;
    const c = Math.fround(0.01);
    const special = [c, -c, Math.fround(1e30), Math.fround(-1e30), Math.fround(1e-30), -0, Math.fround(0.010000001), Math.fround(-0.010000001)];
    w.set(special);
    clipWeights(D, c);
    expect(Array.from(w.subarray(0, special.length))).toEqual([c, -c, c, -c, Math.fround(1e-30), -0, c, -c]);
  });

  it("leaves buffers and other models alone", () => {
    const D = critic(1);
    const G = critic(5);
    const bn = D.layers[1] as BatchNorm1d;
    bn.runningMean.data.fill(7);
    bn.runningVar.data.fill(-9);
    bn.numBatchesTracked.data[0] = 3;
    const gBefore = Float32Array.from(G.flatParameters().data);
    clipWeights(D, 0.01);
    expect(bn.runningMean.data.every((v) => v === 7)).toBe(true);
    expect(bn.runningVar.data.every((v) => v === -9)).toBe(true);
    expect(bn.numBatchesTracked.data[0]).toBe(3);
    expect(G.flatParameters().data).toEqual(gBefore);
  });

  it("refuses a bound that is not a positive number", () => {
    expect(() => clipWeights(critic(1), 0)).toThrow("clipWeights: bound must be a positive number, got 0");
  });
});
