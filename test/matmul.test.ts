/**
 * Every matmul kernel against the float64 definition, on awkward sizes (1xN, Nx1, K = 1, sizes
 * that are not multiples of the register tiles or of the cache blocks) and in every transpose
 * variant. One suite, run over each kernel in MATMUL_KERNELS and over the WebAssembly SIMD kernel
 * on one thread and on two (every product split between the threads, however small).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MATMUL_KERNELS, matmulBlocked, matmulKernel, setMatmulKernel, type MatmulKernel } from "../src/tensor/kernels/matmul.js";
import { PANEL_FLOATS, defaultBlocking, panelFloats, relaxedSimdAvailable } from "../src/tensor/kernels/wasm/matmul-simd.js";
import { createSimdMatmul, type SimdMatmul } from "../src/tensor/kernels/wasm/simd-kernel.js";
import { spawnNodeWorker } from "../src/io/workers.js";
import * as T from "../src/tensor/index.js";
import { Prng } from "../src/tensor/prng.js";
import { firstBitDifference, maxRelDiff } from "./gradcheck.js";
import { KERNEL_REL_TOL } from "./tolerances.js";

/** C (M,N) = op(A)·op(B) in float64, straight from the definition. */
function reference(ta: boolean, tb: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) s += (ta ? A[p * M + i]! : A[i * K + p]!) * (tb ? B[j * K + p]! : B[p * N + j]!);
      C[i * N + j] = s;
    }
  return C;
}

// Past matmulBlocked's blocks (MC 64, KC 256, NC 512) and its 2x4 tile; past the SIMD kernel's
// blocks (MC 128 or 126, KC 256, NC 512, checked below) and its 4x8 and 6x8 tiles.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 7, 5], [7, 1, 5], [5, 6, 1], [1, 300, 1], [13, 17, 19],
  [4, 4, 4], [65, 33, 129], [70, 260, 131], [3, 513, 257],
  [4, 8, 3], [129, 9, 257], [131, 1, 6], [9, 517, 2], [133, 23, 1],
  // every count of rows left below a tile (M mod 6 = 1 .. 5, M mod 4 = 1 .. 3) with whole tiles of columns
  [20, 24, 33], [128, 40, 30], [11, 16, 7],
];

/** The SIMD kernel's blocks, which the shapes above step just past: 4x8 tiles with mul + add, 6x8 with the multiply-add. */
const SIMD_BLOCKS = (fma: boolean) => ({ mr: fma ? 6 : 4, nr: 8, mc: fma ? 126 : 128, kc: 256, nc: 512, unroll: 1, fma });

/**
 * The suite for one kernel; `get` returns it once created (the SIMD kernels are created in a
 * beforeAll, as compiling WebAssembly is asynchronous).
 */
