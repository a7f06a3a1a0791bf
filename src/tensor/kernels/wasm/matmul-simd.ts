/**
 * The WebAssembly SIMD matrix product: C (M,N) = op(A)·op(B) [+ C] in one WebAssembly.Memory, on
 * byte offsets into it (see ../matmul.ts for the layouts). This file emits the kernel module (the
 * product's tile, macro-kernel and packers, with every other pass's function from its own file),
 * lays out each thread's scratch, and drives one product over a slice of C (`runSlice`), which the
 * calling thread and the workers (pool.ts) alike run. simd-kernel.ts makes of it the engine's
 * kernel object: where operands live, which thread does what. The wasm bytes are written by
 * `emit.ts`, nothing else.
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
import { Code, i32, moduleBytes, storeTransposed4, storeTransposedPair, v128 } from "./emit.js";
import { emitCol2im, emitFillChannels, emitIm2col, emitIm2colPackA, emitIm2colPackB, emitNchwToRows, emitPadImages, emitRowsToNchw, emitUnpadAdd } from "./im2col-simd.js";
import { emitActivationBackward, emitLeakyRelu, emitRelu, emitTanh } from "./activations-simd.js";
import { emitAdd, emitAddColumnSums, emitFillRows } from "./elementwise-simd.js";
import { emitGemvCols, emitGemvRows, emitOuter } from "./gemv-simd.js";
import { emitClip, emitRmsprop } from "./optimizer-simd.js";
import { emitBnGradSums, emitBnInputGrad, emitBnNormalize, emitBnSquares, emitBnSum } from "./batch-norm-simd.js";
import { align64 } from "./arena.js";

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

/** The blocking `createSimdMatmul` (simd-kernel.ts) uses: FMA_BLOCKING with the multiply-add, else DEFAULT_BLOCKING. */
export function defaultBlocking(fma: boolean): Blocking {
  return fma ? { ...FMA_BLOCKING } : { ...DEFAULT_BLOCKING, fma: false };
}

/** Bytes in a WebAssembly page. */
export const PAGE = 65536;

