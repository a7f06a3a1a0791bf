/**
 * Drawing digits from a trained generator: images for requested labels, in eval mode (batch norm
 * uses its running statistics, as the PyTorch reference samples) and without recording a graph.
 * Also the conversion to MNIST's bytes (0 background, 255 ink).
 */
import * as T from "../tensor/index.js";
import { Prng } from "../tensor/index.js";
import { oneHot } from "../mnist/batches.js";
import type { Generator } from "./models.js";
import { IMAGE_SIZE, NUM_CLASSES } from "../mnist/image.js";

/**
 * Generates one image per label.
 * @param labels (n) digits 0..9
 * @param noise the (n, latent) noise, or a PRNG to draw it from, N(0, 1)
 * @returns (n, 1, 28, 28) values in [-1, 1]
 */
export function generateImages(G: Generator, labels: Uint8Array, noise: Prng | Float32Array, chunk = 500): Float32Array {
  const n = labels.length;
  const Z = G.latent;
  const z = noise instanceof Float32Array ? noise : noise.fillNormal(T.alloc(n * Z));
  if (z.length !== n * Z) throw new Error(`generateImages: noise holds ${z.length} values, need ${n}x${Z}`);
  const out = T.alloc(n * IMAGE_SIZE);
  const wasTraining = G.training;
  G.eval();
  try {
    T.noGrad(() => {
      for (let s = 0; s < n; s += chunk) {
        const e = Math.min(n, s + chunk);
        // a scope per chunk (see classify in recognition/classifier.ts)
        T.recycling(() => {
          const zt = new T.Tensor([e - s, Z], z.subarray(s * Z, e * Z));
          const yt = new T.Tensor([e - s, NUM_CLASSES], oneHot(labels.subarray(s, e)));
          out.set(G.forward(zt, yt).data, s * IMAGE_SIZE);
        });
      }
    });
  } finally {
    G.train(wasTraining);
  }
  return out;
}

/** [-1, 1] floats to MNIST bytes: round((x + 1) * 127.5), clamped to 0..255. */
export function toMnistBytes(images: Float32Array): Uint8Array {
  const out = new Uint8Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = Math.min(255, Math.max(0, Math.round((images[i]! + 1) * 127.5)));
  return out;
}

/** `perDigit` copies of each digit 0..9, in order: 0,0,...,1,1,... */
export function digitLabels(perDigit: number, digits: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]): Uint8Array {
  const out = new Uint8Array(perDigit * digits.length);
  digits.forEach((d, i) => out.fill(d, i * perDigit, (i + 1) * perDigit));
  return out;
}

/** Seed offset of a run's grid noise: apart from the training stream, so drawing grids never perturbs training. */
const GRID_SEED_OFFSET = 0x5eed;

/**
 * The fixed noise of a run's 10x10 sample grid (the same every epoch; row d drawn as digit d), from
 * the run's seed. The command line's grids and the page's Train tab draw with it.
 * @returns (100, latent) N(0, 1) values
 */
export function gridNoise(run: { seed: number; latent: number }): Float32Array {
  return new Prng(run.seed + GRID_SEED_OFFSET).fillNormal(T.alloc(NUM_CLASSES * NUM_CLASSES * run.latent));
}

/**
 * `vectors` repeated `times` times, for drawing the same noise as several digits: block t of the
 * result is a copy of all of `vectors`. One vector tiled 10 times draws one style as each digit of
 * `digitLabels(1)`; 10 vectors tiled 10 times make a 10x10 grid whose column c is vector c.
 * @param vectors (k, latent)  @returns (times * k, latent)
 */
export function tileNoise(vectors: Float32Array, times: number): Float32Array {
  const out = T.alloc(times * vectors.length);
  for (let t = 0; t < times; t++) out.set(vectors, t * vectors.length);
  return out;
}
