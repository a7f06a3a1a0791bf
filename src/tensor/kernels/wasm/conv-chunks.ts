/**
 * The three convolution lowerings (conv-lowering.ts) made a chunk of images at a time, each chunk
 * start to finish on one thread: its rows (the NCHW side as a row per position) and its cols
 * (im2col of its images) are a few hundred kilobytes of that thread's scratch, written and read
 * again while they are still in the core's cache, instead of whole-batch matrices (6.4 MB of cols
 * on the conv models' middle layers) that a pass writes out to memory and the product reads back.
 * One dispatch per lowering, too, where the whole-batch way made three or four (layout, im2col,
 * product, col2im), each ending in a wait for the slowest thread. P counts the channels of the
 * NCHW side, as in conv-lowering.ts (not the padding, which is in the geometry).
 *
 *   colsTimesWt      out (N,P,OH,OW) = im2col(x) · Wᵀ as NCHW (+ bias[p])     per chunk: im2col, product, rowsToNchw
 *   rowsTimesCols    dW (P,CKK) += (A as rows)ᵀ · im2col(x)                  per chunk: nchwToRows, im2col, product
 *                    (a 4x4 kernel: nchwToRows, then the product with each B panel packed straight
 *                    from the image, im2colPackB: no cols written)
 *   col2imOfProduct  img (N,C,H,W) (+)= col2im((A as rows) · W)              per chunk: nchwToRows, product, [fillChannels,] col2im
 *
 * colsTimesWt and col2imOfProduct write disjoint images per chunk, so threads claim chunks freely;
 * each output float is computed by the same product and pass as over the whole batch, so the bits
 * do not depend on the chunking or the threads. rowsTimesCols sums over every image into one dW:
 * it is cut into `segments` fixed segments of the batch (segmentStart), the first added into dW and
 * each other one written into its own part of `partial` (the caller then adds those to dW, in
 * order), threads claiming segments as they come, each segment's chunks in order. The micro-kernel
 * starts a sum from the C it adds to (matmul-simd.ts), so a segment made chunk by chunk rounds as
 * one product over it; one thread and two make the same segments.
 * Pointers are byte offsets into the kernel's memory.
 */
import type { ConvGeometry } from "../im2col.js";
import { patchDims } from "../conv-lowering.js";
import type { Blocking, KernelExports, Scratch } from "./matmul-simd.js";
import { runSlice, slotScratch } from "./matmul-simd.js";

export const CONV_KINDS = ["colsTimesWt", "rowsTimesCols", "col2imOfProduct"] as const;
export type ConvKind = (typeof CONV_KINDS)[number];

/** One lowering over a batch, as each thread reads it. */
export interface ConvJob {
  kind: ConvKind;
  g: ConvGeometry;
  /** Channels of the NCHW side (the product's other dimension). */
  P: number;
  /** The image side (N,C,H,W): im2col's input, or col2im's output (added into). */
  image: number;
  /** W (P, CKK): colsTimesWt and col2imOfProduct. */
  weight: number;
  /** The NCHW side (N,P,OH,OW): colsTimesWt's output (written over), the others' A. */
  nchw: number;
  /** rowsTimesCols: dW, added into, and the other segments' sums (segments - 1, P, CKK), written over. */
  dW: number;
  partial: number;
  /** rowsTimesCols: segments of the batch, at most N (each one image or more). */
  segments: number;
  /** colsTimesWt: bias (P), or 0. col2imOfProduct with `fill`: bias (C), or 0 for zeros. */
  bias: number;
  /** col2imOfProduct: each chunk's images are first written over with the bias (or zeros), then added into. */
  fill: boolean;
  /** Thread `slot`'s rows and cols for a chunk start at scratch + slot * slotBytes. */
  scratch: number;
  slotBytes: number;
  /** Images per chunk. */
  images: number;
}

/** Words of a ConvJob in the pool's control block (pool.ts). */
export const CONV_JOB_WORDS = 23;

