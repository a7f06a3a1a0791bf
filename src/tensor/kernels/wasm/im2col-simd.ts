/**
 * im2col and col2im as WebAssembly functions, for the SIMD kernel's own memory: the same loops as
 * kernels/im2col.ts (read its header for the legend and the layout of cols), emitted as bytes by
 * emit.ts. A convolution lowered in the kernel's memory never copies its cols matrix (C*KH*KW
 * times the output's size) between JavaScript and WebAssembly: only the image and the product do.
 *
 * Both walk cols in its own order, row (n, oh, ow), then (c, i): each step is the run of KW floats
 * from image row ih = oh*S - P + i, columns w0 = ow*S - P onwards, with the image pointer moving
 * down a row per i and to the next channel per c. A run of four floats (every run of a 4x4 kernel)
 * is one v128 load and store (col2im: load, add, store). im2col also takes a run cut by the left
 * or right padding as one vector, zeroing the lanes outside the image under a mask computed once
 * per cols row, (w0 + lane) <u W; such a run reads up to 12 bytes beside the image row, which the
 * kernel's regions leave room for. col2im does not: writing a vector back beside the row would
 * race with the thread adding into the neighbouring image. Its cut runs, and runs of other widths,
 * go one float at a time; a run whose image row lies in the padding is zero (im2col) or skipped
 * (col2im). Row and column tests are one unsigned comparison each: a negative index wraps to a
 * huge unsigned one.
 *
 * A cols row of a 4x4 kernel whose four image rows all lie inside the image (and, for col2im,
 * whose columns do too), as on every output row of the models' layers but the first and the last,
 * takes a fast path with no test per run: per channel four vectors at fixed offsets. On one thread
 * over the critic's second layer (64 images, a 6.4 MB cols), im2col 1.09-1.11 -> 0.46-0.47 ms and
 * col2im 0.79-0.81 -> 0.49-0.51 ms (two runs each); the test-per-run loop was bound by its
 * instructions, about 8 cycles a run, not by memory.
 *
 *   im2col(x, cols, N, C, H, W, KH, KW, S, P, OH, OW)   cols (N*OH*OW, C*KH*KW) overwritten
 *   col2im(cols, x, N, C, H, W, KH, KW, S, P, OH, OW)   x (N,C,H,W) += the adjoint of im2col
 *
 * For a 4x4 kernel the lowerings (conv-chunks.ts) skip cols on the way into a product: the
 * functions after emitCol2im below pack im2col's rows straight into the micro-kernel's
 * layouts (im2colPackB for a B panel, padImages then im2colPackA for an A block), and unpadAdd
 * adds back what col2im summed into padded images. Beside them here, with the cols they replace.
 * And the rest of a lowering's passes: the layout changes between NCHW and rows (nchwToRows,
 * rowsToNchw) and a transposed convolution's starting value (fillChannels).
 * Pointers are byte offsets; sizes are counts of elements.
 */
import { Code, countUp, f32, i32, storeTransposed4, storeTransposedPair, v128 } from "./emit.js";


/** Which of the two: im2col copies image runs into cols, col2im adds cols runs into the image. */
type Direction = "im2col" | "col2im";

