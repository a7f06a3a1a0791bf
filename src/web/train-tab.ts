/// <reference lib="dom" />
/**
 * The Train tab, on the page's side: starts the training worker (train-worker.ts), steers it
 * through the shared control block (Atomics.store and notify only: the page's main thread never
 * waits), and shows what it reports: the grid of fixed noise, the Wasserstein-estimate curve, the
 * step, images per second and GFLOP/s. A worker that fails to start, throws or dies leaves a
 * message on the page.
 */
import { imageGrid } from "../mnist/grid.js";
import { NUM_CLASSES } from "../mnist/image.js";
import { linePlotSvg, medianFilter } from "../util/plot.js";
import { byId, paintMessage, paintRgba, showMessage } from "./dom.js";
import { CONTROL, CONTROL_WORDS } from "./protocol.js";
import type { FromWorker, KernelChoice, ToWorker } from "./protocol.js";
import { scriptUrl } from "./urls.js";

/** The chart is redrawn at most this often (ms): an SVG of thousands of points is not free. */
const CHART_EVERY_MS = 500;
/**
 * A running worker reports every step (well under a second each, even on the JS kernel) and
 * while fetching MNIST; silence this long means it died without an error event (a crashed or
 * killed worker thread sends none) or hangs.
 */
const SILENCE_MS = 45_000;

export interface TrainOptions {
  kernel: KernelChoice;
  /** Batches per epoch, if fewer than all (?limit-batches=N); null for all. */
  limitBatches: number | null;
  /** Seed of the run (?seed=S); fresh when null. */
  seed: number | null;
  /** Threads the SIMD kernel may use, the worker's own included. */
  threads: number;
  /** Called with a downloaded generator's bytes when "Draw with it" is clicked. */
  useGenerator(bytes: Uint8Array, name: string): void;
}

export class TrainTab {
  private worker: Worker | null = null;
  private control: Int32Array | null = null;
  private readonly wasserstein: number[] = [];
  private chartDrawn = 0;
  private chartTimer: number | null = null;
  private lastCheckpoint: { bytes: Uint8Array; fileName: string } | null = null;
  private seed = 0;
  /** When the worker last sent anything (performance.now()), and the timer that watches it. */
  private lastHeard = 0;
  private watchdog: number | null = null;
  /** Export requests sent by message (without shared memory). */
  private exportsAsked = 0;
  /** "wasm SIMD, 2 threads" or "js (blocked)", for the status line. */
  private kernelText = "";
  private readonly el = {
    start: byId("train-start", HTMLButtonElement),
    pause: byId("train-pause", HTMLButtonElement),
    resume: byId("train-resume", HTMLButtonElement),
    download: byId("train-download", HTMLButtonElement),
    use: byId("train-use", HTMLButtonElement),
    notice: byId("train-notice", HTMLParagraphElement),
    error: byId("train-error", HTMLParagraphElement),
    status: byId("train-status", HTMLParagraphElement),
    samples: byId("train-samples", HTMLCanvasElement),
    chart: byId("train-chart", HTMLDivElement),
  };

  constructor(private readonly opts: TrainOptions) {
    const { el } = this;
    el.start.addEventListener("click", () => this.start());
    el.pause.addEventListener("click", () => this.command("PAUSE", 1));
    el.resume.addEventListener("click", () => this.command("PAUSE", 0));
    el.download.addEventListener("click", () => this.command("EXPORT", 1));
    el.use.addEventListener("click", () => {
      if (this.lastCheckpoint) this.opts.useGenerator(this.lastCheckpoint.bytes, this.lastCheckpoint.fileName);
    });
    paintMessage(el.samples, "Samples appear here once training starts.");
    if (!globalThis.crossOriginIsolated)
      showMessage(el.notice, "This page is not cross-origin isolated (open it from `serve`): no shared memory, so pause and download act only at the end of an epoch, and the SIMD kernel runs on one thread.");
  }

