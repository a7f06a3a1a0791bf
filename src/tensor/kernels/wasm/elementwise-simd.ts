/**
 * The element-wise passes of ../elementwise.ts as WebAssembly SIMD functions over the kernel's
 * memory, four lanes at a time, and `fillRows`, a product's C started from its bias (matmul's
 * `startC`). Pointers are byte offsets. `add`, like activations-simd.ts, takes an element count n
 * and runs over ceil(n/4) vectors (every array starts a 64-byte-aligned region, so the last
 * vector's extra lanes stay inside it); `addColumnSums` and `fillRows` take rows and columns, and
 * handle a row's last columns one at a time. Emitted by our own `emit.ts`.
 */
import { Code, countUp, f32, i32, v128 } from "./emit.js";

/** add(a, b, out, n): out = a + b per lane (f32x4.add, one rounding as the reference). */
export function emitAdd(): Code {
  const f = new Code([i32, i32, i32, i32]);
  const [a, b, out, n] = [0, 1, 2, 3];
  const end = f.local(i32);
  f.get(a).get(n).i32(4).mul().add().set(end);
  f.block().loop().get(a).get(end).geU().brIf(1);
  f.get(out).get(a).v128Load().get(b).v128Load().f32x4Add().v128Store();
  f.inc(a, 16).inc(b, 16).inc(out, 16).br(0).end().end();
  return f;
}

/**
 * addColumnSums(g, rows, cols, ld, out): out[c] += g[0, c] + g[1, c] + ... + g[rows-1, c] for c
 * in 0..cols, g's rows ld floats apart; one float32 add per row, rows in order, starting from out
 * (the reference's loop, lane by lane: the same bits). Sixteen columns at a time (four
 * accumulators: each row's step reads one 64-byte line), then four, then one; a call over some
 * columns does not touch the others, so threads can split the columns.
 */
export function emitAddColumnSums(): Code {
  const f = new Code([i32, i32, i32, i32, i32]);
  const [g, rows, cols, ld, out] = [0, 1, 2, 3, 4];
  const [c, r, p, stride] = [f.local(i32), f.local(i32), f.local(i32), f.local(i32)];
  const acc = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const s = f.local(f32);
  f.get(ld).i32(4).mul().set(stride);
  f.i32(0).set(c);
  for (const width of [16, 4, 1]) {
    const vecs = width / 4;
    // while c + width <= cols
    f.block().loop().get(c).i32(width).add().get(cols).leU().eqz().brIf(1);
    if (width === 1) f.get(out).get(c).i32(4).mul().add().f32Load().set(s);
    else for (let v = 0; v < vecs; v++) f.get(out).get(c).i32(4).mul().add().v128Load(16 * v).set(acc[v]!);
    f.get(g).get(c).i32(4).mul().add().set(p);
    countUp(f, r, rows, () => {
      if (width === 1) f.get(s).get(p).f32Load().f32Add().set(s);
      else for (let v = 0; v < vecs; v++) f.get(acc[v]!).get(p).v128Load(16 * v).f32x4Add().set(acc[v]!);
      f.incBy(p, stride);
    });
    if (width === 1) f.get(out).get(c).i32(4).mul().add().get(s).f32Store();
    else for (let v = 0; v < vecs; v++) f.get(out).get(c).i32(4).mul().add().get(acc[v]!).v128Store(16 * v);
    f.inc(c, width).br(0).end().end();
  }
  return f;
}

/**
 * fillRows(src, dst, ld, rows, cols): dst[r, 0..cols) = src[0..cols) for r in 0..rows, dst's rows
 * ld bytes apart: a product's C starting from a bias. Four floats at a time, then one.
 */
export function emitFillRows(): Code {
  const f = new Code([i32, i32, i32, i32, i32]);
  const [src, dst, ld, rows, cols] = [0, 1, 2, 3, 4];
  const [r, j, jEnd] = [f.local(i32), f.local(i32), f.local(i32)];
  f.get(cols).i32(-4).and_().i32(4).mul().set(jEnd); // bytes in whole vectors
  countUp(f, r, rows, () => {
    f.i32(0).set(j);
    f.block().loop().get(j).get(jEnd).geU().brIf(1);
    f.get(dst).get(j).add().get(src).get(j).add().v128Load().v128Store();
    f.inc(j, 16).br(0).end().end();
    f.block().loop().get(j).get(cols).i32(4).mul().geU().brIf(1);
    f.get(dst).get(j).add().get(src).get(j).add().f32Load().f32Store();
    f.inc(j, 4).br(0).end().end();
    f.incBy(dst, ld);
  });
  return f;
}
