/**
 * A WebAssembly SIMD matmul kernel, same contract as `MatmulKernel` (see ../matmul.ts for the
 * layouts): C (M,N) = op(A)·op(B) [+ C]. It computes in its own WebAssembly.Memory: an operand
 * that already lives there (a step buffer the engine's allocator took from `storage`, see
 * arena.ts) is used in place, any other is copied in (and a result copied back); it packs blocks
 * there and runs a register-tiled f32x4 micro-kernel. The wasm bytes are written by `emit.ts`,
 * nothing else.
 * Optionally spread over worker threads that share that memory (pool.ts). Not an op: the ops call
 * whichever kernel `setMatmulKernel` chose.
 *
 * Same five loops as matmulBlocked (BLIS: Goto & van de Geijn, 2008), the outer three here in JS
 * (`runSlice`), the packing passes and the two inner loops in wasm:
 *
 *   for jc in steps of NC          pack op(B)[pc:+KC, jc:+NC] as NR-wide strips   (wasm packB)
 *     for pc in steps of KC
 *       for ic in steps of MC      pack op(A)[ic:+MC, pc:+KC] as MR-tall strips   (wasm packA)
 *         macro: for each NR strip of B, for each MR strip of A:                  (wasm macro)
 *           C[MR x NR tile] (+)= A strip · B strip                                 (wasm tile)
 *
 * The micro-kernel keeps the MR x NR tile of C in MR·NR/4 v128 locals for the whole kc loop; each
 * step loads NR/4 vectors of B, splats MR values of A (v128.load32_splat) and does MR·NR/4
 * multiply-adds: one f32x4.relaxed_madd each where the engine has relaxed SIMD (`fma`), else an
 * f32x4.mul and an f32x4.add (128-bit SIMD proper has no fused multiply-add).
 */
import type { MatmulKernel } from "../matmul.js";
import type { ActivationKernel } from "../activations.js";
import type { ElementwiseKernel } from "../elementwise.js";
import type { OptimizerKernel } from "../optimizer.js";
import type { BatchNormKernel } from "../batch-norm.js";
import type { ConvLowering } from "../conv-lowering.js";
import { patchDims } from "../conv-lowering.js";
import type { ConvGeometry } from "../im2col.js";
import { Code, i32, moduleBytes, storeTransposed4, storeTransposedPair, v128 } from "./emit.js";
import { emitCol2im, emitFillChannels, emitIm2col, emitIm2colPackA, emitIm2colPackB, emitNchwToRows, emitPadImages, emitRowsToNchw, emitUnpadAdd } from "./im2col-simd.js";
import { emitActivationBackward, emitLeakyRelu, emitRelu, emitTanh } from "./activations-simd.js";
import { emitAdd, emitAddColumnSums, emitFillRows } from "./elementwise-simd.js";
import { emitGemvCols, emitGemvRows, emitOuter } from "./gemv-simd.js";
import { emitClip, emitRmsprop } from "./optimizer-simd.js";
import { emitBnGradSums, emitBnInputGrad, emitBnNormalize, emitBnSquares, emitBnSum } from "./batch-norm-simd.js";
import type { Pass, SpawnWorker } from "./pool.js";
import { CONTROL_BYTES, WorkerPool } from "./pool.js";
import type { ConvJob, ConvKind } from "./conv-chunks.js";
import { convSlotBytes, convUnits, runConvChunks, secondSegment } from "./conv-chunks.js";
import { MemoryArena, align64 } from "./arena.js";
import type { StorageHeap } from "../../storage.js";

/** Register tile and cache blocks; all counts of float32 elements. See DEFAULT_BLOCKING. */
export interface Blocking {
  /** Tile rows; even (packing transposes 4x4 blocks, and a 2x4 block for the last two rows of a 4k+2). */
  mr: number;
  /** Tile columns; a multiple of 4 (one v128 per 4 columns). */
  nr: number;
  /** Rows of an A block (a multiple of mr), depth of the blocks, columns of a B panel (multiple of nr). */
  mc: number;
  kc: number;
  nc: number;
  /** Micro-kernel k steps per loop iteration. A power of two. */
  unroll: number;
  /** Multiply-adds as one relaxed_madd (fused where the CPU can) instead of mul then add. */
  fma?: boolean;
}

