/**
 * `Conv2d` and `ConvTranspose2d` layers with square kernels: PyTorch's parameter names, layouts
 * and default initialisation. The arithmetic (im2col, forward and backward) is
 * `T.conv2d` / `T.convTranspose2d` in src/tensor/ops/conv.ts. No groups, dilation or output padding.
 */
import * as T from "../tensor/index.js";
import type { Prng, Tensor } from "../tensor/index.js";
import { initFanIn } from "./init.js";
import { Layer, Module } from "./module.js";

export interface ConvLayerOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
}

export class Conv2d extends Module implements Layer {
  /** (out, in, k, k) */
  readonly weight: Tensor;
  /** (out), absent with `bias: false` */
  readonly bias: Tensor | undefined;
  readonly stride: number;
  readonly padding: number;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernel: number, prng: Prng, opts: ConvLayerOptions = {}) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.weight = this.param("weight", [outChannels, inChannels, kernel, kernel]);
    this.bias = opts.bias === false ? undefined : this.param("bias", [outChannels]);
    initFanIn(this.weight.data, this.bias?.data, inChannels * kernel * kernel, prng); // fan_in = in*k*k
  }

  /** @param x (N, in, H, W)  @returns (N, out, OH, OW), OH = floor((H + 2P - k)/S) + 1 */
  forward(x: Tensor): Tensor {
    return T.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}

export class ConvTranspose2d extends Module implements Layer {
  /** (in, out, k, k), as PyTorch lays it out */
  readonly weight: Tensor;
  /** (out), absent with `bias: false` */
  readonly bias: Tensor | undefined;
  readonly stride: number;
  readonly padding: number;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernel: number, prng: Prng, opts: ConvLayerOptions = {}) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.weight = this.param("weight", [inChannels, outChannels, kernel, kernel]);
    this.bias = opts.bias === false ? undefined : this.param("bias", [outChannels]);
    // PyTorch quirk, kept on purpose: _calculate_fan_in_and_fan_out reads fan_in as
    // weight.size(1) * k * k, which for this (in, out, k, k) layout is out*k*k, not in*k*k.
    initFanIn(this.weight.data, this.bias?.data, outChannels * kernel * kernel, prng);
  }

  /** @param x (N, in, H, W)  @returns (N, out, OH, OW), OH = (H - 1)*S - 2P + k */
  forward(x: Tensor): Tensor {
    return T.convTranspose2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}
