/**
 * Where the engine's matrix products run, chosen per command by three flags:
 *   --backend wasm   WebAssembly SIMD kernels (the default), on --threads threads (default: the
 *                    machine's cores) over a shared memory; a machine without WebAssembly SIMD
 *                    falls back to js with a one-line notice
 *   --backend js     plain TypeScript, one thread: the cache-blocked kernel
 *   --kernel naive   the reference triple loop (implies js): slow, but easy to step through
 * `useBackend` sets the kernel the ops use and returns it with `dispose()`, which ends the worker
 * threads so a finished command exits promptly.
 */
import { availableParallelism } from "node:os";
import { matmulBlocked, matmulNaive, setMatmulKernel } from "../tensor/kernels/matmul.js";
import type { MatmulKernel } from "../tensor/kernels/matmul.js";
import { simdAvailable } from "../tensor/kernels/wasm/matmul-simd.js";
import { createSimdMatmul } from "../tensor/kernels/wasm/simd-kernel.js";
import { MAX_SLOTS } from "../tensor/kernels/wasm/pool.js";
import { spawnNodeWorker } from "../io/workers.js";
import { enableRelaxedSimd } from "../io/wasm-features.js";
import type { FlagSpec } from "./args.js";
import { UsageError } from "./errors.js";

export const BACKENDS = ["wasm", "js"] as const;
export const JS_KERNELS = ["blocked", "naive"] as const;

/** The three flags, to spread into a command's flag declarations. */
export const BACKEND_FLAGS = {
  backend: { type: "string", default: "wasm", help: "where matrix products run: wasm (SIMD, on --threads threads) or js (one thread)" },
  threads: { type: "int", min: 1, max: MAX_SLOTS, default: Math.min(availableParallelism(), MAX_SLOTS), help: `threads for the wasm backend, 1 to ${MAX_SLOTS}: this machine's cores unless given` },
  kernel: { type: "string", help: "js kernel: blocked, or naive (the plain triple loop, slow but easy to step through; implies --backend js)" },
} as const satisfies Record<string, FlagSpec>;

export interface Backend {
  /** The kernel the ops now use. */
  kernel: MatmulKernel;
  /** e.g. "wasm, 2 threads" or "js (blocked)". */
  describe: string;
  /** Ends worker threads, if any; puts the default JS kernel back. */
  dispose(): Promise<void>;
}

/** Chooses the matmul kernel from the flags; a usage error names a bad value. */
export async function useBackend(command: string, f: { backend: string; threads: number; kernel: string | undefined }): Promise<Backend> {
  if (!(BACKENDS as readonly string[]).includes(f.backend)) throw new UsageError(`${command}: --backend must be ${BACKENDS.join(" or ")}, got '${f.backend}'`);
  if (f.kernel !== undefined && !(JS_KERNELS as readonly string[]).includes(f.kernel))
    throw new UsageError(`${command}: --kernel must be ${JS_KERNELS.join(" or ")}, got '${f.kernel}'`);
  const js = (k: MatmulKernel): Backend => {
    setMatmulKernel(k);
    return { kernel: k, describe: `js (${k.name})`, dispose: async () => setMatmulKernel(matmulBlocked) };
  };
  if (f.kernel === "naive") return js(matmulNaive);
  if (f.backend === "js" || f.kernel === "blocked") return js(matmulBlocked);
  if (!simdAvailable()) {
    console.error(`${command}: this JavaScript engine has no WebAssembly SIMD; using the js backend`);
    return js(matmulBlocked);
  }
  enableRelaxedSimd();
  const k = await createSimdMatmul({ threads: f.threads, spawn: spawnNodeWorker });
  setMatmulKernel(k);
  return {
    kernel: k,
    describe: `wasm${k.blocking.fma ? " (fma)" : ""}, ${f.threads} thread${f.threads > 1 ? "s" : ""}`,
    dispose: async () => {
      setMatmulKernel(matmulBlocked);
      await k.dispose();
    },
  };
}

/** Runs `body` with the flags' backend, and disposes of it afterwards, whatever happens. */
export async function withBackend<R>(command: string, f: { backend: string; threads: number; kernel: string | undefined }, body: (b: Backend) => R): Promise<R> {
  const b = await useBackend(command, f);
  try {
    return body(b);
  } finally {
    await b.dispose();
  }
}