function kernelSuite(get: () => MatmulKernel): void {
  const prng = new Prng(7);
  for (const [M, N, K] of SHAPES)
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const)
      it(`(${M},${N},${K}) transA=${ta} transB=${tb}`, () => {
        const A = prng.fillUniform(new Float32Array(M * K), -1, 1);
        const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
        const C = new Float32Array(M * N).fill(NaN); // every entry must be written
        get().gemm(ta, tb, M, N, K, A, B, C, false);
        expect(maxRelDiff(C, reference(ta, tb, M, N, K, A, B))).toBeLessThan(KERNEL_REL_TOL);
      });

  it("accumulates into C when asked, overwrites otherwise (sides of one included)", () => {
    for (const [M, N, K] of [[9, 11, 6], [9, 11, 1], [1, 11, 6], [9, 1, 6]] as const) {
      const A = prng.fillUniform(new Float32Array(M * K), -1, 1);
      const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
      const ref = reference(false, false, M, N, K, A, B);
      const C = new Float32Array(M * N).fill(2);
      get().gemm(false, false, M, N, K, A, B, C, true);
      expect(maxRelDiff(C, ref.map((v) => v + 2)), `${M}x${N}x${K}`).toBeLessThan(KERNEL_REL_TOL);
      C.fill(5);
      get().gemm(false, false, M, N, K, A, B, C, false);
      expect(maxRelDiff(C, ref), `${M}x${N}x${K}`).toBeLessThan(KERNEL_REL_TOL);
    }
  });

  it("starts C from a bias row: bit for bit the bias written into C's rows, then accumulated", () => {
    // a side of one, K = 1, edge tiles, K past a k block; C's old contents must not count
    for (const [M, N, K] of [[9, 11, 6], [1, 11, 6], [9, 1, 6], [9, 11, 1], [70, 21, 300], [131, 517, 40], [13, 140, 300]] as const)
      for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
        const A = prng.fillUniform(new Float32Array(M * K), -1, 1);
        const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
        const bias = prng.fillUniform(new Float32Array(N), -1, 1);
        const want = new Float32Array(M * N);
        for (let i = 0; i < M; i++) want.set(bias, i * N);
        get().gemm(ta, tb, M, N, K, A, B, want, true);
        const C = new Float32Array(M * N).fill(NaN);
        get().gemm(ta, tb, M, N, K, A, B, C, false, bias);
        expect(firstBitDifference(C, want), `${M}x${N}x${K} transA=${ta} transB=${tb}`).toBe(-1);
        C.fill(3);
        get().gemm(ta, tb, M, N, K, A, B, C, true, bias); // accumulate is ignored with a bias
        expect(firstBitDifference(C, want), `${M}x${N}x${K} transA=${ta} transB=${tb}, accumulate set`).toBe(-1);
        const ref = reference(ta, tb, M, N, K, A, B).map((v, i) => v + bias[i % N]!);
        expect(maxRelDiff(C, ref)).toBeLessThan(KERNEL_REL_TOL);
      }
  });

  it("accumulates across several k blocks and edge tiles, in every transpose variant", () => {
    const [M, N, K] = [70, 21, 300]; // K > KC: later k blocks add to what the first wrote
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      const A = prng.fillUniform(new Float32Array(M * K), -1, 1);
      const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
      const C0 = prng.fillUniform(new Float32Array(M * N), -1, 1);
      const C = C0.slice();
      get().gemm(ta, tb, M, N, K, A, B, C, true);
      const ref = reference(ta, tb, M, N, K, A, B).map((v, i) => v + C0[i]!);
      expect(maxRelDiff(C, ref), `transA=${ta} transB=${tb}`).toBeLessThan(KERNEL_REL_TOL);
    }
  });

  it("a deep product with a small C (a weight's gradient, which the SIMD kernel cuts into two k segments)", () => {
    for (const [M, N, K] of [[20, 37, 1100], [6, 8, 2048], [32, 16, 4097]] as const) {
      const A = prng.fillUniform(new Float32Array(M * K), -1, 1);
      const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
      const C0 = prng.fillUniform(new Float32Array(M * N), -1, 1);
      const ref = reference(true, false, M, N, K, A, B);
      const C = C0.slice();
      get().gemm(true, false, M, N, K, A, B, C, true);
      expect(maxRelDiff(C, ref.map((v, i) => v + C0[i]!)), `${M}x${N}x${K}, accumulating`).toBeLessThan(KERNEL_REL_TOL);
      C.fill(NaN);
      get().gemm(true, false, M, N, K, A, B, C, false);
      expect(maxRelDiff(C, ref), `${M}x${N}x${K}, overwriting`).toBeLessThan(KERNEL_REL_TOL);
    }
  });
}

for (const kernel of MATMUL_KERNELS) describe(`matmul kernel: ${kernel.name}`, () => kernelSuite(() => kernel));

