/**
 * Worker threads for the SIMD matmul: every worker instantiates the same compiled module on the
 * same shared WebAssembly.Memory, and helps compute C, or helps with a pass over a batch (the
 * activations, the sum, the optimizer's, batch norm's: `runPass`, cut by images or runs of floats),
 * or with a convolution's lowering (`runConv`, cut by chunks of images: conv-chunks.ts). Jobs
 * travel through a control block of i32 words at the start of that memory, not through messages:
 * the caller writes the job, bumps SEQ and notifies; each worker, polling SEQ for a while after
 * its last job and then asleep in Atomics.wait (`spinWhile`), computes, bumps DONE and notifies;
 * the caller polls, then waits, until DONE counts every worker. Atomics.wait is allowed on Node's
 * main thread and in browser Web Workers (not on a browser's main thread).
 *
 * The work is C's rows (or, when C is wider than tall, its columns) cut into chunks of whole tiles,
 * four per thread (CHUNKS_PER_THREAD), which the threads claim one at a time with Atomics.add on a
 * counter, the calling thread first. So a worker that wakes late (waking from Atomics.wait took
 * about 0.1 ms here, against products of 1-3 ms per thread) or runs slower claims fewer chunks,
 * and the caller waits at most for the last chunk. Measured on a conv training step: the
 * caller's wait fell from 0.77 to 0.61 s per 30 batches (about 6% to 4% of the step); the whole
 * step did not measurably change. Every entry of C is still computed by one thread in one fixed
 * order, so results do not depend on who claimed what.
 *
 * How a worker is started is not decided here: `SpawnWorker` is injected (src/io/workers.ts has
 * Node's worker_threads one), so this file and worker.ts import nothing environment-specific.
 */
import type { Blocking, Job, KernelExports } from "./matmul-simd.js";
import { CONTROL_BYTES, PANEL_FLOATS, packPanel, panelFloats, runSlice, slotScratch } from "./matmul-simd.js";
import type { ConvJob } from "./conv-chunks.js";
import { CONV_JOB_WORDS, readConvJob, runConvChunks, writeConvJob } from "./conv-chunks.js";

/** What a new worker is given: the compiled module, the shared memory, its scratch slot. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  blocking: Blocking;
  /** Scratch slot (1, 2, ...; slot 0 is the calling thread's). */
  slot: number;
}

/** A started worker: `ready` settles once it has instantiated the module (or failed to). */
export interface WorkerHandle {
  ready: Promise<void>;
  terminate(): Promise<void>;
}

/** Starts one worker running worker.ts's `runKernelWorker(init, ...)`. */
export type SpawnWorker = (init: WorkerInit) => WorkerHandle;

