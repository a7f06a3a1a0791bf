/**
 * The web page of `serve`, in a real browser: the headless Chromium shipped inside the
 * @sparticuz/chromium npm package (built for Linux x64; elsewhere the suite is skipped, saying
 * so), driven by playwright-core. One server (`serve --port 0`, a child process) and one browser
 * for the file. What it checks:
 *   Draw    the digit 3's samples, read back from the canvas and judged in Node by the classifier,
 *           are mostly 3s; a typed seed draws the same pixels twice, and the pixels Node draws with
 *           the same call; the style row shows (mostly) ten different digits; the walk moves
 *   Train   20+ steps in the worker on the SIMD kernel's threads, a growing curve, pause that holds,
 *           a downloaded generator that `generate --checkpoint` accepts, resume; the no-SIMD path
 *           trains on the JS kernel with the notice shown
 *   errors  a corrupt generator file picked in the Draw tab shows its error on the page (and on the
 *           canvases); serve refuses a corrupt checkpoint and a port in use in one line; Ctrl-C
 *           stops it cleanly; the normal path logs no console error
 * It saves screenshots of both tabs: into docs/ (web-draw.png, web-train.png, the README's pictures)
 * when SCREENSHOTS=docs is set, else into its temporary folder, so a test run leaves the tree clean.
 *
 * The accuracy and style-row checks need the shipped generator, models/generator.safetensors: they
 * are skipped (saying so) while it does not exist, and the rest runs on a fresh untrained generator.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { Prng } from "../src/tensor/index.js";
import { createGenerator } from "../src/gan/models.js";
import { digitLabels, generateImages } from "../src/gan/sampling.js";
import { imageGrid } from "../src/mnist/grid.js";
import { scalePixels } from "../src/mnist/dataset.js";
import { loadMnist } from "../src/io/mnist.js";
import { IMAGE_H, IMAGE_SIZE, IMAGE_W } from "../src/mnist/image.js";
import { saveModule, readSafetensors } from "../src/io/checkpoint.js";
import { loadGenerator } from "../src/io/generator.js";
import { loadClassifier } from "../src/io/evaluator.js";
import { classify } from "../src/recognition/classifier.js";
import { argmaxRows } from "../src/recognition/metrics.js";
import { simdAvailable } from "../src/tensor/kernels/wasm/matmul-simd.js";
import { expectCliFailure, runCli } from "./cli.js";
import { DEFAULT_CONFIG } from "../src/gan/config.js";

const ROOT = join(import.meta.dirname, "..");

const SHIPPED_GENERATOR = join(ROOT, "models", "generator.safetensors");

/**
 * The shipped generator's conditional accuracy as `evaluate` measures it (1,000 samples per digit:
 * 0.9933, and a recall of 0.997 for the digit 3), minus a margin of 0.05: the page's 100 samples of a
 * 3 estimate that accuracy with a standard deviation of sqrt(p(1-p)/100) < 0.01 at p = 0.997, and the canvas
 * rounds each pixel to a byte, as MNIST's own files do.
 */
const MIN_FRACTION_DRAWN_AS_ASKED = 0.94;
/** Of the style row's ten images (one noise vector, digits 0..9), at least this many distinct predictions. */
const MIN_DISTINCT_STYLE_DIGITS = 8;
/** Critic steps the Train tab must run in its worker. */
const MIN_TRAIN_STEPS = 20;

const PLATFORM_OK = process.platform === "linux" && process.arch === "x64";
const HAVE_SHIPPED = existsSync(SHIPPED_GENERATOR);
if (!PLATFORM_OK) console.warn(`browser suite skipped: the bundled Chromium is built for Linux x64, this is ${process.platform}/${process.arch}`);
if (PLATFORM_OK && !HAVE_SHIPPED) console.warn("browser suite: models/generator.safetensors does not exist yet: the digit-accuracy and style-row checks are skipped");

/**
 * The package's flags (made for serverless machines), less two: --disable-web-security also turns
 * off cross-origin isolation (crossOriginIsolated stays false whatever the headers), and under
 * --single-process closing a page closes the whole browser. Plus none of the browser's own traffic.
 */
const DROPPED_FLAGS = new Set(["--disable-web-security", "--single-process"]);