/** The exports of one kernel instance; every pointer is a byte offset into the memory. */
export interface KernelExports {
  /** Packs X[0:kc rows, 0:n cols] (row stride ld bytes) as strips of w columns: dst[s][p][0:w]. */
  packA_N(src: number, ld: number, n: number, kc: number, dst: number): void;
  packB_N(src: number, ld: number, n: number, kc: number, dst: number): void;
  /** Packs X[0:n rows, 0:kc cols] (row stride ld bytes) transposed into the same strip layout. */
  packA_T(src: number, ld: number, n: number, kc: number, dst: number): void;
  packB_T(src: number, ld: number, n: number, kc: number, dst: number): void;
  /** C[0:mc, 0:nc] (row stride ldc bytes) (+)= packed A block · packed B panel; tmp: mr·nr floats; bias: 0, or nc floats every row starts from. */
  macro(mc: number, nc: number, kc: number, pa: number, pb: number, c: number, ldc: number, add: number, tmp: number, bias: number): void;
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
 * tile(kc, a, b, c, ldc, add, bias): the micro-kernel, for `rows` of the strip's mr rows (all of
 * them, or the first 1 .. mr-1 for the last strip of a block whose height is not a whole number of
 * tiles: the macro-kernel's row tiles). a: packed A strip (kc steps of mr floats),
 * b: packed B strip (kc steps of nr floats), c: the tile's top-left in C, ldc: C's row stride in
 * bytes; add = 0 stores the product, otherwise adds it to C; bias, unless 0: where nr floats sit
 * that every row of the tile starts from instead (a linear layer's bias; add is then ignored).
 * kc >= 1. Adding starts the accumulators from C's values rather than adding the finished sums to
 * C, so a product over k in several calls (k blocks, or a gradient summed over two batches) rounds
 * as one chain over all k; starting from the bias rounds as C filled with it, then added to.
 */
function emitTile(bl: Blocking, rows: number = bl.mr): Code {
  const { nr, unroll } = bl;
  const mr = rows; // rows computed and stored; the packed A strip still holds bl.mr floats per k step
  const nv = nr / 4; // v128 per tile row
  const f = new Code([i32, i32, i32, i32, i32, i32, i32]);
  const [kc, a, b, c, ldc, add, bias] = [0, 1, 2, 3, 4, 5, 6];
  const aEnd = f.local(i32);
  const aMid = f.local(i32);
  const acc: number[] = [];
  for (let r = 0; r < mr * nv; r++) acc.push(f.local(v128)); // acc[r*nv + v]: row r, columns 4v..4v+3
  const bv: number[] = [];
  for (let v = 0; v < nv; v++) bv.push(f.local(v128));
  const s = f.local(v128);
  const stepA = bl.mr * 4;
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

  // Accumulators start at zero (locals do), at the bias in every row, or at C's values when adding.
  const cr = f.local(i32);
  f.get(bias).if();
  for (let v = 0; v < nv; v++) f.get(bias).v128Load(16 * v).set(bv[v]!);
  for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) f.get(bv[v]!).set(acc[r * nv + v]!);
  f.else().get(add).if().get(c).set(cr);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < nv; v++) f.get(cr).v128Load(16 * v).set(acc[r * nv + v]!);
    if (r + 1 < mr) f.incBy(cr, ldc);
  }
  f.end().end();
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
 * macro(mc, nc, kc, pa, pb, c, ldc, add, tmp, bias): every tile of the mc x nc block of C. B strips
 * in the outer loop (one KC x NR strip, 8 KiB, stays in L1 across all A strips), A strips inside.
 * bias, unless 0: where the block's nc bias floats sit, which each of its rows starts from (the
 * tiles load them; add is then ignored). Calls function `tileFn` for whole tiles. A tile cut by C's
 * bottom edge alone (rows < mr, all nr columns) goes straight into C by the tile of that many rows
 * (`rowTileFns[rows - 1]`); one cut by the right edge is computed whole in tmp (mr x nr floats), its
 * rows x cols corner first copied there from the bias, or from C when adding, and back into C
 * after, by scalar loops. The models' heights are powers of two and the tile 6 rows tall, so every
 * block of 64 or 128 rows ends in a cut tile: computed whole in tmp it cost as much as 132 rows
 * (128x512x512 on one thread). With the row tiles, toggled every ten batches in one process, both
 * ways round: mlp plain 0.1-0.9% faster (four pairs of runs), conv plain 1.8-5.0% (three pairs);
 * the same bits. With the bias loaded by the tiles rather than written into the block first
 * (`fillRows`), toggled the same way: mlp plain 0.7-2.4% faster (four pairs); the same bits.
 */
