/**
 * The SIMD kernel object: one `MatmulKernel` (same contract, see ../matmul.ts) that also gives the
 * engine its convolution lowerings, activations, sums, optimizer step and batch norm passes, all
 * computed in one WebAssembly.Memory by the module matmul-simd.ts emits. An operand that already
 * lives there (a step buffer the engine's allocator took from `storage`, see arena.ts; a model's
 * flat parameters) is used in place, any other is copied in (and a result copied back). Work big
 * enough to share goes to worker threads on the same memory (pool.ts), the rest stays on the
 * calling thread; the thresholds below say where, with what they measured. Not an op: the ops
 * call whichever kernel `setMatmulKernel` chose.
 */
import type { MatmulKernel } from "../matmul.js";
import type { ActivationKernel } from "../activations.js";
import type { ElementwiseKernel } from "../elementwise.js";
import type { OptimizerKernel } from "../optimizer.js";
import type { BatchNormKernel } from "../batch-norm.js";
import type { ConvLowering } from "../conv-lowering.js";
import { patchDims } from "../conv-lowering.js";
import type { ConvGeometry } from "../im2col.js";
import type { Blocking, Job, KernelExports } from "./matmul-simd.js";
import { CONTROL_BYTES, PAGE, defaultBlocking, kernelModuleBytes, relaxedSimdAvailable, runSlice, sharedMemoryAvailable, simdAvailable, slotBytes, slotScratch } from "./matmul-simd.js";
import type { Pass, SpawnWorker } from "./pool.js";
import { WorkerPool } from "./pool.js";
import type { ConvJob, ConvKind } from "./conv-chunks.js";
import { convSlotBytes, convUnits, runConvChunks, segmentSum } from "./conv-chunks.js";
import { MemoryArena, align64 } from "./arena.js";
import type { StorageHeap } from "../../storage.js";

export interface SimdMatmulOptions {
  /** Threads to compute with, the calling one included (default 1). More than 1 needs `spawn`. */
  threads?: number;
  /** Starts one worker thread (see pool.ts; src/io/workers.ts has Node's). */
  spawn?: SpawnWorker;
  /** Products with fewer multiply-adds (M·N·K) stay on the calling thread. */
  minParallelWork?: number;
  /** Products whose split side (rows of C, or columns when it is wider) has fewer tiles stay on the calling thread. */
  minParallelTiles?: number;
  /** Passes over a batch (activations, sums, the optimizer's, batch norm's) touching fewer floats stay on the calling thread; so do convolutions whose cols would have fewer floats and whose product fewer than minParallelWork multiply-adds. */
  minParallelPass?: number;
  /** Segments a convolution's weight gradient is cut into (default WEIGHT_GRAD_SEGMENTS), for measurements. */
  weightGradSegments?: number;
  /** Tile and block sizes, for measurements; otherwise defaultBlocking(fma), with `fma` where relaxed SIMD is available. */
  blocking?: Blocking;
  /** Upper bound of the memory, in MiB (default 2048): the step buffers it holds and one call's scratch must fit. */
  maxMemoryMiB?: number;
  /**
   * Offer the engine's step buffers a place in this memory (`storage`, see storage.ts), so that
   * ops use them in place. Needs a shared memory (one that grows without detaching views): the
   * default is on wherever shared memory is available.
   */
  residentStorage?: boolean;
}

/** A MatmulKernel that owns wasm memory and maybe worker threads: call dispose() when done. */
export interface SimdMatmul extends MatmulKernel {
  readonly threads: number;
  readonly blocking: Blocking;
  /** Floats copied in and out of the kernel's memory so far: operands that live elsewhere (an operand in it costs none). */
  readonly copiedFloats: number;
  /** Ends the worker threads; the kernel must not be used afterwards. */
  dispose(): Promise<void>;
}

// Below about a million multiply-adds (~0.02 ms on one core) a second thread does not pay: the
// workers poll for work before they sleep (pool.ts), but both threads pack the operand they share.
// Measured one thread against two (medians of at least 300 calls, operands in the kernel's memory,
// microseconds, three alternations after one warm-up): 1568x32x16 (0.8M) 35-36 against 25;
// 64x128x110 (0.9M) 38 against 25; 3136x32x16 (1.6M) 67-69 against 41-42; 64x256x128 (2.1M) 84-85
// against 50. Products from 0.5M split as well made the training steps no faster (mlp 18.6 -> 18.0,
// conv 62.7 -> 63.0 ms, medians of four), 1M no slower (18.6, 62.5). An earlier design (operands
// copied in, no polling) measured 3136x32x16 no faster on two threads, and the threshold was 2M, then 8M.
const MIN_PARALLEL_WORK = 1 << 20;
// ...and a product whose split side has fewer tiles than this stays on one thread: every chunk of
// it packs all of the other operand. Measured on the weight gradients of the 1-channel
// convolutions (32x16x12544, 16x32x12544: K = 12544 deep, 6 and 2 tiles to split): 407-416 us on
// one thread against 361-446 on two. Those, deep with A transposed, are now cut by k instead
// (kSegments), before this rule is asked; it still keeps any other narrow, deep product on one thread.
const MIN_PARALLEL_TILES = 16;

