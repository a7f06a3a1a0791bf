/**
 * Max-pooling over non-overlapping KxK windows (K = 2 in the classifier). The forward remembers
 * where each maximum came from; the backward routes each output gradient to that one input.
 */
import { alloc } from "../storage.js";
import { Tensor, shapeStr } from "../tensor.js";

/** @param x (N,C,H,W)  @returns (N,C,floor(H/K),floor(W/K)) */
export function maxPool2d(x: Tensor, k = 2): Tensor {
  if (x.ndim !== 4 || x.shape[2]! < k || x.shape[3]! < k)
    throw new Error(`maxPool2d: expects (N,C,H,W) with H,W >= ${k}, got ${shapeStr(x.shape)}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const OH = Math.floor(H / k);
  const OW = Math.floor(W / k);
  const out = alloc(N * C * OH * OW);
  const argmax = new Int32Array(out.length); // index into x of each output's maximum
  const xd = x.data;
  let o = 0;
  for (let plane = 0; plane < N * C; plane++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++, o++) {
        let best = -Infinity;
        let at = 0;
        for (let i = 0; i < k; i++) {
          const row = (plane * H + oh * k + i) * W + ow * k;
          for (let j = 0; j < k; j++)
            if (xd[row + j]! > best) {
              best = xd[row + j]!;
              at = row + j;
            }
        }
        out[o] = best;
        argmax[o] = at;
      }
  return Tensor.fromOp("maxPool2d", [N, C, OH, OW], out, [x], (y) => {
    const g = y.grad!;
    const gx = x.gradBuffer();
    for (let i = 0; i < g.length; i++) gx[argmax[i]!]! += g[i]!;
  });
}
