/**
 * Central-difference gradient checking shared by the op and layer tests. The loss is
 * L = sum(f(inputs) * u) for a random upstream gradient u (not a plain sum, so every entry of the
 * op's Jacobian is weighted differently), accumulated in float64 from the float32 outputs.
 */
import { expect } from "vitest";
import { Prng, Tensor } from "../src/tensor/index.js";
import { GRAD_REL_TOL, GRAD_STEP } from "./tolerances.js";

/**
 * max_i |a_i - ref_i| / max(max_i |ref_i|, floor): the worst entry's error relative to the scale of
 * the reference. Used for gradients (floor 1e-3, so near-zero gradients are not divided by ~0) and
 * for kernels against their references.
 */
export function maxRelDiff(a: ArrayLike<number>, ref: ArrayLike<number>, floor = 1e-30): number {
  let worst = 0;
  let scale = floor;
  for (let i = 0; i < ref.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return worst / scale;
}

/**
 * The first index where a and b differ bit for bit (so -0 differs from 0 and NaN equals the same
 * NaN), or -1 when they are identical; a length mismatch counts at the shorter length. For large
 * arrays: vitest's toEqual walks them element by element in JavaScript and takes seconds.
 */
export function firstBitDifference(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const n = Math.min(x.length, y.length);
  const bytesPer = a instanceof Float32Array ? 4 : 1;
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return Math.floor(i / bytesPer);
  return x.length === y.length ? -1 : n / bytesPer;
}

/** A tensor of uniform values in [lo, hi). */
export function randTensor(prng: Prng, shape: number[], lo = -1, hi = 1, requiresGrad = true): Tensor {
  const t = new Tensor(shape, undefined, requiresGrad);
  prng.fillUniform(t.data, lo, hi);
  return t;
}

/** Values in ±[0.1, 1): at least a step away from the kinks of relu-like functions at 0. */
export function randAwayFromZero(prng: Prng, shape: number[]): Tensor {
  const t = randTensor(prng, shape, 0.1, 1);
  for (let i = 0; i < t.size; i++) if (prng.uniform() < 0.5) t.data[i] = -t.data[i]!;
  return t;
}

/**
 * Checks d/d(input) of sum(f(inputs) * u) for every input that requires grad, on all entries or on
 * `maxEntries` of them drawn at random. Returns the worst relative error (also asserted).
 */
export function checkGradients(
  f: (inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: { seed?: number; maxEntries?: number; tol?: number; step?: number } = {},
): number {
  const prng = new Prng(opts.seed ?? 1234);
  const step = opts.step ?? GRAD_STEP;
  const out = f(inputs);
  const u = new Float32Array(out.size);
  prng.fillUniform(u, -1, 1);
  for (const x of inputs) x.grad = null;
  out.backward(u);
  const loss = (): number => {
    const y = f(inputs).data;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * u[i]!;
    return s;
  };
  let worst = 0;
  for (const x of inputs) {
    if (!x.requiresGrad) continue;
    const max = opts.maxEntries ?? 300;
    const idx = x.size <= max ? [...Array(x.size).keys()] : Array.from({ length: max }, () => prng.int(x.size));
    const analytic: number[] = [];
    const numeric: number[] = [];
    for (const i of idx) {
      const v = x.data[i]!;
      x.data[i] = v + step;
      const lp = loss();
      x.data[i] = v - step;
      const lm = loss();
      x.data[i] = v;
      // the step actually taken in float32 may differ slightly from `step`
      const h = (Math.fround(v + step) - Math.fround(v - step)) / 2;
      numeric.push((lp - lm) / (2 * h));
      analytic.push(x.grad ? x.grad[i]! : 0);
    }
    const err = maxRelDiff(analytic, numeric, 1e-3);
    worst = Math.max(worst, err);
    expect(err, `gradient of input ${shapeOf(x)}`).toBeLessThan(opts.tol ?? GRAD_REL_TOL);
  }
  return worst;
}

function shapeOf(t: Tensor): string {
  return `(${t.shape.join(",")})`;
}
