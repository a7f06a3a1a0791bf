/**
 * The engine's public surface: `Tensor` with autograd, and every op. Import from here:
 * `import * as T from "../tensor/index.js"` then `T.linear(x, w, b)`.
 */
export { Tensor, tensor, zeros, full, noGrad, isGradEnabled, sizeOf, shapeStr } from "./tensor.js";
export { alloc, allocForOverwrite, allocLasting, keep, poisonRecycledBuffers, recycling } from "./storage.js";
export { Prng } from "./prng.js";
export type { PrngState } from "./prng.js";
export { add, sub, mul, affineScalar, mulScalar, addScalar, neg, relu, leakyRelu, tanh, sigmoid } from "./ops/elementwise.js";
export { matmul, linear } from "./ops/matmul.js";
export { reshape, flatten, concat, slice } from "./ops/shape.js";
export { sum, mean } from "./ops/reduce.js";
export { logSoftmax, nllLoss, crossEntropy } from "./ops/loss.js";
export { conv2d, convTranspose2d } from "./ops/conv.js";
export type { ConvOptions } from "./ops/conv.js";
export { maxPool2d } from "./ops/pool.js";
export { batchNorm } from "./ops/norm.js";
export type { BatchNormOptions } from "./ops/norm.js";
