/**
 * Matrix-multiply kernels behind one small interface, `gemm`: C (M,N) = op(A) · op(B) [+ C].
 * `matmulNaive` is the algorithmic reference (and fallback); `matmulBlocked` packs cache-sized
 * blocks and runs a 2x4 register-tiled micro-kernel over them. Both handle every transpose
 * variant directly: no op ever materialises a transposed copy. One suite tests every kernel against
the definition summed in float64 (test/matmul.test.ts).
 *
 * Layouts, all row-major:
 *   op(A) is (M,K): A is stored (M,K), or (K,M) when transA
 *   op(B) is (K,N): B is stored (K,N), or (N,K) when transB
 *   C is (M,N); with accumulate the product is added to C, otherwise C is overwritten.
 * With a bias (N floats), C starts as the bias in every row instead (a linear layer's output), and
 * the product is added to it exactly as it would be added to C when accumulating.
 */
import type { ActivationKernel } from "./activations.js";
import type { BatchNormKernel } from "./batch-norm.js";
import type { ElementwiseKernel } from "./elementwise.js";
import type { OptimizerKernel } from "./optimizer.js";
import type { ConvLowering } from "./conv-lowering.js";
import type { StorageHeap } from "../storage.js";
import { setStorageHeap } from "../storage.js";

export interface MatmulKernel {
  readonly name: string;
  /** Its own way to run a convolution's products (conv-lowering.ts); the reference one if absent. */
  readonly conv?: ConvLowering;
  /** Its own relu, leakyRelu and tanh passes (activations.ts); the reference ones if absent. */
  readonly activations?: ActivationKernel;
  /** Its own RMSprop update and clipping (optimizer.ts); the reference ones if absent. */
  readonly optimizer?: OptimizerKernel;
  /** Its own element-wise sum and column sums (elementwise.ts); the reference ones if absent. */
  readonly elementwise?: ElementwiseKernel;
  /** Its own batch-norm passes (batch-norm.ts); the reference ones if absent. */
  readonly batchNorm?: BatchNormKernel;
  /** Buffers in its own memory for the step buffers (storage.ts), which it then uses in place. */
  readonly storage?: StorageHeap;
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
    bias?: Float32Array,
  ): void;
}

/**
 * C (M,N) as a product adds to it: the bias (its first N floats) in every row, else zeros unless
 * accumulating (then C as it is). The TypeScript kernels add every term into C.
 */
function startC(C: Float32Array, M: number, N: number, accumulate: boolean, bias: Float32Array | undefined): void {
  if (bias) {
    const row = bias.subarray(0, N);
    for (let i = 0; i < M; i++) C.set(row, i * N);
  } else if (!accumulate) C.fill(0, 0, M * N);
}

