/**
 * What the page and its training worker say to each other. The page starts the worker with one
 * `start` message; from then on it steers it through a small block of shared i32 words (`CONTROL`):
 * the worker runs the training loop without returning to its event loop, so a message would wait
 * until the epoch ends, but it reads these words after every step (and sleeps on them with
 * Atomics.wait while paused). Without cross-origin isolation there is no shared memory: the same
 * words then live in the worker, set by `control` messages, and act at the end of an epoch.
 */

/** Word indices of the control block (an Int32Array of CONTROL_WORDS). */
export const CONTROL = {
  /** 1: pause after the current step; 0: run. */
  PAUSE: 0,
  /** Export requests made; the worker answers each with a `checkpoint` message. */
  EXPORT: 1,
  /** Bumped (and notified) on every change, so a paused worker wakes to look. */
  SEQ: 2,
} as const;
export const CONTROL_WORDS = 4;

/** Which matmul kernel the worker should train with: the fastest available, or the JS one. */
export type KernelChoice = "auto" | "js" | "pretend-no-simd";

export type ToWorker =
  | {
      type: "start";
      seed: number;
      /** The control block, shared; null when the page is not cross-origin isolated. */
      control: SharedArrayBuffer | null;
      kernel: KernelChoice;
      /** Threads the matmul may use (the training worker's own included). */
      threads: number;
      /** Batches per epoch, if fewer than all (a quick look); null for the whole of MNIST. */
      limitBatches: number | null;
    }
  /** Without shared memory: set a control word. */
  | { type: "control"; word: keyof typeof CONTROL; value: number };

export type FromWorker =
  | { type: "status"; text: string }
  /** The kernel chosen; `notice` says why it is not the fastest one, when it is not. */
  | { type: "kernel"; name: string; threads: number; notice: string | null }
  | {
      type: "progress";
      step: number;
      epoch: number;
      epochs: number;
      batchInEpoch: number;
      batchesPerEpoch: number;
      /** Wasserstein estimates (-critic loss) of the critic steps since the last progress message. */
      wasserstein: number[];
      imagesPerSecond: number;
      gflops: number;
    }
  /** The 10x10 grid's images (100, 28, 28) in [-1, 1], row d digit d, the same noise every time. */
  | { type: "samples"; step: number; images: Float32Array }
  | { type: "paused"; step: number }
  | { type: "resumed" }
  | { type: "checkpoint"; fileName: string; bytes: Uint8Array }
  | { type: "done"; step: number }
  | { type: "error"; message: string };