// Measured on this project's machine (2-core Xeon of the Sapphire Rapids generation, KVM, node
// 20), where `npm run bench:peak` gives ~47 GFLOP/s per core for 128-bit mul+add:
//
// Tile 4x8. The micro-kernel alone (one tile, strips in L1) ran at 33 GFLOP/s, and every other
// tile tried came within 5% or lower: 3x12 33.7, 6x8 33.4, 4x12 33.3, 5x8 33.0, 2x16 32.9, 3x16
// 31.2, 12x4 29.7, 2x20 28.9, 4x16 27.1, 4x4 26.3, 8x8 25.2. Why: in this loop a v128 load (or
// load32_splat) costs about as much as two f32x4 ops (peak-style loops with 8 accumulators reach
// 47.5 GFLOP/s with 4 loads per iteration, 39.9 with 6, 34.3 with 8), and V8 leaves 15 xmm
// registers, so a tile with more than 12 accumulators spills; no tile that fits gets below ~0.3
// loads per f32x4 op. 4x8 (6 loads per 16 ops, 11 registers) keeps both sizes multiples of 4,
// which packing's 4x4 transposes need. Tiles measured 44-47 GFLOP/s only in loops with fewer loads.
//
// With relaxed SIMD's multiply-add (`fma`), the same 4x8 tile runs whole products 13-18% faster
// (64x512x794: 28.7 -> 33.4 GFLOP/s; 512^3: 31.8 -> 37.6): fewer instructions per k step, the
// limit of a loop this size. The arithmetic peak does not move (bench:peak: 47.5 either way, the
// CPU retires two f32x4 FMAs or two muls and two adds per cycle), and with only 8 accumulators the
// FMA chains' latency caps the tile near 40 (bench:peak's "fma gemm 8"). Tiles with 12
// accumulators (4x12, 12x4) and unrolling measured 22-32, below 4x8, as do shuffles of one A load
// in place of the four splats (same speed, one more register). 6x8, whose 12 accumulators need
// only 2 B vectors beside them, does not spill and is faster: FMA_BLOCKING below.
//
// No unrolling: 2 or 4 k steps per iteration ran at 25 and 18 GFLOP/s against 29 (whole products):
// TurboFan schedules the second step's loads early, runs out of registers and spills accumulators.
//
// Blocks: within +-2% over kc 128..512, mc 64..256, nc 256..1024 (the micro-kernel, not memory,
// is the limit, as for matmulBlocked). These keep a packed A block (128 KiB) and B panel (512 KiB)
// in the 2 MiB L2 and a B strip (8 KiB) in the 48 KiB L1. test/matmul.test.ts has sizes just past
// each block: keep them in step if these change.
//
// Packing in wasm, not JS: for a 512x794 B (transB), packing from the JS array in a JS loop took
// 0.63 ms; copying it into the memory (TypedArray.set, a memcpy) 0.11 ms plus the wasm SIMD pack
// 0.08 ms. Workers cannot read the caller's JS arrays anyway, so they need the copy.
export const DEFAULT_BLOCKING: Blocking = {
  mr: 4,
  nr: 8,
  mc: 128,
  kc: 256,
  nc: 512,
  unroll: 1,
};

// With the multiply-add, the tile is 6x8: 12 accumulators, 2 B vectors and the splat just fit V8's
// 15 registers, and 12 independent FMA chains hide the FMA's latency where 4x8's 8 could not. The
// macro-kernel alone (packed blocks in cache, fma): 4x8 35.4-39.8 GFLOP/s, 5x8 41.8-43.4, 3x12
// 41.2-42.2, 6x8 43.8-46.7 (2x16 39.8-40.5, 3x16 31, 4x12 29-32). Whole products on one thread rose
// 8-14% (64x512x794 33.2 -> 36.5, 3136x64x512 33.3 -> 37.5, 512^3 37.6 -> 43.0; 12544x32x176,
// where packing the tall A weighs more, 29.4 -> 28.6-32.0). The mul + add form gains nothing from
// it (4x8 and 6x8 both 33.8: there the adds, not the chains, are the limit), so it keeps 4x8.
export const FMA_BLOCKING: Blocking = { ...DEFAULT_BLOCKING, mr: 6, mc: 126, fma: true };

/** The blocking `createSimdMatmul` uses: FMA_BLOCKING with the multiply-add, else DEFAULT_BLOCKING. */
export function defaultBlocking(fma: boolean): Blocking {
  return fma ? { ...FMA_BLOCKING } : { ...DEFAULT_BLOCKING, fma: false };
}

const PAGE = 65536;

