/**
 * DCGAN initialisation (Radford et al., 2016) of a whole model, drawn from the caller's `Prng`.
 * Re-draws parameters only; buffers (running statistics) are left as they are.
 */
import type { Prng } from "../tensor/index.js";
import type { Module } from "./module.js";
import { Conv2d, ConvTranspose2d } from "./conv.js";
import { Linear } from "./linear.js";
import { BatchNorm } from "./norm.js";

/**
 * Every Linear, Conv2d and ConvTranspose2d weight ~ N(0, 0.02), their biases 0; every batch-norm
 * weight ~ N(1, 0.02), its bias 0. Walks `module.modules()` in registration order, so the draws
 * repeat from the Prng's state.
 */
export function initDcgan(module: Module, prng: Prng): void {
  for (const m of module.modules()) {
    if (m instanceof Linear || m instanceof Conv2d || m instanceof ConvTranspose2d) {
      prng.fillNormal(m.weight.data, 0, 0.02);
      m.bias?.data.fill(0);
    } else if (m instanceof BatchNorm) {
      prng.fillNormal(m.weight.data, 1, 0.02);
      m.bias.data.fill(0);
    }
  }
}
