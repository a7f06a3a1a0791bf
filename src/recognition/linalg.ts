/**
 * Dense linear algebra for feature statistics: mean and covariance, the symmetric eigen-decomposition
 * by cyclic Jacobi, the square root of a symmetric PSD matrix, and the Fréchet distance between two
 * Gaussians. Float64 on purpose: these are statistics of ~100-dim features (not a hot tensor path),
 * and the distance subtracts traces of similar size, so float32 would lose most of its digits.
 *
 * Legend: D = dimension, N = number of samples. Matrices are (D, D) row-major Float64Arrays.
 */

/** Mean and covariance of N feature rows. */
export interface Gaussian {
  /** (D) mean of the rows. */
  mean: Float64Array;
  /** (D, D) covariance, divided by N - 1 (unbiased; by 1 when N = 1). */
  cov: Float64Array;
  dim: number;
}

/**
 * Mean and covariance of the rows of `x`.
 * @param x (N, D) feature rows, row-major
 */
export function meanCovariance(x: Float32Array | Float64Array, n: number, d: number): Gaussian {
  if (x.length !== n * d) throw new Error(`meanCovariance: ${x.length} values is not ${n} rows of ${d}`);
  if (n < 1) throw new Error("meanCovariance: no rows");
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += x[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d); // one centred row
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = x[i * d + j]! - mean[j]!;
    for (let a = 0; a < d; a++) {
      const ra = row[a]!;
      if (ra === 0) continue;
      const base = a * d;
      for (let b = a; b < d; b++) cov[base + b]! += ra * row[b]!; // upper triangle only
    }
  }
  const div = n > 1 ? n - 1 : 1;
  for (let a = 0; a < d; a++)
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! / div;
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  return { mean, cov, dim: d };
}

/** C = A · B for (D, D) matrices. */
export function matmul64(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const c = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) c[i * d + j]! += aik * b[k * d + j]!;
    }
  return c;
}

/** Sum of the diagonal of a (D, D) matrix. */
export function trace(a: Float64Array, d: number): number {
  let t = 0;
  for (let i = 0; i < d; i++) t += a[i * d + i]!;
  return t;
}

/** Eigen-decomposition A = V · diag(values) · Vᵀ of a symmetric matrix. */
export interface Eigen {
  /** (D) eigenvalues, largest first. */
  values: Float64Array;
  /** (D, D) row-major; column k is the unit eigenvector of values[k]. */
  vectors: Float64Array;
  /** Jacobi sweeps it took to converge. */
  sweeps: number;
}

/**
 * Symmetric eigen-decomposition by the cyclic Jacobi method: sweep over every off-diagonal pair (p, q)
 * and apply the plane rotation J that zeroes a[p][q], A <- Jᵀ A J, V <- V J, until the off-diagonal
 * mass is negligible. Quadratically convergent; about 6-10 sweeps of O(D³) each for D ~ 100.
 * Only the upper triangle's symmetry is assumed, not checked: pass (A + Aᵀ)/2 if in doubt.
 * @param a (D, D) symmetric, row-major; not modified
 */