/** The exports of one kernel instance; every pointer is a byte offset into the memory. */
export interface KernelExports {
  /** Packs X[0:kc rows, 0:n cols] (row stride ld bytes) as strips of w columns: dst[s][p][0:w]. */
  packA_N(src: number, ld: number, n: number, kc: number, dst: number): void;
  packB_N(src: number, ld: number, n: number, kc: number, dst: number): void;
  /** Packs X[0:n rows, 0:kc cols] (row stride ld bytes) transposed into the same strip layout. */
  packA_T(src: number, ld: number, n: number, kc: number, dst: number): void;
  packB_T(src: number, ld: number, n: number, kc: number, dst: number): void;
  /** C[0:mc, 0:nc] (row stride ldc bytes) (+)= packed A block · packed B panel; tmp: mr·nr floats. */
  macro(mc: number, nc: number, kc: number, pa: number, pb: number, c: number, ldc: number, add: number, tmp: number): void;
  /** gemv-simd.ts: products with a side of one (a column, a row, or K = 1). */
  gemvRows(r: number, ldr: number, x: number, y: number, n: number, K: number, accumulate: number): void;
  gemvCols(x: number, r: number, ldr: number, y: number, n: number, K: number, accumulate: number): void;
  outer(a: number, b: number, c: number, M: number, N: number, accumulate: number): void;
  /** dst's rows (ld bytes apart) = src[0..cols): C starting from a bias (elementwise-simd.ts). */
  fillRows(src: number, dst: number, ld: number, rows: number, cols: number): void;
  /** kernels/wasm/im2col-simd.ts: cols (N*OH*OW, C*KH*KW) from an image, and its adjoint (+=). */
  im2col(x: number, cols: number, N: number, C: number, H: number, W: number, KH: number, KW: number, S: number, P: number, OH: number, OW: number): void;
  col2im(cols: number, x: number, N: number, C: number, H: number, W: number, KH: number, KW: number, S: number, P: number, OH: number, OW: number): void;
  /** out[c] += Σ over rows of g[r, c], rows ld floats apart (elementwise-simd.ts). */
  addColumnSums(g: number, rows: number, cols: number, ld: number, out: number): void;
  /** x (+)= the inside of padded images; written over from a bias when asked (im2col-simd.ts). */
  unpadAdd(xp: number, x: number, N: number, C: number, H: number, W: number, P: number, overwrite: number, bias: number): void;
  /** Images with zeros around every plane (im2col-simd.ts). */
  padImages(x: number, xp: number, N: number, C: number, H: number, W: number, P: number): void;
  /** A 4x4 kernel's im2col rows, from padded images, packed as an A block of mr-row strips (im2col-simd.ts). */
  im2colPackA(xp: number, dst: number, C: number, Hp: number, Wp: number, S: number, OH: number, OW: number, n: number, oh: number, ow: number, rows: number, c0: number, cn: number): void;
  /** A 4x4 kernel's im2col rows packed as a B panel of 8-column strips (im2col-simd.ts). */
  im2colPackB(x: number, dst: number, C: number, H: number, W: number, S: number, P: number, OH: number, OW: number, n: number, oh: number, ow: number, kc: number, c0: number, cn: number): void;
  /** (N,C,S) <-> (N*S,C), im2col-simd.ts; rowsToNchw adds bias[c] unless the bias pointer is 0. */
  nchwToRows(x: number, rows: number, N: number, C: number, S: number): void;
  rowsToNchw(rows: number, x: number, N: number, C: number, S: number, bias: number): void;
  /** x (N,C,S) = bias[c] per channel, zeros if the bias pointer is 0 (im2col-simd.ts). */
  fillChannels(x: number, N: number, C: number, S: number, bias: number): void;
  /** activations-simd.ts: over ceil(n/4) vectors of 64-byte-aligned regions. */
  relu(x: number, out: number, n: number): void;
  leakyRelu(x: number, out: number, n: number, slope: number): void;
  activationBackward(x: number, g: number, gx: number, n: number, slope: number, accumulate: number): void;
  tanh(x: number, out: number, n: number): void;
  /** batch-norm-simd.ts. */
  bnSum(x: number, N: number, C: number, S: number, sum: number, ld: number): void;
  bnSquares(x: number, N: number, C: number, S: number, mean: number, sq: number, ld: number): void;
  bnNormalize(x: number, N: number, C: number, S: number, mean: number, invStd: number, gamma: number, beta: number, xhat: number, out: number): void;
  bnGradSums(g: number, xhat: number, N: number, C: number, S: number, sumG: number, sumGH: number, ld: number): void;
  bnInputGrad(g: number, xhat: number, N: number, C: number, S: number, scale: number, mg: number, mgh: number, gx: number, accumulate: number): void;
  /** elementwise-simd.ts: out = a + b over ceil(n/4) vectors. */
  add(a: number, b: number, out: number, n: number): void;
  /** optimizer-simd.ts: RMSprop's update of w and v, and clipping w into [-c, c], over ceil(n/4) vectors. */
  rmsprop(w: number, g: number, v: number, n: number, lr: number, alpha: number, oneMinusAlpha: number, eps: number, clip: number): void;
  clip(w: number, n: number, c: number): void;
}

// ---------------------------------------------------------------------------------------------
// Code generation. Loops are written as the wasm idiom
//   block  loop  (exit test) br_if 1  body  br 0  end  end
// so "br_if 1" leaves the loop and "br 0" repeats it.

/**
 * tile(kc, a, b, c, ldc, add): the micro-kernel. a: packed A strip (kc steps of mr floats),
 * b: packed B strip (kc steps of nr floats), c: the tile's top-left in C, ldc: C's row stride in
 * bytes; add = 0 stores the product, otherwise adds it to C. kc >= 1. Adding starts the
 * accumulators from C's values rather than adding the finished sums to C, so a product over k in
 * several calls (k blocks, or a gradient summed over two batches) rounds as one chain over all k.
 */
