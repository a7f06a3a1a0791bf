/// <reference lib="dom" />
/**
 * The Draw tab: a generator loaded from bytes (the server's checkpoint, or a file the user picks)
 * draws the chosen digit on the page's main thread, with the same calls the command line's
 * `generate` makes, so a seed draws the same pixels here and there. Three views of one seed:
 *   samples  `count` images of the digit, noise drawn by Prng(seed)
 *   style    the first of those noise vectors drawn as every digit 0..9 (what the noise holds
 *            apart from the digit: slant, thickness, size)
 *   walk     the digit along a path from that noise vector to the next one Prng(seed) draws
 * A file that fails to load leaves a message on the page and on every canvas, never a blank one.
 */
import { Prng, alloc } from "../tensor/index.js";
import { parseSafetensors } from "../nn/safetensors.js";
import { generatorFromCheckpoint } from "../gan/load.js";
import type { Generator } from "../gan/models.js";
import { digitLabels, generateImages, tileNoise } from "../gan/sampling.js";
import { imageGrid } from "../mnist/grid.js";
import { NUM_CLASSES } from "../mnist/image.js";
import { byId, messageOf, paintMessage, paintRgba, showMessage } from "./dom.js";

/** Screen pixels per image pixel. */
const ZOOM = { samples: 3, style: 3, walk: 6 } as const;
/** Seeds are 31-bit, as `generate` draws them. */
const MAX_SEED = 2 ** 31 - 1;

export class DrawTab {
  private G: Generator | null = null;
  private digit = 3;
  private readonly el = {
    digits: byId("digits", HTMLSpanElement),
    count: byId("count", HTMLInputElement),
    seed: byId("seed", HTMLInputElement),
    again: byId("draw-again", HTMLButtonElement),
    error: byId("draw-error", HTMLParagraphElement),
    caption: byId("draw-caption", HTMLParagraphElement),
    samples: byId("samples", HTMLCanvasElement),
    style: byId("style", HTMLCanvasElement),
    walk: byId("walk", HTMLInputElement),
    walkLabel: byId("walk-label", HTMLSpanElement),
    walkCanvas: byId("walk-canvas", HTMLCanvasElement),
    name: byId("generator-name", HTMLSpanElement),
    file: byId("generator-file", HTMLInputElement),
  };

  constructor() {
    const { el } = this;
    for (let d = 0; d < NUM_CLASSES; d++) {
      const b = document.createElement("button");
      b.textContent = String(d);
      b.dataset.digit = String(d);
      b.setAttribute("aria-pressed", String(d === this.digit));
      b.addEventListener("click", () => this.newDrawing(d));
      el.digits.append(b);
    }
    el.seed.value = String(freshSeed());
    el.again.addEventListener("click", () => this.draw());
    el.seed.addEventListener("keydown", (e) => e.key === "Enter" && this.draw());
    el.count.addEventListener("change", () => this.draw());
    el.walk.addEventListener("input", () => this.drawWalk());
    el.file.addEventListener("change", () => void this.loadPicked());
    for (const c of [el.samples, el.style, el.walkCanvas]) paintMessage(c, "loading the generator...");
  }

