/**
 * Matrix-multiply kernels behind one small interface, `gemm`: C (M,N) = op(A) · op(B) [+ C].
 * `matmulNaive` is the algorithmic reference (and fallback); `matmulBlocked` packs cache-sized
 * blocks and runs a 4x4 register-tiled micro-kernel over them. Both handle every transpose
 * variant directly: no op ever materialises a transposed copy. Tested against each other.
 *
 * Layouts, all row-major:
 *   op(A) is (M,K): A is stored (M,K), or (K,M) when transA
 *   op(B) is (K,N): B is stored (K,N), or (N,K) when transB
 *   C is (M,N); with accumulate the product is added to C, otherwise C is overwritten.
 */
import { alloc } from "../storage.js";

export interface MatmulKernel {
  readonly name: string;
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    B: Float32Array,
    C: Float32Array,
    accumulate: boolean,
  ): void;
}

/** Reference kernel: the i-k-j triple loop (row of C updated by a scaled row of op(B)). */
export const matmulNaive: MatmulKernel = {
  name: "naive",
  gemm(transA, transB, M, N, K, A, B, C, accumulate) {
    if (!accumulate) C.fill(0, 0, M * N);
    for (let i = 0; i < M; i++) {
      const ci = i * N;
      for (let p = 0; p < K; p++) {
        const a = transA ? A[p * M + i]! : A[i * K + p]!;
        if (transB) for (let j = 0; j < N; j++) C[ci + j]! += a * B[j * K + p]!;
        else {
          const bp = p * N;
          for (let j = 0; j < N; j++) C[ci + j]! += a * B[bp + j]!;
        }
      }
    }
  },
};

// Block sizes: a KC x NC panel of B (128 KiB) stays in L2 while MC x KC blocks of A (32 KiB, L1)
// stream past it; the micro-kernel keeps a 4x4 tile of C in registers across the whole KC loop.
const MR = 4;
const NR = 4;
const MC = 64;
const KC = 128;
const NC = 256;

const packA = alloc(MC * KC);
const packB = alloc(KC * NC);

/**
 * Copies the block op(A)[i0:i0+mc, p0:p0+kc] into `packA` as strips of MR rows: element (r, p) of
 * strip s sits at (s*kc + p)*MR + r. Rows past M are zero, so the micro-kernel needs no edge case.
 */
function packBlockA(transA: boolean, M: number, K: number, A: Float32Array, i0: number, mc: number, p0: number, kc: number): void {
  const strips = Math.ceil(mc / MR);
  for (let s = 0; s < strips; s++) {
    for (let r = 0; r < MR; r++) {
      const i = i0 + s * MR + r;
      let dst = s * kc * MR + r;
      if (i >= i0 + mc) {
        for (let p = 0; p < kc; p++, dst += MR) packA[dst] = 0;
      } else if (transA) {
        for (let p = 0; p < kc; p++, dst += MR) packA[dst] = A[(p0 + p) * M + i]!;
      } else {
        const row = i * K + p0;
        for (let p = 0; p < kc; p++, dst += MR) packA[dst] = A[row + p]!;
      }
    }
  }
}

/** Copies op(B)[p0:p0+kc, j0:j0+nc] into `packB` as strips of NR columns: (p, c) of strip s at (s*kc + p)*NR + c. */
function packBlockB(transB: boolean, N: number, K: number, B: Float32Array, p0: number, kc: number, j0: number, nc: number): void {
  const strips = Math.ceil(nc / NR);
  for (let s = 0; s < strips; s++) {
    for (let c = 0; c < NR; c++) {
      const j = j0 + s * NR + c;
      let dst = s * kc * NR + c;
      if (j >= j0 + nc) {
        for (let p = 0; p < kc; p++, dst += NR) packB[dst] = 0;
      } else if (transB) {
        const row = j * K + p0;
        for (let p = 0; p < kc; p++, dst += NR) packB[dst] = B[row + p]!;
      } else {
        for (let p = 0; p < kc; p++, dst += NR) packB[dst] = B[(p0 + p) * N + j]!;
      }
    }
  }
}

