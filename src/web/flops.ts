/**
 * A matmul kernel that counts: it hands every product to the kernel it wraps and adds
 * 2·M·N·K floating-point operations (one multiply and one add per term) to `flops`. The training
 * page's GFLOP/s is this count over the time spent training; the rest of the step (element-wise
 * ops, im2col, the optimizer) is not counted, so it is the rate of the matrix products' work.
 */
import type { MatmulKernel } from "../tensor/kernels/matmul.js";

export interface CountingKernel extends MatmulKernel {
  /** Operations of the products run since the count was last reset (a float: it outgrows 2^31). */
  flops: number;
  /** While false, products run but are not counted (drawing sample grids between steps). */
  counting: boolean;
}

export function countingKernel(inner: MatmulKernel): CountingKernel {
  const k: CountingKernel = {
    name: inner.name,
    flops: 0,
    counting: true,
    gemm(transA, transB, M, N, K, A, B, C, accumulate, bias) {
      if (k.counting) k.flops += 2 * M * N * K;
      inner.gemm(transA, transB, M, N, K, A, B, C, accumulate, bias);
    },
  };
  return k;
}