async function launchBrowser(): Promise<Browser> {
  const { default: chromium } = await import("@sparticuz/chromium");
  const { chromium: playwright } = await import("playwright-core");
  const args = [
    ...chromium.args.filter((a) => !DROPPED_FLAGS.has(a)),
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
  ];
  return playwright.launch({ executablePath: await chromium.executablePath(), headless: true, args });
}

/** Starts `serve --port 0` and resolves to its address once it prints it. */
function startServer(checkpoint: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "serve", "--port", "0", "--checkpoint", checkpoint], { cwd: ROOT });
  let out = "";
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /serving on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]!, output: () => out });
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code) => reject(new Error(`serve exited (code ${code}) before listening: ${out}`)));
  });
}

/** A canvas's pixels as the page holds them, with the grid layout the page wrote on it. */
interface CanvasPixels {
  width: number;
  height: number;
  rgba: Uint8Array;
  rows: number;
  cols: number;
}

async function readCanvas(page: Page, id: string): Promise<CanvasPixels> {
  const r = await page.evaluate((canvasId) => {
    const c = document.getElementById(canvasId) as HTMLCanvasElement;
    const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    return { width: c.width, height: c.height, rgba: Array.from(data), rows: Number(c.dataset.rows), cols: Number(c.dataset.cols) };
  }, id);
  return { ...r, rgba: Uint8Array.from(r.rgba) };
}

/** The first `count` cells of a grid drawn by imageGrid (scale 1, border 1), as pixels in [-1, 1]. */
function gridCells(p: CanvasPixels, count: number): Float32Array {
  const out = new Float32Array(count * IMAGE_SIZE);
  for (let cell = 0; cell < count; cell++) {
    const x0 = 1 + (cell % p.cols) * (IMAGE_W + 1);
    const y0 = 1 + Math.floor(cell / p.cols) * (IMAGE_H + 1);
    for (let y = 0; y < IMAGE_H; y++)
      for (let x = 0; x < IMAGE_W; x++) out[cell * IMAGE_SIZE + y * IMAGE_W + x] = p.rgba[4 * ((y0 + y) * p.width + x0 + x)]! / 127.5 - 1;
  }
  return out;
}

function predict(pixels: Float32Array): Uint8Array {
  const { model } = loadClassifier();
  const n = pixels.length / IMAGE_SIZE;
  return argmaxRows(classify(model, pixels).logits, n);
}