/** C[i0:i0+mc, j0:j0+nc] += packed A block · packed B panel, one 4x4 register tile at a time. */
function macroKernel(N: number, C: Float32Array, i0: number, mc: number, j0: number, nc: number, kc: number): void {
  const pa = packA;
  const pb = packB;
  for (let js = 0; js * NR < nc; js++) {
    const bBase = js * kc * NR;
    const jn = Math.min(NR, nc - js * NR);
    for (let is = 0; is * MR < mc; is++) {
      const im = Math.min(MR, mc - is * MR);
      let a = is * kc * MR;
      let b = bBase;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0; p < kc; p++, a += MR, b += NR) {
        const a0 = pa[a]!, a1 = pa[a + 1]!, a2 = pa[a + 2]!, a3 = pa[a + 3]!;
        const b0 = pb[b]!, b1 = pb[b + 1]!, b2 = pb[b + 2]!, b3 = pb[b + 3]!;
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
      }
      const row = (i0 + is * MR) * N + j0 + js * NR;
      if (im === MR && jn === NR) {
        let o = row;
        C[o]! += c00; C[o + 1]! += c01; C[o + 2]! += c02; C[o + 3]! += c03; o += N;
        C[o]! += c10; C[o + 1]! += c11; C[o + 2]! += c12; C[o + 3]! += c13; o += N;
        C[o]! += c20; C[o + 1]! += c21; C[o + 2]! += c22; C[o + 3]! += c23; o += N;
        C[o]! += c30; C[o + 1]! += c31; C[o + 2]! += c32; C[o + 3]! += c33;
      } else {
        // Ragged edge of C: write only the rows and columns that exist.
        const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let r = 0; r < im; r++) for (let c = 0; c < jn; c++) C[row + r * N + c]! += tile[r * 4 + c]!;
      }
    }
  }
}

/** Cache-blocked kernel: loops over NC-wide panels of B, KC-deep slices, then MC-tall blocks of A. */
export const matmulBlocked: MatmulKernel = {
  name: "blocked",
  gemm(transA, transB, M, N, K, A, B, C, accumulate) {
    if (!accumulate) C.fill(0, 0, M * N);
    for (let j0 = 0; j0 < N; j0 += NC) {
      const nc = Math.min(NC, N - j0);
      for (let p0 = 0; p0 < K; p0 += KC) {
        const kc = Math.min(KC, K - p0);
        packBlockB(transB, N, K, B, p0, kc, j0, nc);
        for (let i0 = 0; i0 < M; i0 += MC) {
          const mc = Math.min(MC, M - i0);
          packBlockA(transA, M, K, A, i0, mc, p0, kc);
          macroKernel(N, C, i0, mc, j0, nc, kc);
        }
      }
    }
  },
};

/** Every kernel, for tests and benchmarks: the same suite runs over each. */
export const MATMUL_KERNELS: readonly MatmulKernel[] = [matmulNaive, matmulBlocked];

let active: MatmulKernel = matmulBlocked;

/** The kernel the ops use. */
export function matmulKernel(): MatmulKernel {
  return active;
}

/** Chooses the kernel the ops use (the default is `matmulBlocked`). */
export function setMatmulKernel(k: MatmulKernel): void {
  active = k;
}

/** C = op(A)·op(B) (+ C) with the active kernel; see the layout legend at the top of this file. */
export function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: Float32Array, B: Float32Array, C: Float32Array, accumulate: boolean,
): void {
  if (M === 0 || N === 0) return;
  if (K === 0) {
    if (!accumulate) C.fill(0, 0, M * N);
    return;
  }
  active.gemm(transA, transB, M, N, K, A, B, C, accumulate);
}
