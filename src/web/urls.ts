/**
 * The addresses the page and the server agree on: the generator checkpoint, the MNIST files and
 * the worker scripts (each bundled by `serve` from the TypeScript file named here, in src/web/).
 */

/** The generator checkpoint the Draw tab draws with (the file given to `serve --checkpoint`). */
export const GENERATOR_URL = "/generator.safetensors";

/** Folder of the MNIST training files, by their distribution names (SPLIT_FILES.train). */
export const MNIST_URL = "/mnist/";

/** Worker scripts: bundle name -> entry file. The page starts them as `/<name>.js`. */
export const WORKER_SCRIPTS = {
  "train-worker": "train-worker.ts",
  "kernel-worker": "kernel-worker.ts",
} as const;

export const scriptUrl = (name: keyof typeof WORKER_SCRIPTS): string => `/${name}.js`;
