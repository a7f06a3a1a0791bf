/**
 * `Linear`: y = x Wᵀ + b, PyTorch's nn.Linear with its parameter names, layout and default
 * initialisation. The arithmetic (forward and backward) is `T.linear` in src/tensor/ops/matmul.ts.
 */
import * as T from "../tensor/index.js";
import type { Prng, Tensor } from "../tensor/index.js";
import { initFanIn } from "./init.js";
import { Layer, Module } from "./module.js";

export class Linear extends Module implements Layer {
  /** (out, in) */
  readonly weight: Tensor;
  /** (out), absent with `bias: false` */
  readonly bias: Tensor | undefined;

  constructor(readonly inFeatures: number, readonly outFeatures: number, prng: Prng, opts: { bias?: boolean } = {}) {
    super();
    this.weight = this.param("weight", [outFeatures, inFeatures]);
    this.bias = opts.bias === false ? undefined : this.param("bias", [outFeatures]);
    initFanIn(this.weight.data, this.bias?.data, inFeatures, prng); // fan_in = in
  }

  /** @param x (B, in)  @returns (B, out) */
  forward(x: Tensor): Tensor {
    return T.linear(x, this.weight, this.bias);
  }
}