// Control block: i32 word indices.
export const CTL = {
  /** Job sequence number: workers wait for it to change. */
  SEQ: 0,
  /** Workers finished with the current job. */
  DONE: 1,
  /** Non-zero: workers return instead of running a job. */
  QUIT: 2,
  /** Non-zero: some worker threw; the job's result is not to be trusted. */
  ERROR: 3,
  /** The job: transA, transB, M, N, K, a, b, c, accumulate, bias, then rows (1) or columns (0). */
  JOB: 4,
  /** Rows (or columns) per chunk, a multiple of the tile's. */
  CHUNK: 15,
  /** The next chunk to claim: a thread takes chunk Atomics.add(NEXT, 1) until none is left. */
  NEXT: 16,
  /** What the job is: 0 a product (JOB's words), 1 a pass over a batch (CALL's words), 2 k segments, 3 a convolution's lowering by chunks of images (conv-chunks.ts, at CALL). */
  KIND: 17,
  /** A pass: export, index of its count argument, units, argument count, f32 mask, args, strides. */
  CALL: 18,
  /** KIND 2, a product cut into two k segments: the second segment's job, words as JOB's (the first is at JOB). */
  SEGMENT: 48,
} as const;
/** Words of a product's job (writeJob). */
const JOB_WORDS = 11;
if (CTL.JOB + JOB_WORDS > CTL.CHUNK || CTL.SEGMENT + JOB_WORDS > CONTROL_BYTES / 4) throw new Error("pool: a product's job does not fit its control words");
if (CTL.CALL + CONV_JOB_WORDS > CTL.SEGMENT) throw new Error("pool: a convolution's job does not fit its control words");
/** Arguments of a pass at most (bnNormalize takes the most, ten). */
const MAX_ARGS = 12;
if (CTL.CALL + 5 + 2 * MAX_ARGS > CTL.SEGMENT) throw new Error("pool: a pass's call does not fit its control words");
/** Threads at most, the calling one included (scratch slots in the memory). */
export const MAX_SLOTS = 16;
/**
 * Chunks per thread: enough for a late or slow thread to be absorbed. Every chunk needs all of the
 * operand on the side not split (op(B) for a split by rows, op(A) by columns); each thread packs it
 * once per product into its panel (matmul-simd.ts's packPanel) and reads it from there for every
 * chunk it claims. Where that operand does not fit the panel, a split by columns makes one chunk
 * per thread (each chunk would pack all of op(A) again, as big as the chunk's share of B), a split
 * by rows still four, each packing its op(B). The mlp's products are short and wide (C is 64 or
 * 128 rows), split by columns: one chunk per thread left a product waiting for the slower thread
 * whenever the two cores ran unequally, which this machine's do at times (a product pinned to each
 * core, in the same seconds: 43-44 GFLOP/s on one, 33-35 on the other). Four chunks each with the
 * panel against one each, toggled every ten batches in one process: mlp plain level on a quiet
 * machine (the toggle's own 2-3% lean to one side, both ways round); with a process pinned to the
 * second core busy one millisecond in four, the panel faster in all six runs, by 2.4-3.9% with the
 * toggle's slow side and 7.9-9.4% with the other (17.9-20.4 against 18.7-20.9 ms per batch); conv
 * plain (split by rows) level.
 */
const CHUNKS_PER_THREAD = 4;

/** Writes a job's words at word `at`; readJob is its inverse. */
function writeJob(ctl: Int32Array, j: Job, rows: boolean, at: number = CTL.JOB): void {
  const w = [+j.transA, +j.transB, j.M, j.N, j.K, j.a, j.b, j.c, +j.accumulate, j.bias ?? 0, +rows];
  for (let i = 0; i < w.length; i++) ctl[at + i] = w[i]!;
}

export function readJob(ctl: Int32Array, at: number = CTL.JOB): { job: Job; rows: boolean } {
  const w = ctl.subarray(at, at + JOB_WORDS);
  return {
    job: { transA: w[0] !== 0, transB: w[1] !== 0, M: w[2]!, N: w[3]!, K: w[4]!, a: w[5]!, b: w[6]!, c: w[7]!, accumulate: w[8] !== 0, bias: w[9]! },
    rows: w[10] !== 0,
  };
}

/** The kernel's passes over a batch that threads can share (matmul-simd.ts's KernelExports). */
export const PASSES = ["relu", "leakyRelu", "activationBackward", "add", "rmsprop", "clip", "tanh", "bnNormalize", "bnInputGrad", "addColumnSums", "bnSum", "bnSquares", "bnGradSums"] as const;
export type Pass = (typeof PASSES)[number];

/**
 * One call of a pass over `units` units (images, or floats), as it would be made on one thread:
 * each thread claims chunks of `chunk` units and makes the call on them alone, with every pointer
 * argument moved `strides[i]` bytes per unit and argument `count` set to the chunk's units. The
 * units must be independent: a chunk writes only its own units' outputs.
 */
