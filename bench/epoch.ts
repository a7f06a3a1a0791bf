/**
 * `npm run bench:epoch -- --model mlp|conv --batches N [--json] [--no-torch]`: times N training
 * batches of the conditional WGAN on real MNIST (one critic step per batch, a generator step after
 * every 5th, as the PyTorch reference) and estimates a full epoch (937 batches of 64). When Debian's
 * python3-torch is importable it runs `shared/anchors/torch_cwgan.py MODEL 1 N` in the same run and
 * prints PyTorch's figure beside ours, with the ratio.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags } from "../src/cli/args.js";
import type { FlagSpecs } from "../src/cli/args.js";
import { Prng } from "../src/tensor/index.js";
import { loadMnist } from "../src/mnist/dataset.js";
import { Batcher } from "../src/mnist/batches.js";
import { createCritic, createGenerator, MODEL_KINDS } from "../src/gan/models.js";
import type { ModelKind } from "../src/gan/models.js";
import { DEFAULT_CONFIG } from "../src/gan/run.js";
import { Wgan } from "../src/gan/wgan.js";

const FLAGS: FlagSpecs = {
  model: { type: "string", default: "mlp", help: "mlp or conv" },
  batches: { type: "int", min: 1, default: 100, help: "training batches to time" },
  json: { type: "bool", help: "last line: one JSON object" },
  "no-torch": { type: "bool", help: "skip the PyTorch reference" },
};

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ANCHOR = process.env.ANCHORS_DIR ? join(process.env.ANCHORS_DIR, "torch_cwgan.py") : resolve(ROOT, "../shared/anchors/torch_cwgan.py");
const PYTHON = "/usr/bin/python3";

/** Seconds for `batches` batches of our trainer, timed like the reference's loop (shuffle included). */
function timeOurs(model: ModelKind, batches: number): number {
  const data = loadMnist("train");
  const prng = new Prng(0);
  const c = DEFAULT_CONFIG;
  const wgan = new Wgan(createGenerator(model, c.latent, prng), createCritic(model, prng), prng, c);
  const batcher = new Batcher(data, prng, { batchSize: c.batch });
  const t0 = performance.now();
  let done = 0;
  for (const b of batcher.epoch()) {
    wgan.step(b.images, b.oneHot, b.index);
    if (++done >= batches) break;
  }
  return (performance.now() - t0) / 1000;
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
  const model = f.model as ModelKind;
  if (!MODEL_KINDS.includes(model)) {
    console.error(`error: bench:epoch: --model must be ${MODEL_KINDS.join(" or ")}, got '${f.model}'`);
    process.exit(2);
  }
  const batches = f.batches as number;
  const perEpoch = Math.floor(60000 / DEFAULT_CONFIG.batch);
  const ours = timeOurs(model, batches);
  const spb = ours / batches;
  console.log(`${model}: ${batches} batches in ${ours.toFixed(2)} s = ${(spb * 1000).toFixed(1)} ms/batch; full epoch (${perEpoch} batches) ~ ${(spb * perEpoch).toFixed(1)} s`);
  const row: Record<string, unknown> = { model, batches, seconds_per_batch: +spb.toFixed(5), epoch_seconds: +(spb * perEpoch).toFixed(2) };
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
