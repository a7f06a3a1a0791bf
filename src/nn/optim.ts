/**
 * RMSprop, Adam and SGD with PyTorch's update rules, each over one packed model: the step is a
 * single loop over the model's flat parameter and gradient buffers (see Module.pack()). Optimizer
 * state is flat too, one Float32Array per PyTorch state name, so a checkpoint restores it exactly.
 * No weight decay, centering, Nesterov or AMSGrad.
 */
import { alloc, allocLasting, shapeStr } from "../tensor/index.js";
import { optimizerKernel } from "../tensor/kernels/optimizer.js";
import type { FlatParameters, Module } from "./module.js";
import type { TensorData, TensorEntry } from "./safetensors.js";

export interface Optimizer {
  /** One update of every parameter from its accumulated gradient. */
  step(): void;
  /** Zeroes the model's gradients. */
  zeroGrad(): void;
  /** The state needed to continue exactly where this optimizer left off. */
  stateEntries(): TensorEntry[];
  /** Copies state in from `state` (names and sizes as `stateEntries()`); throws on any mismatch. */
  loadStateEntries(state: ReadonlyMap<string, TensorData>): void;
}

/** The flat optimizer state, as entries: float32 vectors of the parameter count, int64 scalars. */
abstract class FlatOptimizer implements Optimizer {
  protected readonly flat: FlatParameters;
  protected abstract state(): TensorEntry[];

  /** Packs `model` (if it is not already) and works on its flat buffers. */
  constructor(readonly model: Module) {
    this.flat = model.pack();
  }

  abstract step(): void;

  zeroGrad(): void {
    this.model.zeroGrad();
  }

  stateEntries(): TensorEntry[] {
    return this.state();
  }

  loadStateEntries(state: ReadonlyMap<string, TensorData>): void {
    const mine = this.state();
    const names = mine.map(([n]) => n);
    const extra = [...state.keys()].filter((n) => !names.includes(n));
    if (extra.length > 0) throw new Error(`${this.constructor.name}: unexpected state ${extra.join(", ")}`);
    for (const [n, t] of mine) {
      const s = state.get(n);
      if (!s) throw new Error(`${this.constructor.name}: missing state ${n}`);
      if (s.data.length !== t.data.length || s.dtype !== t.dtype)
        throw new Error(`${this.constructor.name}: state ${n} is ${s.dtype} ${shapeStr(s.shape)}, expected ${t.dtype} ${shapeStr(t.shape)}`);
    }
    for (const [n, t] of mine) t.data.set(state.get(n)!.data);
  }

  protected vector(data: Float32Array): TensorData {
    return { data, shape: [data.length], dtype: "float32" };
  }
}

export interface RMSpropOptions {
  lr: number;
  /** decay of the running average of g²; default 0.99 */
  alpha?: number;
  /** added to sqrt(v); default 1e-8 */
  eps?: number;
  /**
   * After each step, every weight clamped into [-clip, clip] in the same pass: the WGAN critic's
   * weight clipping (nn/clip.ts), the same bits as a separate clipWeights after the step.
   */
  clip?: number;
}

/**
 * RMSprop (Hinton's lecture 6e) as torch.optim.RMSprop, the WGAN paper's optimizer:
 *   v = alpha * v + (1 - alpha) * g²;   w -= lr * g / (sqrt(v) + eps)
 * State `square_avg` (P), starting at zeros.
 */
export class RMSprop extends FlatOptimizer {
  lr: number;
  readonly alpha: number;
  readonly eps: number;
  /** The clipping bound applied after each step, or undefined (RMSpropOptions.clip). */
  readonly clip: number | undefined;
  /** (P) running average of g², v */
  readonly squareAvg: Float32Array;

