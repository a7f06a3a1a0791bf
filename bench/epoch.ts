/**
 * `npm run bench:epoch -- --model mlp|conv --batches N [--rounds R] [--recipe plain|guided] [--json] [--no-torch]
 * [--backend wasm|js] [--threads T] [--kernel naive|blocked]`: times N training batches of the
 * conditional WGAN on real MNIST and estimates a full epoch (937 batches of 64). The recipe is the
 * plain one by default, the one the PyTorch reference runs, so the two time the same work. Before timing
 * it verifies the backend: the gradients of every network in a first training step must agree with
 * the same step's on the naive kernel. It prints where a step's time goes (critic forward and backward, generator
 * forward and backward, optimizers (the critic's with its clipping, one pass), data) and the peak resident memory. When Debian's
 * python3-torch is importable it runs `shared/anchors/torch_cwgan.py MODEL 1 N` in the same run and
 * prints PyTorch's figure beside ours, with the ratio. With `--rounds R` it times both R times,
 * alternately first, and reports the medians: ours, PyTorch's, and the rounds' ratios.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineFlags, parseFlags } from "../src/cli/args.js";
import { BACKEND_FLAGS, useBackend } from "../src/cli/backend.js";
import { matmulNaive, setMatmulKernel } from "../src/tensor/kernels/matmul.js";
import type { MatmulKernel } from "../src/tensor/kernels/matmul.js";
import type { Mnist } from "../src/mnist/dataset.js";
import { loadMnist } from "../src/io/mnist.js";
import { MODEL_KINDS } from "../src/gan/models.js";
import type { ModelKind } from "../src/gan/models.js";
import { DEFAULT_CONFIG, RECIPES, RECIPE_DEFAULTS } from "../src/gan/config.js";
import type { Recipe } from "../src/gan/config.js";
import { Training } from "../src/gan/training.js";
import { STEP_PARTS } from "../src/gan/wgan.js";
import type { StepPart } from "../src/gan/wgan.js";
import { checkClose } from "./timing.js";

const FLAGS = defineFlags({
  model: { type: "string", default: "mlp", help: "mlp or conv" },
  recipe: { type: "string", default: "plain", help: "plain (as the PyTorch reference) or guided (train's default)" },
  batches: { type: "int", min: 1, default: 100, help: "training batches to time" },
  rounds: { type: "int", min: 1, default: 1, help: "time ours and PyTorch this many times, alternating which goes first; report medians" },
  json: { type: "bool", help: "last line: one JSON object" },
  "no-torch": { type: "bool", help: "skip the PyTorch reference" },
  ...BACKEND_FLAGS,
});

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ANCHOR = process.env.ANCHORS_DIR ? join(process.env.ANCHORS_DIR, "torch_cwgan.py") : resolve(ROOT, "../shared/anchors/torch_cwgan.py");
const PYTHON = "/usr/bin/python3";

type Part = StepPart | "data";

/** `train`'s training state for `model` and `recipe` (seed 0, the recipe's defaults) on `data`. */
function training(model: ModelKind, recipe: Recipe, data: Mnist, lr?: number): Training {
  const r = RECIPE_DEFAULTS[recipe];
  return new Training({ ...DEFAULT_CONFIG, ...r, ...(lr === undefined ? {} : { lr }), recipe, model, seed: 0 }, data);
}

/**
 * Runs `batches` training batches on `kernel`, as `train` does (with `lr` 0 if given); returns the
 * seconds, the seconds spent in each part of the steps, and the training state.
 */
function run(model: ModelKind, recipe: Recipe, data: Mnist, kernel: MatmulKernel, batches: number, lr?: number): { seconds: number; parts: Map<Part, number>; t: Training } {
  setMatmulKernel(kernel);
  const t = training(model, recipe, data, lr);
  const parts = new Map<Part, number>();
  let current: Part = "data";
  let since = performance.now();
  const mark = (part: Part): void => {
    const now = performance.now();
    parts.set(current, (parts.get(current) ?? 0) + (now - since) / 1000);
    current = part === "end" ? "data" : part; // between steps: the batcher's work
    since = now;
  };
  t.wgan.mark = mark;
  const t0 = performance.now();
  let done = 0;
  for (const b of t.batcher.epoch()) {
    t.wgan.step(b.images, b.oneHot, b.index);
    if (++done >= batches) break;
  }
  mark("end");
  return { seconds: (performance.now() - t0) / 1000, parts, t };
}

