/**
 * The WGAN training step of Arjovsky, Chintala and Bottou (2017), conditional on the digit:
 *   critic:    L_D = mean(D(G(z,y), y)) - mean(D(x,y)),  RMSprop step, then clip D's weights to [-c, c]
 *   generator: L_G = -mean(D(G(z,y), y)),                RMSprop step
 * as in the paper's code and our PyTorch reference: one critic step per batch of real images, and a
 * generator step after every n_critic-th (optionally the paper's schedule of 100 critic steps for
 * the first 25 generator steps and every 500th). The generator's labels are the batch's labels.
 *
 * That plain recipe learns the shapes of digits but ignores the label. The `guided` recipe keeps
 * every line above and adds a guide C (guide.ts), a digit classifier trained inside the run:
 *   guide:     L_C = CE(C(x), y) on the real batch, RMSprop step (not clipped)
 *   generator: L_G = -mean(D(G(z,y), y)) + λ CE(C(G(z,y)), y)
 * so the generator is pulled towards images the guide reads as the digit it was asked for.
 */
import * as T from "../tensor/index.js";
import { Tensor } from "../tensor/index.js";
import type { Prng } from "../tensor/index.js";
import { RMSprop } from "../nn/index.js";
import type { Critic, Generator } from "./models.js";
import { scoreEach } from "./models.js";
import type { Guide } from "./guide.js";
import { IMAGE_H, IMAGE_W, NUM_CLASSES } from "../mnist/image.js";

export interface WganOptions {
  /** RMSprop's learning rate, for every network. */
  lr: number;
  clip: number;
  nCritic: number;
  /** The paper's schedule: 100 critic steps per generator step for its first 25 steps and every 500th. */
  paperSchedule: boolean;
  /** λ, the weight of the guide's cross-entropy in the generator's loss (guided recipe only). */
  guideWeight: number;
}

/** What one critic step measured (and the generator step that followed it, if any). */
export interface StepLosses {
  /** mean(D(fake)) - mean(D(real)) */
  criticLoss: number;
  /** mean(D(real)) - mean(D(fake)) = -criticLoss, the Wasserstein-1 estimate (up to the critic's Lipschitz constant) */
  wasserstein: number;
  /** L_G of the generator step after this critic step (with the guide's term, if any), or null if none ran */
  generatorLoss: number | null;
  /** L_C, the guide's cross-entropy on this real batch (guided recipe), or null */
  guideLoss: number | null;
}

/** The parts of a training step, in the order they run, for a profile (see `Wgan.mark`). */
export const STEP_PARTS = [
  "fakes for the critic", "critic forward", "critic backward", "critic optimizer and clipping", "guide",
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
  /** The guide's optimizer (guided recipe), or null. */
  readonly optC: RMSprop | null;
  /** Critic steps since the generator last stepped (the schedule's counter). */
  criticSinceG = 0;
  generatorSteps = 0;
  criticSteps = 0;

  /** `C`, the guide, turns the guided recipe on; without it this is the plain recipe. */
  constructor(readonly G: Generator, readonly D: Critic, readonly prng: Prng, readonly opts: WganOptions, readonly C: Guide | null = null) {
    this.optG = new RMSprop(G, { lr: opts.lr });
    this.optD = new RMSprop(D, { lr: opts.lr, clip: opts.clip }); // each step ends with the critic's weight clipping
    this.optC = C ? new RMSprop(C, { lr: opts.lr }) : null;
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
    // every buffer of the step is reused by the next one (src/tensor/storage.ts); only numbers leave it
    return T.recycling(() => this.stepOnce(images, oneHot, batchIndex));
  }

  private stepOnce(images: Float32Array, oneHot: Float32Array, batchIndex: number): StepLosses {
    const B = oneHot.length / NUM_CLASSES;
    const x = new Tensor([B, 1, IMAGE_H, IMAGE_W], images);
    const y = new Tensor([B, NUM_CLASSES], oneHot);
    const criticLoss = this.criticStep(x, y);
    const guideLoss = this.C ? this.guideStep(x, y) : null;
    this.criticSinceG++;
    let generatorLoss: number | null = null;
    if (this.generatorDue(batchIndex)) {
      generatorLoss = this.generatorStep(y);
      this.criticSinceG = 0;
    }
    return { criticLoss, wasserstein: -criticLoss, generatorLoss, guideLoss };
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
   * @param x (B, 1, 28, 28) real images in [-1, 1]  @param y (B, 10) their one-hot digits, also asked of the fakes
   * @param z (B, latent) the fakes' noise; drawn from the PRNG when absent (tests pass fixed noise)
   */
  criticStep(x: Tensor, y: Tensor, z: Tensor = this.noise(x.shape[0]!)): number {
    this.mark?.("fakes for the critic");
    this.D.zeroGrad();
    const fake = T.noGrad(() => this.G.forward(z, y)); // G in training mode, as the reference: BN uses batch statistics
    this.mark?.("critic forward");
    const [fakeScores, realScores] = scoreEach(this.D, [fake, x], y);
    const loss = T.sub(T.mean(fakeScores!), T.mean(realScores!));
    this.mark?.("critic backward");
    loss.backward();
    this.mark?.("critic optimizer and clipping");
    this.optD.step(); // and clips D's weights into [-clip, clip], in the same pass over them
    this.mark?.("end");
    this.criticSteps++;
    return loss.item();
  }

  /** L_C = CE(C(x), y): one RMSprop step of the guide on the real batch (guided recipe). @param x (B, 1, 28, 28)  @param y (B, 10) one-hot */
  guideStep(x: Tensor, y: Tensor): number {
    this.mark?.("guide");
    const C = this.C!;
    C.zeroGrad();
    const loss = T.crossEntropy(C.forward(x), digitsOf(y));
    loss.backward();
    this.optC!.step();
    this.mark?.("end");
    return loss.item();
  }

  /**
   * L_G = -mean(D(G(z, y), y)) [+ λ CE(C(G(z, y)), y)]. D's (and C's) parameters are frozen for
   * this backward: their gradients would be zeroed before their next step anyway, so skipping them
   * changes nothing but the time.
   * @param y (B, 10) the one-hot digits asked for
   * @param z (B, latent) noise; drawn from the PRNG when absent (tests pass fixed noise)
   */
  generatorStep(y: Tensor, z: Tensor = this.noise(y.shape[0]!)): number {
    this.mark?.("generator forward");
    this.G.zeroGrad();
    const frozen = [...this.D.parameters(), ...(this.C?.parameters() ?? [])];
    for (const p of frozen) p.requiresGrad = false;
    try {
      const fake = this.G.forward(z, y);
      let loss = T.neg(T.mean(this.D.forward(fake, y)));
      if (this.C) loss = T.add(loss, T.mulScalar(T.crossEntropy(this.C.forward(fake), digitsOf(y)), this.opts.guideWeight));
      this.mark?.("generator backward");
      loss.backward();
      this.mark?.("generator optimizer");
      this.optG.step();
      this.mark?.("end");
      this.generatorSteps++;
      return loss.item();
    } finally {
      for (const p of frozen) p.requiresGrad = true;
    }
  }
}

/** The digit of each one-hot row. @param y (B, 10) one-hot  @returns (B) digits */
function digitsOf(y: Tensor): Uint8Array {
  const [B, K] = y.shape as [number, number];
  const out = new Uint8Array(B);
  for (let b = 0; b < B; b++) for (let k = 0; k < K; k++) if (y.data[b * K + k] === 1) out[b] = k;
  return out;
}
