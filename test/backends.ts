/**
 * Every backend the engine can run on, for suites that must hold on each: the JS blocked kernel,
 * and the WebAssembly SIMD kernel on one thread and on two (worker threads over shared memory).
 * `onEveryBackend(body)` declares `body`'s tests once per backend, with that backend's matmul
 * kernel active while they run (kernels are made in beforeAll: compiling WebAssembly and starting
 * workers are asynchronous) and disposed afterwards.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { matmulBlocked, setMatmulKernel } from "../src/tensor/kernels/matmul.js";
import type { MatmulKernel } from "../src/tensor/kernels/matmul.js";
import { createSimdMatmul, type SimdMatmul } from "../src/tensor/kernels/wasm/simd-kernel.js";
import { spawnNodeWorker } from "../src/io/workers.js";

interface TestBackend {
  name: string;
  make(): Promise<MatmulKernel & { dispose?(): Promise<void> }>;
}

export const TEST_BACKENDS: readonly TestBackend[] = [
  { name: "js", make: async () => matmulBlocked },
  { name: "wasm, 1 thread", make: () => createSimdMatmul({ threads: 1 }) },
  // minParallelWork, minParallelTiles and minParallelPass 0: even the tests' small products and passes are split between the two threads
  { name: "wasm, 2 threads", make: () => createSimdMatmul({ threads: 2, spawn: spawnNodeWorker, minParallelWork: 0, minParallelTiles: 0, minParallelPass: 0 }) },
];

/** Declares the tests of `body` once per backend, inside a `describe` named after it. */
export function onEveryBackend(body: (backend: string) => void): void {
  for (const b of TEST_BACKENDS)
    describe(`on ${b.name}`, () => {
      let kernel: Awaited<ReturnType<TestBackend["make"]>> | undefined;
      beforeAll(async () => {
        kernel = await b.make();
        setMatmulKernel(kernel);
      });
      afterAll(async () => {
        setMatmulKernel(matmulBlocked);
        await kernel?.dispose?.();
      });
      body(b.name);
    });
}

/**
 * For suites of a kernel's passes: the SIMD kernel on one thread and on two (minParallelPass 0:
 * every pass is cut into chunks, of 16 floats and more, that both threads claim), made before the
 * suite's tests and disposed after. Call inside a `describe`; the getters work inside its tests.
 */
export function simdKernelPair(): { one: () => SimdMatmul; two: () => SimdMatmul } {
  let one: SimdMatmul | undefined;
  let two: SimdMatmul | undefined;
  beforeAll(async () => {
    one = await createSimdMatmul({ threads: 1 });
    two = await createSimdMatmul({ threads: 2, spawn: spawnNodeWorker, minParallelPass: 0 });
  });
  afterAll(async () => {
    await one?.dispose();
    await two?.dispose();
  });
  return { one: () => one!, two: () => two! };
}
