/**
 * Entry file of a matmul worker thread under Node (worker_threads): the init arrives as
 * workerData, "ready" goes back as a message. Started by node-workers.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { WorkerInit } from "./pool.js";
import { runKernelWorker } from "./worker.js";

await runKernelWorker(workerData as WorkerInit, () => parentPort!.postMessage("ready"));
