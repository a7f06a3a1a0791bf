/**
 * Central-difference gradient checks for every op, with a random upstream gradient and awkward
 * shapes (1xN, Nx1, odd sizes, K = 1, stride 2 with padding 1). See gradcheck.ts for the method.
 */
import { describe, expect, it } from "vitest";
import * as T from "../src/tensor/index.js";
import { Prng } from "../src/tensor/index.js";
import { checkGradients, firstBitDifference, randAwayFromZero, randTensor } from "./gradcheck.js";
import { poolWindows, poolWindows2 } from "../src/tensor/ops/pool.js";
import { onEveryBackend } from "./backends.js";

const prng = new Prng(2024);
const r = (...shape: number[]): T.Tensor => randTensor(prng, shape);

onEveryBackend(() => {
  describe("gradients: element-wise and broadcasting", () => {
    const cases: [string, number[], number[]][] = [
      ["same shape", [3, 5], [3, 5]],
      ["same shape with a size-1 axis inside", [3, 1, 4], [3, 1, 4]],
      ["(C,1,W) onto (N,C,1,W)", [2, 3, 1, 4], [3, 1, 4]],
      ["row vector (F) onto (N,F)", [4, 7], [7]],
      ["row vector (1,F)", [1, 9], [1, 9]],
      ["column (N,1) onto (N,F)", [5, 3], [5, 1]],
      ["per-channel (C,1,1) onto (N,C,H,W)", [2, 3, 4, 5], [3, 1, 1]],
      ["per-channel (1,C,1,1)", [2, 3, 2, 2], [1, 3, 1, 1]],
      ["single value", [3, 4], [1]],
    ];
    for (const [name, as, bs] of cases) {
      it(`add, sub, mul: ${name}`, () => {
        checkGradients(([a, b]) => T.add(a!, b!), [r(...as), r(...bs)]);
        checkGradients(([a, b]) => T.sub(a!, b!), [r(...as), r(...bs)]);
        checkGradients(([a, b]) => T.mul(a!, b!), [r(...as), r(...bs)]);
      });
    }
    it("scalar ops", () => {
      checkGradients(([a]) => T.affineScalar(a!, -2.5, 0.3), [r(4, 3)]);
      checkGradients(([a]) => T.neg(T.addScalar(T.mulScalar(a!, 3), 1)), [r(1, 6)]);
    });
    it("relu, leakyRelu, tanh, sigmoid", () => {
      checkGradients(([a]) => T.relu(a!), [randAwayFromZero(prng, [5, 7])]);
      checkGradients(([a]) => T.leakyRelu(a!, 0.2), [randAwayFromZero(prng, [7, 1])]);
      checkGradients(([a]) => T.tanh(a!), [r(3, 11)]);
      checkGradients(([a]) => T.sigmoid(T.mulScalar(a!, 3)), [r(1, 13)]);
    });
    it("relu and leakyRelu: exact values and, at the kink, PyTorch's choice of gradient (x > 0)", () => {
      const xs = [-3.5, -1e-30, -0, 0, 1e-30, 2.25, 3e38, -3e38];
      const x = new T.Tensor([xs.length], Float32Array.from(xs), true);
      const yr = T.relu(x), yl = T.leakyRelu(x, 0.2);
      expect(Array.from(yr.data)).toEqual(xs.map((v) => Math.fround(v > 0 ? v : 0)));
      // PyTorch's leaky_relu multiplies in float32: x * float(0.2)
      expect(Array.from(yl.data)).toEqual(xs.map((v) => Math.fround(v > 0 ? v : Math.fround(0.2) * Math.fround(v))));
      T.sum(yr).backward();
      expect(Array.from(x.grad!)).toEqual(xs.map((v) => (v > 0 ? 1 : 0)));
      x.grad = null;
      T.sum(yl).backward();
      expect(Array.from(x.grad!)).toEqual(xs.map((v) => Math.fround(v > 0 ? 1 : 0.2)));
    });
  });

  describe("gradients: products", () => {
    const shapes: [number, number, number][] = [[1, 1, 1], [1, 6, 4], [6, 1, 4], [5, 7, 1], [9, 5, 13]];
    for (const [M, N, K] of shapes) {
      it(`matmul (${M},${K})·(${K},${N})`, () => checkGradients(([a, b]) => T.matmul(a!, b!), [r(M, K), r(K, N)]));
      it(`linear x (${M},${K}), W (${N},${K}) with and without bias`, () => {
        checkGradients(([x, w, b]) => T.linear(x!, w!, b!), [r(M, K), r(N, K), r(N)]);
        checkGradients(([x, w]) => T.linear(x!, w!), [r(M, K), r(N, K)]);
      });
    }
  });

  describe("gradients: shape ops and reductions", () => {
    it("reshape and flatten", () => {
      checkGradients(([a]) => T.reshape(a!, [6, -1]), [r(2, 3, 4)]);
      checkGradients(([a]) => T.flatten(a!), [r(3, 2, 2, 5)]);
    });
    it("concat along each axis, three inputs", () => {
      checkGradients(([a, b, c]) => T.concat([a!, b!, c!], 0), [r(2, 3), r(1, 3), r(4, 3)]);
      checkGradients(([a, b]) => T.concat([a!, b!], 1), [r(3, 100), r(3, 10)]);
      checkGradients(([a, b]) => T.concat([a!, b!], 1), [r(2, 1, 3, 3), r(2, 10, 3, 3)]);
      checkGradients(([a, b]) => T.concat([a!, b!], -1), [r(2, 2, 1), r(2, 2, 5)]);
    });
    it("slice along an axis", () => {
      checkGradients(([a]) => T.slice(a!, 1, 2, 5), [r(3, 7)]);
      checkGradients(([a]) => T.slice(a!, 0, 0, 1), [r(4, 2, 3)]);
      checkGradients(([a]) => T.slice(a!, 2, 1, 2), [r(2, 3, 4)]);
    });
    it("sum and mean, whole and along an axis", () => {
      checkGradients(([a]) => T.sum(a!), [r(3, 4)]);
      checkGradients(([a]) => T.mean(a!), [r(1, 7)]);
      for (const ax of [0, 1, 2, -1]) {
        checkGradients(([a]) => T.sum(a!, ax), [r(3, 4, 5)]);
        checkGradients(([a]) => T.mean(a!, ax), [r(2, 1, 3)]);
      }
    });
  });

  describe("gradients: classification losses", () => {
    it("logSoftmax", () => checkGradients(([a]) => T.logSoftmax(a!), [r(4, 10)]));
    it("nllLoss and crossEntropy", () => {
      checkGradients(([a]) => T.nllLoss(T.logSoftmax(a!), [3, 0, 9, 3, 1]), [r(5, 10)]);
      checkGradients(([a]) => T.crossEntropy(T.mulScalar(a!, 4), [1, 0]), [r(2, 3)]);
    });
  });

  describe("gradients: convolutions and pooling", () => {
    const convCases: [string, number[], number[], number, number][] = [
      ["3x3, stride 1, pad 1", [2, 3, 5, 5], [4, 3, 3, 3], 1, 1],
      ["4x4, stride 2, pad 1 (the critic's)", [2, 2, 6, 6], [3, 2, 4, 4], 2, 1],
      ["1x1 kernel, one channel", [1, 1, 3, 4], [2, 1, 1, 1], 1, 0],
      ["odd image, stride 2, no padding", [1, 2, 7, 5], [2, 2, 3, 2], 2, 0],
    ];
    for (const [name, xs, ws, stride, padding] of convCases) {
      it(`conv2d ${name}`, () =>
        checkGradients(([x, w, b]) => T.conv2d(x!, w!, b!, { stride, padding }), [r(...xs), r(...ws), r(ws[0]!)]));
    }
    const convTCases: [string, number[], number[], number, number][] = [
      ["4x4, stride 2, pad 1 (the generator's)", [2, 3, 3, 3], [3, 2, 4, 4], 2, 1],
      ["3x3, stride 1, pad 0", [1, 2, 4, 3], [2, 3, 3, 3], 1, 0],
      ["3x3, stride 2, pad 1", [2, 1, 3, 2], [1, 2, 3, 3], 2, 1],
    ];
    for (const [name, xs, ws, stride, padding] of convTCases) {
      it(`convTranspose2d ${name}`, () =>
        checkGradients(([x, w, b]) => T.convTranspose2d(x!, w!, b!, { stride, padding }), [r(...xs), r(...ws), r(ws[1]!)]));
    }
    // the input as an op's result: its gradient is fresh (written over) when one convolution reads
    // it, and added to when two do
    it("convTranspose2d of an intermediate, once and twice", () => {
      checkGradients(([x, w]) => T.convTranspose2d(T.mulScalar(x!, 1.5), w!, undefined, { stride: 2, padding: 1 }), [r(2, 3, 3, 3), r(3, 2, 4, 4)]);
      checkGradients(([x, w, v]) => {
        const h = T.mulScalar(x!, 1.5);
        return T.add(T.convTranspose2d(h, w!, undefined, { stride: 2, padding: 1 }), T.convTranspose2d(h, v!, undefined, { stride: 2, padding: 1 }));
      }, [r(2, 3, 3, 3), r(3, 2, 4, 4), r(3, 2, 4, 4)]);
    });
    it("maxPool2d (distinct values, so the argmax does not flip under the step)", () => {
      const x = new T.Tensor([2, 3, 5, 4], undefined, true);
      const perm = prng.permutation(x.size);
      for (let i = 0; i < x.size; i++) x.data[i] = (perm[i]! - x.size / 2) * 0.05;
      checkGradients(([a]) => T.maxPool2d(a!), [x]);
    });
    it("maxPool2d's 2x2 loop picks what the reference loop picks, ties and odd sizes included; under noGrad the same values", () => {
      const [P, H, W] = [5, 7, 9]; // odd: the last row and column belong to no window
      const x = Float32Array.from({ length: P * H * W }, () => prng.int(4) - 2); // many equal values: the first maximum wins
      x[3] = -Infinity;
      const n = P * 3 * 4;
      const [o1, o2] = [new Float32Array(n), new Float32Array(n)];
      const [a1, a2] = [new Int32Array(n), new Int32Array(n)];
      poolWindows(x, P, H, W, 2, o1, a1);
      poolWindows2(x, P, H, W, o2, a2);
      expect(firstBitDifference(o2, o1)).toBe(-1);
      expect(Array.from(a2)).toEqual(Array.from(a1));
      for (let i = 0; i < n; i++) expect(o1[i]).toBe(x[a1[i]!]); // argmax points at the maximum
      const t = new T.Tensor([1, P, H, W], x.slice());
      expect(Array.from(T.noGrad(() => T.maxPool2d(t)).data)).toEqual(Array.from(o1));
    });
  });

  describe("gradients: batch norm", () => {
    it("training mode, (N,C) and (N,C,H,W)", () => {
      checkGradients(([x, g, b]) => T.batchNorm(x!, g!, b!, { training: true }), [r(6, 4), r(4), r(4)]);
      checkGradients(([x, g, b]) => T.batchNorm(x!, g!, b!, { training: true }), [r(3, 2, 3, 3), r(2), r(2)]);
    });
    it("eval mode with running statistics", () => {
      const rm = new Float32Array([0.1, -0.2, 0.3]);
      const rv = new Float32Array([0.5, 1.5, 2.0]);
      checkGradients(([x, g, b]) => T.batchNorm(x!, g!, b!, { training: false, runningMean: rm, runningVar: rv }), [
        r(2, 3, 2, 2), r(3), r(3),
      ]);
    });
  });
});