function emitMacro(bl: Blocking, tileFn: number, rowTileFns: number[]): Code {
  const { mr, nr } = bl;
  const f = new Code([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [mc, nc, kc, pa, pb, c, ldc, add, tmp, bias] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const js = f.local(i32), is = f.local(i32);
  const bj = f.local(i32); // the strip's bias, or 0
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
    f.get(bias).get(js).i32(4).mul().add().i32(0).get(bias).select().set(bj); // bias ? bias + js*4 : 0
    f.block().loop().get(is).get(mc).geU().brIf(1); // for is in 0..mc step mr
    {
      f.get(mc).get(is).sub().set(rows).get(nc).get(js).sub().set(cols);
      f.get(rows).i32(mr).geU().get(cols).i32(nr).geU().and_().if();
      f.get(kc).get(as).get(bs).get(ct).get(ldc).get(add).get(bj).call(tileFn);
      f.else();
      f.get(cols).i32(nr).geU().if();
      // Full columns, rows < mr: the tile of that many rows, straight into C.
      for (let n = 1; n < mr; n++) f.get(rows).i32(n).eq().if().get(kc).get(as).get(bs).get(ct).get(ldc).get(add).get(bj).call(rowTileFns[n - 1]!).end();
      f.else();
      {
        // Edge tile: tmp[r][j] = bias[j], or C[r][j] when adding, for the corner; the whole tile in
        // tmp, added to that; then C[r][j] = tmp[r][j]. (The tile does not read the bias itself
        // here: nr floats from the strip's bias would run past its end.)
        f.get(rows).i32(mr).geU().if().i32(mr).set(rows).end();
        f.get(cols).i32(nr).geU().if().i32(nr).set(cols).end();
        /** for r < rows, j < cols: C[r][j] (or the bias's [j]) -> tmp[r][j] (to tmp), or tmp[r][j] -> C[r][j]. */
        const corner = (from: "C" | "bias" | "tmp"): void => {
          f.i32(0).set(r).block().loop().get(r).get(rows).geU().brIf(1);
          f.i32(0).set(j).block().loop().get(j).get(cols).geU().brIf(1);
          const cAt = (): void => void f.get(ct).get(r).get(ldc).mul().add().get(j).i32(4).mul().add(); // ct + r*ldc + j*4
          const tAt = (): void => void f.get(tmp).get(r).i32(nr).mul().get(j).add().i32(4).mul().add(); // tmp + (r*nr + j)*4
          if (from === "tmp") {
            cAt();
            tAt();
          } else {
            tAt();
            if (from === "C") cAt();
            else f.get(bj).get(j).i32(4).mul().add(); // bj + j*4
          }
          f.f32Load().f32Store();
          f.inc(j, 1).br(0).end().end();
          f.inc(r, 1).br(0).end().end();
        };
        f.get(bj).if();
        corner("bias");
        f.else().get(add).if();
        corner("C");
        f.end().end();
        f.get(kc).get(as).get(bs).get(tmp).i32(nr * 4).get(add).get(bj).or_().i32(0).call(tileFn);
        corner("tmp");
      }
      f.end();
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
  // The tiles come first, so that the macro-kernel can call them by index: 0 the whole mr x nr
  // tile, 1 .. mr-1 the tiles of 1 .. mr-1 rows (a block's last rows). Every other function is
  // exported by the name beside it, its index its place after the tiles.
  const rowTiles = Array.from({ length: bl.mr - 1 }, (_, n) => 1 + n);
  const tiles = [emitTile(bl), ...rowTiles.map((n) => emitTile(bl, n))];
  const exported: [string, Code][] = [
    ["macro", emitMacro(bl, 0, rowTiles)],
    ["packA_N", emitPackN(bl.mr)], ["packA_T", emitPackT(bl.mr)], ["packB_N", emitPackN(bl.nr)], ["packB_T", emitPackT(bl.nr)],
    ["im2col", emitIm2col()], ["col2im", emitCol2im()], ["nchwToRows", emitNchwToRows()], ["rowsToNchw", emitRowsToNchw()],
    ["relu", emitRelu()], ["leakyRelu", emitLeakyRelu()], ["activationBackward", emitActivationBackward()],
    ["bnSum", emitBnSum()], ["bnSquares", emitBnSquares()], ["bnNormalize", emitBnNormalize()], ["bnGradSums", emitBnGradSums()], ["bnInputGrad", emitBnInputGrad()],
    ["add", emitAdd()], ["rmsprop", emitRmsprop()], ["clip", emitClip()], ["tanh", emitTanh()], ["fillChannels", emitFillChannels()],
    ["im2colPackB", emitIm2colPackB()], ["padImages", emitPadImages()], ["im2colPackA", emitIm2colPackA(bl.mr)], ["unpadAdd", emitUnpadAdd()],
    ["addColumnSums", emitAddColumnSums()], ["gemvRows", emitGemvRows()], ["gemvCols", emitGemvCols()], ["outer", emitOuter()], ["fillRows", emitFillRows()],
  ];
  const functions = [...tiles, ...exported.map(([, f]) => f)];
  const exports = Object.fromEntries(exported.map(([name], i) => [name, tiles.length + i]));
  return moduleBytes({ module: "env", field: "memory", ...memory }, functions, exports);
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

/** Bytes at the start of the memory for the pool's control block (job words, counters: pool.ts). */
export const CONTROL_BYTES = 256;

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

export function slotBytes(bl: Blocking): number {
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

/** Packs op(A)[ic:+mc, pc:+kc] of `job` at dst, as mr-tall strips: A is (K,M) when transA (rows p), else (M,K) (rows i). */
function packBlockA(ex: KernelExports, job: Job, ic: number, mc: number, pc: number, kc: number, dst: number): void {
  const { M, K, a } = job;
  if (job.transA) ex.packA_N(a + (pc * M + ic) * 4, M * 4, mc, kc, dst);
  else ex.packA_T(a + (ic * K + pc) * 4, K * 4, mc, kc, dst);
}

/** Packs op(B)[pc:+kc, jc:+nc] of `job` at dst, as nr-wide strips: B is (N,K) when transB (rows j), else (K,N) (rows p). */
function packBlockB(ex: KernelExports, job: Job, jc: number, nc: number, pc: number, kc: number, dst: number): void {
  const { N, K, b } = job;
  if (job.transB) ex.packB_T(b + (jc * K + pc) * 4, K * 4, nc, kc, dst);
  else ex.packB_N(b + (pc * N + jc) * 4, N * 4, nc, kc, dst);
}

/** Packs all of op(A) or op(B) of `job` into s.panel, k block after k block (see Panel). */
export function packPanel(ex: KernelExports, bl: Blocking, job: Job, s: Scratch, side: Panel): void {
  const width = panelWidth(bl, job, side);
  for (let pc = 0; pc < job.K; pc += bl.kc) {
    const kc = Math.min(bl.kc, job.K - pc);
    const dst = s.panel + width * pc * 4;
    if (side === "A") packBlockA(ex, job, 0, job.M, pc, kc, dst);
    else packBlockB(ex, job, 0, job.N, pc, kc, dst);
  }
}

/**
 * The outer three loops for C[i0:i1, j0:j1] of `job`, with thread scratch `s`: pack a B panel,
 * pack each A block, run the macro-kernel. Each (i, j) of C is written by exactly one call, so
 * threads given disjoint ranges need no locks. Runs on the calling thread and in workers alike.
 * With `panel`, one operand is already packed whole in s.panel (packPanel) and is read from there.
 */
export function runSlice(ex: KernelExports, bl: Blocking, job: Job, s: Scratch, i0: number, i1: number, j0: number, j1: number, panel?: Panel): void {
  const { N, K, c } = job;
  const width = panel ? panelWidth(bl, job, panel) : 0; // the panel's rows of op(A) or columns of op(B)
  for (let jc = j0; jc < j1; jc += bl.nc) {
    const nc = Math.min(bl.nc, j1 - jc);
    for (let pc = 0; pc < K; pc += bl.kc) {
      const kc = Math.min(bl.kc, K - pc);
      let pb = s.packB; // op(B)[pc:+kc, jc:+nc]
      if (panel === "B") pb = s.panel + (width * pc + jc * kc) * 4;
      else packBlockB(ex, job, jc, nc, pc, kc, pb);
      const bias = pc === 0 ? job.bias ?? 0 : 0; // the first k block's rows start from the bias
      const add = (job.accumulate && !job.bias) || pc > 0 ? 1 : 0; // else the first k block overwrites C
      for (let ic = i0; ic < i1; ic += bl.mc) {
        const mc = Math.min(bl.mc, i1 - ic);
        let pa = s.packA; // op(A)[ic:+mc, pc:+kc]
        if (panel === "A") pa = s.panel + (width * pc + ic * kc) * 4;
        else packBlockA(ex, job, ic, mc, pc, kc, pa);
        ex.macro(mc, nc, kc, pa, pb, c + (ic * N + jc) * 4, N * 4, add, s.tmp, bias === 0 ? 0 : bias + jc * 4);
      }
    }
  }
}