function emitTile(bl: Blocking): Code {
  const { mr, nr, unroll } = bl;
  const nv = nr / 4; // v128 per tile row
  const f = new Code([i32, i32, i32, i32, i32, i32]);
  const [kc, a, b, c, ldc, add] = [0, 1, 2, 3, 4, 5];
  const aEnd = f.local(i32);
  const aMid = f.local(i32);
  const acc: number[] = [];
  for (let r = 0; r < mr * nv; r++) acc.push(f.local(v128)); // acc[r*nv + v]: row r, columns 4v..4v+3
  const bv: number[] = [];
  for (let v = 0; v < nv; v++) bv.push(f.local(v128));
  const s = f.local(v128);
  const stepA = mr * 4;
  const stepB = nr * 4;

  // One k step at byte offsets (oa, ob) from the pointers: load the B row, then per A value one
  // splat and nv multiply-adds into that row's accumulators.
  const step = (oa: number, ob: number): void => {
    for (let v = 0; v < nv; v++) f.get(b).v128Load(ob + 16 * v).set(bv[v]!);
    for (let r = 0; r < mr; r++) {
      f.get(a).v128Load32Splat(oa + 4 * r).set(s);
      for (let v = 0; v < nv; v++) {
        const x = acc[r * nv + v]!;
        if (bl.fma) f.get(s).get(bv[v]!).get(x).f32x4RelaxedMadd().set(x);
        else f.get(x).get(s).get(bv[v]!).f32x4Mul().f32x4Add().set(x);
      }
    }
  };

  // Accumulators start at zero (locals do), or at C's values when adding.
  const cr = f.local(i32);
  f.get(add).if().get(c).set(cr);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < nv; v++) f.get(cr).v128Load(16 * v).set(acc[r * nv + v]!);
    if (r + 1 < mr) f.incBy(cr, ldc);
  }
  f.end();
  // aEnd = a + kc*mr*4; aMid = a + (kc % unroll)*mr*4.
  f.get(a).get(kc).i32(stepA).mul().add().set(aEnd);
  f.get(a).get(kc).i32(unroll - 1).and_().i32(stepA).mul().add().set(aMid);
  // Leftover steps one at a time, until a reaches aMid.
  f.block().loop().get(a).get(aMid).geU().brIf(1);
  step(0, 0);
  f.inc(a, stepA).inc(b, stepB).br(0).end().end();
  // The rest `unroll` steps per iteration, offsets in the instructions' immediates.
  f.block().get(a).get(aEnd).geU().brIf(0).loop();
  for (let u = 0; u < unroll; u++) step(u * stepA, u * stepB);
  f.inc(a, stepA * unroll).inc(b, stepB * unroll).get(a).get(aEnd).ltU().brIf(0).end().end();

  // Write the tile: row r at c + r*ldc.
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < nv; v++) f.get(c).get(acc[r * nv + v]!).v128Store(16 * v);
    if (r + 1 < mr) f.incBy(c, ldc);
  }
  return f;
}

/**
 * macro(mc, nc, kc, pa, pb, c, ldc, add, tmp): every tile of the mc x nc block of C. B strips in
 * the outer loop (one KC x NR strip, 8 KiB, stays in L1 across all A strips), A strips inside.
 * A tile cut by C's edge is computed whole in tmp (mr x nr floats), its rows x cols corner copied
 * from C first when adding and back into C after, by scalar loops. Calls function `tileFn`.
 */
