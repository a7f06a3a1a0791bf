/**
 * The conditional WGAN's two architectures, layer for layer those of the PyTorch reference
 * (`shared/anchors/torch_cwgan.py`), with the same `state_dict()` names and shapes, so a generator
 * checkpoint of ours loads into PyTorch with `load_state_dict(strict=True)`.
 *   mlp  G: [z, y] (110) -> 128 -> 256 -> 512 -> 1024 -> 784, LeakyReLU(0.2), BatchNorm after
 *           every hidden layer but the first, tanh;  D: [x, y] (794) -> 512 -> 512 -> 512 -> 1
 *   conv G: [z, y] -> 64*7*7, BN, ReLU -> convT 64->32 (4, s2, p1), BN, ReLU -> convT 32->1, tanh
 *        D: [x, 10 label planes] (11,28,28) -> conv 11->32 (4, s2, p1), LReLU -> conv 32->64, LReLU -> 3136 -> 1
 * Generators map (z (B,Z), y (B,10) one-hot) to images (B,1,28,28) in [-1,1]; critics map
 * (x (B,1,28,28), y (B,10)) to scores (B,1).
 */
import * as T from "../tensor/index.js";
import type { Prng, Tensor } from "../tensor/index.js";
import { Module } from "../nn/module.js";
import type { Layer } from "../nn/module.js";
import {
  BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, LeakyReLU, Linear, ReLU, Sequential, Tanh,
} from "../nn/index.js";
import { IMAGE_H, IMAGE_SIZE, IMAGE_W, NUM_CLASSES } from "../mnist/image.js";

export const MODEL_KINDS = ["mlp", "conv"] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

export interface Generator extends Module {
  readonly latent: number;
  /** @param z (B, latent) noise  @param y (B, 10) one-hot digits  @returns (B, 1, 28, 28) in [-1, 1] */
  forward(z: Tensor, y: Tensor): Tensor;
}

export interface Critic extends Module {
  /** @param x (B, 1, 28, 28) images  @param y (B, 10) one-hot digits  @returns (B, 1) scores */
  forward(x: Tensor, y: Tensor): Tensor;
  /**
   * The scores of several batches under the same weights, as `forward` on each; a critic may share
   * work between them (the conv critic convolves its label planes once). Absent: `forward` on each.
   * @param xs batches of (B, 1, 28, 28) images  @param y (B, 10) their one-hot digits, the same for every batch
   * @returns a (B, 1) score for each batch, in the order of `xs`
   */
  forwardEach?(xs: readonly Tensor[], y: Tensor): Tensor[];
}

/** The critic's scores of several batches with the same labels: its `forwardEach`, else `forward` on each. */
export function scoreEach(D: Critic, xs: readonly Tensor[], y: Tensor): Tensor[] {
  return D.forwardEach?.(xs, y) ?? xs.map((x) => D.forward(x, y));
}

/** Linear, optional BatchNorm1d, LeakyReLU(0.2): one hidden block of the mlp generator. */
function block(inF: number, outF: number, prng: Prng, bn: boolean): Layer[] {
  const layers: Layer[] = [new Linear(inF, outF, prng)];
  if (bn) layers.push(new BatchNorm1d(outF));
  layers.push(new LeakyReLU(0.2));
  return layers;
}

export class MlpGenerator extends Module implements Generator {
  readonly net: Sequential;
  constructor(readonly latent: number, prng: Prng) {
    super();
    const z = latent + NUM_CLASSES;
    this.net = this.child("net", new Sequential(
      ...block(z, 128, prng, false), ...block(128, 256, prng, true), ...block(256, 512, prng, true),
      ...block(512, 1024, prng, true), new Linear(1024, IMAGE_SIZE, prng), new Tanh(),
    ));
  }
  forward(z: Tensor, y: Tensor): Tensor {
    return T.reshape(this.net.forward(T.concat([z, y], 1)), [-1, 1, IMAGE_H, IMAGE_W]);
  }
}

