/**
 * Products with a side of one, which the blocked kernel (matmul-simd.ts) would pad to whole tiles:
 * C a column (N = 1: a layer with one output, the critics' last), a row (M = 1: that layer's
 * weight gradient) or an outer product (K = 1: its input gradient). Emitted by our own `emit.ts`;
 * byte offsets into the kernel's memory; `accumulate` non-zero adds to C, else C is overwritten.
 *
 *   gemvRows(r, ldr, x, y, n, K, acc)  y[i] (+)= R[i, 0..K) · x          rows of R ldr bytes apart
 *   gemvCols(x, r, ldr, y, n, K, acc)  y[j] (+)= sum over k of x[k]·R[k, j]
 *   outer(a, b, c, M, N, acc)          C[i, j] (+)= a[i]·b[j]            C (M, N)
 *
 * Plain float32 multiplies and adds (no fused multiply-add), in a fixed order that does not depend
 * on the threads: gemvRows sums k in four lanes (lane l takes the k with k mod 4 = l), adds them as
 * (l0 + l1) + (l2 + l3), then the last K mod 4 terms one by one, then adds that to C; gemvCols
 * and outer start from C's value when adding and add the k terms in order, as the blocked kernel
 * does, so a sum over k1 + k2 rows made in two calls rounds as one call (test/matmul.test.ts).
 */
import { Code, countUp, f32, i32, v128 } from "./emit.js";

/** gemvRows: four rows at a time (four accumulators, x's vector loaded once for them), then one. */
export function emitGemvRows(): Code {
  const f = new Code([i32, i32, i32, i32, i32, i32, i32]);
  const [r, ldr, x, y, n, K, accumulate] = [0, 1, 2, 3, 4, 5, 6];
  const [i, kb, kEnd, k] = [f.local(i32), f.local(i32), f.local(i32), f.local(i32)];
  const row = [f.local(i32), f.local(i32), f.local(i32), f.local(i32)]; // the group's row pointers
  const acc = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const s = [f.local(f32), f.local(f32), f.local(f32), f.local(f32)];
  const xv = f.local(v128);
  f.get(K).i32(-4).and_().i32(4).mul().set(kEnd); // bytes of k covered by whole vectors
  f.i32(0).set(i);
  for (const rows of [4, 1]) {
    // while i + rows <= n
    f.block().loop().get(i).i32(rows).add().get(n).leU().eqz().brIf(1);
    for (let t = 0; t < rows; t++) {
      f.get(r).get(i).i32(t).add().get(ldr).mul().add().set(row[t]!);
      f.f32x4Const(0).set(acc[t]!);
    }
    // k in whole vectors: acc_t += R[row t, k..k+3] · x[k..k+3]
    f.i32(0).set(kb).block().loop().get(kb).get(kEnd).geU().brIf(1);
    f.get(x).get(kb).add().v128Load().set(xv);
    for (let t = 0; t < rows; t++) f.get(acc[t]!).get(row[t]!).get(kb).add().v128Load().get(xv).f32x4Mul().f32x4Add().set(acc[t]!);
    f.inc(kb, 16).br(0).end().end();
    // s_t = (lane 0 + lane 1) + (lane 2 + lane 3)
    for (let t = 0; t < rows; t++) {
      f.get(acc[t]!).f32x4ExtractLane(0).get(acc[t]!).f32x4ExtractLane(1).f32Add();
      f.get(acc[t]!).f32x4ExtractLane(2).get(acc[t]!).f32x4ExtractLane(3).f32Add().f32Add().set(s[t]!);
    }
    // the last K mod 4 terms, in order
    f.get(K).i32(-4).and_().set(k);
    f.block().loop().get(k).get(K).geU().brIf(1);
    for (let t = 0; t < rows; t++) f.get(s[t]!).get(row[t]!).get(k).i32(4).mul().add().f32Load().get(x).get(k).i32(4).mul().add().f32Load().f32Mul().f32Add().set(s[t]!);
    f.inc(k, 1).br(0).end().end();
    // y[i + t] = y[i + t] + s_t when accumulating, else s_t
    for (let t = 0; t < rows; t++) {
      f.get(y).get(i).i32(t).add().i32(4).mul().add();
      f.get(y).get(i).i32(t).add().i32(4).mul().add().f32Load().get(s[t]!).f32Add().get(s[t]!).get(accumulate).select();
      f.f32Store();
    }
    f.inc(i, rows).br(0).end().end();
  }
  return f;
}

