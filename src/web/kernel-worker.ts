/// <reference lib="dom" />
/**
 * Entry of a SIMD matmul pool worker in the browser (a Web Worker started by `spawnWebWorker`):
 * the pool's init arrives as the first message, "ready" goes back once the kernel module is
 * instantiated on the shared memory, then worker.ts serves jobs, blocking in Atomics.wait, as
 * a worker thread does under Node.
 */
import type { WorkerInit } from "../tensor/kernels/wasm/pool.js";
import { runKernelWorker } from "../tensor/kernels/wasm/worker.js";

const scope = self as unknown as DedicatedWorkerLike;
interface DedicatedWorkerLike {
  onmessage: ((e: MessageEvent<WorkerInit>) => void) | null;
  postMessage(message: unknown): void;
}

scope.onmessage = (e) => {
  scope.onmessage = null;
  runKernelWorker(e.data, () => scope.postMessage("ready")).catch((err: unknown) =>
    scope.postMessage({ error: err instanceof Error ? err.message : String(err) }),
  );
};
