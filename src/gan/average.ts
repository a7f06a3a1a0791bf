/**
 * An exponential moving average of the generator's weights, for drawing samples: after generator
 * step t (from 0),  avg = d_t avg + (1 - d_t) w  with  d_t = min(decay, (1 + t) / (10 + t)),
 * so the first steps are followed closely and the average settles to `decay` later (averaging a GAN
 * generator's weights: Yazıcı et al., "The unusual effectiveness of averaging in GAN training",
 * ICLR 2019). Training never reads the average: it is a second generator of the same architecture
 * that only samples, grids and evaluations use.
 *
 * Batch norm's running statistics belong to the weights that produced them, so an averaged
 * generator needs its own: `recalibrate` re-estimates them as the plain mean, over a few batches of
 * random (z, y), of each batch's statistics (PyTorch's momentum=None), with a PRNG of its own.
 */
import { Prng } from "../tensor/index.js";
import * as T from "../tensor/index.js";
import { BatchNorm } from "../nn/norm.js";
import { NUM_CLASSES } from "../mnist/image.js";
import { oneHot } from "../mnist/batches.js";
import type { Module } from "../nn/module.js";
import type { Generator } from "./models.js";

/** Random (z, y) batches that re-estimate batch norm's statistics: 10,240 samples. */
export const RECALIBRATION_BATCHES = 40;
export const RECALIBRATION_BATCH = 256;

export class WeightAverage {
  /**
   * @param average a generator of the trained one's architecture, which becomes the average; its
   *   weights are set to `of`'s now (the average of zero steps)
   */
  constructor(readonly average: Generator, of: Generator, readonly decay: number) {
    if (!(decay > 0 && decay < 1)) throw new Error(`WeightAverage: decay must be in (0, 1), got ${decay}`);
    average.pack().data.set(of.pack().data);
  }

  /** Folds in the weights of `G` after its generator step number `step` (from 0). */
  update(G: Generator, step: number): void {
    const d = Math.min(this.decay, (1 + step) / (10 + step));
    const w = G.pack().data;
    const a = this.average.pack().data;
    for (let i = 0; i < a.length; i++) a[i] = d * a[i]! + (1 - d) * w[i]!;
  }

  /**
   * Batch norm's running statistics of the average, re-estimated: `batches` forwards in training
   * mode of `batch` random (z, y), each layer's momentum set to 1/(k+1) at the k-th, so that the
   * running values end as the mean of the batches' statistics. Deterministic in `seed`.
   */
  recalibrate(seed: number, batches = RECALIBRATION_BATCHES, batch = RECALIBRATION_BATCH): void {
    const G = this.average;
    const layers = batchNormLayers(G);
    const prng = new Prng(seed);
    const wasTraining = G.training;
    G.train(true);
    try {
      T.noGrad(() => {
        for (let k = 0; k < batches; k++)
          // a scope per batch: its buffers serve the next one (one scope around all 40 held 40
          // batches' activations at once, about 1.4 GB for the conv generator at 256 a batch)
          T.recycling(() => {
            for (const bn of layers) bn.momentum = 1 / (k + 1);
            const z = new T.Tensor([batch, G.latent], prng.fillNormal(T.alloc(batch * G.latent)));
            const digits = new Uint8Array(batch).map(() => prng.int(NUM_CLASSES));
            G.forward(z, new T.Tensor([batch, NUM_CLASSES], oneHot(digits)));
          });
      });
    } finally {
      for (const bn of layers) bn.momentum = bn.defaultMomentum;
      G.train(wasTraining);
    }
  }
}

/** Every batch-norm layer inside `m`. */
function batchNormLayers(m: Module): BatchNorm[] {
  return m.modules().filter((x): x is BatchNorm => x instanceof BatchNorm);
}