/**
 * gemvCols: sixteen columns at a time (four accumulators, each k's step reading one 64-byte line
 * of R), then four, then one; each accumulator starts at C (or zero) and adds x[k]·R[k, j] for
 * k in order.
 */
export function emitGemvCols(): Code {
  const f = new Code([i32, i32, i32, i32, i32, i32, i32]);
  const [x, r, ldr, y, n, K, accumulate] = [0, 1, 2, 3, 4, 5, 6];
  const [j, k, p] = [f.local(i32), f.local(i32), f.local(i32)];
  const acc = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const xs = f.local(v128);
  const s = f.local(f32);
  f.i32(0).set(j);
  for (const width of [16, 4, 1]) {
    const vecs = width / 4;
    // while j + width <= n
    f.block().loop().get(j).i32(width).add().get(n).leU().eqz().brIf(1);
    const yAt = (): void => void f.get(y).get(j).i32(4).mul().add();
    if (width === 1) {
      f.f32Const(0).set(s);
      f.get(accumulate).if();
      yAt();
      f.f32Load().set(s).end();
    } else
      for (let v = 0; v < vecs; v++) {
        f.f32x4Const(0).set(acc[v]!);
        f.get(accumulate).if();
        yAt();
        f.v128Load(16 * v).set(acc[v]!).end();
      }
    f.get(r).get(j).i32(4).mul().add().set(p); // R[0, j]
    countUp(f, k, K, () => {
      if (width === 1) f.get(s).get(x).get(k).i32(4).mul().add().f32Load().get(p).f32Load().f32Mul().f32Add().set(s);
      else {
        f.get(x).get(k).i32(4).mul().add().v128Load32Splat().set(xs);
        for (let v = 0; v < vecs; v++) f.get(acc[v]!).get(xs).get(p).v128Load(16 * v).f32x4Mul().f32x4Add().set(acc[v]!);
      }
      f.incBy(p, ldr);
    });
    if (width === 1) {
      yAt();
      f.get(s).f32Store();
    } else
      for (let v = 0; v < vecs; v++) {
        yAt();
        f.get(acc[v]!).v128Store(16 * v);
      }
    f.inc(j, width).br(0).end().end();
  }
  return f;
}

/** outer: C's row i is splat(a[i])·b, four columns at a time then one, added to the row when accumulating. */
export function emitOuter(): Code {
  const f = new Code([i32, i32, i32, i32, i32, i32]);
  const [a, b, c, M, N, accumulate] = [0, 1, 2, 3, 4, 5];
  const [i, j, row] = [f.local(i32), f.local(i32), f.local(i32)];
  const av = f.local(v128), pv = f.local(v128);
  const as = f.local(f32), ps = f.local(f32);
  f.get(c).set(row);
  countUp(f, i, M, () => {
    f.get(a).get(i).i32(4).mul().add().f32Load().set(as);
    f.get(as).f32x4Splat().set(av);
    f.i32(0).set(j);
    for (const width of [4, 1]) {
      const vec = width === 4;
      const [x, p] = vec ? [av, pv] : [as, ps];
      const at = (): void => void f.get(row).get(j).i32(4).mul().add(); // &C[i, j]
      // while j + width <= N: p = a[i]·b[j..]; C[i, j..] = select(C[i, j..] + p, p, accumulate)
      f.block().loop().get(j).i32(width).add().get(N).leU().eqz().brIf(1);
      f.get(x).get(b).get(j).i32(4).mul().add();
      if (vec) f.v128Load().f32x4Mul().set(p);
      else f.f32Load().f32Mul().set(p);
      at();
      at();
      if (vec) f.v128Load().get(p).f32x4Add();
      else f.f32Load().get(p).f32Add();
      f.get(p).get(accumulate).select();
      if (vec) f.v128Store();
      else f.f32Store();
      f.inc(j, width).br(0).end().end();
    }
    f.get(row).get(N).i32(4).mul().add().set(row);
  });
  return f;
}