export interface PassCall {
  pass: Pass;
  args: number[];
  count: number;
  /** Bytes per unit of each argument; 0 for the ones that are not pointers into per-unit data. */
  strides: number[];
  /** Indices of the f32 arguments (the rest are i32). */
  floats: number[];
  units: number;
  chunk: number;
}

function writeCall(ctl: Int32Array, f32: Float32Array, call: PassCall): void {
  if (call.args.length > MAX_ARGS) throw new Error(`simd matmul: ${call.pass} has more than ${MAX_ARGS} arguments`);
  const w = CTL.CALL;
  ctl[w] = PASSES.indexOf(call.pass);
  ctl[w + 1] = call.count;
  ctl[w + 2] = call.units;
  ctl[w + 3] = call.args.length;
  let mask = 0;
  for (const i of call.floats) mask |= 1 << i;
  ctl[w + 4] = mask;
  for (let i = 0; i < call.args.length; i++) {
    if (call.floats.includes(i)) f32[w + 5 + i] = call.args[i]!;
    else ctl[w + 5 + i] = call.args[i]!;
    ctl[w + 5 + MAX_ARGS + i] = call.strides[i]!;
  }
}

function readCall(ctl: Int32Array, f32: Float32Array): PassCall {
  const w = CTL.CALL;
  const n = ctl[w + 3]!, mask = ctl[w + 4]!;
  const args: number[] = [], strides: number[] = [], floats: number[] = [];
  for (let i = 0; i < n; i++) {
    const isFloat = (mask & (1 << i)) !== 0;
    if (isFloat) floats.push(i);
    args.push(isFloat ? f32[w + 5 + i]! : ctl[w + 5 + i]!);
    strides.push(ctl[w + 5 + MAX_ARGS + i]!);
  }
  return { pass: PASSES[ctl[w]!]!, count: ctl[w + 1]!, units: ctl[w + 2]!, args, strides, floats, chunk: ctl[CTL.CHUNK]! };
}

/** Claims chunks of the call's units until none is left, making the call on each. */
export function runCallChunks(ex: KernelExports, ctl: Int32Array, call: PassCall): void {
  const f = ex[call.pass] as (...args: number[]) => void;
  const a: number[] = new Array(call.args.length);
  for (let lo = Atomics.add(ctl, CTL.NEXT, 1) * call.chunk; lo < call.units; lo = Atomics.add(ctl, CTL.NEXT, 1) * call.chunk) {
    for (let i = 0; i < a.length; i++) a[i] = call.args[i]! + lo * call.strides[i]!;
    a[call.count] = Math.min(call.units, lo + call.chunk) - lo;
    f(...a);
  }
}

/** The job words a worker reads when woken: a product, a pass, or a product's two k segments. */
export function readWork(ctl: Int32Array, f32: Float32Array):
  { kind: "product"; job: Job; rows: boolean } | { kind: "pass"; call: PassCall } | { kind: "segments"; jobs: Job[] } | { kind: "conv"; job: ConvJob } {
  const kind = ctl[CTL.KIND];
  if (kind === 0) return { kind: "product", ...readJob(ctl) };
  if (kind === 1) return { kind: "pass", call: readCall(ctl, f32) };
  if (kind === 3) return { kind: "conv", job: readConvJob(ctl, CTL.CALL) };
  return { kind: "segments", jobs: [readJob(ctl).job, readJob(ctl, CTL.SEGMENT).job] };
}

/** Claims whole segments (products over disjoint k ranges, each into its own C) until none is left. */
export function runSegments(ex: KernelExports, bl: Blocking, ctl: Int32Array, jobs: Job[], slot: number): void {
  const s = slotScratch(bl, slot);
  for (let i = Atomics.add(ctl, CTL.NEXT, 1); i < jobs.length; i = Atomics.add(ctl, CTL.NEXT, 1)) runSlice(ex, bl, jobs[i]!, s, 0, jobs[i]!.M, 0, jobs[i]!.N);
}

