/**
 * Parameter-free layers: activations, flatten and max-pooling, each a thin `Layer` around one
 * op of src/tensor (where forward and backward live). They register no parameters or buffers.
 */
import * as T from "../tensor/index.js";
import type { Tensor } from "../tensor/index.js";
import { Layer, Module } from "./module.js";

/** max(x, 0), any shape. */
export class ReLU extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return T.relu(x);
  }
}

/** x for x > 0, slope * x otherwise, any shape; PyTorch's default slope is 0.01. */
export class LeakyReLU extends Module implements Layer {
  constructor(readonly slope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return T.leakyRelu(x, this.slope);
  }
}

/** tanh(x), any shape. */
export class Tanh extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return T.tanh(x);
  }
}

/** (N, ...) -> (N, rest), as PyTorch's nn.Flatten() (start_dim = 1). */
export class Flatten extends Module implements Layer {
  forward(x: Tensor): Tensor {
    return T.flatten(x);
  }
}

/** Max over non-overlapping k x k windows: (N, C, H, W) -> (N, C, floor(H/k), floor(W/k)). */
export class MaxPool2d extends Module implements Layer {
  constructor(readonly k = 2) {
    super();
  }
  forward(x: Tensor): Tensor {
    return T.maxPool2d(x, this.k);
  }
}