/**
 * The first training step (critic, guide and generator steps) on `kernel` and on the naive
 * reference, with learning rate 0 so the step leaves each network's gradient in place: every
 * network's gradient must agree to float32 summation order. (Comparing weights after real steps
 * would not do: RMSprop's first step moves a weight by about 10·lr whatever the size of its
 * gradient, so a gradient that is zero but for rounding, such as the conv critic's output bias,
 * moves by ±10·lr in a direction set by rounding.)
 */
/** Largest difference allowed, relative to the largest gradient: a whole step's float32 sums, taken in other orders through every layer. */
const STEP_GRAD_REL_TOL = 1e-4;

function verify(model: ModelKind, recipe: Recipe, data: Mnist, kernel: MatmulKernel): void {
  const want = run(model, recipe, data, matmulNaive, 1, 0).t.wgan;
  const got = run(model, recipe, data, kernel, 1, 0).t.wgan;
  for (const [name, a, b] of [["critic", got.D, want.D], ["generator", got.G, want.G], ["guide", got.C, want.C]] as const)
    if (a && b) checkClose(`${model} ${name} gradients, ${kernel.name} vs naive`, a.pack().grad, b.pack().grad, STEP_GRAD_REL_TOL);
}

/** The middle value (the mean of the two middle ones for an even count). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** PyTorch's seconds for the same batches, or the reason it could not run. */
function timeTorch(model: ModelKind, batches: number): { seconds: number } | { skipped: string } {
  if (!existsSync(ANCHOR)) return { skipped: `${ANCHOR} not found` };
  if (spawnSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" }).status !== 0)
    return { skipped: "python3-torch not installed (apt-get install python3-torch python3-numpy libopenblas0-pthread)" };
  const r = spawnSync(PYTHON, [ANCHOR, model, "1", String(batches)], { cwd: ROOT, encoding: "utf8" });
  const m = /time ([\d.]+)s/.exec(r.stdout ?? "");
  if (r.status !== 0 || !m) return { skipped: `reference failed: ${(r.stderr || r.stdout || "").trim().split("\n").pop()}` };
  return { seconds: Number(m[1]) };
}

async function main(): Promise<number> {
  let f;
  try {
    f = parseFlags(process.argv.slice(2), FLAGS, "bench:epoch");
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  const model = MODEL_KINDS.find((k) => k === f.model);
  if (!model) {
    console.error(`error: bench:epoch: --model must be ${MODEL_KINDS.join(" or ")}, got '${f.model}'`);
    return 2;
  }
  const recipe = RECIPES.find((r) => r === f.recipe);
  if (!recipe) {
    console.error(`error: bench:epoch: --recipe must be ${RECIPES.join(" or ")}, got '${f.recipe}'`);
    return 2;
  }
  const backend = await useBackend("bench:epoch", f);
  try {
    const batches = f.batches;
    const data = loadMnist("train");
    const perEpoch = Math.floor(data.n / DEFAULT_CONFIG.batch);
    verify(model, recipe, data, backend.kernel);
    console.log(`verified: ${backend.describe} computes a training step's gradients as the naive kernel does (within ${STEP_GRAD_REL_TOL} of their scale)`);
    const withTorch = !f["no-torch"] && recipe === "plain";
    if (!f["no-torch"] && recipe !== "plain") console.log("PyTorch reference: skipped (it runs the plain recipe; time that with --recipe plain)");
    // Rounds alternate which side goes first, so a machine that speeds up or slows down during the
    // run weighs on both sides alike; each round's ratio compares two runs minutes apart at most.
    const ourSeconds: number[] = [], torchSeconds: number[] = [], ratios: number[] = [];
    const parts = new Map<Part, number>();
    let skipped: string | undefined;
    let rssMiB = 0;
    for (let r = 0; r < f.rounds; r++) {
      const torchFirst = withTorch && skipped === undefined && r % 2 === 1;
      const t = torchFirst ? timeTorch(model, batches) : undefined;
      const ours = run(model, recipe, data, backend.kernel, batches);
      const t2 = withTorch && skipped === undefined && !torchFirst ? timeTorch(model, batches) : t;
      ourSeconds.push(ours.seconds);
      if (r === 0) rssMiB = process.resourceUsage().maxRSS / 1024; // later rounds' models add to the process's peak, not to a training run's
      for (const [p, v] of ours.parts) parts.set(p, (parts.get(p) ?? 0) + v);
      let line = `${f.rounds > 1 ? `round ${r + 1}: ` : ""}${model}, ${recipe} recipe, ${backend.describe}: ${batches} batches in ${ours.seconds.toFixed(2)} s = ${((ours.seconds / batches) * 1000).toFixed(1)} ms/batch; full epoch (${perEpoch} batches) ~ ${((ours.seconds / batches) * perEpoch).toFixed(1)} s`;
      if (t2 && "seconds" in t2) {
        torchSeconds.push(t2.seconds);
        ratios.push(ours.seconds / t2.seconds);
        line += `; PyTorch ${t2.seconds.toFixed(2)} s (epoch ~ ${((t2.seconds / batches) * perEpoch).toFixed(1)} s${torchFirst ? ", timed first" : ""}); ours/PyTorch = ${(ours.seconds / t2.seconds).toFixed(2)}x`;
      } else if (t2) skipped = t2.skipped;
      console.log(line);
    }
    const spb = median(ourSeconds) / batches;
    const timed = ourSeconds.reduce((a, b) => a + b, 0);
    if (f.rounds > 1) console.log(`median of ${f.rounds} rounds: ${(spb * 1000).toFixed(1)} ms/batch; full epoch ~ ${(spb * perEpoch).toFixed(1)} s`);
    console.log(`where a step's time goes${f.rounds > 1 ? " (all rounds)" : ""}:`);
    const order: Part[] = ["data", ...STEP_PARTS.filter((p) => p !== "end")];
    for (const p of order) {
      const s = parts.get(p) ?? 0;
      console.log(`  ${p.padEnd(22)} ${((s / (batches * f.rounds)) * 1000).toFixed(2).padStart(8)} ms/batch  ${((100 * s) / timed).toFixed(1).padStart(5)}%`);
    }
    console.log(`peak resident memory: ${rssMiB.toFixed(0)} MiB${f.rounds > 1 ? " (by the end of the first round)" : ""}`);
    const row: Record<string, unknown> = {
      model, recipe, backend: backend.describe, batches, rounds: f.rounds, seconds_per_batch: +spb.toFixed(5), epoch_seconds: +(spb * perEpoch).toFixed(2),
      peak_rss_mib: Math.round(rssMiB), profile_ms_per_batch: Object.fromEntries(order.map((p) => [p, +(((parts.get(p) ?? 0) / (batches * f.rounds)) * 1000).toFixed(3)])),
    };
    if (skipped !== undefined) console.log(`PyTorch reference: skipped (${skipped})`);
    else if (ratios.length > 0) {
      const tEpoch = (median(torchSeconds) / batches) * perEpoch;
      if (f.rounds > 1) console.log(`PyTorch, median of ${f.rounds} rounds: full epoch ~ ${tEpoch.toFixed(1)} s; ours/PyTorch, median of the rounds' ratios = ${median(ratios).toFixed(2)}x (${ratios.map((x) => x.toFixed(2)).join(", ")})`);
      Object.assign(row, { torch_epoch_seconds: +tEpoch.toFixed(2), ratio: +median(ratios).toFixed(3) });
      if (f.rounds > 1) Object.assign(row, { ratios: ratios.map((x) => +x.toFixed(3)), epoch_seconds_rounds: ourSeconds.map((x) => +((x / batches) * perEpoch).toFixed(2)), torch_epoch_seconds_rounds: torchSeconds.map((x) => +((x / batches) * perEpoch).toFixed(2)) });
    }
    if (f.json) console.log(JSON.stringify(row));
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  } finally {
    await backend.dispose();
  }
}

process.exitCode = await main();
