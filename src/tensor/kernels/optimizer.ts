/**
 * The optimizer's passes over a model's flat buffers: RMSprop's update and the WGAN's weight
 * clipping. A matmul kernel may run them its own way (`MatmulKernel.optimizer`: the SIMD kernel,
 * four lanes at a time in its memory, on every thread when big enough); `referenceOptimizer` is
 * the TypeScript one, `optimizerKernel()` the one nn/optim.ts and nn/clip.ts use. Both compute in
 * float32, one rounding per operation in PyTorch's order (torch.optim.RMSprop: square_avg.mul_(alpha)
 * .addcmul_(g, g, 1 - alpha); param.addcdiv_(g, square_avg.sqrt().add_(eps), -lr)), so every backend
 * gives the same bits (test/optimizer.test.ts):
 *   v = alpha·v + (1 - alpha)·(g·g);   w = w - (lr·g) / (sqrt(v) + eps)   [then clipped, if asked]
 *   clip: w = min(max(w, -c), c)       (NaN stays NaN, -0 stays -0, ±inf becomes ±c)
 * with lr, alpha, 1 - alpha, eps and c rounded to float32 first. The float64 results of +, -, ·, /
 * and sqrt on float32 values round to the float32 results (the double rounding is innocuous), so
 * Math.fround after each operation is float32 arithmetic.
 * RMSprop may clip in the same pass (the WGAN critic's step, then its clipping): the same bits as
 * the two passes, one trip over the weights fewer; without a bound it clamps into ±inf, which
 * changes no value.
 */
import { matmulKernel } from "./matmul.js";

export interface OptimizerKernel {
  /**
   * One RMSprop step over w, g and v (the running average of g²), all of the same length: w and v
   * updated; then w clamped into [-clip, clip] when a bound is given.
   */
  rmsprop(w: Float32Array, g: Float32Array, v: Float32Array, lr: number, alpha: number, eps: number, clip?: number): void;
  /** w clamped into [-c, c] in place. */
  clip(w: Float32Array, c: number): void;
}

const f = Math.fround;

export const referenceOptimizer: OptimizerKernel = {
  rmsprop(w, g, v, lr, alpha, eps, clip = Infinity) {
    const [l, a, b, e, c] = [f(lr), f(alpha), f(1 - alpha), f(eps), f(clip)];
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      const vi = f(f(a * v[i]!) + f(b * f(gi * gi)));
      v[i] = vi;
      w[i] = Math.min(Math.max(f(w[i]! - f(f(l * gi) / f(f(Math.sqrt(vi)) + e))), -c), c);
    }
  },
  clip(w, c) {
    const cf = f(c);
    for (let i = 0; i < w.length; i++) w[i] = Math.min(Math.max(w[i]!, -cf), cf); // NaN stays NaN, -0 stays -0, ±inf to ±c
  },
};

/** The optimizer passes of the active matmul kernel, or the reference ones. */
export function optimizerKernel(): OptimizerKernel {
  return matmulKernel().optimizer ?? referenceOptimizer;
}