  /** Fetches a checkpoint from the server and draws with it. */
  async loadUrl(url: string): Promise<void> {
    const name = url.replace(/^.*\//, "");
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${name}: the server answered ${res.status} ${res.statusText}`);
      this.load(new Uint8Array(await res.arrayBuffer()), name);
    } catch (e) {
      this.fail(`Could not load the generator: ${messageOf(e)}`);
    }
  }

  /** Loads a generator from a checkpoint's bytes (`name` names it in errors) and draws with it. */
  load(bytes: Uint8Array, name: string): void {
    let meta: Record<string, string>;
    try {
      const file = parseSafetensors(bytes, name);
      this.G = generatorFromCheckpoint(file, name);
      meta = file.metadata;
    } catch (e) {
      this.fail(`Could not load the generator: ${messageOf(e)}`);
      return;
    }
    const trained = meta.epoch !== undefined ? `, ${meta.step ?? "?"} critic steps (epoch ${meta.epoch})` : "";
    this.el.name.textContent = `${name} (${meta.architecture}, noise of ${this.G.latent}${trained})`;
    showMessage(this.el.error, null);
    this.draw();
  }

  private async loadPicked(): Promise<void> {
    const f = this.el.file.files?.[0];
    if (!f) return;
    try {
      this.load(new Uint8Array(await f.arrayBuffer()), f.name);
    } catch (e) {
      this.fail(`Could not read ${f.name}: ${messageOf(e)}`);
    }
  }

  private fail(message: string): void {
    this.G = null;
    this.el.name.textContent = "none loaded";
    showMessage(this.el.error, message);
    this.el.caption.textContent = "";
    for (const c of [this.el.samples, this.el.style, this.el.walkCanvas]) paintMessage(c, "No generator: see the message above.");
  }

  /** A digit button: a fresh seed, then draw. */
  private newDrawing(d: number): void {
    this.digit = d;
    for (const b of this.el.digits.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.digit === String(d)));
    this.el.seed.value = String(freshSeed());
    this.draw();
  }

  /** The seed and count typed in, or an error shown and null. */
  private inputs(): { seed: number; count: number } | null {
    const seedText = this.el.seed.value.trim();
    const seed = Number(seedText);
    if (!/^\d+$/.test(seedText) || seed > MAX_SEED) {
      showMessage(this.el.error, `The seed must be a whole number from 0 to ${MAX_SEED}, got '${seedText}'.`);
      return null;
    }
    const count = Number(this.el.count.value);
    if (!Number.isInteger(count) || count < 1 || count > 100) {
      showMessage(this.el.error, `The count must be a whole number from 1 to 100, got '${this.el.count.value}'.`);
      return null;
    }
    return { seed, count };
  }

  /** Draws the samples, the style row and the walk for the current digit and seed. */
  draw(): void {
    const G = this.G;
    const got = this.inputs();
    if (!G || !got) return;
    showMessage(this.el.error, null);
    const { seed, count } = got;
    try {
      // As `generate --digit D --count N --seed S`: the same call, so the same pixels.
      const images = generateImages(G, digitLabels(count, [this.digit]), new Prng(seed));
      const cols = Math.ceil(Math.sqrt(count));
      paintGrid(this.el.samples, images, Math.ceil(count / cols), cols, ZOOM.samples);
      this.el.samples.dataset.count = String(count);
      this.el.samples.dataset.cols = String(cols);
      this.el.samples.dataset.digit = String(this.digit);
      this.el.samples.dataset.seed = String(seed);
      this.el.caption.textContent = `${count} images of the digit ${this.digit}, seed ${seed}`;

      const z = walkEnds(seed, G.latent).z0;
      const style = tileNoise(z, NUM_CLASSES); // one vector drawn as each digit
      paintGrid(this.el.style, generateImages(G, digitLabels(1), style), 1, NUM_CLASSES, ZOOM.style);
      this.drawWalk();
    } catch (e) {
      this.fail(`Drawing failed: ${messageOf(e)}`);
    }
  }

  /** The walk's image at the slider's position. */
  private drawWalk(): void {
    const G = this.G;
    const got = this.inputs();
    if (!G || !got) return;
    const t = Number(this.el.walk.value) / 100;
    const { z0, z1 } = walkEnds(got.seed, G.latent);
    const images = generateImages(G, digitLabels(1, [this.digit]), slerp(z0, z1, t));
    paintGrid(this.el.walkCanvas, images, 1, 1, ZOOM.walk);
    this.el.walkLabel.textContent = `digit ${this.digit}, ${Math.round(t * 100)}% of the way from the style row's noise to the next vector of seed ${got.seed}`;
  }
}

function paintGrid(canvas: HTMLCanvasElement, images: Float32Array, rows: number, cols: number, zoom: number): void {
  paintRgba(canvas, imageGrid(images, { rows, cols, scale: 1, border: 1 }), zoom);
  canvas.dataset.rows = String(rows);
  canvas.dataset.cols = String(cols);
}

/** A fresh 31-bit seed from the browser's random source. */
function freshSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! & MAX_SEED;
}

/** The two ends of the walk: the first two noise vectors Prng(seed) draws (z0 is also the style row's). */
function walkEnds(seed: number, latent: number): { z0: Float32Array; z1: Float32Array } {
  const z = new Prng(seed).fillNormal(alloc(2 * latent));
  return { z0: z.subarray(0, latent), z1: z.subarray(latent) };
}

/**
 * Spherical interpolation from a (t = 0) to b (t = 1): along the great circle between their
 * directions, with their lengths blended linearly. A straight line between two N(0, I) vectors of
 * 100 values passes through much shorter vectors, noise the generator never saw in training.
 */
function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  const na = Math.sqrt(aa), nb = Math.sqrt(bb);
  const omega = Math.acos(Math.min(1, Math.max(-1, ab / (na * nb))));
  const out = alloc(a.length);
  if (omega < 1e-6) {
    for (let i = 0; i < a.length; i++) out[i] = (1 - t) * a[i]! + t * b[i]!;
    return out;
  }
  // unit directions mixed by sin weights, then scaled to the blended length
  const wa = Math.sin((1 - t) * omega) / Math.sin(omega) / na;
  const wb = Math.sin(t * omega) / Math.sin(omega) / nb;
  const len = (1 - t) * na + t * nb;
  for (let i = 0; i < a.length; i++) out[i] = len * (wa * a[i]! + wb * b[i]!);
  return out;
}
