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
 * per cols row, (w0 + lane) <u W (on the critic's second layer, where 2 of 7 rows are cut, 1.48 ->
 * 1.38 ms; the rest is the memory traffic of a 6.4 MB cols matrix); such a run reads up to 12
 * bytes beside the image row, which the kernel's regions leave room for. col2im does not: writing
 * a vector back beside the row would race with the thread adding into the neighbouring image. Its
 * cut runs, and runs of other widths, go one float at a time; a run whose image row lies in the
 * padding is zero (im2col) or skipped (col2im). Row and column tests are one unsigned comparison
 * each: a negative index wraps to a huge unsigned one.
 *
 *   im2col(x, cols, N, C, H, W, KH, KW, S, P, OH, OW)   cols (N*OH*OW, C*KH*KW) overwritten
 *   col2im(cols, x, N, C, H, W, KH, KW, S, P, OH, OW)   x (N,C,H,W) += the adjoint of im2col
 * Pointers are byte offsets; sizes are counts of elements.
 */
import { Code, f32, i32, v128 } from "./emit.js";

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

  /** for (v = 0; v < bound; v++) { body }, bound a local. */
  const loop = (v: number, bound: number, body: () => void): void => {
    f.i32(0).set(v).block().loop().get(v).get(bound).geU().brIf(1);
    body();
    f.inc(v, 1).br(0).end().end();
  };
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
  f.get(cols).set(pCol);
  loop(n, N, () => loop(oh, OH, () => loop(ow, OW, () => {
    f.get(oh).get(S).mul().get(P).sub().set(ih0);
    f.get(ow).get(S).mul().get(P).sub().set(w0);
    if (dir === "im2col") f.get(w0).i32x4Splat().i32x4Const(0, 1, 2, 3).i32x4Add().get(W).i32x4Splat().i32x4LtU().set(mask);
    // col2im: inside, w0 >= 0 and w0 + KW <= W, that is w0 <=u W - KW (false for negative w0), with KW <= W
    else f.get(w0).get(W).get(KW).sub().leU().get(KW).get(W).leU().and_().get(KW).i32(4).eq().and_().set(quad);
    // pImg = img + (((n*C)*H + ih0)*W + w0)*4: channel 0, kernel row 0
    f.get(img).get(n).get(C).mul().get(H).mul().get(ih0).add().get(W).mul().get(w0).add().i32(4).mul().add().set(pImg);
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

/** Both layout changes: the NCHW side is walked in order, the rows side with a stride of C floats. */
function emitLayout(dir: "toRows" | "toNchw"): Code {
  const f = dir === "toNchw" ? new Code([i32, i32, i32, i32, i32, i32]) : new Code([i32, i32, i32, i32, i32]);
  const [src, dst, N, C, S] = [0, 1, 2, 3, 4];
  const bias = 5; // toNchw only
  const [n, c, s] = [f.local(i32), f.local(i32), f.local(i32)];
  const pNchw = f.local(i32); // walks the NCHW side in order
  const pRows = f.local(i32); // rows[(n*S + 0)*C + c], then down the column by C floats
  const rowBase = f.local(i32); // rows[(n*S)*C]
  const stride = f.local(i32); // C*4 bytes
  const b = f.local(f32);
  const nchw = dir === "toRows" ? src : dst;
  const rows = dir === "toRows" ? dst : src;
  const loop = (v: number, bound: number, body: () => void): void => {
    f.i32(0).set(v).block().loop().get(v).get(bound).geU().brIf(1);
    body();
    f.inc(v, 1).br(0).end().end();
  };
  f.get(C).i32(4).mul().set(stride);
  f.get(nchw).set(pNchw);
  f.get(rows).set(rowBase);
  f.f32Const(0).set(b);
  loop(n, N, () => {
    loop(c, C, () => {
      f.get(rowBase).get(c).i32(4).mul().add().set(pRows);
      if (dir === "toNchw") f.get(bias).if().get(bias).get(c).i32(4).mul().add().f32Load().set(b).end();
      loop(s, S, () => {
        if (dir === "toRows") f.get(pRows).get(pNchw).f32Load().f32Store();
        else f.get(pNchw).get(pRows).f32Load().get(b).f32Add().f32Store();
        f.inc(pNchw, 4).incBy(pRows, stride);
      });
    });
    f.get(rowBase).get(S).get(stride).mul().add().set(rowBase);
  });
  return f;
}
