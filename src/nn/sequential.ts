/**
 * `Sequential`: layers applied in order, registered as children "0", "1", ... so their state
 * names (`0.weight`, `1.running_mean`) are those of PyTorch's nn.Sequential.
 */
import type { Tensor } from "../tensor/index.js";
import { Layer, Module } from "./module.js";

export class Sequential extends Module implements Layer {
  readonly layers: readonly Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers.map((l, i) => this.child(String(i), l));
  }

  /** x through every layer in turn; shapes as the layers require. */
  forward(x: Tensor): Tensor {
    let y = x;
    for (const l of this.layers) y = l.forward(y);
    return y;
  }
}