export class MlpCritic extends Module implements Critic {
  readonly net: Sequential;
  constructor(prng: Prng) {
    super();
    this.net = this.child("net", new Sequential(
      new Linear(IMAGE_SIZE + NUM_CLASSES, 512, prng), new LeakyReLU(0.2),
      new Linear(512, 512, prng), new LeakyReLU(0.2),
      new Linear(512, 512, prng), new LeakyReLU(0.2),
      new Linear(512, 1, prng),
    ));
  }
  forward(x: Tensor, y: Tensor): Tensor {
    return this.net.forward(T.concat([T.reshape(x, [-1, IMAGE_SIZE]), y], 1));
  }

  /**
   * The critic step's batches (same labels) as one batch of their rows together, split after:
   * each layer's weights are packed once for all, and its products are taller. Every row's score
   * is computed as `forward` computes it. The batches go in last to first: a backward pass through
   * separate `forward` calls reaches the last one's products first, so each weight's gradient then
   * sums the rows in the same order, and a product that adds into a gradient carries on its sums
   * (the SIMD kernel's does): the critic step's gradients are those of separate calls, bit for bit
   * (test/gan.test.ts).
   */
  forwardEach(xs: readonly Tensor[], y: Tensor): Tensor[] {
    if (xs.length === 1) return [this.forward(xs[0]!, y)];
    const rows = xs.map((x) => T.reshape(x, [-1, IMAGE_SIZE])).reverse();
    const scores = this.net.forward(T.concat([T.concat(rows, 0), T.concat(xs.map(() => y), 0)], 1));
    let at = 0;
    return rows.map((r) => T.slice(scores, 0, at, (at += r.shape[0]!))).reverse();
  }
}

export class ConvGenerator extends Module implements Generator {
  readonly fc: Sequential;
  readonly up: Sequential;
  constructor(readonly latent: number, prng: Prng) {
    super();
    this.fc = this.child("fc", new Sequential(new Linear(latent + NUM_CLASSES, 64 * 7 * 7, prng), new BatchNorm1d(64 * 7 * 7), new ReLU()));
    this.up = this.child("up", new Sequential(
      new ConvTranspose2d(64, 32, 4, prng, { stride: 2, padding: 1 }), new BatchNorm2d(32), new ReLU(),
      new ConvTranspose2d(32, 1, 4, prng, { stride: 2, padding: 1 }), new Tanh(),
    ));
  }
  forward(z: Tensor, y: Tensor): Tensor {
    return this.up.forward(T.reshape(this.fc.forward(T.concat([z, y], 1)), [-1, 64, 7, 7]));
  }
}

/**
 * Label planes: (B, 10) one-hot -> (B, 10, 28, 28), plane d all ones for a digit d. The labels are
 * data, not parameters, so this is built outside the graph.
 */
export function labelPlanes(y: Tensor): Tensor {
  const [B, C] = y.shape as [number, number];
  const out = T.zeros([B, C, IMAGE_H, IMAGE_W]);
  const plane = IMAGE_SIZE;
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++) {
      const v = y.data[b * C + c]!;
      if (v !== 0) out.data.fill(v, (b * C + c) * plane, (b * C + c + 1) * plane);
    }
  return out;
}

export class ConvCritic extends Module implements Critic {
  readonly conv: Sequential;
  readonly fc: Linear;
  /** conv.0, the first convolution, over [image, 10 label planes] */
  private readonly first: Conv2d;
  /** Each digit's label planes, (10, 10, 28, 28): data, not a parameter (see labelPlanesPart) */
  private readonly planes = planesOfEachDigit();
  constructor(prng: Prng) {
    super();
    this.first = new Conv2d(1 + NUM_CLASSES, 32, 4, prng, { stride: 2, padding: 1 });
    this.conv = this.child("conv", new Sequential(
      this.first, new LeakyReLU(0.2),
      new Conv2d(32, 64, 4, prng, { stride: 2, padding: 1 }), new LeakyReLU(0.2),
    ));
    this.fc = this.child("fc", new Linear(64 * 7 * 7, 1, prng));
  }
  forward(x: Tensor, y: Tensor): Tensor {
    return this.forwardEach([x], y)[0]!;
  }