export function writeConvJob(words: Int32Array, at: number, j: ConvJob): void {
  const g = j.g;
  const w = [CONV_KINDS.indexOf(j.kind), g.N, g.C, g.H, g.W, g.KH, g.KW, g.stride, g.pad, g.OH, g.OW, j.P,
    j.image, j.weight, j.nchw, j.dW, j.partial, j.bias, +j.fill, j.scratch, j.slotBytes, j.images, j.segments];
  for (let i = 0; i < CONV_JOB_WORDS; i++) words[at + i] = w[i]!;
}

export function readConvJob(words: Int32Array, at: number): ConvJob {
  const w = words.subarray(at, at + CONV_JOB_WORDS);
  return {
    kind: CONV_KINDS[w[0]!]!,
    g: { N: w[1]!, C: w[2]!, H: w[3]!, W: w[4]!, KH: w[5]!, KW: w[6]!, stride: w[7]!, pad: w[8]!, OH: w[9]!, OW: w[10]! },
    P: w[11]!, image: w[12]!, weight: w[13]!, nchw: w[14]!, dW: w[15]!, partial: w[16]!, bias: w[17]!,
    fill: w[18] !== 0, scratch: w[19]!, slotBytes: w[20]!, images: w[21]!, segments: w[22]!,
  };
}

const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/**
 * Bytes of one thread's chunk scratch: rows (images·S, P), then cols (images·S, CKK) or, in the
 * same place, colsTimesWt's padded images (rowsFromImage), whichever is bigger; then, for
 * col2imOfProduct, the padded images it adds cols into (paddedCol2im).
 */
export function convSlotBytes(kind: ConvKind, g: ConvGeometry, P: number, images: number): number {
  const rows = images * g.OH * g.OW;
  return align64(rows * P * 4) + colsBytes(g, images) + (kind === "col2imOfProduct" ? align64(paddedFloats(g, images) * 4) : 0);
}

/** Bytes of a chunk's cols region (see convSlotBytes). */
function colsBytes(g: ConvGeometry, images: number): number {
  return align64(Math.max(images * g.OH * g.OW * g.C * g.KH * g.KW, paddedFloats(g, images)) * 4);
}

/** Floats of `images` images padded as padImages pads them: (images, C, H + 2P, W + 2P). */
function paddedFloats(g: ConvGeometry, images: number): number {
  return images * g.C * (g.H + 2 * g.pad) * (g.W + 2 * g.pad);
}

/** Chunks (or, for rowsTimesCols, segments) the job has for threads to claim. */
export function convUnits(j: ConvJob): number {
  return j.kind === "rowsTimesCols" ? j.segments : Math.ceil(j.g.N / j.images);
}

/** The first image of segment i of N images cut into `segments` (i = segments: N). */
export function segmentStart(N: number, segments: number, i: number): number {
  return Math.floor((i * N) / segments);
}

/** Where rowsTimesCols' segment i sums: dW for the first, the others each in their P·CKK floats of `partial`. */
export function segmentSum(j: ConvJob, i: number): number {
  return i === 0 ? j.dW : j.partial + (i - 1) * j.P * patchDims(j.g).CKK * 4;
}

/**
 * Claims units (chunks, or segments) with `claim` until none is left, making each with thread
 * `slot`'s scratch. Runs on the calling thread and in workers alike.
 */
export function runConvChunks(ex: KernelExports, bl: Blocking, j: ConvJob, slot: number, claim: () => number): void {
  const units = convUnits(j);
  const { N } = j.g;
  for (let u = claim(); u < units; u = claim()) {
    if (j.kind !== "rowsTimesCols") {
      const n0 = u * j.images;
      convChunk(ex, bl, j, slot, n0, Math.min(j.images, N - n0), 0, false);
      continue;
    }
    const lo = segmentStart(N, j.segments, u), hi = segmentStart(N, j.segments, u + 1);
    const c = segmentSum(j, u);
    for (let n0 = lo; n0 < hi; n0 += j.images) convChunk(ex, bl, j, slot, n0, Math.min(j.images, hi - n0), c, u === 0 || n0 > lo);
  }
}