// Both micro-kernels (mul + add, and relaxed SIMD's multiply-add where this engine has it: the
// test setup turns it on in Node 20), each on one thread and on two.
const FMA_FORMS = relaxedSimdAvailable() ? [false, true] : [false];
for (const fma of FMA_FORMS)
  for (const threads of [1, 2]) {
    describe(`matmul kernel: simd${fma ? "-fma" : ""}, ${threads} thread${threads > 1 ? "s" : ""}`, () => {
      let kernel: SimdMatmul | undefined;
      // minParallelWork and minParallelTiles 0: with two threads, every product is split, down to 1x1x1.
      beforeAll(async () => {
        kernel = await createSimdMatmul({ threads, spawn: spawnNodeWorker, minParallelWork: 0, minParallelTiles: 0, blocking: defaultBlocking(fma) });
      });
      afterAll(async () => {
        await kernel?.dispose();
      });
      it("has the blocks the shapes of this suite step past", () => {
        expect(kernel!.blocking).toEqual(SIMD_BLOCKS(fma));
        expect(kernel!.name).toBe(fma ? "simd-fma" : "simd");
        expect(kernel!.threads).toBe(threads);
      });
      kernelSuite(() => kernel!);
    });
  }

describe("the simd kernel's packing, for every even tile height", () => {
  // Tiles of 4k rows pack A in 4x4 transposes; 4k+2 rows add a 2x4 block (and an i64 copy when A
  // is transposed). A wrong lane or offset there misplaces A's last rows in every full strip.
  for (const mr of [2, 4, 6, 10])
    it(`${mr}x8 tiles give the reference's product in every transpose variant`, async () => {
      const k = await createSimdMatmul({ threads: 1, blocking: { mr, nr: 8, mc: mr * 5, kc: 64, nc: 32, unroll: 1, fma: false } });
      const prng = new Prng(mr);
      for (const [M, N, K] of [[mr * 5 + 3, 37, 70], [mr, 8, 4], [2 * mr + 1, 9, 131]] as const)
        for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
          const A = prng.fillUniform(new Float32Array(M * K), -1, 1);
          const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
          const C = new Float32Array(M * N).fill(NaN);
          k.gemm(ta, tb, M, N, K, A, B, C, false);
          expect(maxRelDiff(C, reference(ta, tb, M, N, K, A, B)), `${M}x${N}x${K} transA=${ta} transB=${tb}`).toBeLessThan(KERNEL_REL_TOL);
        }
      await k.dispose();
    });
});

describe("the simd kernel on two threads", () => {
  it("gives bit for bit the one-thread result: each entry of C is computed by one thread in one order, whoever claims its chunk", async () => {
    const one = await createSimdMatmul({ threads: 1 });
    const two = await createSimdMatmul({ threads: 2, spawn: spawnNodeWorker, minParallelWork: 0, minParallelTiles: 0 });
    const prng = new Prng(5);
    const job = (M: number, N: number, K: number) => ({ transA: false, transB: false, M, N, K, a: 0, b: 0, c: 0, accumulate: false });
    expect(panelFloats(two.blocking, job(131, 517, 259), "A")).toBeLessThanOrEqual(PANEL_FLOATS);
    expect(panelFloats(two.blocking, job(600, 520, 300), "B")).toBeLessThanOrEqual(PANEL_FLOATS);
    expect(panelFloats(two.blocking, job(300, 520, 900), "A")).toBeGreaterThan(PANEL_FLOATS);
    expect(panelFloats(two.blocking, job(600, 520, 600), "B")).toBeGreaterThan(PANEL_FLOATS);
    // 64x512x3136 and 32x16x1100 with A transposed are cut into two k segments: a thread each.
    // 131x517x259 and 600x520x300 step past a block of C's rows or columns and a k block while
    // each thread reads op(A) or op(B) from its panel; 300x520x900 (op(A) past a thread's panel: one chunk of columns each, packing A per block) and
    // 600x520x600 (op(B) past it: chunks of rows that pack their own B) do not use the panel.
    for (const [M, N, K] of [[3136, 64, 512], [64, 1024, 794], [131, 517, 259], [5, 3, 2], [64, 512, 3136], [32, 16, 1100], [64, 1, 3136], [1, 3136, 64], [64, 3136, 1], [600, 520, 300], [300, 520, 900], [600, 520, 600]] as const)
      for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
        const A = prng.fillUniform(new Float32Array(M * K), -1, 1);
        const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
        const c1 = prng.fillUniform(new Float32Array(M * N), -1, 1);
        const c2 = c1.slice();
        one.gemm(ta, tb, M, N, K, A, B, c1, true);
        two.gemm(ta, tb, M, N, K, A, B, c2, true);
        expect(firstBitDifference(c2, c1), `${M}x${N}x${K} transA=${ta} transB=${tb}`).toBe(-1);
      }
    await one.dispose();
    await two.dispose();
  });
});

