/**
 * relu, leakyRelu and tanh passes: the reference (TypeScript) and the SIMD kernel's (WebAssembly) give
 * the same bits for every input, including the kink, signed zeros, infinities and NaN, at lengths
 * that do and do not fill the last four-lane vector, overwriting or accumulating; tanh is within one
 * float32 ulp of Math.tanh.
 */
import { describe, expect, it } from "vitest";
import { simdKernelPair } from "./backends.js";
import { referenceActivations, tanhOf, type ActivationKernel } from "../src/tensor/kernels/activations.js";
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
      k.tanh(x, out);
      const tanhWant = Float32Array.from(x, tanhOf);
      expect(firstBitDifference(out.subarray(SPECIAL.length), tanhWant.subarray(SPECIAL.length)), "tanh").toBe(-1);
      // the special values: ±0 keep their sign, ±inf and the largest floats give ±1, NaN stays NaN
      const special = Array.from(out.subarray(0, SPECIAL.length));
      expect(special.map((v) => (Number.isNaN(v) ? "NaN" : Object.is(v, -0) ? "-0" : v))).toEqual(
        [0, "-0", 1e-30, -1e-30, 1.5e-45, -1.5e-45, 1, -1, 1, -1, "NaN", 0.7615941762924194, -0.7615941762924194, 0.0996679961681366, -0.0996679961681366].map((v) => (typeof v === "number" ? Math.fround(v) : v)));
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
        const t = new Float32Array(n + 3).fill(7);
        k.tanh(x.map((v) => v * 4), t.subarray(0, n)); // over [-8, 8]: both ends of tanh's range
        return [r, l, a, t];
      });
      for (const k of [1, 2])
        for (let j = 0; j < 4; j++) expect(firstBitDifference(outs[k]![j]!, outs[0]![j]!), `${kernels[k]![0]}: n ${n}, output ${j}`).toBe(-1);
      expect(outs[1]![0]![n]).toBe(7);
      expect(outs[1]![3]![n]).toBe(7);
    }
  });

  it("tanh is within one float32 ulp of Math.tanh, and rounds to its float32 nearly always (every 9973rd float32)", () => {
    const f = new Float32Array(1), bits = new Int32Array(f.buffer);
    let n = 0, differ = 0, worst = 0;
    for (let b = 0; b < 0x7f800000; b += 9973) {
      for (const sign of [0, 0x80000000 | 0]) {
        bits[0] = b | sign;
        const x = f[0]!, want = Math.fround(Math.tanh(x)), got = Math.fround(tanhOf(x));
        n++;
        if (got === want) continue;
        differ++;
        f[0] = want;
        const w = bits[0]!;
        f[0] = got;
        worst = Math.max(worst, Math.abs(bits[0]! - w));
      }
    }
    expect(n).toBeGreaterThan(400_000);
    expect(worst).toBeLessThanOrEqual(1);
    expect(differ / n).toBeLessThan(1e-4);
  });
});
