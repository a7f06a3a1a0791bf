/**
 * Weight clipping, the WGAN paper's (Arjovsky et al., 2017) crude way of keeping the critic
 * K-Lipschitz. One loop over one model's flat parameter buffer; nothing else is touched.
 */
import type { Module } from "./module.js";
import { optimizerKernel } from "../tensor/kernels/optimizer.js";

/**
 * Clamps every parameter of `model` into [-c, c] in place: all of them, biases and batch-norm
 * weights included, exactly as the paper's code does (`for p in netD.parameters(): p.data.clamp_(-c, c)`).
 * Buffers (running statistics) and other models are not touched. Packs `model` if it is not yet.
 */
export function clipWeights(model: Module, c: number): void {
  if (!(c > 0 && Number.isFinite(c))) throw new Error(`clipWeights: bound must be a positive number, got ${c}`);
  optimizerKernel().clip(model.pack().data, c); // one pass, on the active kernel (tensor/kernels/optimizer.ts)
}
