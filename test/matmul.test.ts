/**
 * Every matmul kernel against the float64 definition, on awkward sizes (1xN, Nx1, K = 1, sizes
 * that are not multiples of the 4x4 tile or of the cache blocks) and in every transpose variant.
 * One suite, run over each kernel in MATMUL_KERNELS.
 */
import { describe, expect, it } from "vitest";
import { MATMUL_KERNELS, matmulBlocked, matmulKernel, setMatmulKernel } from "../src/tensor/kernels/matmul.js";
import * as T from "../src/tensor/index.js";
import { Prng } from "../src/tensor/prng.js";
import { maxRelDiff } from "./gradcheck.js";
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

const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 7, 5], [7, 1, 5], [5, 6, 1], [1, 300, 1], [13, 17, 19],
  [4, 4, 4], [65, 33, 129], [70, 260, 131], [3, 513, 257],
];

for (const kernel of MATMUL_KERNELS) {
  describe(`matmul kernel: ${kernel.name}`, () => {
    const prng = new Prng(7);
    for (const [M, N, K] of SHAPES)
      for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const)
        it(`(${M},${N},${K}) transA=${ta} transB=${tb}`, () => {
          const A = prng.fillUniform(new Float32Array(M * K), -1, 1);
          const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
          const C = new Float32Array(M * N);
          kernel.gemm(ta, tb, M, N, K, A, B, C, false);
          expect(maxRelDiff(C, reference(ta, tb, M, N, K, A, B))).toBeLessThan(KERNEL_REL_TOL);
        });

    it("accumulates into C when asked, overwrites otherwise", () => {
      const [M, N, K] = [9, 11, 6];
      const A = prng.fillUniform(new Float32Array(M * K), -1, 1);
      const B = prng.fillUniform(new Float32Array(K * N), -1, 1);
      const ref = reference(false, false, M, N, K, A, B);
      const C = new Float32Array(M * N).fill(2);
      kernel.gemm(false, false, M, N, K, A, B, C, true);
      expect(maxRelDiff(C, ref.map((v) => v + 2))).toBeLessThan(KERNEL_REL_TOL);
      C.fill(5);
      kernel.gemm(false, false, M, N, K, A, B, C, false);
      expect(maxRelDiff(C, ref)).toBeLessThan(KERNEL_REL_TOL);
    });
  });
}

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
