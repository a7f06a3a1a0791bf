/// <reference lib="dom" />
/**
 * Which matmul kernel the training worker trains with, in a browser: the WebAssembly SIMD kernel
 * on as many threads as the browser grants, at most 16 (navigator.hardwareConcurrency, and shared memory only
 * when the page is cross-origin isolated), its pool workers started as Web Workers by
 * `spawnWebWorker`; or, when SIMD is missing or fails to start, the blocked JS kernel with a
 * notice saying why, for the page to show.
 */
import { matmulBlocked } from "../tensor/kernels/matmul.js";
import type { MatmulKernel } from "../tensor/kernels/matmul.js";
import { sharedMemoryAvailable, simdAvailable } from "../tensor/kernels/wasm/matmul-simd.js";
import { createSimdMatmul } from "../tensor/kernels/wasm/simd-kernel.js";
import { MAX_SLOTS, type SpawnWorker } from "../tensor/kernels/wasm/pool.js";
import type { KernelChoice } from "./protocol.js";
import { scriptUrl } from "./urls.js";

/** Starts one SIMD matmul pool worker as a Web Worker running kernel-worker.ts. */
export const spawnWebWorker: SpawnWorker = (init) => {
  const w = new Worker(scriptUrl("kernel-worker"), { type: "module", name: `matmul-${init.slot}` });
  const ready = new Promise<void>((resolve, reject) => {
    w.onmessage = (e: MessageEvent<unknown>) => {
      if (e.data === "ready") resolve();
      else reject(new Error(`matmul worker ${init.slot}: ${(e.data as { error?: string }).error ?? "failed"}`));
    };
    w.onerror = (e) => {
      e.preventDefault();
      reject(new Error(`matmul worker ${init.slot} did not start: ${e.message || "its script failed to load"}`));
    };
  });
  w.postMessage(init);
  return { ready, terminate: async () => w.terminate() };
};

export interface ChosenKernel {
  kernel: MatmulKernel;
  /** Threads computing each product (1 for the JS kernel). */
  threads: number;
  /** Why this is not the fastest kernel on every thread asked for; null when it is. */
  notice: string | null;
}

const JS_SLOWER = "training runs on the plain JavaScript matmul kernel (several times slower)";

/**
 * The kernel for `choice` on up to `threads` threads. "pretend-no-simd" takes the path of a
 * browser without SIMD (the page's ?simd=off, to see that path in a browser that has it).
 */
export async function chooseKernel(choice: KernelChoice, threads: number): Promise<ChosenKernel> {
  if (choice === "js") return { kernel: matmulBlocked, threads: 1, notice: `The JavaScript kernel was asked for (?kernel=js): ${JS_SLOWER}.` };
  if (choice === "pretend-no-simd" || !simdAvailable())
    return { kernel: matmulBlocked, threads: 1, notice: `This browser has no WebAssembly SIMD: ${JS_SLOWER}.` };
  let notice: string | null = null;
  let n = Math.min(MAX_SLOTS, Math.max(1, Math.floor(threads)));
  if (n > 1 && !(globalThis.crossOriginIsolated && sharedMemoryAvailable())) {
    notice = "The page is not cross-origin isolated, so threads cannot share memory: the SIMD kernel runs on one thread.";
    n = 1;
  }
  try {
    return { kernel: await createSimdMatmul({ threads: n, spawn: spawnWebWorker }), threads: n, notice };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    if (n > 1) {
      try {
        const k = await createSimdMatmul({ threads: 1 });
        return { kernel: k, threads: 1, notice: `The SIMD kernel's worker threads did not start (${why}): it runs on one thread.` };
      } catch {
        // fall through to the JS kernel
      }
    }
    return { kernel: matmulBlocked, threads: 1, notice: `The WebAssembly SIMD kernel did not start (${why}): ${JS_SLOWER}.` };
  }
}
