/**
 * The WGAN training step of Arjovsky, Chintala and Bottou (2017), conditional on the digit:
 *   critic:    L_D = mean(D(G(z,y), y)) - mean(D(x,y)),  RMSprop step, then clip D's weights to [-c, c]
 *   generator: L_G = -mean(D(G(z,y), y)),                RMSprop step
 * as in the paper's code and our PyTorch reference: one critic step per batch of real images, and a
 * generator step after every n_critic-th (optionally the paper's schedule of 100 critic steps for
 * the first 25 generator steps and every 500th). The generator's labels are the batch's labels.
 */
import * as T from "../tensor/index.js";
import { Tensor } from "../tensor/index.js";
import type { Prng } from "../tensor/index.js";
import { RMSprop, clipWeights } from "../nn/index.js";
import type { Critic, Generator } from "./models.js";
import { IMAGE_H, IMAGE_W, NUM_CLASSES } from "../mnist/image.js";

export interface WganOptions {
  lr: number;
  clip: number;
  nCritic: number;
  /** The paper's schedule: 100 critic steps per generator step for its first 25 steps and every 500th. */
  paperSchedule: boolean;
}

/** What one critic step measured (and the generator step that followed it, if any). */
export interface StepLosses {
  /** mean(D(fake)) - mean(D(real)) */
  criticLoss: number;
  /** mean(D(real)) - mean(D(fake)) = -criticLoss, the Wasserstein-1 estimate (up to the critic's Lipschitz constant) */
  wasserstein: number;
  /** -mean(D(G(z))) of the generator step after this critic step, or null if none ran */
  generatorLoss: number | null;
}

/** The parts of a training step, in the order they run, for a profile (see `Wgan.mark`). */
export const STEP_PARTS = [
  "fakes for the critic", "critic forward", "critic backward", "critic optimizer", "clipping",
  "generator forward", "generator backward", "generator optimizer", "end",
] as const;
export type StepPart = (typeof STEP_PARTS)[number];

export class Wgan {
  /**
   * Called as each part of a step begins (and with "end" when a step or generator step finishes),
   * so a profiler can attribute the time between two calls to the first. Unset: no cost.
   */
  mark?: (part: StepPart) => void;
  readonly optG: RMSprop;
  readonly optD: RMSprop;
  /** Critic steps since the generator last stepped (the schedule's counter). */
  criticSinceG = 0;
  generatorSteps = 0;
  criticSteps = 0;

  constructor(readonly G: Generator, readonly D: Critic, readonly prng: Prng, readonly opts: WganOptions) {
    this.optG = new RMSprop(G, { lr: opts.lr });
    this.optD = new RMSprop(D, { lr: opts.lr });
  }

  /** Fresh noise z ~ N(0, 1), (B, latent). */
  noise(B: number): Tensor {
    const z = T.zeros([B, this.G.latent]);
    this.prng.fillNormal(z.data);
    return z;
  }

  /** Critic steps the schedule asks for before the next generator step. */
  criticItersNeeded(): number {
    if (this.opts.paperSchedule && (this.generatorSteps < 25 || this.generatorSteps % 500 === 0)) return 100;
    return this.opts.nCritic;
  }

  /**
   * One critic step on a batch of real images, then a generator step if the schedule says so.
   * @param images (B, 1, 28, 28) real images in [-1, 1]
   * @param oneHot (B, 10) their digits
   * @param batchIndex the batch's position in its epoch, from 0
   */
  step(images: Float32Array, oneHot: Float32Array, batchIndex: number): StepLosses {
    const B = oneHot.length / NUM_CLASSES;
    const x = new Tensor([B, 1, IMAGE_H, IMAGE_W], images);
    const y = new Tensor([B, NUM_CLASSES], oneHot);
    const criticLoss = this.criticStep(x, y);
    this.criticSinceG++;
    let generatorLoss: number | null = null;
    if (this.generatorDue(batchIndex)) {
      generatorLoss = this.generatorStep(y);
      this.criticSinceG = 0;
    }
    return { criticLoss, wasserstein: -criticLoss, generatorLoss };
  }

  /**
   * Plain schedule, as the reference: a generator step after batches 0, n, 2n, ... of each epoch.
   * Paper schedule: after criticItersNeeded() critic steps since the last generator step.
   */
  private generatorDue(batchIndex: number): boolean {
    if (!this.opts.paperSchedule) return batchIndex % this.opts.nCritic === 0;
    return this.criticSinceG >= this.criticItersNeeded();
  }

  /**
   * L_D = mean(D(fake)) - mean(D(real)); the real and fake scores share D's weights, so D's gradients add up.
   * @param z (B, latent) the fakes' noise; drawn from the PRNG when absent (tests pass fixed noise)
   */
  criticStep(x: Tensor, y: Tensor, z: Tensor = this.noise(x.shape[0]!)): number {
    this.mark?.("fakes for the critic");
    this.D.zeroGrad();
    const fake = T.noGrad(() => this.G.forward(z, y)); // G in training mode, as the reference: BN uses batch statistics
    this.mark?.("critic forward");
    const loss = T.sub(T.mean(this.D.forward(fake, y)), T.mean(this.D.forward(x, y)));
    this.mark?.("critic backward");
    loss.backward();
    this.mark?.("critic optimizer");
    this.optD.step();
    this.mark?.("clipping");
    clipWeights(this.D, this.opts.clip);
    this.mark?.("end");
    this.criticSteps++;
    return loss.item();
  }

  /**
   * L_G = -mean(D(G(z, y), y)). D's parameters are frozen for this backward: their gradients would
   * be zeroed before the next critic step anyway, so skipping them changes nothing but the time.
   * @param z (B, latent) noise; drawn from the PRNG when absent (tests pass fixed noise)
   */
  generatorStep(y: Tensor, z: Tensor = this.noise(y.shape[0]!)): number {
    this.mark?.("generator forward");
    this.G.zeroGrad();
    const dParams = this.D.parameters();
    for (const p of dParams) p.requiresGrad = false;
    try {
      const loss = T.neg(T.mean(this.D.forward(this.G.forward(z, y), y)));
      this.mark?.("generator backward");
      loss.backward();
      this.mark?.("generator optimizer");
      this.optG.step();
      this.mark?.("end");
      this.generatorSteps++;
      return loss.item();
    } finally {
      for (const p of dParams) p.requiresGrad = true;
    }
  }
}
