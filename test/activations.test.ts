/**
 * relu and leakyRelu passes: the reference (TypeScript) and the SIMD kernel's (WebAssembly) give the
 * same bits for every input, including the kink, signed zeros, infinities and NaN, at lengths that
 * do and do not fill the last four-lane vector, overwriting or accumulating.
 */
import { describe, expect, it } from "vitest";
import { simdKernelPair } from "./backends.js";
import { referenceActivations, type ActivationKernel } from "../src/tensor/kernels/activations.js";
import { Prng } from "../src/tensor/index.js";
import { firstBitDifference } from "./gradcheck.js";

const SPECIAL = [0, -0, 1e-30, -1e-30, 1.5e-45, -1.5e-45, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 1, -1, 0.1, -0.1];

/** `n` values: the special ones first, then uniform in [-2, 2]. */
function values(prng: Prng, n: number): Float32Array {
  const v = prng.fillUniform(new Float32Array(n), -2, 2);
  for (let i = 0; i < Math.min(n, SPECIAL.length); i++) v[i] = SPECIAL[i]!;
  return v;
}

/** What each pass must give, element by element, computed with Math.fround. */
const EXPECT = {
  relu: (v: number) => (v > 0 ? v : Number.isNaN(v) ? NaN : 0),
  leaky: (v: number, s: number) => (v > 0 ? v : Math.fround(v * Math.fround(s))),
  grad: (x: number, g: number, s: number) => Math.fround(x > 0 ? g : g * Math.fround(s)),
};

describe("activation passes", () => {
  const simd = simdKernelPair();
  const kernels: [string, () => ActivationKernel][] = [
    ["reference", () => referenceActivations], ["simd", () => simd.one().activations!], ["simd, 2 threads", () => simd.two().activations!],
  ];

  for (const [name, get] of kernels)
    it(`${name}: the definitions, element by element`, () => {
      const prng = new Prng(3);
      const x = values(prng, 37), g = values(prng, 37).reverse();
      const k = get();
      const out = new Float32Array(37);
      k.relu(x, out);
      expect(firstBitDifference(out, Float32Array.from(x, EXPECT.relu))).toBe(-1);
      for (const s of [0.2, 0.01, 0]) {
        k.leakyRelu(x, out, s);
        expect(firstBitDifference(out, Float32Array.from(x, (v) => EXPECT.leaky(v, s))), `slope ${s}`).toBe(-1);
        const gx = new Float32Array(37).fill(NaN); // overwritten: the NaNs must not survive
        k.backward(x, g, gx, s, false);
        const want = Float32Array.from(x, (v, i) => EXPECT.grad(v, g[i]!, s));
        expect(firstBitDifference(gx, want), `slope ${s}, overwrite`).toBe(-1);
        const acc = prng.fillUniform(new Float32Array(37), -1, 1);
        const sum = Float32Array.from(acc, (a, i) => Math.fround(a + want[i]!));
        k.backward(x, g, acc, s, true);
        expect(firstBitDifference(acc, sum), `slope ${s}, accumulate`).toBe(-1);
      }
      k.relu(Float32Array.of(-0, -5), out.subarray(0, 2));
      expect(Object.is(out[0], 0) && Object.is(out[1], 0)).toBe(true); // +0, as PyTorch's max(x, 0)
    });

  it("reference and simd (one thread and two) agree bit for bit at every length, and leave what lies past n alone", () => {
    const prng = new Prng(11);
    for (const n of [0, 1, 3, 4, 5, 8, 17, 1001, 5000]) {
      const x = values(prng, n), g = values(prng, n).reverse();
      const acc0 = prng.fillUniform(new Float32Array(n + 3), -1, 1);
      const outs = kernels.map(([, get]) => {
        const k = get();
        const r = new Float32Array(n + 3).fill(7), l = new Float32Array(n + 3).fill(7);
        k.relu(x, r.subarray(0, n));
        k.leakyRelu(x, l.subarray(0, n), 0.2);
        const a = acc0.slice();
        k.backward(x, g, a.subarray(0, n), 0.2, true);
        return [r, l, a];
      });
      for (const k of [1, 2])
        for (let j = 0; j < 3; j++) expect(firstBitDifference(outs[k]![j]!, outs[0]![j]!), `${kernels[k]![0]}: n ${n}, output ${j}`).toBe(-1);
      expect(outs[1]![0]![n]).toBe(7);
    }
  });
});
