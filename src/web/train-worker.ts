/// <reference lib="dom" />
/**
 * The training Web Worker: trains a fresh generator and critic on MNIST fetched from the server,
 * with the default recipe (`DEFAULT_CONFIG` through `Training`, exactly as the command line's
 * `train` does), and reports to the page: every step's Wasserstein estimate, images per second
 * and GFLOP/s of the matrix products, and now and then the 10x10 grid of fixed noise. The page
 * pauses it, resumes it and asks for the generator through the shared control block of
 * protocol.ts; this worker may block (Atomics.wait) while paused, the page never does.
 */
import { setMatmulKernel } from "../tensor/kernels/matmul.js";
import { encodeSafetensors } from "../nn/safetensors.js";
import { DEFAULT_CONFIG, validateConfig } from "../gan/config.js";
import { Training } from "../gan/training.js";
import { digitLabels, generateImages, gridNoise } from "../gan/sampling.js";
import { SPLIT_FILES, mnistFromFiles } from "../mnist/dataset.js";
import { pairImagesLabels, parseIdx } from "../mnist/idx.js";
import { NUM_CLASSES } from "../mnist/image.js";
import { countingKernel } from "./flops.js";
import type { CountingKernel } from "./flops.js";
import { chooseKernel } from "./kernels.js";
import { CONTROL, CONTROL_WORDS } from "./protocol.js";
import type { FromWorker, ToWorker } from "./protocol.js";
import { MNIST_URL } from "./urls.js";

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

/** Steps between two sample grids sent to the page. */
const SAMPLES_EVERY = 20;
/** Rates are measured over windows of at least this much training time (ms). */
const RATE_WINDOW_MS = 1000;

/** The control words: shared with the page, or this worker's own, set by messages. */
let ctl: Int32Array<ArrayBufferLike> = new Int32Array(CONTROL_WORDS);
let shared = false;

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === "start") {
    train(m).catch((err: unknown) => post({ type: "error", message: err instanceof Error ? err.message : String(err) }));
  } else if (m.type === "control") {
    ctl[CONTROL[m.word]] = m.value;
  }
};

