/**
 * Node's way to start a matmul worker (`SpawnWorker` of src/tensor/kernels/wasm/pool.ts), with
 * worker_threads. The kernel itself imports nothing from node:; a browser passes a function that
 * starts a Web Worker instead.
 *
 * The worker's entry is matmul-worker.ts. When this project runs from TypeScript sources (under tsx
 * or vitest), a worker cannot start on a .ts file directly: Node 20 ignores `--import tsx` in a
 * worker's execArgv for the entry itself (tried: "Unknown file extension .ts"), so the worker
 * starts on a line of JS that loads the entry through tsx's `tsImport`.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { SpawnWorker, WorkerHandle, WorkerInit } from "../tensor/kernels/wasm/pool.js";

const fromSource = import.meta.url.endsWith(".ts");
const ENTRY = new URL(fromSource ? "./matmul-worker.ts" : "./matmul-worker.js", import.meta.url);

/** A new Worker running the entry file: directly from .js, through tsx from .ts. */
function startEntry(init: WorkerInit): Worker {
  if (!fromSource) return new Worker(ENTRY, { workerData: init });
  // tsx's ESM API, resolved from this file. require.resolve finds its CommonJS twin, index.cjs,
  // whose tsImport fails inside a worker (it looks for ../esm/index.mjs in the wrong folder).
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
  const js = `import(${JSON.stringify(tsxApi)}).then((t) => t.tsImport(${JSON.stringify(ENTRY.href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(js, { eval: true, workerData: init });
}

export const spawnNodeWorker: SpawnWorker = (init) => {
  const w = startEntry(init);
  // A kernel that is never disposed must not keep the process alive.
  w.unref();
  const ready = new Promise<void>((resolve, reject) => {
    w.once("message", () => resolve());
    w.once("error", reject);
    w.once("exit", (code) => reject(new Error(`simd matmul: worker exited (code ${code}) before it was ready`)));
  });
  const handle: WorkerHandle = {
    ready,
    terminate: async () => {
      await w.terminate();
    },
  };
  return handle;
};
