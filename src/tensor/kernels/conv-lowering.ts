/**
 * The three products a convolution is lowered to, each an im2col or a col2im beside one matrix
 * product (see kernels/im2col.ts for the legend: R = N*OH*OW rows of patches, CKK = C*KH*KW).
 * The matrix side of each product has a row per output position (n, oh, ow) and a column per
 * channel p; tensors keep channels outside positions (NCHW), so at the boundary that side is
 * NCHW, (N, P, OH, OW), and each lowering changes the layout itself. Here P counts that side's
 * channels; the padding (P in im2col.ts's legend) comes with the geometry `g`.
 *
 *   im2colTimesWt        out (N,P,OH,OW) (+)= [im2col(x) (R,CKK) · Wᵀ] as NCHW (+ bias[p])
 *   addAtTimesIm2col     dW (P,CKK)       += [A as rows (R,P)]ᵀ · im2col(x) (R,CKK)
 *   addCol2imOfProduct   img (N,C,H,W)   (+)= col2im([A as rows (R,P)] · W (P,CKK)) (+ bias[c])
 * with W (P,CKK) and A (N,P,OH,OW).
 *
 * conv2d's forward is the first, its weight and input gradients the second and third;
 * convTranspose2d's forward is the third, its gradients the second and the first.
 *
 * `referenceLowering` is exactly that, in TypeScript: layout loops, im2col or col2im, and `gemm`
 * on the active kernel, with the cols matrix on the JavaScript heap. A matmul kernel may bring its
 * own lowering (`MatmulKernel.conv`): the SIMD kernel does the whole of each in its WebAssembly
 * memory, where a training step's image and NCHW side already live, a chunk of images at a time
 * on each thread (wasm/conv-chunks.ts), so that the cols matrix (16-32 times the image here) is
 * never whole: each chunk's stays in the core's cache. With the reference lowering a ColsCache
 * lets two calls over the same x share one im2col (`keepsCols`). `convLowering()` is the one the
 * ops use. Both are tested by one suite (test/conv.test.ts).
 */
import { allocForOverwrite } from "../storage.js";
import { ConvGeometry, col2im, im2col } from "./im2col.js";
import { gemm, matmulKernel } from "./matmul.js";

/**
 * A buffer for im2col(x) (R,CKK) that two calls over the same x share, so the second skips the
 * im2col: the first call (`filled` false) writes it and sets `filled`; a later one uses it as is.
 */
export interface ColsCache {
  buf: Float32Array;
  filled: boolean;
}

export interface ConvLowering {
  /**
   * Whether the weight's gradient reuses the forward pass's cols (a ColsCache kept between the
   * two): the reference lowering does; the SIMD kernel's makes cols a chunk of images at a time,
   * in cache, for each call (wasm/conv-chunks.ts), and neither fills nor reads a cache.
   */
  readonly keepsCols: boolean;
  /**
   * out (N,P,OH,OW) = im2col(x) · Wᵀ as NCHW, plus bias[p] on channel p if given; added to `out`
   * instead with `accumulate`. x (N,C,H,W), W (P,CKK). With `cols`, im2col(x) is taken from or
   * left in it (ColsCache).
   */
  im2colTimesWt(x: Float32Array, g: ConvGeometry, w: Float32Array, P: number, out: Float32Array, opts?: { bias?: Float32Array; accumulate?: boolean; cols?: ColsCache }): void;
  /** dW (P,CKK) += (A as rows)ᵀ · im2col(x), A (N,P,OH,OW); with `cols`, im2col(x) is taken from or left in it. */
  addAtTimesIm2col(A: Float32Array, P: number, x: Float32Array, g: ConvGeometry, dW: Float32Array, cols?: ColsCache): void;
  /**
   * img (N,C,H,W) += col2im((A as rows) · W), A (N,P,OH,OW), W (P,CKK); with `overwrite`, img is
   * written over instead, starting from bias[c] on channel c (zeros without a bias): a transposed
   * convolution's forward pass.
   */
  addCol2imOfProduct(A: Float32Array, P: number, w: Float32Array, g: ConvGeometry, img: Float32Array, opts?: { overwrite?: boolean; bias?: Float32Array }): void;
}