function emitLowering(dir: Direction): Code {
  const f = new Code([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  // im2col(x, cols, ...) reads the image and writes cols; col2im(cols, x, ...) the other way.
  const [p0, p1, N, C, H, W, KH, KW, S, P, OH, OW] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const img = dir === "im2col" ? p0 : p1;
  const cols = dir === "im2col" ? p1 : p0;
  const [n, oh, ow, c, i, j] = [f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32), f.local(i32)];
  const ih0 = f.local(i32); // oh*S - P: the image row of kernel row 0
  const ih = f.local(i32);
  const w0 = f.local(i32); // ow*S - P: the image column of kernel column 0
  const quad = f.local(i32); // 1: each run is one v128 (im2col: KW = 4, under `mask`; col2im: KW = 4 and the row's runs inside the image)
  const mask = f.local(v128); // lane l all ones iff image column w0 + l is inside, (w0 + l) <u W
  const pImg = f.local(i32); // byte address of image (n, c, ih, w0), wherever that is
  const pCol = f.local(i32); // byte address in cols, advancing through it in order
  const rowStep = f.local(i32); // W*4: the next image row
  const planeSkip = f.local(i32); // (H - KH)*W*4: from row ih0 + KH of a channel to row ih0 of the next
  const plane = f.local(i32); // H*W*4: the next channel
  const rows4 = [0, f.local(i32), f.local(i32), f.local(i32)]; // k*W*4: kernel row k of a 4x4 kernel
  const k44 = f.local(i32); // 1: a 4x4 kernel and an image at least 4 rows high
  const fast = f.local(i32); // 1: this cols row's 4x4 runs are whole vectors, one per kernel row, no test each

  const loop = (v: number, bound: number, body: () => void): void => countUp(f, v, bound, body);
  /** Float j of the run: cols[pCol + 4j] = img[pImg + 4j], or img[...] += cols[...]. */
  const one = (): void => {
    if (dir === "im2col") f.get(pCol).get(j).i32(4).mul().add().get(pImg).get(j).i32(4).mul().add().f32Load().f32Store();
    else {
      f.get(pImg).get(j).i32(4).mul().add();
      f.get(pImg).get(j).i32(4).mul().add().f32Load().get(pCol).get(j).i32(4).mul().add().f32Load().f32Add().f32Store();
    }
  };

  if (dir === "im2col") f.get(KW).i32(4).eq().set(quad); // col2im sets it per cols row, below
  f.get(W).i32(4).mul().set(rowStep);
  f.get(H).get(KH).sub().get(rowStep).mul().set(planeSkip);
  f.get(H).get(rowStep).mul().set(plane);
  for (let k = 1; k < 4; k++) f.get(rowStep).i32(k).mul().set(rows4[k]!);
  f.get(KH).i32(4).eq().get(KW).i32(4).eq().and_().get(H).i32(4).geS().and_().set(k44);
  f.get(cols).set(pCol);
  loop(n, N, () => loop(oh, OH, () => loop(ow, OW, () => {
    f.get(oh).get(S).mul().get(P).sub().set(ih0);
    f.get(ow).get(S).mul().get(P).sub().set(w0);
    if (dir === "im2col") f.get(w0).i32x4Splat().i32x4Const(0, 1, 2, 3).i32x4Add().get(W).i32x4Splat().i32x4LtU().set(mask);
    // col2im: inside, w0 >= 0 and w0 + KW <= W, that is w0 <=u W - KW (false for negative w0), with KW <= W
    else f.get(w0).get(W).get(KW).sub().leU().get(KW).get(W).leU().and_().get(KW).i32(4).eq().and_().set(quad);
    // pImg = img + (((n*C)*H + ih0)*W + w0)*4: channel 0, kernel row 0
    f.get(img).get(n).get(C).mul().get(H).mul().get(ih0).add().get(W).mul().get(w0).add().i32(4).mul().add().set(pImg);
    // The fast path (see the header): a 4x4 kernel whose four rows all lie inside the image,
    // ih0 <=u H - 4, and for col2im whose columns do too (quad)
    f.get(k44).get(ih0).get(H).i32(4).sub().leU().and_();
    if (dir === "col2im") f.get(quad).and_();
    f.set(fast);
    f.get(fast).if();
    loop(c, C, () => {
      for (let k = 0; k < 4; k++) {
        if (dir === "im2col") {
          f.get(pCol).get(pImg);
          if (k > 0) f.get(rows4[k]!).add();
          f.v128Load().get(mask).v128And().v128Store(16 * k);
        } else {
          f.get(pImg);
          if (k > 0) f.get(rows4[k]!).add();
          f.get(pImg);
          if (k > 0) f.get(rows4[k]!).add();
          f.v128Load().get(pCol).v128Load(16 * k).f32x4Add().v128Store();
        }
      }
      f.incBy(pImg, plane).inc(pCol, 64);
    });
    f.else();
    loop(c, C, () => {
      f.get(ih0).set(ih);
      loop(i, KH, () => {
        f.get(ih).get(H).ltU().if();
        f.get(quad).if();
        if (dir === "im2col") f.get(pCol).get(pImg).v128Load().get(mask).v128And().v128Store();
        else f.get(pImg).get(pImg).v128Load().get(pCol).v128Load().f32x4Add().v128Store();
        f.else();
        // Any other run: float by float; column w0 + j is in the image iff (w0 + j) <u W.
        loop(j, KW, () => {
          f.get(w0).get(j).add().get(W).ltU().if();
          one();
          if (dir === "im2col") f.else().get(pCol).get(j).i32(4).mul().add().f32Const(0).f32Store();
          f.end();
        });
        f.end();
        if (dir === "im2col") f.else().get(pCol).i32(0).get(KW).i32(4).mul().memoryFill(); // a padding row: zeros
        f.end();
        f.inc(ih, 1).incBy(pImg, rowStep).get(pCol).get(KW).i32(4).mul().add().set(pCol);
      });
      f.incBy(pImg, planeSkip);
    });
    f.end();
  })));
  return f;
}

/** im2col(x, cols, N, C, H, W, KH, KW, S, P, OH, OW): see the header. */
export function emitIm2col(): Code {
  return emitLowering("im2col");
}

/** col2im(cols, x, N, C, H, W, KH, KW, S, P, OH, OW): see the header. */
export function emitCol2im(): Code {
  return emitLowering("col2im");
}

/**
 * im2colPackB(x, dst, C, H, W, S, P, OH, OW, n, oh, ow, kc, c0, cn): for a 4x4 kernel, the
 * columns 16·c0 .. 16·(c0+cn) of kc consecutive rows of im2col(x), starting at position (n, oh, ow),
 * written straight in the layout the micro-kernel reads a B panel in (packB_N's for 8-column
 * strips): strip t holds columns 8t..8t+7 of each row, one row after another, kc·8 floats a strip.
 * With 16 columns per channel, strip 2c is kernel rows 0 and 1 of channel c, strip 2c+1 rows 2 and 3:
 * per position and channel, four v128 loads (a kernel row each, its columns outside the image masked
 * to zero as in im2col; a kernel row outside the image reads row 0 under an all-zero mask) and four
 * stores. A weight's gradient (conv-chunks.ts's rowsTimesCols) packs its B operand so from the image
 * instead of writing cols and packing them: the same floats in the same places.
 */
export function emitIm2colPackB(): Code {
  const f = new Code([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [x, dst, C, H, W, S, P, OH, OW, n, oh, ow, kc, c0, cn] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const [r, c] = [f.local(i32), f.local(i32)];
  const ih0 = f.local(i32), w0 = f.local(i32), base = f.local(i32);
  const plane = f.local(i32); // H*W*4 bytes: the next channel
  const strip = f.local(i32); // kc*32 bytes: the next strip
  const qa = f.local(i32), qb = f.local(i32); // this row in strips 2c and 2c+1
  const mask = f.local(v128);
  const rows = [f.local(i32), f.local(i32), f.local(i32), f.local(i32)]; // kernel row k of channel c
  const masks = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  f.get(H).get(W).mul().i32(4).mul().set(plane);
  f.get(kc).i32(32).mul().set(strip);
  countUp(f, r, kc, () => {
    f.get(oh).get(S).mul().get(P).sub().set(ih0);
    f.get(ow).get(S).mul().get(P).sub().set(w0);
    f.get(w0).i32x4Splat().i32x4Const(0, 1, 2, 3).i32x4Add().get(W).i32x4Splat().i32x4LtU().set(mask);
    // base = x + (((n*C + c0)*H)*W + w0)*4: channel c0, image row 0, column w0
    f.get(x).get(n).get(C).mul().get(c0).add().get(H).mul().get(W).mul().get(w0).add().i32(4).mul().add().set(base);
    for (let k = 0; k < 4; k++) {
      // inside = (ih0 + k) <u H; rows[k] = base + (inside ? ih0 + k : 0)*W*4; masks[k] = inside ? mask : 0
      f.get(base).get(ih0).i32(k).add().i32(0).get(ih0).i32(k).add().get(H).ltU().select().get(W).mul().i32(4).mul().add().set(rows[k]!);
      f.get(mask).i32(0).get(ih0).i32(k).add().get(H).ltU().sub().i32x4Splat().v128And().set(masks[k]!);
    }
    // this row's place in strip 0: dst + r*32; strip 1 one strip further
    f.get(dst).get(r).i32(32).mul().add().set(qa);
    f.get(qa).get(strip).add().set(qb);
    countUp(f, c, cn, () => {
      for (let k = 0; k < 4; k++) {
        f.get(k < 2 ? qa : qb).get(rows[k]!).v128Load().get(masks[k]!).v128And().v128Store(16 * (k % 2));
        f.incBy(rows[k]!, plane);
      }
      f.get(qa).get(strip).i32(2).mul().add().set(qa);
      f.get(qb).get(strip).i32(2).mul().add().set(qb);
    });
    // the next position: ow, then oh, then n
    f.inc(ow, 1).get(ow).get(OW).eq().if();
    f.i32(0).set(ow).inc(oh, 1).get(oh).get(OH).eq().if().i32(0).set(oh).inc(n, 1).end();
    f.end();
  });
  return f;
}

/**
 * padImages(x, xp, N, C, H, W, P): xp (N, C, H+2P, W+2P) = x with P zeros around every plane.
 * Zero-fills the whole of xp, then copies each image row into place, its whole vectors as v128s
 * and the rest float by float.
 */
export function emitPadImages(): Code {
  const f = new Code([i32, i32, i32, i32, i32, i32, i32]);
  const [x, xp, N, C, H, W, P] = [0, 1, 2, 3, 4, 5, 6];
  const [rows, r] = [f.local(i32), f.local(i32)];
  const Wp = f.local(i32), src = f.local(i32), dst = f.local(i32), end4 = f.local(i32), end = f.local(i32), d = f.local(i32);
  f.get(W).get(P).get(P).add().add().set(Wp);
  // zeros over all N*C*(H+2P)*Wp floats
  f.get(xp).i32(0).get(N).get(C).mul().get(H).get(P).get(P).add().add().mul().get(Wp).mul().i32(4).mul().memoryFill();
  f.get(N).get(C).mul().get(H).mul().set(rows); // every image row of every plane, in order
  f.get(x).set(src);
  f.get(xp).get(P).get(Wp).mul().get(P).add().i32(4).mul().add().set(dst); // plane 0, row P, column P
  countUp(f, r, rows, () => {
    f.get(src).get(W).i32(-4).and_().i32(4).mul().add().set(end4);
    f.get(src).get(W).i32(4).mul().add().set(end);
    f.get(dst).set(d);
    f.block().loop().get(src).get(end4).geU().brIf(1);
    f.get(d).get(src).v128Load().v128Store().inc(src, 16).inc(d, 16).br(0).end().end();
    f.block().loop().get(src).get(end).geU().brIf(1);
    f.get(d).get(src).f32Load().f32Store().inc(src, 4).inc(d, 4).br(0).end().end();
    // the next row: Wp floats on; past a plane's last row, over its bottom and the next's top padding
    f.get(dst).get(Wp).i32(4).mul().add().set(dst);
    f.get(r).i32(1).add().get(H).remU().eqz().if();
    f.get(dst).get(P).get(P).add().get(Wp).mul().i32(4).mul().add().set(dst);
    f.end();
  });
  return f;
}

/**
 * unpadAdd(xp, x, N, C, H, W, P, overwrite, bias): the inverse of padImages' copy for an image
 * that was added into: x (N, C, H, W) += the inside of xp (N, C, H+2P, W+2P), the P-wide border
 * left out; with `overwrite`, x = bias[c] + the inside instead (0 + the inside when the bias
 * pointer is 0). Whole vectors of each row as v128s, the rest float by float.
 */
export function emitUnpadAdd(): Code {
  const f = new Code([i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [xp, x, N, C, H, W, P, overwrite, bias] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [n, c, h] = [f.local(i32), f.local(i32), f.local(i32)];
  const Wp = f.local(i32), src = f.local(i32), end4 = f.local(i32), end = f.local(i32);
  const b = f.local(f32), bv = f.local(v128);
  f.get(W).get(P).get(P).add().add().set(Wp);
  f.get(xp).get(P).get(Wp).mul().get(P).add().i32(4).mul().add().set(src); // plane 0, row P, column P
  countUp(f, n, N, () => countUp(f, c, C, () => {
    f.f32Const(0).set(b);
    f.get(bias).if().get(bias).get(c).i32(4).mul().add().f32Load().set(b).end();
    f.get(b).f32x4Splat().set(bv);
    countUp(f, h, H, () => {
      f.get(x).get(W).i32(-4).and_().i32(4).mul().add().set(end4);
      f.get(x).get(W).i32(4).mul().add().set(end);
      f.block().loop().get(x).get(end4).geU().brIf(1);
      f.get(x).get(overwrite).ifValue(v128).get(bv).else().get(x).v128Load().end().get(src).v128Load().f32x4Add().v128Store();
      f.inc(x, 16).inc(src, 16).br(0).end().end();
      f.block().loop().get(x).get(end).geU().brIf(1);
      f.get(x).get(overwrite).ifValue(f32).get(b).else().get(x).f32Load().end().get(src).f32Load().f32Add().f32Store();
      f.inc(x, 4).inc(src, 4).br(0).end().end();
      f.get(src).get(P).get(P).add().i32(4).mul().add().set(src); // the next row's column P
    });
    f.get(src).get(P).get(P).add().get(Wp).mul().i32(4).mul().add().set(src); // over the bottom and the next top padding
  }));
  return f;
}

/**
 * im2colPackA(xp, dst, C, Hp, Wp, S, OH, OW, n, oh, ow, rows, c0, cn): for a 4x4 kernel, the
 * columns 16·c0 .. 16·(c0+cn) of `rows` consecutive rows of im2col(x), starting at position
 * (n, oh, ow), written straight in the layout the micro-kernel reads an A block in (packA_T's of
 * those cols, strips of w = mr rows): strip s holds, column after column, the w floats of its rows.
 * Read from xp, the padded images of padImages (Hp = H + 2P, Wp = W + 2P), where kernel row i of
 * channel c at position (n, oh, ow) is the four floats at ((n·C + c)·Hp + oh·S + i)·Wp + ow·S,
 * inside whatever the padding: no test, no mask. Per strip, channel and kernel row, each group of
 * four rows is four v128 loads, a 4x4 transposition in eight shuffles and four stores; a last pair
 * (w = 4g + 2) two loads, two shuffles and four 64-bit stores. The missing rows of a last, partial
 * strip repeat its first row: the micro-kernel computes an edge tile whole but keeps only the rows
 * that exist, each of which depends on its own row of A alone.
 * A convolution's forward lowering (conv-chunks.ts's colsTimesWt) packs its A operand so from the
 * image instead of writing cols and packing them: the same floats in the same places.
 */
export function emitIm2colPackA(w: number): Code {
  if (w % 2 !== 0 || w < 2) throw new Error(`im2colPackA: strips of ${w} rows`);
  const f = new Code([i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32]);
  const [xp, dst, C, Hp, Wp, S, OH, OW, n, oh, ow, rows, c0, cn] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const [js, c] = [f.local(i32), f.local(i32)];
  const plane = f.local(i32), rowStep = f.local(i32), off = f.local(i32), d = f.local(i32);
  const base: number[] = Array.from({ length: w }, () => f.local(i32)); // channel c0, kernel row 0, for each row of the strip
  const row: number[] = [0, 1, 2, 3].map(() => f.local(v128));
  const t: number[] = [0, 1, 2, 3].map(() => f.local(v128));
  f.get(Wp).i32(4).mul().set(rowStep);
  f.get(Hp).get(rowStep).mul().set(plane);
  f.get(dst).set(d);
  f.i32(0).set(js);
  f.block().loop().get(js).get(rows).geU().brIf(1); // for js in 0..rows step w
  for (let q = 0; q < w; q++) {
    // base[q] = xp + (((n*C + c0)*Hp + oh*S)*Wp + ow*S)*4 for a row that exists, then the next position
    f.get(js).i32(q).add().get(rows).ltU().if();
    f.get(xp).get(n).get(C).mul().get(c0).add().get(Hp).mul().get(oh).get(S).mul().add().get(Wp).mul().get(ow).get(S).mul().add().i32(4).mul().add().set(base[q]!);
    f.inc(ow, 1).get(ow).get(OW).eq().if();
    f.i32(0).set(ow).inc(oh, 1).get(oh).get(OH).eq().if().i32(0).set(oh).inc(n, 1).end();
    f.end();
    f.else().get(base[0]!).set(base[q]!).end();
  }
  f.i32(0).set(off);
  countUp(f, c, cn, () => {
    for (let k = 0; k < 4; k++) {
      // kernel row k of channel c: off = c*plane + k*rowStep; its four columns go to d + kw*w*4
      for (let g = 0; g + 4 <= w; g += 4) {
        for (let q = 0; q < 4; q++) f.get(base[g + q]!).get(off).add().v128Load().set(row[q]!);
        storeTransposed4(f, row, t, () => f.get(d), (kw) => (kw * w + g) * 4); // column kw of the four rows to d + (kw*w + g)*4
      }
      if (w % 4 === 2) {
        // the strip's last two rows: column kw's pair to d + (kw*w + w-2)*4
        for (let q = 0; q < 2; q++) f.get(base[w - 2 + q]!).get(off).add().v128Load().set(row[q]!);
        storeTransposedPair(f, row, t, () => f.get(d), (kw) => (kw * w + w - 2) * 4);
      }
      f.inc(d, 16 * w);
      f.incBy(off, rowStep);
    }
    f.get(off).get(plane).get(rowStep).i32(4).mul().sub().add().set(off); // the next channel's kernel row 0
  });
  f.inc(js, w).br(0);
  f.end().end();
  return f;
}

/**
 * nchwToRows(x, rows, N, C, S): rows (N*S, C) = x (N, C, S) with each position's channels made a
 * row: rows[(n*S + s)*C + c] = x[(n*C + c)*S + s]. The layout change around a lowered product,
 * whose rows are positions and whose columns are channels.
 */
export function emitNchwToRows(): Code {
  return emitLayout("toRows");
}

/**
 * rowsToNchw(rows, x, N, C, S, bias): the inverse, x[(n*C + c)*S + s] = rows[(n*S + s)*C + c],
 * plus bias[c] when the bias pointer is not 0.
 */
export function emitRowsToNchw(): Code {
  return emitLayout("toNchw");
}

/**
 * Both layout changes, per image a transposition between (C, S) and (S, C). Blocks of four
 * channels by four positions are four v128 loads, a 4x4 transposition in eight shuffles, and four
 * stores (toNchw adds each channel's bias, a splat, to its vector); the positions past the last
 * multiple of four, and the channels past the last multiple of four, go one float at a time. Pure
 * data movement and one float32 add per value, so the bits are those of a plain loop.
 */
function emitLayout(dir: "toRows" | "toNchw"): Code {
  const f = dir === "toNchw" ? new Code([i32, i32, i32, i32, i32, i32]) : new Code([i32, i32, i32, i32, i32]);
  const [src, dst, N, C, S] = [0, 1, 2, 3, 4];
  const bias = 5; // toNchw only
  const [n, c, s] = [f.local(i32), f.local(i32), f.local(i32)];
  const nchwImg = f.local(i32); // x[n, 0, 0]
  const rowsImg = f.local(i32); // rows[n*S, 0]
  const pN = f.local(i32); // x[n, c, s]
  const pR = f.local(i32); // rows[n*S + s, c]
  const stride = f.local(i32); // C*4 bytes: the next position in rows
  const plane = f.local(i32); // S*4 bytes: the next channel in x
  const c4 = f.local(i32), s4 = f.local(i32); // C and S rounded down to multiples of 4
  const b = f.local(f32);
  const v = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const t = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const bv = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const nchw = dir === "toRows" ? src : dst;
  const rows = dir === "toRows" ? dst : src;
  /** for (v = from; v < bound; v += step) { body }, from and bound locals or constants. */
  const loop = (vv: number, from: () => void, bound: number, step: number, body: () => void): void => {
    from();
    f.set(vv).block().loop().get(vv).get(bound).geU().brIf(1);
    body();
    f.inc(vv, step).br(0).end().end();
  };
  const zero = (): void => void f.i32(0);
  /** Pushes the address base + k·unit (k a small constant). */
  const at = (base: number, unit: number, k: number): void => {
    f.get(base);
    if (k > 0) f.get(unit).i32(k).mul().add();
  };
  /** The channel bias of channel c + k into `b` (0 without a bias), as toNchw's scalar loops add it. */
  const loadBias = (k: number): void => {
    if (dir !== "toNchw") return;
    f.f32Const(0).set(b);
    f.get(bias).if().get(bias).get(c).i32(k).add().i32(4).mul().add().f32Load().set(b).end();
  };
  /** One float of channel c + k at position s: rows <- x, or x <- rows + b. Needs pN, pR at (c, s). */
  const one = (k: number): void => {
    if (dir === "toRows") f.get(pR).i32(4 * k).add().get(pN).get(plane).i32(k).mul().add().f32Load().f32Store();
    else {
      f.get(pN).get(plane).i32(k).mul().add();
      f.get(pR).i32(4 * k).add().f32Load().get(b).f32Add().f32Store();
    }
  };

  f.get(C).i32(4).mul().set(stride);
  f.get(S).i32(4).mul().set(plane);
  f.get(C).i32(-4).and_().set(c4);
  f.get(S).i32(-4).and_().set(s4);
  f.get(nchw).set(nchwImg);
  f.get(rows).set(rowsImg);
  f.f32Const(0).set(b);
  loop(n, zero, N, 1, () => {
    // channels in blocks of four
    loop(c, zero, c4, 4, () => {
      for (let k = 0; k < 4; k++) {
        loadBias(k);
        f.get(b).f32x4Splat().set(bv[k]!);
      }
      f.get(nchwImg).get(c).get(plane).mul().add().set(pN);
      f.get(rowsImg).get(c).i32(4).mul().add().set(pR);
      loop(s, zero, s4, 4, () => {
        // v[k]: toRows, channel c + k at positions s..s+3; toNchw, position s + k at channels c..c+3
        for (let k = 0; k < 4; k++) {
          if (dir === "toRows") at(pN, plane, k);
          else at(pR, stride, k);
          f.v128Load().set(v[k]!);
        }
        f.get(v[0]!).get(v[1]!).shuffle32(0, 4, 1, 5).set(t[0]!);
        f.get(v[0]!).get(v[1]!).shuffle32(2, 6, 3, 7).set(t[1]!);
        f.get(v[2]!).get(v[3]!).shuffle32(0, 4, 1, 5).set(t[2]!);
        f.get(v[2]!).get(v[3]!).shuffle32(2, 6, 3, 7).set(t[3]!);
        // row k of the transposition: lane k of v[0..3]
        const rowK = (k: number): void => {
          const [a, bb] = k < 2 ? [t[0]!, t[2]!] : [t[1]!, t[3]!];
          f.get(a).get(bb);
          if (k % 2 === 0) f.shuffle32(0, 1, 4, 5);
          else f.shuffle32(2, 3, 6, 7);
        };
        for (let k = 0; k < 4; k++) {
          if (dir === "toRows") at(pR, stride, k);
          else at(pN, plane, k);
          rowK(k);
          if (dir === "toNchw") f.get(bv[k]!).f32x4Add();
          f.v128Store();
        }
        f.inc(pN, 16).get(pR).get(stride).i32(4).mul().add().set(pR);
      });
      // positions past the last multiple of four, for these four channels
      loop(s, () => f.get(s4), S, 1, () => {
        for (let k = 0; k < 4; k++) {
          loadBias(k);
          one(k);
        }
        f.inc(pN, 4).incBy(pR, stride);
      });
    });
    // channels past the last multiple of four, every position
    loop(c, () => f.get(c4), C, 1, () => {
      loadBias(0);
      f.get(nchwImg).get(c).get(plane).mul().add().set(pN);
      f.get(rowsImg).get(c).i32(4).mul().add().set(pR);
      loop(s, zero, S, 1, () => {
        one(0);
        f.inc(pN, 4).incBy(pR, stride);
      });
    });
    f.get(nchwImg).get(C).get(plane).mul().add().set(nchwImg);
    f.get(rowsImg).get(S).get(stride).mul().add().set(rowsImg);
  });
  return f;
}

/**
 * fillChannels(x, N, C, S, bias): x (N, C, S) = bias[c] on channel c, or zeros when the bias
 * pointer is 0: a transposed convolution's starting value, into which col2im then adds. Four
 * floats per store, the channel's last S mod 4 one at a time (a chunk of images writes only its
 * own floats).
 */
export function emitFillChannels(): Code {
  const f = new Code([i32, i32, i32, i32, i32]);
  const [x, N, C, S, bias] = [0, 1, 2, 3, 4];
  const [n, c] = [f.local(i32), f.local(i32)];
  const b = f.local(f32);
  const bv = f.local(v128);
  const p = f.local(i32); // the next float of the current channel
  const end4 = f.local(i32); // where its whole vectors end
  const end = f.local(i32); // where it ends
  const loop = (v: number, bound: number, body: () => void): void => countUp(f, v, bound, body);
  f.get(x).set(p);
  loop(n, N, () => loop(c, C, () => {
    f.f32Const(0).set(b);
    f.get(bias).if().get(bias).get(c).i32(4).mul().add().f32Load().set(b).end();
    f.get(b).f32x4Splat().set(bv);
    f.get(p).get(S).i32(4).mul().add().set(end);
    f.get(p).get(S).i32(-4).and_().i32(4).mul().add().set(end4);
    f.block().loop().get(p).get(end4).geU().brIf(1);
    f.get(p).get(bv).v128Store().inc(p, 16).br(0).end().end();
    f.block().loop().get(p).get(end).geU().brIf(1);
    f.get(p).get(b).f32Store().inc(p, 4).br(0).end().end();
  }));
  return f;
}