  /** The critic step scores fakes and reals with the same labels and weights: the label planes' part is made once for both. */
  forwardEach(xs: readonly Tensor[], y: Tensor): Tensor[] {
    const labels = labelPlanesPart(this.first, y, this.planes);
    return xs.map((x) => {
      let h = T.add(imagePart(this.first, x), labels);
      for (const layer of this.conv.layers.slice(1)) h = layer.forward(h);
      return this.fc.forward(T.flatten(h));
    });
  }
}

/**
 * (10, 10, 28, 28): sample d holds digit d's label planes (plane d all ones, the rest zeros). Made
 * once per critic, for as long as it lives: in the matmul kernel's memory when it has one (as the
 * critic's weights are), where convolutions read it in place instead of copying it in every step.
 */
function planesOfEachDigit(): Tensor {
  const planes = labelPlanes(T.tensor([NUM_CLASSES, NUM_CLASSES], Array.from({ length: NUM_CLASSES * NUM_CLASSES }, (_, i) => (i % (NUM_CLASSES + 1) === 0 ? 1 : 0))));
  const lasting = T.allocLasting(planes.size);
  lasting.set(planes.data);
  return new T.Tensor(planes.shape, lasting);
}

/**
 * `conv` applied to [x, labelPlanes(y)], (B, 11, 28, 28), without building the label planes, is
 * imagePart(conv, x) + labelPlanesPart(conv, y). Convolution is linear in its input, so it splits
 * into the image's part and the planes' part:
 *   conv([x, planes]) = conv(x; W[:, 0]) + b + conv(planes; W[:, 1:11])
 * and with one-hot y the planes' part depends only on the digit: it is row y of P, where
 * P (10, O, 14, 14) = conv(planesOfEachDigit; W[:, 1:11]) convolves the ten possible sets of planes
 * once per call. The product y · P picks that row (a matrix product, so autograd carries W's gradient
 * back through it). The same arithmetic as PyTorch's concatenation up to float32 summation order
 * (test/parity.test.ts), for about a tenth of the first layer's work: im2col over 1 channel of B
 * images instead of 11, plus 10 images instead of B.
 */
function imagePart(conv: Conv2d, x: Tensor): Tensor {
  return T.conv2d(x, T.slice(conv.weight, 1, 0, 1), conv.bias, { stride: conv.stride, padding: conv.padding }); // (B, O, OH, OW)
}

/**
 * The label planes' part of the first convolution (see imagePart).
 * @param y (B, 10) one-hot  @param planes planesOfEachDigit()  @returns (B, O, OH, OW)
 */
function labelPlanesPart(conv: Conv2d, y: Tensor, planes: Tensor): Tensor {
  const opts = { stride: conv.stride, padding: conv.padding };
  const perDigit = T.conv2d(planes, T.slice(conv.weight, 1, 1, 1 + NUM_CLASSES), undefined, opts); // (10, O, OH, OW)
  const [, O, OH, OW] = perDigit.shape as [number, number, number, number];
  const labels = T.matmul(y, T.reshape(perDigit, [NUM_CLASSES, O * OH * OW])); // (B, O*OH*OW)
  return T.reshape(labels, [-1, O, OH, OW]);
}

/** A generator of the given kind, initialised (PyTorch's defaults) from `prng`, packed into one flat buffer. */
export function createGenerator(kind: ModelKind, latent: number, prng: Prng): Generator {
  const G = kind === "mlp" ? new MlpGenerator(latent, prng) : new ConvGenerator(latent, prng);
  G.pack();
  return G;
}

/** A critic of the given kind, initialised from `prng`, packed into one flat buffer. */
export function createCritic(kind: ModelKind, prng: Prng): Critic {
  const D = kind === "mlp" ? new MlpCritic(prng) : new ConvCritic(prng);
  D.pack();
  return D;
}
