/**
 * Element-wise passes other than the activations: the sum of two arrays of the same length, the
 * forward pass of a same-shape `add` (the conv critic adds its label planes' part to the image's
 * this way, 401,408 floats per batch of 64), and the column sums of a linear layer's bias gradient. A matmul kernel may run it its own way
 * (`MatmulKernel.elementwise`: the SIMD kernel, four lanes at a time and on every thread when big
 * enough); `referenceElementwise` is the TypeScript one, `elementwiseKernel()` the one the ops use.
 * A float32 sum rounds once either way (computed in float64 and stored, or as an f32x4.add: the
 * float64 sum of two float32 values rounds to the same float32), so every backend gives the same
 * bits (test/elementwise.test.ts).
 */
import { matmulKernel } from "./matmul.js";

export interface ElementwiseKernel {
  /** out[i] = a[i] + b[i], in float32; a, b and out of the same length; out may be a or b. */
  add(a: Float32Array, b: Float32Array, out: Float32Array): void;
  /**
   * out[c] += g[0, c] + ... + g[rows-1, c], g (rows, cols): a linear layer's bias gradient. One
   * float32 add per row, in row order, starting from out, so a sum over rows r1 + r2 made in two
   * calls rounds exactly as one call over both (the mlp critic's one batch relies on it).
   */
  addColumnSums(g: Float32Array, rows: number, cols: number, out: Float32Array): void;
}

export const referenceElementwise: ElementwiseKernel = {
  add(a, b, out) {
    for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  },
  addColumnSums(g, rows, cols, out) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c]! += g[r * cols + c]!;
  },
};

/** The element-wise passes of the active matmul kernel, or the reference ones. */
export function elementwiseKernel(): ElementwiseKernel {
  return matmulKernel().elementwise ?? referenceElementwise;
}
