/**
 * The float64 linear algebra behind the Fréchet distance: Jacobi eigen-decomposition on matrices with
 * known eigenvalues and on random symmetric ones (A·V = V·diag(λ), VᵀV = I), the PSD square root
 * (R·R = A), and the Fréchet distance against its closed form for diagonal and shifted Gaussians.
 */
import { describe, expect, it } from "vitest";
import { Prng } from "../src/tensor/prng.js";
import { frechetDistance, matmul64, meanCovariance, sqrtPsd, symmetricEigen, type Gaussian } from "../src/recognition/linalg.js";

/** float64 results of O(D³) work on entries of order 1: far above 1e-16, far below any real error. */
const TOL = 1e-9;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A random symmetric D x D matrix with entries ~ N(0, 1). */
function randomSymmetric(d: number, prng: Prng): Float64Array {
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) a[i * d + j] = a[j * d + i] = prng.normal();
  return a;
}

/** A random PSD matrix B·Bᵀ of rank `rank` (D x rank factor). */
function randomPsd(d: number, rank: number, prng: Prng): Float64Array {
  const b = new Float64Array(d * rank);
  for (let i = 0; i < b.length; i++) b[i] = prng.normal();
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < rank; k++) a[i * d + j]! += b[i * rank + k]! * b[j * rank + k]!;
  return a;
}

function transpose(a: Float64Array, d: number): Float64Array {
  const t = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) t[j * d + i] = a[i * d + j]!;
  return t;
}

function identity(d: number): Float64Array {
  const e = new Float64Array(d * d);
  for (let i = 0; i < d; i++) e[i * d + i] = 1;
  return e;
}

function diagonalGaussian(mean: number[], variances: number[]): Gaussian {
  const d = mean.length;
  const cov = new Float64Array(d * d);
  variances.forEach((v, i) => (cov[i * d + i] = v));
  return { mean: Float64Array.from(mean), cov, dim: d };
}

describe("symmetricEigen", () => {
  it("returns a diagonal matrix's entries, largest first, with unit vectors", () => {
    const a = new Float64Array([2, 0, 0, 0, -1, 0, 0, 0, 5]);
    const { values, vectors } = symmetricEigen(a, 3);
    expect(Array.from(values)).toEqual([5, 2, -1]);
    // Column 0 is e3, column 1 is e1, column 2 is e2.
    expect(Array.from(vectors)).toEqual([0, 1, 0, 0, 0, 1, 1, 0, 0]);
  });

  it("finds the eigenvalues 3 and 1 of [[2,1],[1,2]] with vectors (1,1)/√2 and (1,-1)/√2", () => {
    const { values, vectors } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    const r = Math.SQRT1_2;
    expect(Math.abs(vectors[0]!)).toBeCloseTo(r, 12);
    expect(vectors[0]! * vectors[2]!).toBeCloseTo(0.5, 12); // same sign: (1, 1)
    expect(vectors[1]! * vectors[3]!).toBeCloseTo(-0.5, 12); // opposite signs: (1, -1)
  });

  for (const d of [1, 5, 40, 128]) {
    it(`satisfies A·V = V·diag(λ) and VᵀV = I on a random symmetric ${d}x${d}`, () => {
      const a = randomSymmetric(d, new Prng(d));
      const { values, vectors: v } = symmetricEigen(a, d);
      const av = matmul64(a, v, d);
      const vl = new Float64Array(d * d);
      for (let i = 0; i < d; i++) for (let k = 0; k < d; k++) vl[i * d + k] = v[i * d + k]! * values[k]!;
      expect(maxAbsDiff(av, vl)).toBeLessThan(TOL * d);
      expect(maxAbsDiff(matmul64(transpose(v, d), v, d), identity(d))).toBeLessThan(TOL);
      for (let k = 1; k < d; k++) expect(values[k]!).toBeLessThanOrEqual(values[k - 1]!);
      // The trace is the sum of the eigenvalues.
      let tr = 0;
      for (let i = 0; i < d; i++) tr += a[i * d + i]!;
      expect(values.reduce((s, x) => s + x, 0)).toBeCloseTo(tr, 8);
    });
  }

  it("rejects a non-finite entry with one line", () => {
    expect(() => symmetricEigen(new Float64Array([1, NaN, NaN, 1]), 2)).toThrow(/non-finite entry NaN at 0,1/);
  });
});

describe("sqrtPsd", () => {
  it("squares back to the matrix, full rank and rank-deficient", () => {
    const prng = new Prng(7);
    for (const [d, rank] of [[6, 6], [30, 10], [64, 64]] as const) {
      const a = randomPsd(d, rank, prng);
      const r = sqrtPsd(a, d);
      const scale = Math.max(...Array.from(a, Math.abs));
      expect(maxAbsDiff(matmul64(r, r, d), a) / scale).toBeLessThan(1e-10);
      expect(maxAbsDiff(r, transpose(r, d))).toBeLessThan(1e-12);
    }
  });

  it("takes the square root of a diagonal entrywise", () => {
    const r = sqrtPsd(new Float64Array([4, 0, 0, 9]), 2);
    expect(Array.from(r)).toEqual([2, 0, 0, 3]);
  });
});

describe("frechetDistance", () => {
  it("matches sum (√a - √b)² + |Δμ|² for diagonal covariances", () => {
    const a = [1, 4, 0.25, 2, 0];
    const b = [9, 1, 0.25, 0.5, 3];
    const g1 = diagonalGaussian([0, 1, 2, 3, 4], a);
    const g2 = diagonalGaussian([1, 1, 0, 3, 4], b);
    let expected = 1 + 4; // |Δμ|²
    a.forEach((x, i) => (expected += (Math.sqrt(x) - Math.sqrt(b[i]!)) ** 2));
    expect(frechetDistance(g1, g2)).toBeCloseTo(expected, 10);
  });

  it("is zero for identical Gaussians and |Δμ|² for a pure shift", () => {
    const prng = new Prng(3);
    const d = 20;
    const cov = randomPsd(d, d, prng);
    const mean = Float64Array.from({ length: d }, () => prng.normal());
    const g = { mean, cov, dim: d };
    expect(frechetDistance(g, g)).toBeLessThan(1e-8);
    const shifted = { mean: mean.map((x) => x + 0.5), cov, dim: d };
    expect(frechetDistance(g, shifted)).toBeCloseTo(0.25 * d, 7);
  });

  it("is symmetric in its two arguments for non-commuting covariances", () => {
    const prng = new Prng(11);
    const d = 16;
    const g1 = { mean: new Float64Array(d), cov: randomPsd(d, d, prng), dim: d };
    const g2 = { mean: new Float64Array(d).fill(1), cov: randomPsd(d, 8, prng), dim: d };
    // g2 has rank 8: eigenvalues ~1e-14 from round-off enter through a square root (~1e-7 each),
    // so the two orders agree to ~1e-9 relative, not to machine precision.
    const ab = frechetDistance(g1, g2);
    expect(Math.abs(ab - frechetDistance(g2, g1)) / ab).toBeLessThan(1e-8);
  });

  it("estimates mean and covariance from rows (unbiased)", () => {
    const x = new Float32Array([1, 2, 3, 6, 5, 4]); // rows (1,2), (3,6), (5,4)
    const g = meanCovariance(x, 3, 2);
    expect(Array.from(g.mean)).toEqual([3, 4]);
    expect(Array.from(g.cov)).toEqual([4, 2, 2, 4]);
  });
});