describe.skipIf(!PLATFORM_OK)("the web page of serve, in headless Chromium", () => {
  let tmp: string;
  let server: Awaited<ReturnType<typeof startServer>>;
  let checkpoint: string;
  let browser: Browser;
  /** Console errors and uncaught exceptions of every page opened on the normal path. */
  const consoleErrors: string[] = [];
  /** Where a screenshot goes: docs/ with SCREENSHOTS=docs (to renew the README's), else the run's temporary folder. */
  const screenshotPath = (name: string): string => join(process.env.SCREENSHOTS === "docs" ? join(ROOT, "docs") : tmp, name);

  async function openPage(path = "/"): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, acceptDownloads: true });
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(`${path}: ${m.text()}`));
    page.on("pageerror", (e) => consoleErrors.push(`${path}: ${e.message}`));
    await page.goto(new URL(path, server.url).href);
    return page;
  }

  async function drawnPage(): Promise<Page> {
    const page = await openPage();
    await page.waitForFunction(() => document.getElementById("samples")!.dataset.seed !== undefined);
    return page;
  }

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "wgan-browser-"));
    checkpoint = SHIPPED_GENERATOR;
    if (!HAVE_SHIPPED) {
      // A fresh, untrained generator: enough for everything but the accuracy checks.
      checkpoint = join(tmp, "fresh-generator.safetensors");
      saveModule(checkpoint, createGenerator("mlp", 100, new Prng(1)), { architecture: "mlp", role: "generator", latent: "100", epoch: "0", step: "0", seed: "1" });
    }
    [server, browser] = await Promise.all([startServer(checkpoint), launchBrowser()]);
  });

  afterAll(async () => {
    await browser?.close();
    if (server && server.child.exitCode === null) server.child.kill("SIGTERM");
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("serves a cross-origin isolated page", async () => {
    const page = await drawnPage();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.close();
  });

  it("the read-back path is sound: real test digits laid out as the page lays them out are classified right", () => {
    // What the accuracy checks below measure, on digits whose answer is known: the same grid
    // (imageGrid, scale 1, border 1), the same cell extraction, the same classifier.
    const real = loadMnist("test");
    const n = 100;
    const grid = imageGrid(scalePixels(real.images.subarray(0, n * IMAGE_SIZE)), { rows: 10, cols: 10, scale: 1, border: 1 });
    const predicted = predict(gridCells({ ...grid, rows: 10, cols: 10 }, n));
    const right = predicted.filter((d, i) => d === real.labels[i]).length;
    expect(right / n).toBeGreaterThanOrEqual(0.97);
  });

  it.skipIf(!HAVE_SHIPPED)(`clicking 3 draws 3s: at least ${MIN_FRACTION_DRAWN_AS_ASKED} of 100 samples, by the classifier`, async () => {
    const page = await drawnPage();
    await page.fill("#count", "100");
    await page.click("#digits button[data-digit='3']");
    await page.waitForFunction(() => document.getElementById("samples")!.dataset.count === "100" && document.getElementById("samples")!.dataset.digit === "3");
    const labels = predict(gridCells(await readCanvas(page, "samples"), 100));
    const threes = labels.filter((d) => d === 3).length / labels.length;
    expect(threes, `predicted digits: ${labels.join("")}`).toBeGreaterThanOrEqual(MIN_FRACTION_DRAWN_AS_ASKED);
    await page.close();
  });

  it("a typed seed draws the same pixels twice, the pixels Node draws for that seed; another seed, others", async () => {
    const page = await drawnPage();
    await page.fill("#count", "16");
    await page.click("#digits button[data-digit='3']");
    const typed = async (seed: string): Promise<CanvasPixels> => {
      await page.fill("#seed", seed);
      await page.press("#seed", "Enter");
      await page.waitForFunction((s) => document.getElementById("samples")!.dataset.seed === s, seed);
      return readCanvas(page, "samples");
    };
    const first = await typed("12345");
    await page.click("#digits button[data-digit='5']"); // draws something else in between
    await page.click("#digits button[data-digit='3']");
    const again = await typed("12345");
    expect(again.width).toBe(first.width);
    expect(Buffer.from(again.rgba).equals(Buffer.from(first.rgba))).toBe(true);
    const other = await typed("12346");
    expect(Buffer.from(other.rgba).equals(Buffer.from(first.rgba))).toBe(false);

    // The same call in Node (as `generate --digit 3 --count 16 --seed 12345`): the same bytes, up to
    // a rounding step where the two JS engines' Math functions differ in the last bit.
    const { G } = loadGenerator(checkpoint);
    const node = imageGrid(generateImages(G, digitLabels(16, [3]), new Prng(12345)), { rows: 4, cols: 4, scale: 1, border: 1 }).rgba;
    let off = 0;
    for (let i = 0; i < node.length; i++) {
      expect(Math.abs(node[i]! - first.rgba[i]!)).toBeLessThanOrEqual(1);
      if (node[i] !== first.rgba[i]) off++;
    }
    expect(off / node.length).toBeLessThan(0.001);
    await page.close();
  });

  it.skipIf(!HAVE_SHIPPED)(`the style row draws ten different digits (at least ${MIN_DISTINCT_STYLE_DIGITS} distinct predictions)`, async () => {
    const page = await drawnPage();
    const labels = predict(gridCells(await readCanvas(page, "style"), 10));
    expect(new Set(labels).size, `predicted ${labels.join("")} for 0123456789`).toBeGreaterThanOrEqual(MIN_DISTINCT_STYLE_DIGITS);
    await page.close();
  });

  it("the style row is one noise vector drawn as each digit 0..9; the walk's slider changes the image", async () => {
    const page = await drawnPage();
    const style = await readCanvas(page, "style");
    expect([style.rows, style.cols]).toEqual([1, 10]);
    const walk0 = await readCanvas(page, "walk-canvas");
    await page.locator("#walk").fill("60");
    const walk60 = await readCanvas(page, "walk-canvas");
    expect(Buffer.from(walk60.rgba).equals(Buffer.from(walk0.rgba))).toBe(false);
    await page.locator("#walk").fill("0");
    expect(Buffer.from((await readCanvas(page, "walk-canvas")).rgba).equals(Buffer.from(walk0.rgba))).toBe(true);
    await page.click("#digits button[data-digit='3']");
    await page.screenshot({ path: screenshotPath("web-draw.png"), fullPage: true });
    await page.close();
  });

  it("a corrupt generator file picked in the Draw tab shows its error on the page, and on the canvases", async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => document.getElementById("samples")!.dataset.seed !== undefined);
    const good = readFileSync(checkpoint);
    const corrupt = Buffer.concat([good.subarray(0, 8), Buffer.from("{not json at all"), good.subarray(24)]);
    await page.setInputFiles("#generator-file", { name: "generator.safetensors", mimeType: "application/octet-stream", buffer: corrupt });
    const error = page.locator("#draw-error");
    await error.waitFor({ state: "visible" });
    expect(await error.textContent()).toMatch(/^Could not load the generator: generator\.safetensors: .*JSON/);
    // the canvas carries a message, not nothing
    const c = await readCanvas(page, "samples");
    expect(c.width).toBeGreaterThan(100);
    expect(new Set(c.rgba).size).toBeGreaterThan(2);
    // a truncated file too, and a critic's checkpoint, each named in one line
    await page.setInputFiles("#generator-file", { name: "half.safetensors", mimeType: "application/octet-stream", buffer: good.subarray(0, good.length >> 1) });
    await page.waitForFunction(() => document.getElementById("draw-error")!.textContent!.includes("half.safetensors"));
    expect(await error.textContent()).toMatch(/half\.safetensors: .*(truncated|data)/i);
    await page.close();
  });

  it(`the Train tab runs ${MIN_TRAIN_STEPS}+ steps in its worker, pauses, and downloads a generator that generate --checkpoint accepts`, async () => {
    const page = await openPage("/#train");
    await page.click("#train-start");
    const stepOf = (): Promise<number> => page.evaluate(() => Number(document.getElementById("train-status")!.dataset.step ?? 0));
    const pointsOf = (): Promise<number> => page.evaluate(() => Number(document.getElementById("train-chart")!.dataset.points));
    await page.waitForFunction((n) => Number(document.getElementById("train-status")!.dataset.step ?? 0) >= n, MIN_TRAIN_STEPS / 2, { timeout: 60_000 });
    await page.waitForFunction(() => Number(document.getElementById("train-chart")!.dataset.points) > 0);
    const pointsBefore = await pointsOf();
    await page.waitForFunction((n) => Number(document.getElementById("train-status")!.dataset.step ?? 0) >= n, MIN_TRAIN_STEPS, { timeout: 60_000 });
    await page.waitForFunction((n) => Number(document.getElementById("train-chart")!.dataset.points) > n, pointsBefore);
    const status = await page.evaluate(() => {
      const el = document.getElementById("train-status")!;
      return { ...el.dataset, text: el.textContent } as Record<string, string | undefined>;
    });
    console.log(`browser training: ${status.text}`);
    expect(Number(status.imagesPerSecond)).toBeGreaterThan(0);
    expect(Number(status.gflops)).toBeGreaterThan(0);
    if (simdAvailable()) {
      expect(status.kernel).toMatch(/^simd(-fma)?$/); // -fma where the browser has relaxed SIMD
      expect(status.threads).toBe(String(await page.evaluate(() => navigator.hardwareConcurrency)));
    }
    expect(await page.locator("#train-notice").isHidden()).toBe(true);
    expect(await page.evaluate(() => document.getElementById("train-samples")!.dataset.step)).toBeDefined();

    await page.click("#train-pause");
    await page.waitForFunction(() => document.getElementById("train-status")!.dataset.state === "paused");
    const pausedAt = await stepOf();
    await page.waitForTimeout(800);
    expect(await stepOf()).toBe(pausedAt);
    await page.screenshot({ path: screenshotPath("web-train.png"), fullPage: true });

    const download = page.waitForEvent("download");
    await page.click("#train-download");
    const file = join(tmp, (await download).suggestedFilename());
    await (await download).saveAs(file);
    expect(file).toMatch(new RegExp(`generator-${DEFAULT_CONFIG.model}-seed\\d+-step\\d+\\.safetensors$`));
    const meta = readSafetensors(file).metadata;
    expect(meta).toMatchObject({ architecture: DEFAULT_CONFIG.model, role: "generator", latent: "100", epoch: "0", step: String(pausedAt) });
    // the recipe keeps an average of the weights: the download is that average, as a run folder ships it
    expect(DEFAULT_CONFIG.ema).toBeGreaterThan(0);
    expect(meta.weights).toBe(`moving average, decay ${DEFAULT_CONFIG.ema}`);
    const r = runCli("generate", "--digit", "3", "--count", "4", "--seed", "1", "--checkpoint", file, "--out", join(tmp, "from-page.png"));
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(tmp, "from-page.png"))).toBe(true);

    // "Draw with it": the Draw tab now draws with the generator just trained
    await page.click("#train-use");
    await page.waitForFunction((name) => document.getElementById("generator-name")!.textContent!.startsWith(name), (await download).suggestedFilename());
    expect(await page.locator("#draw").isVisible()).toBe(true);
    await page.click("#tab-train");

    await page.click("#train-resume");
    await page.waitForFunction((n) => Number(document.getElementById("train-status")!.dataset.step ?? 0) > n, pausedAt, { timeout: 30_000 });
    await page.close();
  });

  it("without WebAssembly SIMD (?simd=off) the worker trains on the JS kernel and the page says so", async () => {
    const page = await openPage("/?simd=off#train");
    await page.click("#train-start");
    await page.waitForFunction(() => Number(document.getElementById("train-status")!.dataset.step ?? 0) >= 2, null, { timeout: 60_000 });
    expect(await page.evaluate(() => document.getElementById("train-status")!.dataset.kernel)).toBe("blocked");
    expect(await page.locator("#train-notice").textContent()).toMatch(/no WebAssembly SIMD.*JavaScript/);
    await page.close();
  });

  it("a training worker that cannot get MNIST, or that dies, leaves a message on the page", async () => {
    const context = await browser.newContext();
    const isolation = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp", "Cross-Origin-Resource-Policy": "same-origin" };
    await context.route("**/mnist/train-labels-idx1-ubyte", (r) => r.fulfill({ status: 404, headers: isolation, body: "gone" }));
    let page = await context.newPage();
    await page.goto(new URL("/#train", server.url).href);
    await page.click("#train-start");
    const error = page.locator("#train-error");
    await error.waitFor({ state: "visible", timeout: 30_000 });
    expect(await error.textContent()).toMatch(/^Training stopped: could not fetch \/mnist\/train-labels-idx1-ubyte: the server answered 404/);
    expect(await page.locator("#train-start").isEnabled()).toBe(true); // it can be tried again
    await page.close();

    await context.unroute("**/mnist/train-labels-idx1-ubyte");
    await context.route("**/train-worker.js", (r) =>
      r.fulfill({ status: 200, headers: { ...isolation, "Content-Type": "text/javascript" }, body: "throw new Error('worker died');" }),
    );
    page = await context.newPage();
    await page.goto(new URL("/#train", server.url).href);
    await page.click("#train-start");
    await page.locator("#train-error").waitFor({ state: "visible", timeout: 30_000 });
    expect(await page.locator("#train-error").textContent()).toMatch(/^The training worker stopped: .*worker died/);
    await context.close();
  });

  it("the normal path logged no console error", () => {
    expect(consoleErrors).toEqual([]);
  });

  it("serve refuses a corrupt checkpoint and a port in use, in one line each", () => {
    const bad = join(tmp, "generator.safetensors");
    writeFileSync(bad, Buffer.from("this is not a checkpoint at all"));
    expectCliFailure(runCli("serve", "--checkpoint", bad, "--port", "0"), 1, /generator\.safetensors: /);
    expectCliFailure(runCli("serve", "--checkpoint", join(tmp, "missing.safetensors"), "--port", "0"), 1, /missing\.safetensors: no such file/);
    const port = new URL(server.url).port;
    expectCliFailure(runCli("serve", "--checkpoint", checkpoint, "--port", port), 1, new RegExp(`port ${port} is already in use`));
  });

  it("Ctrl-C stops the server cleanly", async () => {
    const exited = new Promise<number | null>((resolve) => server.child.once("exit", (code) => resolve(code)));
    server.child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(server.output()).toMatch(/stopped\n$/);
  });
});