// Passes over a batch touching fewer floats than this stay on the calling thread. Sharing them
// (then im2col, col2im and the layout changes too, which now run inside a convolution's chunks)
// made the default training step 3-8% faster (122-136 -> 118-123 ms per batch, alternating in one
// sitting); a threshold of 1 << 16 measured the same within the noise (115-120 against 116-126 ms).
const MIN_PARALLEL_PASS = 1 << 18;
/**
 * tanh counts as this many floats against MIN_PARALLEL_PASS: float64 arithmetic and a division per
 * value make it about 4 ns a value, against well under 1 for the other passes. The generator's last
 * layer (64 x 784 values) then runs on every thread: 200-215 us alone against 130-186 shared (six
 * alternations in one process); 12,544 values measured 50-59 against 38-113 and stay alone.
 */
const TANH_WEIGHT = 8;
/**
 * A chunk of a convolution's lowering (conv-chunks.ts) keeps its rows and cols within this many
 * bytes, so that they stay in a core's cache (1 MiB of L2 here) while packed into the product.
 */
const CONV_CHUNK_BYTES = 512 << 10;
/** Chunks per thread of a pass: a late worker takes fewer. */
const PASS_CHUNKS_PER_THREAD = 4;
/**
 * A convolution's weight gradient sums over every image of the batch into one dW: the batch is
 * cut into this many fixed segments (fewer when it has fewer images), which the threads claim as
 * they come, each segment's sum but the first written aside and then added to dW in order
 * (conv-chunks.ts). Fixed, so one thread and two make the same sums.
 */
const WEIGHT_GRAD_SEGMENTS = 8;

/**
 * Compiles the kernel and, for threads > 1, starts threads - 1 workers on a shared memory.
 * Throws when WebAssembly SIMD (or, for threads, shared memory) is missing: check
 * `simdAvailable()` first to fall back to a JS kernel.
 */
export async function createSimdMatmul(opts: SimdMatmulOptions = {}): Promise<SimdMatmul> {
  const threads = opts.threads ?? 1;
  const bl = opts.blocking ?? defaultBlocking(relaxedSimdAvailable());
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`simd matmul: bad thread count ${threads}`);
  if (!simdAvailable()) throw new Error("simd matmul: this WebAssembly engine has no 128-bit SIMD");
  if (bl.fma && !relaxedSimdAvailable()) throw new Error("simd matmul: fma needs relaxed SIMD, which this engine lacks");
  if (threads > 1 && !opts.spawn) throw new Error("simd matmul: threads > 1 needs a spawn function");
  if (threads > 1 && !sharedMemoryAvailable()) throw new Error("simd matmul: no shared WebAssembly memory here");
  const residentStorage = opts.residentStorage ?? sharedMemoryAvailable();
  if (residentStorage && !sharedMemoryAvailable()) throw new Error("simd matmul: resident storage needs shared WebAssembly memory");
  const shared = threads > 1 || residentStorage;
  const maxPages = Math.ceil(((opts.maxMemoryMiB ?? 2048) * 1024 * 1024) / PAGE);
  const fixed = CONTROL_BYTES + threads * slotBytes(bl);
  const minPages = Math.ceil(fixed / PAGE) + 1;
  if (minPages > maxPages) throw new Error("simd matmul: maxMemoryMiB too small for the scratch");
  const memory = new WebAssembly.Memory({ initial: minPages, maximum: maxPages, shared });
  const module = await WebAssembly.compile(kernelModuleBytes(bl, { min: minPages, max: maxPages, shared }));
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const ex = instance.exports as unknown as KernelExports;
  const pool = threads > 1 ? await WorkerPool.start(opts.spawn!, { module, memory, blocking: bl }, threads - 1) : undefined;
  const arena = new MemoryArena(memory, fixed);
  const parallel = {
    work: opts.minParallelWork ?? MIN_PARALLEL_WORK, tiles: opts.minParallelTiles ?? MIN_PARALLEL_TILES, pass: opts.minParallelPass ?? MIN_PARALLEL_PASS,
    gradSegments: opts.weightGradSegments ?? WEIGHT_GRAD_SEGMENTS,
  };
  return new SimdKernel(ex, bl, arena, threads, parallel, pool, residentStorage);
}

