/**
 * Max-pooling over non-overlapping KxK windows (K = 2 in the classifier). The forward remembers
 * where each maximum came from; the backward routes each output gradient to that one input.
 * `poolWindows` is the reference loop for any K; `poolWindows2` the same selection unrolled for
 * K = 2, which the classifier runs over every image it judges (test/ops-grad.test.ts holds the
 * two equal, ties included).
 */
import { allocForOverwrite } from "../storage.js";
import { Tensor, isGradEnabled, shapeStr } from "../tensor.js";

/**
 * Where the maxima's indices go when no backward will read them (judging images under noGrad): one
 * array, grown as needed, instead of a fresh one per call. Fresh, its pages are first written by
 * the pooling loop, about 13 microseconds a page on this machine: 3 MB a call for 500 images, which
 * had made the classifier's pooling 3.9 ns an input value instead of 0.7.
 */
let spareArgmax = new Int32Array(0);

/**
 * out[p, oh, ow] = the largest of plane p's KxK window at (oh*K, ow*K), the first one scanned row by
 * row when several are equal; argmax its index into x. x (P, H, W); out and argmax (P, OH, OW).
 */
export function poolWindows(x: Float32Array, P: number, H: number, W: number, k: number, out: Float32Array, argmax: Int32Array): void {
  const OH = Math.floor(H / k), OW = Math.floor(W / k);
  let o = 0;
  for (let plane = 0; plane < P; plane++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++, o++) {
        const first = (plane * H + oh * k) * W + ow * k;
        let best = x[first]!;
        let at = first;
        for (let i = 0; i < k; i++) {
          const row = first + i * W;
          for (let j = 0; j < k; j++)
            if (x[row + j]! > best) {
              best = x[row + j]!;
              at = row + j;
            }
        }
        out[o] = best;
        argmax[o] = at;
      }
}

/** poolWindows for K = 2: the four values of each window compared in the same order. */
export function poolWindows2(x: Float32Array, P: number, H: number, W: number, out: Float32Array, argmax: Int32Array): void {
  const OH = H >> 1, OW = W >> 1;
  let o = 0;
  for (let plane = 0; plane < P; plane++)
    for (let oh = 0; oh < OH; oh++) {
      const top = (plane * H + 2 * oh) * W;
      for (let ow = 0; ow < OW; ow++, o++) {
        const i0 = top + 2 * ow, i2 = i0 + W;
        let best = x[i0]!, at = i0;
        const b = x[i0 + 1]!, c = x[i2]!, d = x[i2 + 1]!;
        if (b > best) { best = b; at = i0 + 1; }
        if (c > best) { best = c; at = i2; }
        if (d > best) { best = d; at = i2 + 1; }
        out[o] = best;
        argmax[o] = at;
      }
    }
}

/** The bytes of a float32 buffer as int32 values, as many. */
const int32View = (a: Float32Array): Int32Array => new Int32Array(a.buffer, a.byteOffset, a.length);

/** @param x (N,C,H,W)  @returns (N,C,floor(H/K),floor(W/K)) */
export function maxPool2d(x: Tensor, k = 2): Tensor {
  if (x.ndim !== 4 || x.shape[2]! < k || x.shape[3]! < k)
    throw new Error(`maxPool2d: expects (N,C,H,W) with H,W >= ${k}, got ${shapeStr(x.shape)}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const OH = Math.floor(H / k);
  const OW = Math.floor(W / k);
  const out = allocForOverwrite(N * C * OH * OW); // every output is written by the window loop
  const backward = isGradEnabled() && x.requiresGrad;
  if (!backward && spareArgmax.length < out.length) spareArgmax = new Int32Array(out.length);
  // index into x of each output's maximum; kept for the backward in a step buffer (its floats'
  // bytes read as int32), which a training step recycles like any other
  const argmax = backward ? int32View(allocForOverwrite(out.length)) : spareArgmax;
  if (k === 2) poolWindows2(x.data, N * C, H, W, out, argmax);
  else poolWindows(x.data, N * C, H, W, k, out, argmax);
  return Tensor.fromOp("maxPool2d", [N, C, OH, OW], out, [x], (y) => {
    const g = y.grad!;
    const gx = x.gradBuffer();
    for (let i = 0; i < g.length; i++) gx[argmax[i]!]! += g[i]!;
  });
}
