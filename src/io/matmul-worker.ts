/**
 * Entry file of a matmul worker thread under Node (worker_threads): the init arrives as
 * workerData, "ready" goes back as a message. Started by workers.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { WorkerInit } from "../tensor/kernels/wasm/pool.js";
import { runKernelWorker } from "../tensor/kernels/wasm/worker.js";

await runKernelWorker(workerData as WorkerInit, () => parentPort!.postMessage("ready"));