/** Images [n0, n0 + nb) of the job; rowsTimesCols adds into (or, if not `accumulate`, writes) `c`. */
function convChunk(ex: KernelExports, bl: Blocking, j: ConvJob, slot: number, n0: number, nb: number, c: number, accumulate: boolean): void {
  const { g, P } = j;
  const S = g.OH * g.OW;
  const CKK = g.C * g.KH * g.KW;
  const R = nb * S;
  const rows = j.scratch + slot * j.slotBytes;
  const cols = rows + align64(j.images * S * P * 4);
  const image = j.image + n0 * g.C * g.H * g.W * 4;
  const nchw = j.nchw + n0 * P * S * 4;
  const geometry = [nb, g.C, g.H, g.W, g.KH, g.KW, g.stride, g.pad, g.OH, g.OW] as const;
  const s = slotScratch(bl, slot);
  if (j.kind === "colsTimesWt") {
    if (packsFromImage(g, bl)) rowsFromImage(ex, bl, j, image, cols, nb, rows, s);
    else {
      ex.im2col(image, cols, ...geometry);
      runSlice(ex, bl, { transA: false, transB: true, M: R, N: P, K: CKK, a: cols, b: j.weight, c: rows, accumulate: false }, s, 0, R, 0, P);
    }
    ex.rowsToNchw(rows, nchw, nb, P, S, j.bias);
  } else if (j.kind === "rowsTimesCols") {
    ex.nchwToRows(nchw, rows, nb, P, S);
    if (packsFromImage(g, bl)) addRowsTimesImage(ex, bl, j, image, rows, nb, c, accumulate, s);
    else {
      ex.im2col(image, cols, ...geometry);
      runSlice(ex, bl, { transA: true, transB: false, M: P, N: CKK, K: R, a: rows, b: cols, c, accumulate }, s, 0, P, 0, CKK);
    }
  } else {
    ex.nchwToRows(nchw, rows, nb, P, S);
    runSlice(ex, bl, { transA: false, transB: false, M: R, N: CKK, K: P, a: rows, b: j.weight, c: cols, accumulate: false }, s, 0, R, 0, CKK);
    if (paddedCol2im(g)) {
      // col2im into zeroed padded images, where every window lies inside (its fast path), then
      // the inside added into (or, with fill, written over from the bias into) the images
      const Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
      const padded = cols + colsBytes(g, j.images);
      ex.fillChannels(padded, nb, g.C, Hp * Wp, 0);
      ex.col2im(cols, padded, nb, g.C, Hp, Wp, g.KH, g.KW, g.stride, 0, g.OH, g.OW);
      ex.unpadAdd(padded, image, nb, g.C, g.H, g.W, g.pad, +j.fill, j.fill ? j.bias : 0);
    } else {
      if (j.fill) ex.fillChannels(image, nb, g.C, g.H * g.W, j.bias);
      ex.col2im(cols, image, ...geometry);
    }
  }
}

/**
 * Whether the lowerings pack the operand that is im2col(x) straight from the image, with no cols
 * (im2col-simd.ts): a 4x4 kernel, 16 columns of cols per channel; for rowsTimesCols' B panels
 * (im2colPackB), strips of 8 columns, two per channel, and padding of at most 3 (a masked load
 * reads at most 12 bytes before an image row); for colsTimesWt's A blocks (im2colPackA, from
 * padded images), k blocks of whole channels.
 */
export function packsFromImage(g: ConvGeometry, bl: Blocking): boolean {
  return g.KH === 4 && g.KW === 4 && g.pad <= 3 && bl.nr === 8 && bl.nc % 16 === 0 && bl.kc % 16 === 0;
}

/**
 * Whether col2imOfProduct adds its cols into padded images first: a 4x4 kernel (the one col2im's
 * fast path takes) with padding, where the windows of the first and last output rows and columns
 * reach outside the image and would take col2im's slow path, run by run and float by float.
 * The sums then start from zero, and are added to the image afterwards, instead of starting from
 * the image: a different rounding, within float32 summation order.
 */