export class WorkerPool {
  private readonly ctl: Int32Array;
  /** The control block as floats, for a pass's f32 arguments. */
  private readonly ctlF32: Float32Array;
  /** Claims the next unit of the current job (a chunk or a segment): the NEXT counter's old value. */
  readonly claim: () => number;

  private constructor(
    private readonly workers: WorkerHandle[],
    private readonly init: Omit<WorkerInit, "slot">,
  ) {
    this.ctl = new Int32Array(init.memory.buffer, 0, CONTROL_BYTES / 4);
    this.ctlF32 = new Float32Array(init.memory.buffer, 0, CONTROL_BYTES / 4);
    this.claim = claimer(this.ctl);
  }

  /** Starts `n` workers and waits until each has instantiated the module. */
  static async start(spawn: SpawnWorker, init: Omit<WorkerInit, "slot">, n: number): Promise<WorkerPool> {
    if (n + 1 > MAX_SLOTS) throw new Error(`simd matmul: at most ${MAX_SLOTS} threads`);
    const workers: WorkerHandle[] = [];
    try {
      for (let s = 1; s <= n; s++) workers.push(spawn({ ...init, slot: s }));
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    return new WorkerPool(workers, init);
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Computes `job` on every thread and returns when all are done. Splits C's rows when M >= N,
   * else its columns, so the operand each thread packs again (all of B, or all of A) is the
   * smaller one; cuts fall on tile boundaries. A slice may be empty when C is narrow.
   */
  run(job: Job, ex: KernelExports): void {
    const ctl = this.ctl;
    const bl = this.init.blocking;
    const rows = job.M >= job.N;
    const extent = rows ? job.M : job.N;
    const unit = rows ? bl.mr : bl.nr;
    const threads = this.workers.length + 1;
    const chunks = rows || usesPanel(bl, job, rows) ? CHUNKS_PER_THREAD : 1;
    ctl[CTL.CHUNK] = Math.ceil(Math.ceil(extent / unit) / (threads * chunks)) * unit;
    ctl[CTL.KIND] = 0;
    writeJob(ctl, job, rows);
    this.start();
    runChunks(ex, bl, ctl, job, rows, 0);
    this.join();
  }

  /** Computes two k segments of a product (see simd-kernel.ts's kSegments), a thread each when both are free. */
  runSegments(jobs: [Job, Job], ex: KernelExports): void {
    const ctl = this.ctl;
    ctl[CTL.KIND] = 2;
    writeJob(ctl, jobs[0], true);
    writeJob(ctl, jobs[1], true, CTL.SEGMENT);
    this.start();
    runSegments(ex, this.init.blocking, ctl, jobs, 0);
    this.join();
  }

  /** Makes a convolution's lowering on every thread, each claiming chunks of images (conv-chunks.ts). */
  runConv(job: ConvJob, ex: KernelExports): void {
    const ctl = this.ctl;
    ctl[CTL.KIND] = 3;
    writeConvJob(ctl, CTL.CALL, job);
    this.start();
    runConvChunks(ex, this.init.blocking, job, 0, this.claim);
    this.join();
  }

  /**
   * Makes `call` on every thread, each claiming chunks of call.chunk units, and returns when all
   * are done.
   */
  runPass(call: PassCall, ex: KernelExports): void {
    const ctl = this.ctl;
    ctl[CTL.CHUNK] = call.chunk;
    ctl[CTL.KIND] = 1;
    writeCall(ctl, this.ctlF32, call);
    this.start();
    runCallChunks(ex, ctl, call);
    this.join();
  }

  /**
   * Wakes the workers on the job just written; the caller then does its share and calls join().
   * (Two calls rather than one taking the share as a closure: a closure made per job costs more than
   * the rest of the dispatch under tsx, which names every function made at run time.)
   */
  private start(): void {
    const ctl = this.ctl;
    ctl[CTL.NEXT] = 0;
    Atomics.store(ctl, CTL.DONE, 0);
    Atomics.store(ctl, CTL.ERROR, 0);
    Atomics.add(ctl, CTL.SEQ, 1); // publishes the words above (Atomics are sequentially consistent)
    Atomics.notify(ctl, CTL.SEQ);
  }

  /** Waits until every worker has finished the job start() announced. */
  private join(): void {
    const ctl = this.ctl;
    for (let d = Atomics.load(ctl, CTL.DONE); d < this.workers.length; d = Atomics.load(ctl, CTL.DONE))
      if (spinWhile(ctl, CTL.DONE, d)) Atomics.wait(ctl, CTL.DONE, d);
    if (Atomics.load(ctl, CTL.ERROR) !== 0) throw new Error("simd matmul: a worker thread failed");
  }

  /** Tells the workers to return, then terminates them. */
  async stop(): Promise<void> {
    Atomics.store(this.ctl, CTL.QUIT, 1);
    Atomics.add(this.ctl, CTL.SEQ, 1);
    Atomics.notify(this.ctl, CTL.SEQ);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Polls of a control word before a thread sleeps on it (see spinWhile): about 5.6 ms here, longer
 * than the serial stretches of a training step, during which a worker that fell asleep then woke
 * late for the next product (the caller's waits for a worker's last chunk were 1.4 ms of a 15.7 ms
 * mlp step). Against 2^18 polls (1.5 ms), mlp plain ms per batch, medians of four or five
 * alternations: 16.4 -> 16.0 with 2^20, 16.6 -> 16.1 with 2^22; 2^20 against 2^22, 16.8 and 16.7.
 */
export const SPIN_POLLS = 1 << 20;

/**
 * Polls word `i` of the control block while it holds `value`, at most SPIN_POLLS times; true if it
 * still does (the caller then sleeps in Atomics.wait). Waking from Atomics.wait takes about 0.1 ms
 * here, on each side of every shared product or pass.
 */
export function spinWhile(ctl: Int32Array, i: number, value: number): boolean {
  for (let n = 0; n < SPIN_POLLS; n++) if (Atomics.load(ctl, i) !== value) return false;
  return true;
}

/**
 * A claim function over the control block's NEXT counter, for runConvChunks: each call returns the
 * next unit to make. Made once per thread, not per job (see simd-kernel.ts's place()).
 */
export function claimer(ctl: Int32Array): () => number {
  return () => Atomics.add(ctl, CTL.NEXT, 1);
}

/**
 * Whether each thread packs the operand every chunk needs (op(B) when splitting rows, op(A) when
 * splitting columns) once, into its own panel, rather than once per chunk: when it fits the panel.
 */
export function usesPanel(bl: Blocking, job: Job, rows: boolean): boolean {
  return panelFloats(bl, job, rows ? "B" : "A") <= PANEL_FLOATS;
}

/** Claims chunks of the job's rows (all columns) or columns (all rows) until none is left, computing each with slot `slot`'s scratch. */
export function runChunks(ex: KernelExports, bl: Blocking, ctl: Int32Array, job: Job, rows: boolean, slot: number): void {
  const extent = rows ? job.M : job.N;
  const chunk = ctl[CTL.CHUNK]!;
  const s = slotScratch(bl, slot);
  const panel = usesPanel(bl, job, rows) ? (rows ? "B" : "A") : undefined;
  let packed = false;
  for (let lo = Atomics.add(ctl, CTL.NEXT, 1) * chunk; lo < extent; lo = Atomics.add(ctl, CTL.NEXT, 1) * chunk) {
    if (panel && !packed) {
      packPanel(ex, bl, job, s, panel);
      packed = true;
    }
    const hi = Math.min(extent, lo + chunk);
    if (rows) runSlice(ex, bl, job, s, lo, hi, 0, job.N, panel);
    else runSlice(ex, bl, job, s, 0, job.M, lo, hi, panel);
  }
}
