/**
 * A matmul kernel that counts: it hands every product to the kernel it wraps and adds
 * 2·M·N·K floating-point operations (one multiply and one add per term) to `flops`, for the
 * products of a convolution's lowerings too (R·P·CKK terms each). Everything else the wrapped
 * kernel offers (its own memory for the step buffers, its convolutions, activations, batch norm,
 * element-wise and optimizer passes) is passed on as it is, so training through the counter runs
 * exactly as it runs on the kernel itself. The training page's GFLOP/s is this count over the time
 * spent training; the rest of the step (element-wise ops, im2col, the optimizer) is not counted, so
 * it is the rate of the matrix products' work.
 */
import type { MatmulKernel } from "../tensor/kernels/matmul.js";
import type { ConvLowering } from "../tensor/kernels/conv-lowering.js";
import { patchDims } from "../tensor/kernels/conv-lowering.js";
import type { ConvGeometry } from "../tensor/kernels/im2col.js";

export interface CountingKernel extends MatmulKernel {
  /** Operations of the products run since the count was last reset (a float: it outgrows 2^31). */
  flops: number;
  /** While false, products run but are not counted (drawing sample grids between steps). */
  counting: boolean;
}

export function countingKernel(inner: MatmulKernel): CountingKernel {
  /** Counts a product of `terms` multiply-adds. */
  const count = (terms: number): void => {
    if (k.counting) k.flops += 2 * terms;
  };
  const lowered = (g: ConvGeometry, P: number): number => {
    const { R, CKK } = patchDims(g);
    return R * P * CKK;
  };
  const c = inner.conv;
  const conv: ConvLowering | undefined = c && {
    keepsCols: c.keepsCols,
    im2colTimesWt(x, g, w, P, out, opts) {
      count(lowered(g, P));
      c.im2colTimesWt(x, g, w, P, out, opts);
    },
    addAtTimesIm2col(A, P, x, g, dW, cols) {
      count(lowered(g, P));
      c.addAtTimesIm2col(A, P, x, g, dW, cols);
    },
    addCol2imOfProduct(A, P, w, g, img, opts) {
      count(lowered(g, P));
      c.addCol2imOfProduct(A, P, w, g, img, opts);
    },
  };
  const k: CountingKernel = {
    name: inner.name,
    flops: 0,
    counting: true,
    ...(conv && { conv }),
    ...(inner.storage && { storage: inner.storage }),
    ...(inner.activations && { activations: inner.activations }),
    ...(inner.batchNorm && { batchNorm: inner.batchNorm }),
    ...(inner.elementwise && { elementwise: inner.elementwise }),
    ...(inner.optimizer && { optimizer: inner.optimizer }),
    gemm(transA, transB, M, N, K, A, B, C, accumulate, bias) {
      count(M * N * K);
      inner.gemm(transA, transB, M, N, K, A, B, C, accumulate, bias);
    },
  };
  return k;
}