function emitMacro(bl: Blocking, tileFn: number): Code {
  const { mr, nr } = bl;
  const f = new Code([i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [mc, nc, kc, pa, pb, c, ldc, add, tmp] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const js = f.local(i32), is = f.local(i32);
  const bs = f.local(i32), as = f.local(i32), ct = f.local(i32);
  const rows = f.local(i32), cols = f.local(i32), r = f.local(i32), j = f.local(i32);
  const stripA = f.local(i32); // bytes per packed A strip: kc*mr*4
  const stripB = f.local(i32);
  f.get(kc).i32(mr * 4).mul().set(stripA);
  f.get(kc).i32(nr * 4).mul().set(stripB);
  f.i32(0).set(js).get(pb).set(bs);
  f.block().loop().get(js).get(nc).geU().brIf(1); // for js in 0..nc step nr
  {
    f.i32(0).set(is).get(pa).set(as);
    f.get(c).get(js).i32(4).mul().add().set(ct); // tile pointer for (is, js)
    f.block().loop().get(is).get(mc).geU().brIf(1); // for is in 0..mc step mr
    {
      f.get(mc).get(is).sub().set(rows).get(nc).get(js).sub().set(cols);
      f.get(rows).i32(mr).geU().get(cols).i32(nr).geU().and_().if();
      f.get(kc).get(as).get(bs).get(ct).get(ldc).get(add).call(tileFn);
      f.else();
      {
        // Edge tile: when adding, tmp[r][j] = C[r][j] for the corner; the whole tile in tmp; then C[r][j] = tmp[r][j].
        f.get(rows).i32(mr).geU().if().i32(mr).set(rows).end();
        f.get(cols).i32(nr).geU().if().i32(nr).set(cols).end();
        /** for r < rows, j < cols: C[r][j] -> tmp[r][j] (toTmp) or back. */
        const corner = (toTmp: boolean): void => {
          f.i32(0).set(r).block().loop().get(r).get(rows).geU().brIf(1);
          f.i32(0).set(j).block().loop().get(j).get(cols).geU().brIf(1);
          const cAt = (): void => void f.get(ct).get(r).get(ldc).mul().add().get(j).i32(4).mul().add(); // ct + r*ldc + j*4
          const tAt = (): void => void f.get(tmp).get(r).i32(nr).mul().get(j).add().i32(4).mul().add(); // tmp + (r*nr + j)*4
          if (toTmp) {
            tAt();
            cAt();
          } else {
            cAt();
            tAt();
          }
          f.f32Load().f32Store();
          f.inc(j, 1).br(0).end().end();
          f.inc(r, 1).br(0).end().end();
        };
        f.get(add).if();
        corner(true);
        f.end();
        f.get(kc).get(as).get(bs).get(tmp).i32(nr * 4).get(add).call(tileFn);
        corner(false);
      }
      f.end();
      f.inc(is, mr).incBy(as, stripA).get(ct).get(ldc).i32(mr).mul().add().set(ct);
      f.br(0);
    }
    f.end().end();
    f.inc(js, nr).incBy(bs, stripB).br(0);
  }
  f.end().end();
  return f;
}

/**
 * packN(src, ld, n, kc, dst) for strip width w: X is kc rows of n floats (row stride ld bytes);
 * strip s of dst holds, for each p, X[p][s*w : s*w+w] (w floats, zero past column n).
 * Full strips are filled four at a time, down the kc rows: each row gives 4w floats side by side
 * (w/4 v128 per strip, the last two floats of a w = 4k+2 row as one i64), which go to the four
 * strips' rows p; then the full strips left over one at a time, and the last, partial strip zeroed
 * then filled by scalar copies. Strip by strip, every row gave w floats (32 bytes of its 64-byte
 * line): with ld a power of two (the models' 512- and 1024-wide matrices) the kc rows share a few
 * cache sets and evicted each other before the next strip read the rest of their lines (a 256x512
 * block on one thread: 17.5 GB/s with ld = 512 floats and 10.8 with 1024, against 29.4 with 794;
 * four strips at a time, 43.4, 35.5 and 39.4). w is even (checkBlocking).
 */
function emitPackN(w: number): Code {
  const f = new Code([i32, i32, i32, i32, i32]);
  const [src, ld, n, kc, dst] = [0, 1, 2, 3, 4];
  const G = 4; // strips filled together
  const js = f.local(i32), p = f.local(i32), x = f.local(i32), cols = f.local(i32), j = f.local(i32);
  const stripBytes = f.local(i32);
  const d: number[] = Array.from({ length: G }, () => f.local(i32)); // each strip's next row in dst
  f.get(kc).i32(w * 4).mul().set(stripBytes);
  /** Strips js/w .. js/w + S - 1 (all full): for each p, X[p][js : js + S*w] to their rows p. */
  const strips = (S: number): void => {
    f.get(src).get(js).i32(4).mul().add().set(x); // x = &X[0][js]
    for (let s = 0; s < S; s++) f.get(dst).get(js).get(kc).mul().i32(4).mul().add().get(stripBytes).i32(s).mul().add().set(d[s]!); // strip js/w + s
    f.i32(0).set(p);
    f.block().loop().get(p).get(kc).geU().brIf(1);
    for (let s = 0; s < S; s++) {
      for (let v = 0; v < Math.floor(w / 4); v++) f.get(d[s]!).get(x).v128Load(4 * w * s + 16 * v).v128Store(16 * v);
      if (w % 4 === 2) f.get(d[s]!).get(x).i64Load(4 * w * s + 4 * (w - 2)).i64Store(4 * (w - 2));
      f.inc(d[s]!, w * 4);
    }
    f.incBy(x, ld).inc(p, 1).br(0).end().end();
    f.inc(js, S * w);
  };
  f.i32(0).set(js);
  f.block().loop().get(n).get(js).i32(G * w).add().ltU().brIf(1); // while js + G*w <= n
  strips(G);
  f.br(0).end().end();
  f.block().loop().get(n).get(js).i32(w).add().ltU().brIf(1); // while js + w <= n
  strips(1);
  f.br(0).end().end();
  // the partial strip, if any: columns js .. n
  f.get(n).get(js).sub().set(cols);
  f.get(cols).if();
  f.get(src).get(js).i32(4).mul().add().set(x); // x = &X[0][js]
  f.get(dst).get(js).get(kc).mul().i32(4).mul().add().set(d[0]!); // strip js/w starts js * kc floats in
  f.i32(0).set(p);
  f.block().loop().get(p).get(kc).geU().brIf(1);
  f.get(d[0]!).i32(0).i32(w * 4).memoryFill();
  f.i32(0).set(j).block().loop().get(j).get(cols).geU().brIf(1);
  f.get(d[0]!).get(j).i32(4).mul().add().get(x).get(j).i32(4).mul().add().f32Load().f32Store();
  f.inc(j, 1).br(0).end().end();
  f.inc(d[0]!, w * 4).incBy(x, ld).inc(p, 1).br(0).end().end();
  f.end();
  return f;
}

/**
 * packT(src, ld, n, kc, dst) for strip width w: X is n rows of kc floats (row stride ld bytes);
 * strip s of dst holds, for each p, X[s*w : s*w+w][p] (zero past row n): the transpose of packN.
 * Full strips move 4x4 blocks: four v128 row loads, a 4x4 transpose in four + four shuffles
 * (unpack low/high pairs, then 64-bit halves), four v128 stores; when w = 4k+2 the strip's last two
 * rows go as a 2x4 block: two loads, two shuffles into column pairs, four 64-bit lane stores.
 * Leftover columns (kc % 4) and the partial strip go element by element. w is even (checkBlocking).
 */
function emitPackT(w: number): Code {
  const f = new Code([i32, i32, i32, i32, i32]);
  const [src, ld, n, kc, dst] = [0, 1, 2, 3, 4];
  const js = f.local(i32), p = f.local(i32), x = f.local(i32), rows = f.local(i32), r = f.local(i32);
  const kc4 = f.local(i32), d = f.local(i32), xr = f.local(i32);
  const row: number[] = [0, 1, 2, 3].map(() => f.local(v128));
  const t: number[] = [0, 1, 2, 3].map(() => f.local(v128));
  f.get(kc).i32(~3).and_().set(kc4);
  f.i32(0).set(js);
  f.block().loop().get(js).get(n).geU().brIf(1); // for js in 0..n step w
  {
    f.get(src).get(js).get(ld).mul().add().set(x); // x = &X[js][0]
    f.get(n).get(js).sub().set(rows);
    f.i32(0).set(p);
    f.get(rows).i32(w).geU().if();
    {
      // 4 columns at a time: for each group g of 4 rows, transpose X[js+4g : +4][p : p+4].
      f.block().loop().get(p).get(kc4).geU().brIf(1);
      for (let g = 0; g < Math.floor(w / 4); g++) {
        for (let q = 0; q < 4; q++) {
          // row[q] = X[js + 4g + q][p : p+4]
          f.get(x).get(ld).i32(4 * g + q).mul().add().get(p).i32(4).mul().add().v128Load().set(row[q]!);
        }
        // column p+q of the 4 rows to dst + ((p+q)*w + 4g)*4
        storeTransposed4(f, row, t, () => f.get(dst).get(p).i32(w * 4).mul().add(), (q) => (q * w + 4 * g) * 4);
      }
      if (w % 4 === 2) {
        // rows js+w-2 and js+w-1: column p+q's pair to dst + ((p+q)*w + w-2)*4
        for (let q = 0; q < 2; q++) f.get(x).get(ld).i32(w - 2 + q).mul().add().get(p).i32(4).mul().add().v128Load().set(row[q]!);
        storeTransposedPair(f, row, t, () => f.get(dst).get(p).i32(w * 4).mul().add(), (q) => (q * w + w - 2) * 4);
      }
      f.inc(p, 4).br(0).end().end();
      // Leftover columns p in kc4..kc: dst[p*w + r] = X[js+r][p].
      f.block().loop().get(p).get(kc).geU().brIf(1);
      f.get(dst).get(p).i32(w * 4).mul().add().set(d);
      f.get(x).get(p).i32(4).mul().add().set(xr);
      for (let rr = 0; rr < w; rr++) f.get(d).get(xr).get(ld).i32(rr).mul().add().f32Load().f32Store(4 * rr);
      f.inc(p, 1).br(0).end().end();
    }
    f.else();
    {
      // Partial strip: zero it, then dst[p*w + r] = X[js+r][p] for the rows that exist.
      f.get(dst).i32(0).get(kc).i32(w * 4).mul().memoryFill();
      f.i32(0).set(r).block().loop().get(r).get(rows).geU().brIf(1);
      f.get(x).get(r).get(ld).mul().add().set(xr).get(dst).get(r).i32(4).mul().add().set(d).i32(0).set(p);
      f.block().loop().get(p).get(kc).geU().brIf(1);
      f.get(d).get(xr).f32Load().f32Store();
      f.inc(d, w * 4).inc(xr, 4).inc(p, 1).br(0).end().end();
      f.inc(r, 1).br(0).end().end();
    }
    f.end();
    f.get(dst).get(kc).i32(w * 4).mul().add().set(dst);
    f.inc(js, w).br(0);
  }
  f.end().end();
  return f;
}

/** The kernel module for one blocking: its functions over an imported memory env.memory. */
export function kernelModuleBytes(bl: Blocking, memory: { min: number; max: number; shared: boolean }): Uint8Array<ArrayBuffer> {
  checkBlocking(bl);
  // Function indices: 0 tile, 1 macro (calls 0), 2-5 the packers, 6-9 the convolution lowerings,
  // 10-12 the activations, 13-17 batch norm, 18 the element-wise sum, 19-20 the optimizer's passes,
  // 21 tanh, 22 fillChannels, 23-25 the packers straight from images, 26 unpadAdd, 27 addColumnSums,
  // 28-30 the products with a side of one, 31 fillRows.
  const fns = [
    emitTile(bl), emitMacro(bl, 0), emitPackN(bl.mr), emitPackT(bl.mr), emitPackN(bl.nr), emitPackT(bl.nr),
    emitIm2col(), emitCol2im(), emitNchwToRows(), emitRowsToNchw(),
    emitRelu(), emitLeakyRelu(), emitActivationBackward(),
    emitBnSum(), emitBnSquares(), emitBnNormalize(), emitBnGradSums(), emitBnInputGrad(),
    emitAdd(), emitRmsprop(), emitClip(), emitTanh(), emitFillChannels(), emitIm2colPackB(), emitPadImages(), emitIm2colPackA(bl.mr), emitUnpadAdd(), emitAddColumnSums(),
    emitGemvRows(), emitGemvCols(), emitOuter(), emitFillRows(),
  ];
  return moduleBytes({ module: "env", field: "memory", ...memory }, fns, {
    macro: 1, packA_N: 2, packA_T: 3, packB_N: 4, packB_T: 5, im2col: 6, col2im: 7, nchwToRows: 8, rowsToNchw: 9,
    relu: 10, leakyRelu: 11, activationBackward: 12,
    bnSum: 13, bnSquares: 14, bnNormalize: 15, bnGradSums: 16, bnInputGrad: 17, add: 18,
    rmsprop: 19, clip: 20, tanh: 21, fillChannels: 22, im2colPackB: 23, padImages: 24, im2colPackA: 25, unpadAdd: 26, addColumnSums: 27,
    gemvRows: 28, gemvCols: 29, outer: 30, fillRows: 31,
  });
}

function checkBlocking(bl: Blocking): void {
  const ok = bl.mr % 2 === 0 && bl.nr % 4 === 0 && bl.mr > 0 && bl.nr > 0 && bl.mc % bl.mr === 0 && bl.nc % bl.nr === 0
    && bl.kc > 0 && bl.unroll > 0 && (bl.unroll & (bl.unroll - 1)) === 0;
  if (!ok) throw new Error(`simd matmul: bad blocking ${JSON.stringify(bl)}`);
}

/**
 * Whether this engine runs WebAssembly 128-bit SIMD: validates a one-instruction SIMD module
 * (v128.const; drop). Callers fall back to the JS kernels when it is false.
 */
export function simdAvailable(): boolean {
  return validates(new Code([]).f32x4Const(0).drop());
}

/** Whether this engine accepts a module made of the one function `f` (false without WebAssembly). */
function validates(f: Code): boolean {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.validate !== "function") return false;
  try {
    return WebAssembly.validate(moduleBytes({ module: "env", field: "memory", min: 1 }, [f], {}));
  } catch {
    return false;
  }
}

/**
 * Whether this engine has relaxed SIMD's f32x4.relaxed_madd (browsers since 2023, Node 22; Node 20
 * behind V8's --experimental-wasm-relaxed-simd, which src/io/wasm-features.ts turns on).
 */
export function relaxedSimdAvailable(): boolean {
  return simdAvailable() && validates(new Code([]).f32x4Const(0).f32x4Const(0).f32x4Const(0).f32x4RelaxedMadd().drop());
}

/** Whether worker threads can share a WebAssembly.Memory here (SharedArrayBuffer and Atomics). */
export function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics !== "object") return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Memory layout, in bytes: [control block][slot 0][slot 1]...[arena.ts's blocks: the scratch
// block, step buffers]. A slot is one thread's scratch: an edge tile, a packed A block and a packed
// B panel. Regions start on 64-byte lines.


/** Byte offsets of thread `slot`'s scratch. */
export interface Scratch {
  tmp: number;
  packA: number;
  packB: number;
  /** PANEL_FLOATS floats: one operand of a shared product packed whole (packPanel). */
  panel: number;
}

/**
 * Floats of a thread's panel: the operand every chunk of a shared product needs (all of op(A) when
 * the threads split C's columns, all of op(B) when they split its rows), packed once per thread and
 * job instead of once per chunk. 1 MiB: the mlp's largest, op(A) of 128x794, is 0.1M floats.
 */
export const PANEL_FLOATS = 1 << 18;

export function slotScratch(bl: Blocking, slot: number): Scratch {
  const tmp = CONTROL_BYTES + slot * slotBytes(bl);
  const packA = tmp + align64(bl.mr * bl.nr * 4);
  const packB = packA + align64(bl.mc * bl.kc * 4);
  return { tmp, packA, packB, panel: packB + align64(bl.kc * bl.nc * 4) };
}

function slotBytes(bl: Blocking): number {
  return align64(bl.mr * bl.nr * 4) + align64(bl.mc * bl.kc * 4) + align64(bl.kc * bl.nc * 4) + PANEL_FLOATS * 4;
}

/** One product, as the pool hands it to a thread: flags and sizes, and where A, B, C sit. */
export interface Job {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  a: number;
  b: number;
  c: number;
  accumulate: boolean;
  /** Where a bias of N floats sits that C starts from in every row (accumulate then ignored); 0 or absent: none. */
  bias?: number;
}

/**
 * Which operand a thread holds packed whole in its panel for a shared product: all of op(A) ("A",
 * the thread computes some of C's columns for all its rows) or all of op(B) ("B", some rows for
 * all columns). Packed per k block as runSlice would pack it, strip after strip: the block at
 * (pc, ic) starts at (rows·pc + ic·kc) floats, rows being M rounded up to whole tiles (B: likewise).
 */
export type Panel = "A" | "B";

/** Rows of op(A) (side "A") or columns of op(B) (side "B") packed: M or N rounded up to whole tiles. */
function panelWidth(bl: Blocking, job: Job, side: Panel): number {
  return side === "A" ? Math.ceil(job.M / bl.mr) * bl.mr : Math.ceil(job.N / bl.nr) * bl.nr;
}

/** Floats op(A) (side "A") or op(B) (side "B") of `job` takes packed whole, in whole tiles. */
export function panelFloats(bl: Blocking, job: Job, side: Panel): number {
  return panelWidth(bl, job, side) * job.K;
}

/** Packs all of op(A) or op(B) of `job` into s.panel, k block after k block (see Panel). */
export function packPanel(ex: KernelExports, bl: Blocking, job: Job, s: Scratch, side: Panel): void {
  const { transA, transB, M, N, K, a, b } = job;
  const width = panelWidth(bl, job, side);
  for (let pc = 0; pc < K; pc += bl.kc) {
    const kc = Math.min(bl.kc, K - pc);
    const dst = s.panel + width * pc * 4;
    if (side === "A") {
      if (transA) ex.packA_N(a + pc * M * 4, M * 4, M, kc, dst);
      else ex.packA_T(a + pc * 4, K * 4, M, kc, dst);
    } else if (transB) ex.packB_T(b + pc * 4, K * 4, N, kc, dst);
    else ex.packB_N(b + pc * N * 4, N * 4, N, kc, dst);
  }
}

/**
 * The outer three loops for C[i0:i1, j0:j1] of `job`, with thread scratch `s`: pack a B panel,
 * pack each A block, run the macro-kernel. Each (i, j) of C is written by exactly one call, so
 * threads given disjoint ranges need no locks. Runs on the calling thread and in workers alike.
 * With `panel`, one operand is already packed whole in s.panel (packPanel) and is read from there.
 */
export function runSlice(ex: KernelExports, bl: Blocking, job: Job, s: Scratch, i0: number, i1: number, j0: number, j1: number, panel?: Panel): void {
  const { transA, transB, M, N, K, a, b, c } = job;
  const width = panel ? panelWidth(bl, job, panel) : 0; // the panel's rows of op(A) or columns of op(B)
  for (let jc = j0; jc < j1; jc += bl.nc) {
    const nc = Math.min(bl.nc, j1 - jc);
    for (let pc = 0; pc < K; pc += bl.kc) {
      const kc = Math.min(bl.kc, K - pc);
      // op(B)[pc:+kc, jc:+nc]: B is (N,K) when transB (rows j), else (K,N) (rows p).
      let pb = s.packB;
      if (panel === "B") pb = s.panel + (width * pc + jc * kc) * 4;
      else if (transB) ex.packB_T(b + (jc * K + pc) * 4, K * 4, nc, kc, pb);
      else ex.packB_N(b + (pc * N + jc) * 4, N * 4, nc, kc, pb);
      const bias = pc === 0 ? job.bias ?? 0 : 0;
      const add = (job.accumulate && !job.bias) || pc > 0 || bias !== 0 ? 1 : 0; // the first k block overwrites C, or adds to the bias
      for (let ic = i0; ic < i1; ic += bl.mc) {
        const mc = Math.min(bl.mc, i1 - ic);
        // op(A)[ic:+mc, pc:+kc]: A is (K,M) when transA (rows p), else (M,K) (rows i).
        let pa = s.packA;
        if (panel === "A") pa = s.panel + (width * pc + ic * kc) * 4;
        else if (transA) ex.packA_N(a + (pc * M + ic) * 4, M * 4, mc, kc, pa);
        else ex.packA_T(a + (ic * K + pc) * 4, K * 4, mc, kc, pa);
        // the block's rows start as the bias, here where the macro-kernel is about to read them from cache
        if (bias !== 0) ex.fillRows(bias + jc * 4, c + (ic * N + jc) * 4, N * 4, mc, nc);
        ex.macro(mc, nc, kc, pa, pb, c + (ic * N + jc) * 4, N * 4, add, s.tmp);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The kernel object.

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
  const parallel = { work: opts.minParallelWork ?? MIN_PARALLEL_WORK, tiles: opts.minParallelTiles ?? MIN_PARALLEL_TILES, pass: opts.minParallelPass ?? MIN_PARALLEL_PASS };
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
    /** Thresholds below which work stays on the calling thread (SimdMatmulOptions' minParallel*). */
    private readonly parallel: { work: number; tiles: number; pass: number },
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
      this.runConv({ kind: "colsTimesWt", g, P, image: px, weight: pw, nchw: acc ? pres : pout, dW: 0, partial: 0, bias: bias ? pbias : 0, fill: false, scratch: pscratch, ...ch.job });
      if (acc) this.pass("add", [pout, pres, pout, R * P], 3, [4, 4, 4, 0], R * P, 16, R * P);
      this.finish();
    },
    addAtTimesIm2col: (A, P, x, g, dW) => {
      const { R, CKK } = patchDims(g);
      const ch = this.convChunking("rowsTimesCols", g, P);
      const [pA, px, pdw, ppartial, pscratch] = this.place(input(A, R * P), input(x, imageSize(g)), output(dW, P * CKK, true), P * CKK, ch.scratchFloats);
      this.runConv({ kind: "rowsTimesCols", g, P, image: px, weight: 0, nchw: pA, dW: pdw, partial: ppartial, bias: 0, fill: false, scratch: pscratch, ...ch.job });
      if (secondSegment(g.N) < g.N) this.ex.add(pdw, ppartial, pdw, P * CKK); // dW += the second segment's sum
      this.finish();
    },
    addCol2imOfProduct: (A, P, w, g, img, opts = {}) => {
      const { R, CKK } = patchDims(g);
      const { overwrite = false, bias } = opts;
      const ch = this.convChunking("col2imOfProduct", g, P);
      const [pA, pw, pimg, pbias, pscratch] = this.place(input(A, R * P), input(w, P * CKK), output(img, imageSize(g), !overwrite),
        bias ? input(bias, g.C) : 0, ch.scratchFloats);
      this.runConv({ kind: "col2imOfProduct", g, P, image: pimg, weight: pw, nchw: pA, dW: 0, partial: 0, bias: bias ? pbias : 0, fill: overwrite, scratch: pscratch, ...ch.job });
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
      // kernel's own, which fills each block just before its first k block (runSlice)
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
