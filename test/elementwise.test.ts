/**
 * The element-wise sum (kernels/elementwise.ts): the reference and the SIMD kernel's, on one thread
 * and on two, give the same bits at lengths that do and do not fill the last four-lane vector,
 * with signed zeros, infinities, NaN and sums that round; and a same-shape `add` uses it. The
 * column sums (a linear layer's bias gradient) likewise, and the ops that use them.
 */
import { describe, expect, it } from "vitest";
import { simdKernelPair } from "./backends.js";
import { referenceElementwise, type ElementwiseKernel } from "../src/tensor/kernels/elementwise.js";
import { matmulBlocked, setMatmulKernel } from "../src/tensor/kernels/matmul.js";
import * as T from "../src/tensor/index.js";
import { Prng } from "../src/tensor/index.js";
import { firstBitDifference } from "./gradcheck.js";

const SPECIAL = [0, -0, -0, 0, Infinity, -Infinity, NaN, 1, 3.4e38, 3.4e38, 1e-45, 1, 16777216];
const PARTNER = [-0, -0, 0, 0, -Infinity, 1, 2, NaN, 3.4e38, -3.4e38, 1e-45, 1e-8, 1];

/**
 * Runs `body` with the JS kernel active, its element-wise passes the reference's, and each one
 * called logs its sizes to `calls` (add: the length; addColumnSums: [rows, cols]) before running.
 */
function withLoggedElementwise(body: (calls: (number | number[])[]) => void): void {
  const calls: (number | number[])[] = [];
  const logged: ElementwiseKernel = {
    add: (a, b, out) => { calls.push(a.length); referenceElementwise.add(a, b, out); },
    addColumnSums: (g, rows, cols, out) => { calls.push([rows, cols]); referenceElementwise.addColumnSums(g, rows, cols, out); },
  };
  setMatmulKernel({ ...matmulBlocked, elementwise: logged });
  try {
    body(calls);
  } finally {
    setMatmulKernel(matmulBlocked);
  }
}

describe("the element-wise sum", () => {
  const simd = simdKernelPair();
  const kernels: [string, () => ElementwiseKernel][] = [
    ["reference", () => referenceElementwise], ["simd", () => simd.one().elementwise!], ["simd, 2 threads", () => simd.two().elementwise!],
  ];

  for (const [name, get] of kernels)
    it(`${name}: a + b in float32, element by element, at every length up to 37 and at 1001`, () => {
      const prng = new Prng(5);
      for (const n of [...Array.from({ length: 37 }, (_, i) => i + 1), 1001]) {
        const a = prng.fillUniform(new Float32Array(n), -3, 3), b = prng.fillUniform(new Float32Array(n), -1e-3, 1e-3);
        for (let i = 0; i < Math.min(n, SPECIAL.length); i++) [a[i], b[i]] = [SPECIAL[i]!, PARTNER[i]!];
        const out = new Float32Array(n).fill(NaN);
        get().add(a, b, out);
        expect(firstBitDifference(out, Float32Array.from(a, (v, i) => Math.fround(v + b[i]!))), `n ${n}`).toBe(-1);
        const inA = a.slice(), inB = b.slice(); // written in place, over either input
        get().add(inA, b, inA);
        get().add(a, inB, inB);
        expect(firstBitDifference(inA, out), `n ${n}, out = a`).toBe(-1);
        expect(firstBitDifference(inB, out), `n ${n}, out = b`).toBe(-1);
      }
    });

  for (const [name, get] of kernels)
    it(`${name}: column sums added row after row in float32, as the reference, at every width up to 37 and at 1001 (split across threads), and over rows in two calls as in one`, () => {
      const prng = new Prng(6);
      for (const [rows, cols] of [...Array.from({ length: 37 }, (_, i) => [1 + (i % 5), i + 1] as const), [3, 1001] as const, [130, 514] as const]) {
        const g = prng.fillUniform(new Float32Array(rows * cols), -1, 1);
        for (let i = 0; i < Math.min(g.length, SPECIAL.length); i++) g[i] = SPECIAL[i]!;
        const start = prng.fillUniform(new Float32Array(cols), -1, 1);
        const want = start.slice(), got = start.slice();
        referenceElementwise.addColumnSums(g, rows, cols, want);
        get().addColumnSums(g, rows, cols, got);
        expect(firstBitDifference(got, want), `${rows}x${cols}`).toBe(-1);
        const r1 = rows >> 1, parts = start.slice(); // rows [0, r1) then [r1, rows)
        get().addColumnSums(g.subarray(0, r1 * cols), r1, cols, parts);
        get().addColumnSums(g.subarray(r1 * cols), rows - r1, cols, parts);
        expect(firstBitDifference(parts, want), `${rows}x${cols} in two calls`).toBe(-1);
      }
    });

  it("a linear layer's bias gradient is the active kernel's column sums of dY", () => {
    withLoggedElementwise((calls) => {
      const x = T.tensor([2, 3], [1, 2, 3, 4, 5, 6]), w = T.tensor([2, 3], [1, 0, 0, 0, 1, 0], true), b = T.tensor([2], [0, 0], true);
      T.sum(T.mul(T.linear(x, w, b), T.tensor([2, 2], [1, 2, 3, 4]))).backward();
      expect(Array.from(b.grad!)).toEqual([4, 6]);
      expect(calls).toEqual([[2, 2]]);
    });
  });

  it("a tensor added to two others gets the sum of both gradients through the active kernel's sum (the conv critic's label planes)", () => {
    withLoggedElementwise((calls) => {
      const y = T.tensor([2, 3], [1, 1, 1, 1, 1, 1], true);
      const x1 = T.tensor([2, 3], [1, 2, 3, 4, 5, 6]), x2 = T.tensor([2, 3], [0, 0, 0, 0, 0, 0]);
      const loss = T.sum(T.add(T.mul(T.add(x1, y), T.tensor([2, 3], [1, 2, 3, 4, 5, 6])), T.mul(T.add(x2, y), T.tensor([2, 3], [10, 10, 10, 10, 10, 10]))));
      calls.length = 0;
      loss.backward();
      expect(Array.from(y.grad!)).toEqual([11, 12, 13, 14, 15, 16]);
      expect(calls).toContain(6); // the second contribution added by the kernel's sum
    });
  });

  it("a same-shape add takes the active kernel's sum", () => {
    withLoggedElementwise((calls) => {
      const x = T.tensor([2, 3], [1, 2, 3, 4, 5, 6]), y = T.tensor([2, 3], [6, 5, 4, 3, 2, 1]);
      expect(Array.from(T.add(x, y).data)).toEqual([7, 7, 7, 7, 7, 7]);
      expect(Array.from(T.add(x, T.tensor([3], [1, 1, 1])).data)).toEqual([2, 3, 4, 5, 6, 7]); // broadcast: not the same-shape pass
      expect(calls).toEqual([6]);
    });
  });
});