export function paddedCol2im(g: ConvGeometry): boolean {
  return g.KH === 4 && g.KW === 4 && g.pad > 0;
}

/**
 * rows (nb·S, P) = im2col(images [n0, n0 + nb) at `image`) · Wᵀ, as runSlice computes it with cols
 * for A, but each A block packed straight from the images, padded first into `padded`: no cols
 * written, none packed. The blocks hold the same floats as packA_T's of cols, so the sums are the same.
 */
function rowsFromImage(ex: KernelExports, bl: Blocking, j: ConvJob, image: number, padded: number, nb: number, rows: number, s: Scratch): void {
  const { g, P } = j;
  const S = g.OH * g.OW;
  const R = nb * S;
  const CKK = g.C * 16;
  const Hp = g.H + 2 * g.pad, Wp = g.W + 2 * g.pad;
  ex.padImages(image, padded, nb, g.C, g.H, g.W, g.pad);
  for (let jc = 0; jc < P; jc += bl.nc) {
    const nc = Math.min(bl.nc, P - jc);
    for (let pc = 0; pc < CKK; pc += bl.kc) {
      const kc = Math.min(bl.kc, CKK - pc);
      ex.packB_T(j.weight + (jc * CKK + pc) * 4, CKK * 4, nc, kc, s.packB); // Wᵀ[pc:+kc, jc:+nc]: W is (P, CKK)
      const add = pc > 0 ? 1 : 0; // the first k block overwrites rows
      for (let ic = 0; ic < R; ic += bl.mc) {
        const mc = Math.min(bl.mc, R - ic);
        const n = Math.floor(ic / S), oh = Math.floor((ic % S) / g.OW), ow = (ic % S) % g.OW;
        ex.im2colPackA(padded, s.packA, g.C, Hp, Wp, g.stride, g.OH, g.OW, n, oh, ow, mc, pc / 16, kc / 16);
        ex.macro(mc, nc, kc, s.packA, s.packB, rows + (ic * P + jc) * 4, P * 4, add, s.tmp, 0);
      }
    }
  }
}

/**
 * c (P, CKK) (+)= rowsᵀ · im2col(images [n0, n0 + nb) at `image`), as runSlice computes it with
 * cols for B, but each B panel packed straight from the image: no cols written, none packed. The
 * panels hold the same floats as packB_N's of cols, so the sums are the same.
 */
function addRowsTimesImage(ex: KernelExports, bl: Blocking, j: ConvJob, image: number, rows: number, nb: number, c: number, accumulate: boolean, s: Scratch): void {
  const { g, P } = j;
  const S = g.OH * g.OW;
  const R = nb * S;
  const CKK = g.C * 16;
  for (let jc = 0; jc < CKK; jc += bl.nc) {
    const nc = Math.min(bl.nc, CKK - jc);
    for (let pc = 0; pc < R; pc += bl.kc) {
      const kc = Math.min(bl.kc, R - pc);
      const n = Math.floor(pc / S), oh = Math.floor((pc % S) / g.OW), ow = (pc % S) % g.OW;
      ex.im2colPackB(image, s.packB, g.C, g.H, g.W, g.stride, g.pad, g.OH, g.OW, n, oh, ow, kc, jc / 16, nc / 16);
      const add = accumulate || pc > 0 ? 1 : 0; // the first k block overwrites c
      for (let ic = 0; ic < P; ic += bl.mc) {
        const mc = Math.min(bl.mc, P - ic);
        ex.packA_N(rows + (pc * P + ic) * 4, P * 4, mc, kc, s.packA); // rowsᵀ[ic:+mc, pc:+kc]: rows is (R, P)
        ex.macro(mc, nc, kc, s.packA, s.packB, c + (ic * CKK + jc) * 4, CKK * 4, add, s.tmp, 0);
      }
    }
  }
}
