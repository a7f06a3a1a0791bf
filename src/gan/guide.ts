/**
 * The guide of the `guided` recipe: a digit classifier trained from scratch inside the run, on real
 * images only, whose cross-entropy on generated digits pulls the generator towards the digit it was
 * asked for. It has the critic's trunk and no label input, and is not clipped (it is no critic: the
 * Lipschitz bound of the WGAN concerns D alone). It is not the classifier that `evaluate` judges
 * with (models/classifier.safetensors): that one is an instrument and never a training signal.
 *   mlp:  x (B,1,28,28) -> 784 -> 512 -> 512 -> 512 -> 10, LeakyReLU(0.2)
 *   conv: x -> conv 1->32 (4, s2, p1), LReLU -> conv 32->64, LReLU -> 3136 -> 10
 */
import * as T from "../tensor/index.js";
import type { Prng, Tensor } from "../tensor/index.js";
import { Conv2d, LeakyReLU, Linear, Module, Sequential } from "../nn/index.js";
import { IMAGE_SIZE, NUM_CLASSES } from "../mnist/image.js";
import type { ModelKind } from "./models.js";

export class Guide extends Module {
  readonly net: Sequential;
  /** conv only: the linear layer from the trunk's 3136 features to the 10 scores */
  readonly head: Linear | null;
  constructor(readonly kind: ModelKind, prng: Prng) {
    super();
    this.net = this.child("net", kind === "mlp"
      ? new Sequential(
        new Linear(IMAGE_SIZE, 512, prng), new LeakyReLU(0.2),
        new Linear(512, 512, prng), new LeakyReLU(0.2),
        new Linear(512, 512, prng), new LeakyReLU(0.2),
        new Linear(512, NUM_CLASSES, prng),
      )
      : new Sequential(
        new Conv2d(1, 32, 4, prng, { stride: 2, padding: 1 }), new LeakyReLU(0.2),
        new Conv2d(32, 64, 4, prng, { stride: 2, padding: 1 }), new LeakyReLU(0.2),
      ));
    this.head = kind === "conv" ? this.child("head", new Linear(64 * 7 * 7, NUM_CLASSES, prng)) : null;
  }

  /** @param x (B, 1, 28, 28) images  @returns (B, 10) digit scores (logits) */
  forward(x: Tensor): Tensor {
    if (this.kind === "mlp") return this.net.forward(T.reshape(x, [-1, IMAGE_SIZE]));
    return this.head!.forward(T.flatten(this.net.forward(x)));
  }
}

/** A guide for `kind`, initialised from `prng` (PyTorch's defaults), packed into one flat buffer. */
export function createGuide(kind: ModelKind, prng: Prng): Guide {
  const C = new Guide(kind, prng);
  C.pack();
  return C;
}