describe("the simd kernel's accumulation", () => {
  it("continues each entry's sum: a product over k1 + k2 rows equals k1 rows then k2 rows added, bit for bit (edge tiles, k blocks, 1 and 2 threads)", async () => {
    const kernels = [await createSimdMatmul({ threads: 1 }), await createSimdMatmul({ threads: 2, spawn: spawnNodeWorker, minParallelWork: 0, minParallelTiles: 0 })];
    const prng = new Prng(8);
    // Aᵀ·B with K split into two batches of rows: a weight's gradient over two batches, or over one batch of both
    // (below 2·kc deep, where a deep product is cut into k segments on purpose; 390 spans two k blocks)
    // (M or N of 1: a layer with one output, whose products have a side of one: gemv-simd.ts)
    for (const [M, N, K1, K2] of [[13, 21, 40, 30], [64, 794, 64, 64], [7, 5, 200, 190], [1, 37, 64, 64], [21, 1, 40, 30]] as const)
      for (const k of kernels) {
        const K = K1 + K2;
        const A = prng.fillUniform(new Float32Array(K * M), -1, 1); // K x M, used transposed
        const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
        const whole = new Float32Array(M * N), parts = new Float32Array(M * N);
        k.gemm(true, false, M, N, K, A, B, whole, false);
        k.gemm(true, false, M, N, K1, A.subarray(0, K1 * M), B.subarray(0, K1 * N), parts, false);
        k.gemm(true, false, M, N, K2, A.subarray(K1 * M), B.subarray(K1 * N), parts, true);
        expect(firstBitDifference(parts, whole), `${M}x${N}x(${K1}+${K2}), ${k.threads} thread(s)`).toBe(-1);
      }
    for (const k of kernels) await k.dispose();
  });
});

describe("the simd kernel's default micro-kernel", () => {
  it("multiply-adds with relaxed SIMD exactly when the engine has it", async () => {
    const k = await createSimdMatmul({ threads: 1 });
    expect(k.blocking).toEqual(SIMD_BLOCKS(relaxedSimdAvailable()));
    await k.dispose();
  });
  it("Node 20 has relaxed SIMD once the flag is set (the test setup sets it as the CLI does)", () => {
    expect(relaxedSimdAvailable()).toBe(true);
  });
});

describe("the ops run on whichever kernel is active", () => {
  it("conv2d, its gradients and linear agree between kernels; setMatmulKernel switches them", () => {
    const prng = new Prng(17);
    const rand = (shape: number[]): T.Tensor => {
      const t = new T.Tensor(shape, undefined, true);
      prng.fillUniform(t.data, -1, 1);
      return t;
    };
    const x = rand([3, 2, 9, 9]), w = rand([5, 2, 4, 4]), l = rand([7, 80]);
    const results = MATMUL_KERNELS.map((k) => {
      setMatmulKernel(k);
      expect(matmulKernel()).toBe(k);
      x.grad = w.grad = l.grad = null;
      const y = T.conv2d(x, w, undefined, { stride: 2, padding: 1 }); // (3,5,4,4)
      const out = T.linear(T.reshape(y, [3, 80]), l);
      T.sum(T.mul(out, out)).backward();
      return { out: out.data, dx: x.grad!, dw: w.grad!, dl: l.grad! };
    });
    setMatmulKernel(matmulBlocked);
    const [naive, blocked] = results;
    for (const key of ["out", "dx", "dw", "dl"] as const) expect(maxRelDiff(blocked![key], naive![key]), key).toBeLessThan(KERNEL_REL_TOL);
  });
});
