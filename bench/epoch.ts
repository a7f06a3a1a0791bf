/**
 * `npm run bench:epoch -- --model mlp|conv --batches N [--json] [--no-torch]`: times N training
 * batches of the conditional WGAN on real MNIST (one critic step per batch, a generator step after
 * every 5th, as the PyTorch reference) and estimates a full epoch (937 batches of 64). When Debian's
 * python3-torch is importable it runs `shared/anchors/torch_cwgan.py MODEL 1 N` in the same run and
 * prints PyTorch's figure beside ours, with the ratio. Before timing, it verifies the kernel it
 * times: three training steps from the same start agree with the same steps on the naive kernel.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineFlags, parseFlags } from "../src/cli/args.js";
import { KERNEL_FLAG } from "../src/cli/kernel.js";
import { Prng } from "../src/tensor/index.js";
import { MATMUL_KERNELS, matmulNaive, setMatmulKernel } from "../src/tensor/kernels/matmul.js";
import type { MatmulKernel } from "../src/tensor/kernels/matmul.js";
import type { Mnist } from "../src/mnist/dataset.js";
import { loadMnist } from "../src/io/mnist.js";
import { Batcher } from "../src/mnist/batches.js";
import { createCritic, createGenerator, MODEL_KINDS } from "../src/gan/models.js";
import type { ModelKind } from "../src/gan/models.js";
import { DEFAULT_CONFIG } from "../src/gan/config.js";
import { Wgan } from "../src/gan/wgan.js";
import { checkClose } from "./timing.js";

const FLAGS = defineFlags({
  model: { type: "string", default: "mlp", help: "mlp or conv" },
  batches: { type: "int", min: 1, default: 100, help: "training batches to time" },
  json: { type: "bool", help: "last line: one JSON object" },
  "no-torch": { type: "bool", help: "skip the PyTorch reference" },
  kernel: KERNEL_FLAG,
});

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ANCHOR = process.env.ANCHORS_DIR ? join(process.env.ANCHORS_DIR, "torch_cwgan.py") : resolve(ROOT, "../shared/anchors/torch_cwgan.py");
const PYTHON = "/usr/bin/python3";

/** A trainer as `train` builds it (seed 0), and its batches. */
function trainer(model: ModelKind, data: Mnist): { wgan: Wgan; batcher: Batcher } {
  const prng = new Prng(0);
  const c = DEFAULT_CONFIG;
  const wgan = new Wgan(createGenerator(model, c.latent, prng), createCritic(model, prng), prng, c);
  return { wgan, batcher: new Batcher(data, prng, { batchSize: c.batch }) };
}

/** Runs `batches` training batches on `kernel`; returns the seconds and the critic's weights after them. */
function run(model: ModelKind, data: Mnist, kernel: MatmulKernel, batches: number): { seconds: number; critic: Float32Array } {
  setMatmulKernel(kernel);
  const { wgan, batcher } = trainer(model, data);
  const t0 = performance.now();
  let done = 0;
  for (const b of batcher.epoch()) {
    wgan.step(b.images, b.oneHot, b.index);
    if (++done >= batches) break;
  }
  return { seconds: (performance.now() - t0) / 1000, critic: wgan.D.pack().data };
}

/**
 * Three training steps (two critic steps and a generator step between them) on `kernel` and on the
 * naive reference from the same start: the critic's weights must agree to float32 summation order.
 */
function verify(model: ModelKind, data: Mnist, kernel: MatmulKernel): void {
  const want = run(model, data, matmulNaive, 3).critic;
  const got = run(model, data, kernel, 3).critic;
  checkClose(`${model} critic weights after 3 steps, ${kernel.name} vs naive`, got, want, 1e-3);
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

function main(): void {
  let f;
  try {
    f = parseFlags(process.argv.slice(2), FLAGS, "bench:epoch");
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(2);
  }
  const model = MODEL_KINDS.find((k) => k === f.model);
  const kernel = MATMUL_KERNELS.find((k) => k.name === f.kernel);
  if (!model || !kernel) {
    console.error(`error: bench:epoch: --model must be ${MODEL_KINDS.join(" or ")} and --kernel ${MATMUL_KERNELS.map((k) => k.name).join(" or ")}`);
    process.exit(2);
  }
  const batches = f.batches;
  const data = loadMnist("train");
  const perEpoch = Math.floor(data.n / DEFAULT_CONFIG.batch);
  try {
    verify(model, data, kernel);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(1);
  }
  console.log(`verified: ${kernel.name} kernel trains as the naive one (3 steps, critic weights within 1e-3)`);
  const ours = run(model, data, kernel, batches).seconds;
  const spb = ours / batches;
  console.log(`${model}: ${batches} batches in ${ours.toFixed(2)} s = ${(spb * 1000).toFixed(1)} ms/batch; full epoch (${perEpoch} batches) ~ ${(spb * perEpoch).toFixed(1)} s`);
  const row: Record<string, unknown> = { model, kernel: kernel.name, batches, seconds_per_batch: +spb.toFixed(5), epoch_seconds: +(spb * perEpoch).toFixed(2) };
  if (!f["no-torch"]) {
    const t = timeTorch(model, batches);
    if ("seconds" in t) {
      const tEpoch = (t.seconds / batches) * perEpoch;
      console.log(`PyTorch reference, same batches: ${t.seconds.toFixed(2)} s; full epoch ~ ${tEpoch.toFixed(1)} s; ours/PyTorch = ${(ours / t.seconds).toFixed(2)}x`);
      Object.assign(row, { torch_epoch_seconds: +tEpoch.toFixed(2), ratio: +(ours / t.seconds).toFixed(3) });
    } else console.log(`PyTorch reference: skipped (${t.skipped})`);
  }
  if (f.json) console.log(JSON.stringify(row));
}

main();
