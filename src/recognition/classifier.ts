/**
 * The MNIST digit classifier that judges generated samples: a small LeNet-style CNN built from the
 * nn layers, its seeded Adam training loop, batched inference (logits and penultimate features,
 * under noGrad in eval mode) and its checkpoint. It is a measuring instrument, not part of the GAN.
 *
 * Legend: B = batch, N = number of images, H = hidden width (feature dimension), pixels in [-1, 1].
 */
import { IMAGE_H, IMAGE_SIZE, IMAGE_W, NUM_CLASSES } from "../mnist/image.js";
import { Batcher, type BatchSource } from "../mnist/batches.js";
import { Adam, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, loadModuleFrom } from "../nn/index.js";
import type { Safetensors } from "../nn/index.js";
import * as T from "../tensor/index.js";
import type { Tensor } from "../tensor/index.js";
import { argmaxRows } from "./metrics.js";

/** Widths of the network; the layer shapes follow from them. */
export interface ClassifierConfig {
  /** Channels of the first 5x5 convolution. */
  conv1: number;
  /** Channels of the second 5x5 convolution. */
  conv2: number;
  /** Width of the hidden linear layer: the feature dimension H. */
  hidden: number;
}

export const DEFAULT_CLASSIFIER: ClassifierConfig = { conv1: 8, conv2: 16, hidden: 128 };

/**
 * net.0 conv 1->C1 5x5 pad 2, net.1 ReLU, net.2 max-pool 2   (B,C1,14,14)
 * net.3 conv C1->C2 5x5 pad 2, net.4 ReLU, net.5 max-pool 2  (B,C2,7,7)
 * net.6 flatten, net.7 linear C2*49->H, net.8 ReLU           (B,H)  = features
 * net.9 linear H->10                                         (B,10) = logits
 */
export class Classifier extends Module {
  readonly config: ClassifierConfig;
  readonly net: Sequential;
  /** Layers 0..8 (up to the features) and layer 9 (the head), the same objects as in `net`. */
  private readonly trunk: readonly { forward(x: Tensor): Tensor }[];
  /** net.9, the last linear layer: features -> logits. */
  readonly head: Linear;

  constructor(prng: T.Prng, config: ClassifierConfig = DEFAULT_CLASSIFIER) {
    super();
    this.config = { ...config };
    const { conv1, conv2, hidden } = config;
    // Layers are built in order, so the prng draws weights from the first layer on.
    const layers = [
      new Conv2d(1, conv1, 5, prng, { padding: 2 }),
      new ReLU(),
      new MaxPool2d(2),
      new Conv2d(conv1, conv2, 5, prng, { padding: 2 }),
      new ReLU(),
      new MaxPool2d(2),
      new Flatten(),
      new Linear(conv2 * 7 * 7, hidden, prng),
      new ReLU(),
    ];
    this.trunk = layers;
    this.head = new Linear(hidden, NUM_CLASSES, prng);
    this.net = this.child("net", new Sequential(...layers, this.head));
  }

  /** Penultimate activations. @param x (B, 1, 28, 28) in [-1, 1]  @returns (B, H) */
  features(x: Tensor): Tensor {
    let y = x;
    for (const l of this.trunk) y = l.forward(y);
    return y;
  }

  /** Class scores (before softmax). @param x (B, 1, 28, 28) in [-1, 1]  @returns (B, 10) */
  logits(x: Tensor): Tensor {
    return this.head.forward(this.features(x));
  }

  /** One line describing the layers, stored in the checkpoint's metadata. */
  describe(): string {
    const { conv1, conv2, hidden } = this.config;
    return `conv(1->${conv1},5x5,pad2)-relu-maxpool2-conv(${conv1}->${conv2},5x5,pad2)-relu-maxpool2-flatten-linear(${conv2 * 49}->${hidden})-relu-linear(${hidden}->10)`;
  }
}

/** What batched inference returns for N images. */
export interface Outputs {
  /** (N, 10) class scores. */
  logits: Float32Array;
  /** (N, H) penultimate features. */
  features: Float32Array;
  n: number;
  dim: number;
}

/**
 * Runs the classifier over N images in batches, in eval mode and without a graph.
 * @param pixels (N, 1, 28, 28) in [-1, 1]
 */
