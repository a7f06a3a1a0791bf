/**
 * PyTorch's default initialisation of Linear and convolution layers, which each layer's constructor
 * calls with the caller's `Prng` (so a model repeats exactly from its seed). The DCGAN scheme,
 * which re-draws a whole model, is in init-dcgan.ts.
 */
import type { Prng } from "../tensor/index.js";

/**
 * PyTorch's `reset_parameters()` for Linear and Conv: `kaiming_uniform_(w, a=sqrt(5))`, whose
 * bound gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + a²)) = sqrt(1/3) is 1/sqrt(fan_in);
 * then the bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Weight first, then bias, as PyTorch draws them.
 * @param weight any layout, filled in place  @param bias (out), filled in place, if any
 */
export function initFanIn(weight: Float32Array, bias: Float32Array | undefined, fanIn: number, prng: Prng): void {
  const bound = 1 / Math.sqrt(fanIn);
  prng.fillUniform(weight, -bound, bound);
  if (bias) prng.fillUniform(bias, -bound, bound);
}