  private start(): void {
    const { el } = this;
    el.start.disabled = true;
    showMessage(el.error, null);
    this.seed = this.opts.seed ?? (crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fffffff);
    let worker: Worker;
    try {
      worker = new Worker(scriptUrl("train-worker"), { type: "module", name: "training" });
    } catch (e) {
      return this.fail(`The training worker could not be started: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.worker = worker;
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      this.lastHeard = performance.now();
      this.receive(e.data);
    };
    this.lastHeard = performance.now();
    this.watchdog = window.setInterval(() => {
      const state = el.status.dataset.state;
      if (state === "paused" || state === "done" || state === "pausing") this.lastHeard = performance.now();
      else if (performance.now() - this.lastHeard > SILENCE_MS)
        this.fail(`The training worker has said nothing for ${SILENCE_MS / 1000} s: it has died (out of memory?) or hangs.`);
    }, 5000);
    worker.onerror = (e) => {
      e.preventDefault();
      this.fail(`The training worker stopped: ${e.message || "its script failed to load, or it ran out of memory"}.`);
    };
    worker.onmessageerror = () => this.fail("The training worker sent a message the page could not read.");
    const shared = globalThis.crossOriginIsolated ? new SharedArrayBuffer(CONTROL_WORDS * 4) : null;
    this.control = shared ? new Int32Array(shared) : null;
    const msg: ToWorker = {
      type: "start", seed: this.seed, control: shared, kernel: this.opts.kernel,
      threads: this.opts.threads, limitBatches: this.opts.limitBatches,
    };
    worker.postMessage(msg);
    el.status.textContent = "Starting the training worker...";
  }

  /** Sets a control word: in shared memory (then wakes a paused worker), or by message. */
  private command(word: keyof typeof CONTROL, value: number): void {
    if (!this.worker) return;
    const ctl = this.control;
    if (ctl) {
      if (word === "EXPORT") Atomics.add(ctl, CONTROL.EXPORT, 1);
      else Atomics.store(ctl, CONTROL[word], value);
      Atomics.add(ctl, CONTROL.SEQ, 1);
      Atomics.notify(ctl, CONTROL.SEQ);
    } else {
      const msg: ToWorker = { type: "control", word, value: word === "EXPORT" ? ++this.exportsAsked : value };
      this.worker.postMessage(msg);
    }
    if (word === "PAUSE") {
      this.el.pause.disabled = true;
      this.el.resume.disabled = true;
      this.el.status.dataset.state = value ? "pausing" : "resuming";
    }
  }
  private receive(m: FromWorker): void {
    const { el } = this;
    switch (m.type) {
      case "status":
        el.status.textContent = m.text;
        break;
      case "kernel":
        el.status.dataset.kernel = m.name;
        el.status.dataset.threads = String(m.threads);
        this.kernelText = m.name.startsWith("simd") ? `wasm SIMD${m.name === "simd-fma" ? " (fma)" : ""}, ${m.threads} thread${m.threads > 1 ? "s" : ""}` : `js (${m.name})`;
        if (m.notice) showMessage(el.notice, m.notice);
        break;
      case "progress": {
        for (const w of m.wasserstein) this.wasserstein.push(w);
        el.status.dataset.step = String(m.step);
        el.status.dataset.state ??= "running";
        el.status.textContent =
          `Seed ${this.seed}, epoch ${m.epoch}/${m.epochs}, batch ${m.batchInEpoch}/${m.batchesPerEpoch}, ${m.step} critic steps. ` +
          `${m.imagesPerSecond.toFixed(0)} images/s, ${m.gflops.toFixed(2)} GFLOP/s (${this.kernelText}).`;
        el.status.dataset.imagesPerSecond = m.imagesPerSecond.toFixed(1);
        el.status.dataset.gflops = m.gflops.toFixed(3);
        if (el.pause.disabled && el.resume.disabled && el.status.dataset.state === "running") el.pause.disabled = false;
        el.download.disabled = false;
        this.scheduleChart();
        break;
      }
      case "samples":
        paintRgba(el.samples, imageGrid(m.images, { rows: NUM_CLASSES, cols: NUM_CLASSES, scale: 1, border: 1 }), 3);
        el.samples.dataset.step = String(m.step);
        break;
      case "paused":
        el.status.dataset.state = "paused";
        el.resume.disabled = false;
        el.status.textContent = `Paused after ${m.step} critic steps. ${el.status.textContent?.replace(/^.*critic steps\. /, "Last: ") ?? ""}`;
        this.drawChart();
        break;
      case "resumed":
        el.status.dataset.state = "running";
        el.pause.disabled = false;
        break;
      case "checkpoint":
        this.lastCheckpoint = { bytes: m.bytes, fileName: m.fileName };
        el.use.disabled = false;
        download(m.bytes, m.fileName);
        break;
      case "done":
        el.status.dataset.state = "done";
        el.pause.disabled = el.resume.disabled = true;
        el.status.textContent = `Done: ${m.step} critic steps, every epoch of the recipe.`;
        this.drawChart();
        break;
      case "error":
        this.fail(`Training stopped: ${m.message}`);
        break;
    }
  }
  private fail(message: string): void {
    const { el } = this;
    showMessage(el.error, message);
    el.status.dataset.state = "failed";
    el.pause.disabled = el.resume.disabled = true;
    el.start.disabled = false;
    this.worker?.terminate();
    this.worker = null;
    if (this.watchdog !== null) window.clearInterval(this.watchdog);
    this.watchdog = null;
    if (!el.samples.dataset.step) paintMessage(el.samples, "Training stopped: see the message above.");
  }

  private scheduleChart(): void {
    if (this.chartTimer !== null) return;
    const wait = Math.max(0, this.chartDrawn + CHART_EVERY_MS - performance.now());
    this.chartTimer = window.setTimeout(() => {
      this.chartTimer = null;
      this.drawChart();
    }, wait);
  }

  /** The Wasserstein estimate per critic step, and its running median (as losses.svg plots it). */
  private drawChart(): void {
    this.chartDrawn = performance.now();
    const w = this.wasserstein;
    const steps = w.map((_, i) => i + 1);
    const window = Math.min(101, 2 * Math.floor(w.length / 40) + 1);
    const every = Math.max(1, Math.ceil(w.length / 1500)); // at most ~1500 points drawn
    const keep = (_: number, i: number): boolean => i % every === 0 || i === w.length - 1;
    this.el.chart.innerHTML = linePlotSvg(
      [
        { name: "-L_D per step", values: w.filter(keep), xs: steps.filter(keep), color: "#e2a0a0" },
        { name: `median of ${window}`, values: medianFilter(w, window).filter(keep), xs: steps.filter(keep), color: "#c82828" },
      ],
      { title: "Wasserstein estimate", xLabel: "critic steps", yLabel: "mean D(real) - mean D(fake)", width: 560, height: 340 },
    );
    this.el.chart.dataset.points = String(w.length);
  }
}

/** Saves bytes as a file through a temporary link. */
function download(bytes: Uint8Array, fileName: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