export function classify(model: Classifier, pixels: Float32Array, batchSize = 500): Outputs {
  const n = pixels.length / IMAGE_SIZE;
  if (!Number.isInteger(n)) throw new Error(`classify: ${pixels.length} values is not a whole number of 28x28 images`);
  const dim = model.config.hidden;
  const logits = T.alloc(n * NUM_CLASSES);
  const features = T.alloc(n * dim);
  const wasTraining = model.training;
  model.eval();
  try {
    T.noGrad(() => {
      for (let start = 0; start < n; start += batchSize) {
        const b = Math.min(batchSize, n - start);
        // a scope per batch: its buffers serve the next batch, in the matmul kernel's memory when it
        // has one (outside a scope every op's output would be copied out of it)
        T.recycling(() => {
          const x = new T.Tensor([b, 1, IMAGE_H, IMAGE_W], pixels.subarray(start * IMAGE_SIZE, (start + b) * IMAGE_SIZE));
          const f = model.features(x);
          features.set(f.data, start * dim);
          logits.set(model.head.forward(f).data, start * NUM_CLASSES);
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { logits, features, n, dim };
}

export interface TrainOptions {
  epochs: number;
  seed: number;
  /** default 64 */
  batchSize?: number;
  /** Adam learning rate, default 1e-3; the last epoch (of two or more) runs at a tenth of it. */
  lr?: number;
  config?: ClassifierConfig;
  /** Called after every step with the epoch (from 1), the step in it (from 1), steps per epoch, and the batch loss. */
  onStep?: (epoch: number, step: number, steps: number, loss: number) => void;
  /** Called after every epoch with its mean loss, training accuracy (on the batches as seen) and seconds. */
  onEpoch?: (epoch: number, loss: number, trainAccuracy: number, seconds: number) => void;
}

/**
 * Trains a fresh classifier with Adam and cross-entropy on shuffled mini-batches (last partial batch
 * dropped). Everything random (initial weights, order of every epoch) comes from `seed`.
 * @param data pixels (N, 1, 28, 28) in [-1, 1], labels (N)
 */
export function trainClassifier(data: BatchSource, opts: TrainOptions): Classifier {
  const prng = new T.Prng(opts.seed);
  const model = new Classifier(prng, opts.config ?? DEFAULT_CLASSIFIER);
  const lr = opts.lr ?? 1e-3;
  const opt = new Adam(model, { lr });
  const batcher = new Batcher(data, prng, { batchSize: opts.batchSize ?? 64 });
  const steps = batcher.batchesPerEpoch;
  if (steps === 0) throw new Error(`trainClassifier: ${data.n} images do not fill one batch of ${batcher.batchSize}`);
  model.train();
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    opt.lr = epoch === opts.epochs && opts.epochs > 1 ? lr / 10 : lr;
    const t0 = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    for (const batch of batcher.epoch()) {
      // a step's buffers are reused by the next step (see the GAN's step in gan/wgan.ts): only numbers leave it
      const l = T.recycling(() => {
        const x = new T.Tensor([batch.size, 1, IMAGE_H, IMAGE_W], batch.images);
        const scores = model.logits(x);
        const loss = T.crossEntropy(scores, batch.labels);
        opt.zeroGrad();
        loss.backward();
        opt.step();
        const predicted = argmaxRows(scores.data, batch.size);
        for (let i = 0; i < batch.size; i++) if (predicted[i] === batch.labels[i]) correct++;
        return loss.item();
      });
      lossSum += l * batch.size;
      seen += batch.size;
      opts.onStep?.(epoch, batch.index + 1, steps, l);
    }
    opts.onEpoch?.(epoch, lossSum / seen, correct / seen, (performance.now() - t0) / 1000);
  }
  model.eval();
  return model;
}

/** The checkpoint metadata that describes a classifier's architecture, plus `extra`. */
export function classifierMetadata(model: Classifier, extra: Record<string, string> = {}): Record<string, string> {
  return { architecture: model.describe(), config: JSON.stringify(model.config), ...extra };
}

/**
 * The classifier a parsed checkpoint holds: builds the architecture its metadata names (the default
 * one if it names none) and loads the weights; every problem is one line naming `name`. In eval mode.
 */
export function classifierFromCheckpoint(file: Safetensors, name: string): Classifier {
  const model = new Classifier(new T.Prng(0), parseConfig(file.metadata.config, name));
  loadModuleFrom(file, name, model);
  model.eval();
  return model;
}

function parseConfig(text: string | undefined, name: string): ClassifierConfig {
  if (text === undefined) return DEFAULT_CLASSIFIER;
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch {
    throw new Error(`${name}: metadata 'config' is not JSON: ${text.slice(0, 60)}`);
  }
  const ok = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 4096;
  const o = c as Partial<ClassifierConfig>;
  if (typeof c !== "object" || c === null || !ok(o.conv1) || !ok(o.conv2) || !ok(o.hidden))
    throw new Error(`${name}: metadata 'config' is not a classifier configuration: ${text.slice(0, 60)}`);
  return { conv1: o.conv1, conv2: o.conv2, hidden: o.hidden };
}