/** R (rows of patches, one per output position) and CKK (their length) of a geometry. */
export function patchDims(g: ConvGeometry): { R: number; CKK: number } {
  return { R: g.N * g.OH * g.OW, CKK: g.C * g.KH * g.KW };
}

/** (N, C, S) channel-major -> (N*S, C), a row per position. */
export function nchwToRows(x: Float32Array, N: number, C: number, S: number, rows: Float32Array): void {
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const src = (n * C + c) * S;
      const dst = n * S * C + c;
      for (let s = 0; s < S; s++) rows[dst + s * C] = x[src + s]!;
    }
}

/** (N*S, C) rows -> (N, C, S), plus bias[c] (if given) on channel c; `add` accumulates into `out`. */
export function rowsToNchw(rows: Float32Array, N: number, C: number, S: number, out: Float32Array, bias?: Float32Array, add = false): void {
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const dst = (n * C + c) * S;
      const src = n * S * C + c;
      const b = bias ? bias[c]! : 0;
      if (add) for (let s = 0; s < S; s++) out[dst + s]! += rows[src + s * C]! + b;
      else for (let s = 0; s < S; s++) out[dst + s] = rows[src + s * C]! + b;
    }
}

/**
 * y (N, C, S) = bias[c] on channel c (zeros without a bias): a transposed convolution's starting
 * value, into which col2im then adds, so the bias costs no pass of its own (PyTorch adds it after).
 */
export function fillChannels(y: Float32Array, b: Float32Array | undefined, N: number, C: number, S: number): void {
  if (!b) {
    y.fill(0, 0, N * C * S);
    return;
  }
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) y.fill(b[c]!, (n * C + c) * S, (n * C + c + 1) * S);
}

/** im2col(x) (R,CKK): from the cache when filled, else made (into the cache's buffer, if any). */
function colsOf(x: Float32Array, g: ConvGeometry, cache: ColsCache | undefined): Float32Array {
  if (cache?.filled) return cache.buf;
  const { R, CKK } = patchDims(g);
  const cols = cache?.buf ?? allocForOverwrite(R * CKK);
  im2col(x, g, cols);
  if (cache) cache.filled = true;
  return cols;
}

export const referenceLowering: ConvLowering = {
  keepsCols: true,
  im2colTimesWt(x, g, w, P, out, opts = {}) {
    const { R, CKK } = patchDims(g);
    const cols = colsOf(x, g, opts.cols);
    const rows = allocForOverwrite(R * P);
    gemm(false, true, R, P, CKK, cols, w, rows, false);
    rowsToNchw(rows, g.N, P, g.OH * g.OW, out, opts.bias, opts.accumulate);
  },
  addAtTimesIm2col(A, P, x, g, dW, cache) {
    const { R, CKK } = patchDims(g);
    const rows = allocForOverwrite(R * P);
    nchwToRows(A, g.N, P, g.OH * g.OW, rows);
    const cols = colsOf(x, g, cache);
    gemm(true, false, P, CKK, R, rows, cols, dW, true);
  },
  addCol2imOfProduct(A, P, w, g, img, opts = {}) {
    const { R, CKK } = patchDims(g);
    if (opts.overwrite) fillChannels(img, opts.bias, g.N, g.C, g.H * g.W);
    const rows = allocForOverwrite(R * P);
    nchwToRows(A, g.N, P, g.OH * g.OW, rows);
    const cols = allocForOverwrite(R * CKK);
    gemm(false, false, R, CKK, P, rows, w, cols, false);
    col2im(cols, g, img);
  },
};

/** The lowering of the active matmul kernel, or the reference one. */
export function convLowering(): ConvLowering {
  return matmulKernel().conv ?? referenceLowering;
}
