/**
 * The three products a convolution is lowered to, each an im2col or a col2im beside one matrix
 * product (see kernels/im2col.ts for the legend: R = N*OH*OW rows of patches, CKK = C*KH*KW):
 *
 *   im2colTimesWt        out (R,P)       = im2col(x) (R,CKK) · Wᵀ, W (P,CKK)
 *   addAtTimesIm2col     dW (P,CKK)     += Aᵀ (P,R) · im2col(x) (R,CKK), A (R,P)
 *   addCol2imOfProduct   img (N,C,H,W)  += col2im(A (R,P) · W (P,CKK))
 *
 * conv2d's forward is the first, its weight and input gradients the second and third;
 * convTranspose2d's forward is the third, its gradients the second and the first.
 *
 * `referenceLowering` is exactly that: im2col or col2im in TypeScript and `gemm` on the active
 * kernel, with the cols matrix on the JavaScript heap. A matmul kernel may bring its own lowering
 * (`MatmulKernel.conv`): the SIMD kernel does the whole of each in its WebAssembly memory, so the
 * cols matrix, CKK/P times larger than the product, is never copied in or out. `convLowering()`
 * is the one the ops use. Both are tested by one suite (test/conv.test.ts).
 */
import { allocForOverwrite } from "../storage.js";
import { ConvGeometry, col2im, im2col } from "./im2col.js";
import { gemm, matmulKernel } from "./matmul.js";

export interface ConvLowering {
  /** out (R,P) = im2col(x) · Wᵀ, x (N,C,H,W), W (P,CKK); `out` is overwritten. */
  im2colTimesWt(x: Float32Array, g: ConvGeometry, w: Float32Array, P: number, out: Float32Array): void;
  /** dW (P,CKK) += Aᵀ · im2col(x), A (R,P). */
  addAtTimesIm2col(A: Float32Array, P: number, x: Float32Array, g: ConvGeometry, dW: Float32Array): void;
  /** img (N,C,H,W) += col2im(A · W), A (R,P), W (P,CKK). */
  addCol2imOfProduct(A: Float32Array, P: number, w: Float32Array, g: ConvGeometry, img: Float32Array): void;
}

/** R (rows of patches) and CKK (their length) of a geometry. */
export function patchDims(g: ConvGeometry): { R: number; CKK: number } {
  return { R: g.N * g.OH * g.OW, CKK: g.C * g.KH * g.KW };
}

export const referenceLowering: ConvLowering = {
  im2colTimesWt(x, g, w, P, out) {
    const { R, CKK } = patchDims(g);
    const cols = allocForOverwrite(R * CKK);
    im2col(x, g, cols);
    gemm(false, true, R, P, CKK, cols, w, out, false);
  },
  addAtTimesIm2col(A, P, x, g, dW) {
    const { R, CKK } = patchDims(g);
    const cols = allocForOverwrite(R * CKK);
    im2col(x, g, cols);
    gemm(true, false, P, CKK, R, A, cols, dW, true);
  },
  addCol2imOfProduct(A, P, w, g, img) {
    const { R, CKK } = patchDims(g);
    const cols = allocForOverwrite(R * CKK);
    gemm(false, false, R, CKK, P, A, w, cols, false);
    col2im(cols, g, img);
  },
};

/** The lowering of the active matmul kernel, or the reference one. */
export function convLowering(): ConvLowering {
  return matmulKernel().conv ?? referenceLowering;
}