export function symmetricEigen(a: Float64Array, d: number, maxSweeps = 60): Eigen {
  if (a.length !== d * d) throw new Error(`symmetricEigen: ${a.length} values is not ${d}x${d}`);
  for (let i = 0; i < a.length; i++)
    if (!Number.isFinite(a[i]!)) throw new Error(`symmetricEigen: non-finite entry ${a[i]} at ${Math.floor(i / d)},${i % d}`);
  const m = Float64Array.from(a);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  let total = 0;
  for (let i = 0; i < m.length; i++) total += m[i]! * m[i]!;
  let sweeps = 0;
  for (; sweeps < maxSweeps; sweeps++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += m[p * d + q]! * m[p * d + q]!;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < d - 1; p++)
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q]!;
        if (apq === 0) continue;
        // Rotation angle φ with cot 2φ = θ = (a_qq - a_pp) / (2 a_pq); t = tan φ is the smaller root
        // of t² + 2θt - 1 = 0 (|φ| <= π/4), which keeps the rotation stable.
        const theta = (m[q * d + q]! - m[p * d + p]!) / (2 * apq);
        const t = Math.abs(theta) > 1e150 ? 1 / (2 * theta) : Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A J: columns p and q.
        for (let k = 0; k < d; k++) {
          const akp = m[k * d + p]!;
          const akq = m[k * d + q]!;
          m[k * d + p] = c * akp - s * akq;
          m[k * d + q] = s * akp + c * akq;
        }
        // Jᵀ (A J): rows p and q.
        for (let k = 0; k < d; k++) {
          const apk = m[p * d + k]!;
          const aqk = m[q * d + k]!;
          m[p * d + k] = c * apk - s * aqk;
          m[q * d + k] = s * apk + c * aqk;
        }
        m[p * d + q] = 0; // exactly zero by construction; drop the round-off
        m[q * d + p] = 0;
        // V J: the accumulated rotations.
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p]!;
          const vkq = v[k * d + q]!;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
  }
  if (sweeps === maxSweeps) throw new Error(`symmetricEigen: no convergence in ${maxSweeps} sweeps (D = ${d})`);
  // Sort largest first, permuting the eigenvector columns with their values.
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => m[j * d + j]! - m[i * d + i]!);
  const values = new Float64Array(d);
  const vectors = new Float64Array(d * d);
  order.forEach((src, k) => {
    values[k] = m[src * d + src]!;
    for (let r = 0; r < d; r++) vectors[r * d + k] = v[r * d + src]!;
  });
  return { values, vectors, sweeps };
}

/**
 * Square root of a symmetric positive semi-definite matrix: V · diag(sqrt(λ)) · Vᵀ. Eigenvalues a
 * little below zero (round-off in a PSD matrix) are clamped to 0.
 * @param a (D, D) symmetric PSD  @returns (D, D) symmetric PSD R with R·R = A
 */
export function sqrtPsd(a: Float64Array, d: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, d);
  const out = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt(Math.max(values[k]!, 0));
    if (s === 0) continue;
    for (let i = 0; i < d; i++) {
      const vi = vectors[i * d + k]! * s;
      if (vi === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j]! += vi * vectors[j * d + k]!;
    }
  }
  return out;
}

/**
 * Fréchet (2-Wasserstein) distance squared between N(mu1, S1) and N(mu2, S2), as in FID:
 *   |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr(sqrt(sqrt(S1) · S2 · sqrt(S1)))
 * The inner matrix is written in this symmetric form (same trace as sqrt(S1·S2)) so the Jacobi
 * eigen-solver applies. Never negative: round-off below zero is returned as 0.
 */
export function frechetDistance(g1: Gaussian, g2: Gaussian): number {
  const d = g1.dim;
  if (g2.dim !== d) throw new Error(`frechetDistance: dimensions ${d} and ${g2.dim} differ`);
  let dmu = 0;
  for (let i = 0; i < d; i++) dmu += (g1.mean[i]! - g2.mean[i]!) ** 2;
  const r = sqrtPsd(g1.cov, d);
  const inner = matmul64(matmul64(r, g2.cov, d), r, d);
  for (let i = 0; i < d; i++) // symmetrise away round-off
    for (let j = i + 1; j < d; j++) {
      const s = 0.5 * (inner[i * d + j]! + inner[j * d + i]!);
      inner[i * d + j] = s;
      inner[j * d + i] = s;
    }
  const { values } = symmetricEigen(inner, d);
  let trSqrt = 0;
  for (const l of values) trSqrt += Math.sqrt(Math.max(l, 0));
  return Math.max(dmu + trace(g1.cov, d) + trace(g2.cov, d) - 2 * trSqrt, 0);
}