async function fetchBytes(url: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`could not fetch ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!res.ok) throw new Error(`could not fetch ${url}: the server answered ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function train(m: Extract<ToWorker, { type: "start" }>): Promise<void> {
  if (m.control) {
    ctl = new Int32Array(m.control);
    shared = true;
  }
  post({ type: "status", text: "Starting the matmul kernel..." });
  const chosen = await chooseKernel(m.kernel, m.threads);
  const counter = countingKernel(chosen.kernel);
  setMatmulKernel(counter);
  post({ type: "kernel", name: chosen.kernel.name, threads: chosen.threads, notice: chosen.notice });

  post({ type: "status", text: "Fetching MNIST's 60,000 training images (47 MB)..." });
  const files = SPLIT_FILES.train;
  const [img, lab] = await Promise.all([fetchBytes(MNIST_URL + files.images), fetchBytes(MNIST_URL + files.labels)]);
  const data = mnistFromFiles("train", pairImagesLabels(parseIdx(img, files.images, "images"), parseIdx(lab, files.labels, "labels"), files.images, files.labels));

  const config = validateConfig({ ...DEFAULT_CONFIG, seed: m.seed, limitBatches: m.limitBatches }, "page");
  const t = new Training(config, data);
  const run = new Run(t, counter);
  run.sendSamples();
  post({ type: "status", text: `Training (${config.model}, seed ${config.seed})...` });
  while (t.epoch < config.epochs) {
    t.trainEpoch((done, losses) => run.afterStep(done, losses.wasserstein));
    run.epochsDone = t.epoch;
    run.sendSamples();
    // Between epochs the worker returns to its event loop, so `control` messages get in.
    await new Promise((r) => setTimeout(r, 0));
    await run.serviceBetweenEpochs();
  }
  run.sendSamples();
  post({ type: "done", step: t.wgan.criticSteps });
  while (true) {
    await new Promise((r) => setTimeout(r, 200));
    run.serviceExports();
  }
}

/** One training run's reporting and control. */
class Run {
  private readonly gridNoise: Float32Array;
  /** Epochs completed (Training's `epoch` already counts the one under way). */
  epochsDone = 0;
  private pending: number[] = [];
  private exportsDone = 0;
  /** When training last (re)started counting time; time outside steps (drawing, pauses) is left out. */
  private mark = performance.now();
  private window = { ms: 0, images: 0, flops: 0 };
  private rates = { imagesPerSecond: 0, gflops: 0 };

  constructor(private readonly t: Training, private readonly counter: CountingKernel) {
    const c = t.config;
    this.gridNoise = gridNoise(c); // the run folder's grid noise for the same seed
  }

  afterStep(done: number, wasserstein: number): void {
    const now = performance.now();
    this.window.ms += now - this.mark;
    this.window.images += this.t.config.batch;
    this.window.flops += this.counter.flops;
    this.counter.flops = 0;
    if (this.window.ms >= RATE_WINDOW_MS || this.rates.imagesPerSecond === 0) {
      this.rates = { imagesPerSecond: (this.window.images * 1000) / this.window.ms, gflops: this.window.flops / this.window.ms / 1e6 };
      this.window = { ms: 0, images: 0, flops: 0 };
    }
    this.pending.push(wasserstein);
    const t = this.t;
    post({
      type: "progress", step: t.wgan.criticSteps, epoch: t.epoch, epochs: t.config.epochs, batchInEpoch: done,
      batchesPerEpoch: t.batchesThisEpoch(), wasserstein: this.pending, ...this.rates,
    });
    this.pending = [];
    if (t.wgan.criticSteps % SAMPLES_EVERY === 0) this.sendSamples();
    if (shared) this.serviceShared();
    this.mark = performance.now();
  }

  /** The grid of fixed noise, drawn without counting its products. */
  sendSamples(): void {
    this.counter.counting = false;
    try {
      // the generator as trained, not the recipe's average of weights: re-estimating the average's
      // batch norm draws 10,240 samples, seconds at every refresh of the grid
      const images = generateImages(this.t.wgan.G, digitLabels(NUM_CLASSES), this.gridNoise);
      post({ type: "samples", step: this.t.wgan.criticSteps, images }, [images.buffer]);
    } finally {
      this.counter.counting = true;
    }
  }

  /** Answers every export request made since the last look. */
  serviceExports(): void {
    while (this.exportsDone < Atomics.load(ctl, CONTROL.EXPORT)) {
      this.exportsDone++;
      this.sendCheckpoint();
    }
  }

  /** After a step, with shared control words: exports, and while paused, sleep until a word changes. */
  private serviceShared(): void {
    this.serviceExports();
    if (Atomics.load(ctl, CONTROL.PAUSE) === 0) return;
    this.sendSamples();
    post({ type: "paused", step: this.t.wgan.criticSteps });
    for (;;) {
      const seq = Atomics.load(ctl, CONTROL.SEQ);
      this.serviceExports();
      if (Atomics.load(ctl, CONTROL.PAUSE) === 0) break;
      Atomics.wait(ctl, CONTROL.SEQ, seq);
    }
    post({ type: "resumed" });
  }

  /** Between epochs, without shared memory: the same, waiting on the event loop instead. */
  async serviceBetweenEpochs(): Promise<void> {
    this.serviceExports();
    if (shared || ctl[CONTROL.PAUSE] === 0) return;
    post({ type: "paused", step: this.t.wgan.criticSteps });
    while (ctl[CONTROL.PAUSE] !== 0) {
      await new Promise((r) => setTimeout(r, 100));
      this.serviceExports();
    }
    post({ type: "resumed" });
    this.mark = performance.now();
  }

  /**
   * The generator a run folder ships, as a safetensors file with the metadata a run folder writes
   * for it: the moving average of the weights when the recipe keeps one (its batch norm re-estimated
   * now: a fraction of a second, once per download), else the generator as trained.
   */
  private sendCheckpoint(): void {
    const t = this.t;
    const c = t.config;
    this.counter.counting = false;
    let G;
    try {
      G = t.sampler(true);
    } finally {
      this.counter.counting = true;
    }
    // `epoch` counts completed epochs, as in a run folder; Training counts the one under way.
    const meta: Record<string, string> = {
      architecture: c.model, role: "generator", latent: String(c.latent), epoch: String(this.epochsDone),
      step: String(t.wgan.criticSteps), generator_steps: String(t.wgan.generatorSteps), seed: String(c.seed),
    };
    if (t.average) meta.weights = `moving average, decay ${c.ema}`;
    const bytes = encodeSafetensors(G.stateEntries(), meta);
    const fileName = `generator-${c.model}-seed${c.seed}-step${t.wgan.criticSteps}.safetensors`;
    post({ type: "checkpoint", fileName, bytes }, [bytes.buffer]);
  }
}
