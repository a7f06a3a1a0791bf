/**
 * The neural-network layer of the project: modules and layers with PyTorch's names, their
 * initialisation, optimizers over one flat buffer, weight clipping, and checkpoints as
 * safetensors bytes. Import from here: `import { Linear, RMSprop } from "../nn/index.js"`. No file
 * I/O: checkpoint files are read and written by `src/io/checkpoint.ts`.
 */
export { Module } from "./module.js";
export type { Buffer, FlatParameters, Layer } from "./module.js";
export { Linear } from "./linear.js";
export { Conv2d, ConvTranspose2d } from "./conv.js";
export type { ConvLayerOptions } from "./conv.js";
export { BatchNorm, BatchNorm1d, BatchNorm2d } from "./norm.js";
export type { BatchNormLayerOptions } from "./norm.js";
export { Flatten, LeakyReLU, MaxPool2d, ReLU, Tanh } from "./activations.js";
export { Sequential } from "./sequential.js";
export { initFanIn } from "./init.js";
export { initDcgan } from "./init-dcgan.js";
export { Adam, RMSprop, SGD } from "./optim.js";
export type { AdamOptions, Optimizer, RMSpropOptions, SGDOptions } from "./optim.js";
export { clipWeights } from "./clip.js";
export { encodeSafetensors, parseSafetensors } from "./safetensors.js";
export type { Dtype, Safetensors, TensorData, TensorEntry } from "./safetensors.js";
export { loadModuleFrom, loadOptimizerFrom } from "./checkpoint.js";
