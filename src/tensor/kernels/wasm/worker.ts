/**
 * The body of a matmul worker thread, whatever started it (src/io/matmul-worker.ts under Node; a Web
 * Worker's script in a browser): instantiate the kernel module on the shared memory, report
 * ready, then serve jobs from the control block (pool.ts) until told to quit.
 */
import type { KernelExports } from "./matmul-simd.js";
import { CONTROL_BYTES } from "./matmul-simd.js";
import type { WorkerInit } from "./pool.js";
import { CTL, claimer, readWork, runCallChunks, runChunks, runSegments, spinWhile } from "./pool.js";
import { runConvChunks } from "./conv-chunks.js";

/** Runs until the pool sets QUIT; `ready` is called once the module is instantiated. */
export async function runKernelWorker(init: WorkerInit, ready: () => void): Promise<void> {
  const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
  const ex = instance.exports as unknown as KernelExports;
  const ctl = new Int32Array(init.memory.buffer, 0, CONTROL_BYTES / 4);
  const ctlF32 = new Float32Array(init.memory.buffer, 0, CONTROL_BYTES / 4);
  const claim = claimer(ctl);
  let seen = Atomics.load(ctl, CTL.SEQ);
  ready();
  for (;;) {
    // a training step's products and passes come a fraction of a millisecond apart: poll for the
    // next one before sleeping (see spinWhile)
    if (spinWhile(ctl, CTL.SEQ, seen)) Atomics.wait(ctl, CTL.SEQ, seen); // returns at once if SEQ already moved on
    seen = Atomics.load(ctl, CTL.SEQ);
    if (Atomics.load(ctl, CTL.QUIT) !== 0) return;
    try {
      const work = readWork(ctl, ctlF32);
      if (work.kind === "product") runChunks(ex, init.blocking, ctl, work.job, work.rows, init.slot);
      else if (work.kind === "pass") runCallChunks(ex, ctl, work.call);
      else if (work.kind === "conv") runConvChunks(ex, init.blocking, work.job, init.slot, claim);
      else runSegments(ex, init.blocking, ctl, work.jobs, init.slot);
    } catch {
      Atomics.store(ctl, CTL.ERROR, 1);
    }
    Atomics.add(ctl, CTL.DONE, 1);
    Atomics.notify(ctl, CTL.DONE);
  }
}