  constructor(model: Module, opts: RMSpropOptions) {
    super(model);
    this.lr = opts.lr;
    this.alpha = opts.alpha ?? 0.99;
    this.eps = opts.eps ?? 1e-8;
    if (opts.clip !== undefined && !(opts.clip > 0 && Number.isFinite(opts.clip)))
      throw new Error(`RMSprop: clip must be a positive number, got ${opts.clip}`);
    this.clip = opts.clip;
    this.squareAvg = allocLasting(this.flat.data.length);
  }

  /**
   * One pass over the flat buffers on the active kernel, in float32 as PyTorch
   * (tensor/kernels/optimizer.ts), clipping the weights in the same pass when `clip` is set.
   */
  step(): void {
    const { data, grad } = this.model.flatParameters(); // gradients marked zero read as zeros
    optimizerKernel().rmsprop(data, grad, this.squareAvg, this.lr, this.alpha, this.eps, this.clip);
  }

  protected state(): TensorEntry[] {
    return [["square_avg", this.vector(this.squareAvg)]];
  }
}

export interface AdamOptions {
  /** default 1e-3 */
  lr?: number;
  /** default 0.9 */
  beta1?: number;
  /** default 0.999 */
  beta2?: number;
  /** default 1e-8 */
  eps?: number;
}

/**
 * Adam (Kingma and Ba, 2015) as torch.optim.Adam, with bias correction at step t (from 1):
 *   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g²
 *   w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * State `exp_avg` m (P), `exp_avg_sq` v (P), `step` t (int64 scalar).
 */
export class Adam extends FlatOptimizer {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** (P) m */
  readonly expAvg: Float32Array;
  /** (P) v */
  readonly expAvgSq: Float32Array;
  /** () t, steps taken; float32 counts exactly up to 2^24 */
  private readonly t = alloc(1);

  constructor(model: Module, opts: AdamOptions = {}) {
    super(model);
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.expAvg = alloc(this.flat.data.length);
    this.expAvgSq = alloc(this.flat.data.length);
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.t[0]!;
  }

  step(): void {
    const t = (this.t[0]! += 1);
    const { data: w, grad: g } = this.model.flatParameters();
    const m = this.expAvg;
    const v = this.expAvgSq;
    const { beta1: b1, beta2: b2, eps } = this;
    const stepSize = this.lr / (1 - b1 ** t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      const mi = b1 * m[i]! + (1 - b1) * gi;
      const vi = b2 * v[i]! + (1 - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      w[i]! -= (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
    }
  }

  protected state(): TensorEntry[] {
    return [
      ["exp_avg", this.vector(this.expAvg)],
      ["exp_avg_sq", this.vector(this.expAvgSq)],
      ["step", { data: this.t, shape: [], dtype: "int64" }],
    ];
  }
}

export interface SGDOptions {
  lr: number;
  /** default 0 (plain gradient descent) */
  momentum?: number;
}

/**
 * SGD as torch.optim.SGD (no dampening): b = momentum * b + g (b = g at the first step, which is
 * the same thing from b = 0);  w -= lr * b.  With momentum 0, w -= lr * g and no state.
 * State `momentum_buffer` (P) when momentum > 0.
 */
export class SGD extends FlatOptimizer {
  lr: number;
  readonly momentum: number;
  /** (P) b; empty without momentum */
  readonly momentumBuffer: Float32Array;

  constructor(model: Module, opts: SGDOptions) {
    super(model);
    this.lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.momentumBuffer = alloc(this.momentum > 0 ? this.flat.data.length : 0);
  }

  step(): void {
    const { data: w, grad: g } = this.model.flatParameters();
    const { lr, momentum: mu } = this;
    const b = this.momentumBuffer;
    if (mu > 0)
      for (let i = 0; i < w.length; i++) {
        const bi = mu * b[i]! + g[i]!;
        b[i] = bi;
        w[i]! -= lr * bi;
      }
    else for (let i = 0; i < w.length; i++) w[i]! -= lr * g[i]!;
  }

  protected state(): TensorEntry[] {
    return this.momentum > 0 ? [["momentum_buffer", this.vector(this.momentumBuffer)]] : [];
  }
}
