/**
 * `BatchNorm1d` over (N, C) and `BatchNorm2d` over (N, C, H, W): PyTorch's parameters (`weight`
 * ones, `bias` zeros) and buffers (`running_mean`, `running_var`, `num_batches_tracked`). The
 * arithmetic, including the in-place running-statistics update, is `T.batchNorm` in ops/norm.ts.
 */
import * as T from "../tensor/index.js";
import { shapeStr } from "../tensor/index.js";
import type { Tensor } from "../tensor/index.js";
import { Buffer, Layer, Module } from "./module.js";

export interface BatchNormLayerOptions {
  /** added to the variance; default 1e-5 */
  eps?: number;
  /** running = (1 - momentum) * running + momentum * batch; default 0.1 */
  momentum?: number;
}

/** What BatchNorm1d and BatchNorm2d share; they differ only in the input rank they accept. */
export abstract class BatchNorm extends Module implements Layer {
  /** (C) gamma, starts at ones */
  readonly weight: Tensor;
  /** (C) beta, starts at zeros */
  readonly bias: Tensor;
  /** (C), starts at zeros */
  readonly runningMean: Buffer;
  /** (C) unbiased batch variances, averaged; starts at ones */
  readonly runningVar: Buffer;
  /** () int64: training forwards so far */
  readonly numBatchesTracked: Buffer;
  readonly eps: number;
  /** The momentum of the running statistics; re-estimating them (gan/average.ts) changes it for a while. */
  momentum: number;
  /** The momentum the layer was made with. */
  readonly defaultMomentum: number;
  protected abstract readonly inputRank: number;

  constructor(readonly numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    this.defaultMomentum = this.momentum;
    this.weight = this.param("weight", [numFeatures]);
    this.weight.data.fill(1);
    this.bias = this.param("bias", [numFeatures]);
    this.runningMean = this.buffer("running_mean", [numFeatures]);
    this.runningVar = this.buffer("running_var", [numFeatures]);
    this.runningVar.data.fill(1);
    this.numBatchesTracked = this.buffer("num_batches_tracked", [], "int64");
  }

  /**
   * Training: normalises with the batch's statistics and moves the running ones towards them
   * (in place). Eval: normalises with the running statistics.
   * @param x (N, C) for BatchNorm1d, (N, C, H, W) for BatchNorm2d  @returns same shape
   */
  forward(x: Tensor): Tensor {
    if (x.ndim !== this.inputRank)
      throw new Error(`${this.constructor.name}: expects a ${this.inputRank}-d input, got ${shapeStr(x.shape)}`);
    if (this.training) this.numBatchesTracked.data[0]! += 1;
    return T.batchNorm(x, this.weight, this.bias, {
      training: this.training,
      eps: this.eps,
      momentum: this.momentum,
      runningMean: this.runningMean.data,
      runningVar: this.runningVar.data,
    });
  }
}

export class BatchNorm1d extends BatchNorm {
  protected readonly inputRank = 2;
}

export class BatchNorm2d extends BatchNorm {
  protected readonly inputRank = 4;
}