/** Reference kernel: the i-k-j triple loop (row of C updated by a scaled row of op(B)). */
export const matmulNaive: MatmulKernel = {
  name: "naive",
  gemm(transA, transB, M, N, K, A, B, C, accumulate, bias) {
    startC(C, M, N, accumulate, bias);
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

// ---------------------------------------------------------------------------------------------
// matmulBlocked, BLIS-style (Goto & van de Geijn, "Anatomy of high-performance matrix
// multiplication", 2008). Five loops around a micro-kernel:
//
//   for j0 in steps of NC            a KC x NC panel of op(B) is packed once...
//     for p0 in steps of KC          ...per (j0, p0), and stays in L2
//       pack op(B)[p0:+KC, j0:+NC]
//       for i0 in steps of MC        an MC x KC block of op(A) is packed (also L2)
//         pack op(A)[i0:+MC, p0:+KC]
//         for each NR-wide strip of the B panel     (its KC x NR strip stays in L1)
//           for each MR-tall strip of the A block
//             micro-kernel: C[MR x NR tile] += A strip (MR x KC) · B strip (KC x NR)
//
// Packing copies each block into the exact order the micro-kernel reads it, so the innermost loop
// walks both buffers with unit stride, and pads ragged strips with zeros so that loop has no edge
// cases (only the micro-kernel's final write to C is cut at C's edge).
//
// Sizes, measured with `npm run bench:matmul` (a 2-core Xeon, node 20): in plain JS the
// micro-kernel, not memory, is the bottleneck, so block sizes matter little (+-5% between
// MC 32..256, KC 128..512, NC 256..1024); these keep the A block (128 KiB as float64) and the B
// panel (1 MiB) inside a 2 MiB L2, and a B strip (8 KiB) inside L1. test/matmul.test.ts has sizes
// just past each block (M 65, 70; K 257; N 513): keep them in step if these change.
//
// The register tile is only 2x4. Bigger tiles (4x4, 4x8, 8x4, 6x4) do fewer loads per multiply
// on paper, but V8 has only 16 XMM registers for floats and schedules all products before the
// sums, so 16 accumulators spill to the stack and run slower; 2x4 and 4x2 measured fastest (3x3
// ~1% behind, 3x4 ~6%, 4x4 and 4x8 ~12%, 2x2 ~10%).
const MR = 2;
const NR = 4;
const MC = 64; // multiple of MR
const KC = 256;
const NC = 512; // multiple of NR

// Scratch: each kernel object made by `createBlockedMatmul` owns its two pack buffers (packA holds
// MC x KC, packB KC x NC). They are kernel-private, not tensor storage, so not from alloc(), and
// float64 on purpose: V8 does all arithmetic in float64, so a Float32Array load costs an extra
// float32->float64 conversion; packing converts each element once instead of on every one of its
// M/MR or N/NR reuses (~20% faster).

/**
 * Copies the block op(A)[i0:i0+mc, p0:p0+kc] into `packA` as strips of MR rows: element (r, p) of
 * strip s sits at (s*kc + p)*MR + r. Rows past the block are zero, so every strip is full.
 * One pass per row r of a strip; within it, op(A)[i, p0:p0+kc] is read with stride 1 (or M).
 */
function packBlockA(packA: Float64Array, transA: boolean, M: number, K: number, A: Float32Array, i0: number, mc: number, p0: number, kc: number): void {
  for (let is = 0; is < mc; is += MR) {
    for (let r = 0; r < MR; r++) {
      const i = i0 + is + r;
      let dst = is * kc + r; // strip is/MR starts at (is/MR)*kc*MR
      if (is + r >= mc) for (let p = 0; p < kc; p++, dst += MR) packA[dst] = 0;
      else if (transA) for (let p = 0, src = p0 * M + i; p < kc; p++, dst += MR, src += M) packA[dst] = A[src]!;
      else for (let p = 0, src = i * K + p0; p < kc; p++, dst += MR, src++) packA[dst] = A[src]!;
    }
  }
}

/**
 * Copies op(B)[p0:p0+kc, j0:j0+nc] into `packB` as strips of NR columns: element (p, c) of strip s
 * sits at (s*kc + p)*NR + c. Columns past the panel are zero. One pass per column c of a strip.
 */
function packBlockB(packB: Float64Array, transB: boolean, N: number, K: number, B: Float32Array, p0: number, kc: number, j0: number, nc: number): void {
  for (let js = 0; js < nc; js += NR) {
    for (let c = 0; c < NR; c++) {
      const j = j0 + js + c;
      let dst = js * kc + c;
      if (js + c >= nc) for (let p = 0; p < kc; p++, dst += NR) packB[dst] = 0;
      else if (transB) for (let p = 0, src = j * K + p0; p < kc; p++, dst += NR, src++) packB[dst] = B[src]!;
      else for (let p = 0, src = p0 * N + j; p < kc; p++, dst += NR, src += N) packB[dst] = B[src]!;
    }
  }
}

/**
 * The micro-kernel: the 2x4 tile of C at offset `o` (row stride N) += A strip · B strip, where the
 * A strip starts at packA[a] (kc steps of MR values) and the B strip at packB[b] (kc steps of NR).
 * The eight sums live in local variables (registers) for the whole kc loop; C is touched once.
 * Only the first `rows` x `cols` entries of the tile exist in C (ragged bottom/right edge).
 */
function microKernel(pa: Float64Array, pb: Float64Array, kc: number, a: number, b: number, C: Float32Array, o: number, N: number, rows: number, cols: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  // `(x + 1) | 0` marks the index as a 32-bit integer, so V8 adds without an overflow check
  // (~15% faster here). Looping on the pointer `a` rather than a counter p saves another ~7%.
  for (const aEnd = a + kc * MR; a < aEnd; a += MR, b += NR) {
    const a0 = pa[a]!, a1 = pa[(a + 1) | 0]!;
    const b0 = pb[b]!, b1 = pb[(b + 1) | 0]!, b2 = pb[(b + 2) | 0]!, b3 = pb[(b + 3) | 0]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
  }
  addTileRow(C, o, cols, c00, c01, c02, c03);
  if (rows > 1) addTileRow(C, o + N, cols, c10, c11, c12, c13);
}

/** C[o : o+cols] += (x0, x1, x2, x3)[0 : cols]: one row of a tile, cut at C's right edge. */
function addTileRow(C: Float32Array, o: number, cols: number, x0: number, x1: number, x2: number, x3: number): void {
  C[o]! += x0;
  if (cols > 1) C[o + 1]! += x1;
  if (cols > 2) C[o + 2]! += x2;
  if (cols > 3) C[o + 3]! += x3;
}

/** A cache-blocked kernel with scratch of its own: the five loops drawn above, around `microKernel`. */
export function createBlockedMatmul(): MatmulKernel {
  const packA = new Float64Array(MC * KC); // see the note on scratch above
  const packB = new Float64Array(KC * NC);
  return {
    name: "blocked",
    gemm(transA, transB, M, N, K, A, B, C, accumulate, bias) {
      startC(C, M, N, accumulate, bias);
      for (let j0 = 0; j0 < N; j0 += NC) {
        const nc = Math.min(NC, N - j0);
        for (let p0 = 0; p0 < K; p0 += KC) {
          const kc = Math.min(KC, K - p0);
          packBlockB(packB, transB, N, K, B, p0, kc, j0, nc);
          for (let i0 = 0; i0 < M; i0 += MC) {
            const mc = Math.min(MC, M - i0);
            packBlockA(packA, transA, M, K, A, i0, mc, p0, kc);
            for (let js = 0; js < nc; js += NR) {
              const cols = Math.min(NR, nc - js);
              for (let is = 0; is < mc; is += MR) {
                const rows = Math.min(MR, mc - is);
                microKernel(packA, packB, kc, is * kc, js * kc, C, (i0 + is) * N + j0 + js, N, rows, cols);
              }
            }
          }
        }
      }
    },
  };
}

/** The blocked kernel the ops use unless told otherwise (one per thread: it owns its scratch). */
export const matmulBlocked: MatmulKernel = createBlockedMatmul();

/** Every kernel, for tests and benchmarks: the same suite runs over each. */
export const MATMUL_KERNELS: readonly MatmulKernel[] = [matmulNaive, matmulBlocked];

let active: MatmulKernel = matmulBlocked;

/** The kernel the ops use. */
export function matmulKernel(): MatmulKernel {
  return active;
}

/** Chooses the kernel the ops use (the default is `matmulBlocked`). */
export function setMatmulKernel(k: MatmulKernel): void {
  if (k === active) return;
  active = k;
  setStorageHeap(k.storage ?? null);
}

/** C = op(A)·op(B) (+ C) with the active kernel; see the layout legend at the top of this file. */
export function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: Float32Array, B: Float32Array, C: Float32Array, accumulate: boolean, bias?: Float32Array,
): void {
  if (M === 0 || N === 0) return;
  if (K === 0) {
    startC(C, M, N, accumulate, bias);
    return;
  }
  active.gemm(transA, transB, M, N, K, A, B, C, accumulate, bias);
}