/** Elements of the image (N,C,H,W) of a geometry. */
function imageSize(g: ConvGeometry): number {
  return g.N * g.C * g.H * g.W;
}

/** How a kernel call uses an array: reads it, writes it over, or adds into it. */
type Use = "in" | "out" | "inout";
/** An operand of a kernel call: an array and how many of its floats it uses, or a scratch region of so many floats. */
type Operand = { a: Float32Array; n: number; use: Use } | number;
const input = (a: Float32Array, n: number): Operand => ({ a, n, use: "in" });
const output = (a: Float32Array, n: number, accumulate = false): Operand => ({ a, n, use: accumulate ? "inout" : "out" });

/**
 * Whether operand i (an array) overlaps another array operand of the same call: the same array, or
 * a held one (in the kernel's memory) whose bytes [byteOffset, byteOffset + 4n) meet its own. Views
 * made before and after a growth are different buffer objects over the same memory, so overlap is
 * a matter of offsets.
 */
function overlapsAnother(operands: readonly Operand[], held: readonly boolean[], i: number): boolean {
  const o = operands[i]!;
  if (typeof o === "number") return false;
  const from = o.a.byteOffset, to = from + o.n * 4;
  for (let j = 0; j < operands.length; j++) {
    const p = operands[j]!;
    if (j === i || typeof p === "number") continue;
    if (p.a === o.a) return true;
    if (held[j] && p.a.byteOffset < to && from < p.a.byteOffset + p.n * 4) return true;
  }
  return false;
}

class SimdKernel implements SimdMatmul {
  /** "simd-fma" when the micro-kernel multiply-adds with relaxed SIMD, else "simd". */
  readonly name: string;
  /** Step buffers in this memory (storage.ts), when it is shared (so that it grows without detaching them). */
  readonly storage?: StorageHeap;
  private disposed = false;
  copiedFloats = 0;
  /** The arrays `storage` handed out: whole blocks, whose length is padded to a 64-byte line. */
  private readonly blocks = new WeakSet<Float32Array>();
  /** The scratch block: where operands that are not in the memory are copied, and each thread's chunk of a convolution. */
  private scratchAt: number;
  private scratchBytes = 0;
  /** A block for the second k segment's product (kSegments), and its size. */
  private partialAt = 0;
  private partialBytes = 0;
  /** The next unit of a job run on this thread alone, and its claim function (made once: see place()). */
  private nextHere = 0;
  private readonly claimHere = (): number => this.nextHere++;
  /** Copies out of scratch still to make when the current call finishes: [offset, array, floats]. */
  private pending: [number, Float32Array, number][] = [];

  constructor(
    private readonly ex: KernelExports,
    readonly blocking: Blocking,
    private readonly arena: MemoryArena,
    readonly threads: number,
    /** Thresholds below which work stays on the calling thread (SimdMatmulOptions' minParallel*), and weightGradSegments. */
    private readonly parallel: { work: number; tiles: number; pass: number; gradSegments: number },
    private readonly pool: WorkerPool | undefined,
    residentStorage: boolean,
  ) {
    this.name = blocking.fma ? "simd-fma" : "simd";
    this.scratchAt = arena.tryAlloc(0)!;
    if (residentStorage)
      this.storage = {
        alloc: (n) => {
          if (this.disposed) return null;
          const at = this.arena.tryAlloc(n * 4);
          if (at === null) return null;
          const a = new Float32Array(this.arena.memory.buffer, at, n);
          this.blocks.add(a);
          return a;
        },
      };
  }

  private get f32(): Float32Array {
    return this.arena.view;
  }

  gemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, accumulate: boolean, bias?: Float32Array): void {
    const acc = accumulate && !bias;
    const [a, b, c, pbias] = this.place(input(A, M * K), input(B, K * N), output(C, M * N, acc), bias ? input(bias, N) : 0);
    this.product({ transA, transB, M, N, K, a, b, c, accumulate: acc, bias: bias ? pbias : 0 });
    this.finish();
  }

  /**
   * The convolution lowerings (conv-lowering.ts) done in this kernel's memory: the image and the
   * operands are used in place or copied in; each lowering runs a chunk of images at a time
   * (its layout change, im2col or col2im, and product: conv-chunks.ts), on every
   * thread when its cols would be big enough; the NCHW result (or the image) is written in place
   * or copied out. A ColsCache is neither filled nor read (`keepsCols` false): each chunk's cols
   * are made again where needed, in cache. Against the whole-batch way (cols written out, then
   * read back by the product; the weight's gradient reusing the forward pass's cols), conv plain
   * ms per batch, medians of four alternations: 36.1 against 36.1, with both im2col's fast path:
   * no faster, but no 6.4 MB cols per layer kept from forward to backward, and one dispatch per
   * lowering instead of three or four.
   */
  readonly conv: ConvLowering = {
    keepsCols: false,
    im2colTimesWt: (x, g, w, P, out, opts = {}) => {
      const { R, CKK } = patchDims(g);
      const { bias, accumulate: acc = false } = opts; // accumulating, the result goes to scratch first, then out += it
      const ch = this.convChunking("colsTimesWt", g, P);
      const [px, pw, pbias, pres, pout, pscratch] = this.place(input(x, imageSize(g)), input(w, P * CKK), bias ? input(bias, P) : 0,
        acc ? R * P : 0, output(out, R * P, acc), ch.scratchFloats);
      this.runConv({ kind: "colsTimesWt", g, P, image: px, weight: pw, nchw: acc ? pres : pout, dW: 0, partial: 0, segments: 0, bias: bias ? pbias : 0, fill: false, scratch: pscratch, ...ch.job });
      if (acc) this.pass("add", [pout, pres, pout, R * P], 3, [4, 4, 4, 0], R * P, 16, R * P);
      this.finish();
    },
    addAtTimesIm2col: (A, P, x, g, dW) => {
      const { R, CKK } = patchDims(g);
      const ch = this.convChunking("rowsTimesCols", g, P);
      const segments = Math.min(this.parallel.gradSegments, g.N);
      const [pA, px, pdw, ppartial, pscratch] = this.place(input(A, R * P), input(x, imageSize(g)), output(dW, P * CKK, true),
        Math.max(1, segments - 1) * P * CKK, ch.scratchFloats);
      const job: ConvJob = { kind: "rowsTimesCols", g, P, image: px, weight: 0, nchw: pA, dW: pdw, partial: ppartial, segments, bias: 0, fill: false, scratch: pscratch, ...ch.job };
      this.runConv(job);
      for (let i = 1; i < segments; i++) this.ex.add(pdw, segmentSum(job, i), pdw, P * CKK); // dW += segment i's sum, in order
      this.finish();
    },
    addCol2imOfProduct: (A, P, w, g, img, opts = {}) => {
      const { R, CKK } = patchDims(g);
      const { overwrite = false, bias } = opts;
      const ch = this.convChunking("col2imOfProduct", g, P);
      const [pA, pw, pimg, pbias, pscratch] = this.place(input(A, R * P), input(w, P * CKK), output(img, imageSize(g), !overwrite),
        bias ? input(bias, g.C) : 0, ch.scratchFloats);
      this.runConv({ kind: "col2imOfProduct", g, P, image: pimg, weight: pw, nchw: pA, dW: 0, partial: 0, segments: 0, bias: bias ? pbias : 0, fill: overwrite, scratch: pscratch, ...ch.job });
      this.finish();
    },
  };

  /**
   * relu, leakyRelu and tanh in this kernel's memory (activations-simd.ts): the operands used in place
   * or copied in (a memcpy each, about 0.1 ms per 400,000 values), the pass itself four lanes at a
   * time, on every thread when big enough.
   */
  readonly activations: ActivationKernel = {
    relu: (x, out) => {
      const n = x.length;
      const [px, pout] = this.place(input(x, n), output(out, n));
      this.pass("relu", [px, pout, n], 2, [4, 4, 0], n, 16, n);
      this.finish();
    },
    leakyRelu: (x, out, slope) => {
      const n = x.length;
      const [px, pout] = this.place(input(x, n), output(out, n));
      this.pass("leakyRelu", [px, pout, n, slope], 2, [4, 4, 0, 0], n, 16, n, [3]);
      this.finish();
    },
    backward: (x, g, gx, slope, accumulate) => {
      const n = x.length;
      const [px, pg, pgx] = this.place(input(x, n), input(g, n), output(gx, n, accumulate));
      this.pass("activationBackward", [px, pg, pgx, n, slope, accumulate ? 1 : 0], 3, [4, 4, 4, 0, 0, 0], n, 16, n, [4]);
      this.finish();
    },
    tanh: (x, out) => {
      const n = x.length;
      const [px, pout] = this.place(input(x, n), output(out, n));
      this.pass("tanh", [px, pout, n], 2, [4, 4, 0], n, 16, n * TANH_WEIGHT);
      this.finish();
    },
  };

  /** The same-shape sum and a bias's column sums in this kernel's memory (elementwise-simd.ts), on every thread when big enough. */
  readonly elementwise: ElementwiseKernel = {
    add: (a, b, out) => {
      const n = a.length;
      // out may be a or b: each float is read before it is written, in its own place, so the sum
      // runs in place there (as an output placed aside, it would be copied out: the conv critic's
      // label planes' gradient, 401,408 floats a batch)
      if (out === a || out === b) {
        const [pa, pb] = out === a ? this.place(output(a, n, true), input(b, n)) : this.place(input(a, n), output(b, n, true));
        this.pass("add", [pa, pb, out === a ? pa : pb, n], 3, [4, 4, 4, 0], n, 16, n);
      } else {
        const [pa, pb, pout] = this.place(input(a, n), input(b, n), output(out, n));
        this.pass("add", [pa, pb, pout, n], 3, [4, 4, 4, 0], n, 16, n);
      }
      this.finish();
    },
    addColumnSums: (g, rows, cols, out) => {
      const [pg, pout] = this.place(input(g, rows * cols), output(out, cols, true));
      // split by columns: each thread sums its columns over every row, in row order
      this.pass("addColumnSums", [pg, rows, cols, cols, pout], 2, [4, 0, 0, 0, 4], cols, 16, rows * cols);
      this.finish();
    },
  };

  /**
   * RMSprop's update and clipping over a model's flat buffers, on every thread by runs of floats
   * when big enough. The buffers live in this memory when the model was packed with this kernel
   * active (storage.ts's allocLasting); else they are copied in and back.
   */
  readonly optimizer: OptimizerKernel = {
    rmsprop: (w, g, v, lr, alpha, eps, clip = Infinity) => {
      const n = w.length;
      const [pw, pg, pv] = this.place(output(w, n, true), input(g, n), output(v, n, true));
      const f = Math.fround;
      this.pass("rmsprop", [pw, pg, pv, n, f(lr), f(alpha), f(1 - alpha), f(eps), f(clip)], 3, [4, 4, 4], n, 16, n, [4, 5, 6, 7, 8]);
      this.finish();
    },
    clip: (w, c) => {
      const n = w.length;
      const [pw] = this.place(output(w, n, true));
      this.pass("clip", [pw, n, Math.fround(c)], 1, [4], n, 16, n, [2]);
      this.finish();
    },
  };

  /**
   * Batch norm's passes in this kernel's memory (batch-norm-simd.ts): x (or g and xhat) used in
   * place or copied in once per call, the per-channel arrays beside it, the results written in
   * place or copied out. The per-channel sums run on the calling thread (split, their order would
   * depend on the threads); normalisation and the input gradient are split by images, each
   * element computed alike whoever takes it (the default step 57.9 -> 53.8 and 59.4 -> 58.4 ms,
   * medians of four and five). Against the TypeScript passes, the default training step (two batch
   * norms in the generator) measured 103.4 against 110.3 ms per batch (medians of six alternations).
   */
  readonly batchNorm: BatchNormKernel = {
    channelSums: (x, N, C, S, sum) => {
      const n = N * C * S;
      const [px, psum] = this.place(input(x, n), 2 * C);
      sum.set(this.channelSumsAt(px, N, C, S, psum));
    },
    moments: (x, N, C, S, mean, sq) => {
      const n = N * C * S;
      const [px, pmean, psq] = this.place(input(x, n), 2 * C, 2 * C);
      const m = this.channelSumsAt(px, N, C, S, pmean), q = new Float64Array(this.f32.buffer, psq, C);
      for (let c = 0; c < C; c++) m[c]! /= N * S;
      q.fill(0);
      this.sums("bnSquares", [px, N, C, S, pmean, psq], [S * 4, 0, 0, 0, 8, 8], N, C, S);
      mean.set(m);
      sq.set(q);
    },
    normalize: (x, N, C, S, mean, invStd, gamma, beta, xhat, out) => {
      const n = N * C * S;
      const [px, pm, pi, pg, pb, ph, po] = this.place(
        input(x, n), input(mean, C), input(invStd, C), input(gamma, C), input(beta, C), output(xhat, n), output(out, n));
      const img = C * S * 4; // bytes per image: the pass splits by images
      this.pass("bnNormalize", [px, N, C, S, pm, pi, pg, pb, ph, po], 1, [img, 0, 0, 0, 0, 0, 0, 0, img, img], N, 1, n);
      this.finish();
    },
    backward: (g, xhat, N, C, S, sumG, sumGH, coefficients, gx, accumulate) => {
      const n = N * C * S;
      const [pg, ph, psg, psgh, psc, pmg, pmgh, pgx] = this.place(input(g, n), input(xhat, n), 2 * C, 2 * C, C, C, C, gx ? output(gx, n, accumulate) : 0);
      const f64 = (at: number): Float64Array => new Float64Array(this.f32.buffer, at, C);
      f64(psg).fill(0);
      f64(psgh).fill(0);
      this.sums("bnGradSums", [pg, ph, N, C, S, psg, psgh], [S * 4, S * 4, 0, 0, 0, 8, 8], N, C, S);
      sumG.set(f64(psg));
      sumGH.set(f64(psgh));
      const k = coefficients();
      if (!k || !gx) {
        this.pending = []; // gx not computed: nothing to copy out
        return;
      }
      // the coefficients, made by the callback after place(): where they lie when in this memory, else copied to their scratch
      const [sc, m1, m2] = [this.inPlaceOr(k.scale, psc, C), this.inPlaceOr(k.mg, pmg, C), this.inPlaceOr(k.mgh, pmgh, C)];
      const img = C * S * 4;
      this.pass("bnInputGrad", [pg, ph, N, C, S, sc, m1, m2, pgx, accumulate ? 1 : 0], 2, [img, img, 0, 0, 0, 0, 0, 0, img, 0], N, 1, n);
      this.finish();
    },
  };

  /** The per-channel sums (float64) of (N, C, S) floats at px, written over C doubles at psum; a view of them. */
  private channelSumsAt(px: number, N: number, C: number, S: number, psum: number): Float64Array {
    const sums = new Float64Array(this.f32.buffer, psum, C);
    sums.fill(0);
    this.sums("bnSum", [px, N, C, S, psum], [S * 4, 0, 0, 0, 8], N, C, S);
    return sums;
  }

  /**
   * One of batch norm's per-channel sums over (N, C, S) floats, split by channels between the
   * threads when big enough: each thread sums its own channels over every image, in the order one
   * thread would, so the float64 sums have the same bits however they are split. `args` without
   * the trailing image stride, which this adds; `strides` bytes per channel of each argument.
   */
  private sums(pass: "bnSum" | "bnSquares" | "bnGradSums", args: number[], strides: number[], N: number, C: number, S: number): void {
    const count = pass === "bnGradSums" ? 3 : 2; // where the channels argument sits
    this.pass(pass, [...args, C * S * 4], count, [...strides, 0], C, S === 1 ? 4 : 1, N * C * S);
  }

  /**
   * Images per chunk of a lowering over geometry g (conv-chunks.ts): as many as keep a chunk's rows
   * and cols within CONV_CHUNK_BYTES, and, where threads claim chunks, few enough for each thread
   * to get about PASS_CHUNKS_PER_THREAD of them; and the scratch every thread's chunk needs.
   */
  private convChunking(kind: ConvKind, g: ConvGeometry, P: number): { job: { images: number; slotBytes: number }; scratchFloats: number } {
    const threads = this.pool ? this.pool.size + 1 : 1;
    let images = Math.max(1, Math.floor(CONV_CHUNK_BYTES / convSlotBytes(kind, g, P, 1)));
    if (kind !== "rowsTimesCols") images = Math.min(images, Math.max(1, Math.floor(g.N / (threads * PASS_CHUNKS_PER_THREAD))));
    images = Math.min(images, g.N);
    const slotBytes = convSlotBytes(kind, g, P, images);
    return { job: { images, slotBytes }, scratchFloats: (threads * slotBytes) / 4 };
  }

  /**
   * A lowering by chunks of images: on every thread when its product or its cols would be big
   * enough, else here. (Asking only the cols' size, as for a pass, kept the critic's one-channel
   * first layer, 12544x16 cols but a 6.4M multiply-add product, on one thread: conv plain 34.3 ->
   * 33.0 ms per batch with the product asked too, medians of four alternations.)
   */
  private runConv(job: ConvJob): void {
    const { R, CKK } = patchDims(job.g);
    const big = R * CKK * job.P >= this.parallel.work || R * CKK >= this.parallel.pass;
    if (this.pool && big && convUnits(job) > 1) this.pool.runConv(job, this.ex);
    else {
      this.nextHere = 0;
      runConvChunks(this.ex, this.blocking, job, 0, this.claimHere);
    }
  }

  /**
   * Makes one call of a pass over `units` units (pool.ts's PassCall: pointer arguments move by
   * strides[i] bytes per unit, argument `count` holds the units): on every thread, chunks of a
   * multiple of `align` units each, when it touches at least minParallelPass floats (`work`),
   * else here in one call. Missing strides are 0.
   */
  private pass(pass: Pass, args: number[], count: number, strides: number[], units: number, align: number, work: number, floats: number[] = []): void {
    if (this.pool && work >= this.parallel.pass && units > align) {
      const threads = this.pool.size + 1;
      const chunk = Math.ceil(units / (threads * PASS_CHUNKS_PER_THREAD) / align) * align;
      const full: number[] = new Array(args.length);
      for (let i = 0; i < args.length; i++) full[i] = strides[i] ?? 0;
      this.pool.runPass({ pass, args, count, strides: full, floats, units, chunk }, this.ex);
    } else (this.ex[pass] as (...a: number[]) => void)(...args);
  }

  /** C of `job` (+)= op(A)·op(B), all three already in the memory; on every thread if it is big enough. */
  private product(job: Job): void {
    if (job.M === 0 || job.N === 0) return;
    const side = job.K === 1 || job.M === 1 || job.N === 1; // a side of one (sideOfOne)
    const segmented = !side && this.cutInSegments(job);
    if (job.bias && (job.K === 0 || side || segmented)) {
      // C starts as the bias rows, then the product is added: products other than the blocked
      // kernel's own, whose tiles start their sums from the bias (runSlice, the macro-kernel)
      this.ex.fillRows(job.bias, job.c, job.N * 4, job.M, job.N);
      job = { ...job, accumulate: true, bias: 0 };
    }
    const { M, N, K, c, accumulate } = job;
    if (K === 0) {
      if (!accumulate) this.f32.fill(0, c / 4, c / 4 + M * N);
      return;
    }
    if (side) return this.sideOfOne(job);
    if (segmented) {
      const segments = this.kSegments(job);
      if (this.pool && M * N * K >= this.parallel.work) this.pool.runSegments(segments, this.ex);
      else for (const j of segments) runSlice(this.ex, this.blocking, j, slotScratch(this.blocking, 0), 0, j.M, 0, j.N);
      this.ex.add(job.c, segments[1].c, job.c, M * N); // C (+)= first segment, then + the second's
      return;
    }
    const tiles = M >= N ? Math.ceil(M / this.blocking.mr) : Math.ceil(N / this.blocking.nr); // the side pool.run splits
    if (this.pool && M * N * K >= this.parallel.work && tiles >= this.parallel.tiles) this.pool.run(job, this.ex);
    else runSlice(this.ex, this.blocking, job, slotScratch(this.blocking, 0), 0, M, 0, N);
  }

  /**
   * A product with a side of one (gemv-simd.ts), on the calling thread: C a column (N = 1), a row
   * (M = 1), or op(A)'s column times op(B)'s row (K = 1). The blocked kernel pads such a product to
   * whole tiles and packs it: the conv critic's last layer, 64x1x3136 forward, 64x3136x1 and
   * 1x3136x64 backward, took 113-144, 144-155 and 76-124 us in a training step. The vector side of
   * each is contiguous whatever its transpose flag.
   */
  private sideOfOne(job: Job): void {
    const { transA, transB, M, N, K, a, b, c } = job;
    const acc = job.accumulate ? 1 : 0;
    const ex = this.ex;
    if (K === 1) ex.outer(a, b, c, M, N, acc);
    else if (N === 1) {
      if (transA) ex.gemvCols(b, a, M * 4, c, M, K, acc); // C[i] = Σk b[k]·A[k, i], A stored (K,M)
      else ex.gemvRows(a, K * 4, b, c, M, K, acc); // C[i] = A[i, :]·b
    } else if (M === 1) {
      if (transB) ex.gemvRows(b, K * 4, a, c, N, K, acc); // C[j] = B[j, :]·a, B stored (N,K)
      else ex.gemvCols(a, b, N * 4, c, N, K, acc); // C[j] = Σk a[k]·B[k, j]
    } else throw new Error(`simd matmul: ${M}x${N}x${K} has no side of one`);
  }

  /**
   * A deep product with a small C (op(A) = Aᵀ, B as stored, K at least 4·max(M, N) and two k blocks:
   * a weight's gradient, summed over a batch's positions) as two products over the two halves of K,
   * the second into a buffer of its own, added to C afterwards: each a thread's work. Split by rows
   * or columns instead, every chunk would pack all of the deep operand that its C slice shares (on
   * two threads 64x512x3136 then ran at 73-80 GFLOP/s where other products of its size ran at
   * 93-107). Cut the same way whatever the threads, so one and two threads still agree bit for bit.
   * `cutInSegments` says which products; `kSegments` makes the two.
   */
  private cutInSegments(job: Job): boolean {
    const { M, N, K } = job;
    return job.transA && !job.transB && K >= 4 * Math.max(M, N) && K >= 2 * this.blocking.kc;
  }

  private kSegments(job: Job): [Job, Job] {
    const { M, N, K } = job;
    const kc = this.blocking.kc;
    const ks = Math.ceil(K / 2 / kc) * kc; // the first segment: whole k blocks
    if (this.partialBytes < M * N * 4) {
      const at = this.arena.tryAlloc(M * N * 4);
      if (at === null) throw new Error("simd matmul: the kernel's memory is full (maxMemoryMiB)");
      [this.partialAt, this.partialBytes] = [at, M * N * 4];
    }
    // A is stored (K, M) and B (K, N): the second segment starts ks rows down both
    return [{ ...job, K: ks }, { ...job, K: K - ks, a: job.a + ks * M * 4, b: job.b + ks * N * 4, c: this.partialAt, accumulate: false }];
  }

  /**
   * Byte offsets for a call's operands, in order: an array that views this kernel's memory (one
   * `storage` handed out, or a part of one, such as a layer's weights in a model's flat buffer) is
   * used where it is, unless it is an output that overlaps another operand, or an output of n
   * floats, n not a multiple of four, that is only a part of a block: a vector pass writes
   * ceil(n/4) vectors, and the last one's spare lanes would land on whatever follows; any other array gets a
   * scratch region, an input (or an output added into) copied in, and an output copied out by
   * `finish`; a number is a scratch region of that many floats. Scratch regions are consecutive in
   * the scratch block, each on a 64-byte line.
   */
  private place(...operands: Operand[]): number[] {
    if (this.disposed) throw new Error("simd matmul: used after dispose()");
    // Plain loops, no closures: this runs on every kernel call, and under tsx every function made
    // at run time is also given its name (esbuild's keepNames), which cost about as much as the
    // rest of a small product's JavaScript.
    this.pending = [];
    const n = operands.length;
    const held: boolean[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const o = operands[i]!;
      held[i] = typeof o !== "number" && this.arena.holds(o.a) && o.a.length >= o.n;
    }
    const offsets: number[] = new Array(n);
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const o = operands[i]!;
      offsets[i] = -1; // in place
      if (typeof o !== "number" && held[i] && (o.use === "in" || (this.padded(o) && !overlapsAnother(operands, held, i)))) continue;
      offsets[i] = bytes;
      bytes += align64((typeof o === "number" ? o : o.n) * 4);
    }
    this.reserveScratch(bytes);
    const at: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const o = operands[i]!;
      if (typeof o === "number") at[i] = this.scratchAt + offsets[i]!;
      else if (offsets[i]! < 0) at[i] = o.a.byteOffset;
      else {
        at[i] = this.scratchAt + offsets[i]!;
        if (o.use !== "out") this.copyIn(o.a, at[i]!, o.n);
        if (o.use !== "in") this.pending.push([at[i]!, o.a, o.n]);
      }
    }
    return at;
  }

  /**
   * Whether a vector pass may write the operand's ceil(n/4) vectors where it lies: n a multiple of
   * four, or a whole block the allocator handed out (padded to a 64-byte line).
   */
  private padded(o: { a: Float32Array; n: number }): boolean {
    return o.n % 4 === 0 || this.blocks.has(o.a);
  }

  /** Copies the current call's outputs that were computed in scratch out to their arrays. */
  private finish(): void {
    for (const [at, a, n] of this.pending) this.copyOut(at, a, n);
    this.pending = [];
  }

  /** Makes the scratch block at least `bytes` long: in place when it is the arena's last block, else a new block. */
  private reserveScratch(bytes: number): void {
    if (bytes <= this.scratchBytes) return;
    const want = Math.max(bytes, Math.ceil(this.scratchBytes * 1.5));
    if (this.arena.isTop(this.scratchAt, this.scratchBytes) && this.arena.extendTop(this.scratchAt, want)) {
      this.scratchBytes = want;
      return;
    }
    const at = this.arena.tryAlloc(want);
    if (at === null) throw new Error("simd matmul: the kernel's memory is full (maxMemoryMiB)");
    this.scratchAt = at;
    this.scratchBytes = want;
  }

  /** Where input `a` (n floats) lies when it is in this memory; else copied to `at` (scratch), which is returned. */
  private inPlaceOr(a: Float32Array, at: number, n: number): number {
    if (this.arena.holds(a) && a.length >= n) return a.byteOffset;
    this.copyIn(a, at, n);
    return at;
  }

  private copyIn(src: Float32Array, at: number, n: number): void {
    this.copiedFloats += n;
    this.f32.set(src.length === n ? src : src.subarray(0, n), at / 4);
  }

  private copyOut(at: number, dst: Float32Array, n: number): void {
    this.copiedFloats += n;
    dst.set(this.f32.subarray(at / 4, at / 4 + n));
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.pool?.stop();
  }
}
