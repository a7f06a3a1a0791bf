/**
 * relu, leakyRelu and their backward as WebAssembly SIMD functions over the kernel's memory, the
 * same arithmetic as `referenceActivations` (../activations.ts), four lanes at a time. Each takes
 * byte offsets and an element count n, and runs over ceil(n/4) vectors: the kernel places every
 * array at the start of a 64-byte-aligned region, so the last vector's extra lanes stay inside it
 * (they read leftovers and write lanes nobody copies out). Emitted by our own `emit.ts`.
 *
 * The factor of each lane, 1 where x > 0 and s elsewhere, is a bitselect on the mask of f32x4.gt;
 * the product (and the sum, when accumulating) are plain float32 lane operations, never a fused
 * multiply-add, so the bits are those of the reference.
 */
import { Code, f32, i32, v128 } from "./emit.js";

/** relu(x, out, n): out = max(x, 0) per lane. */
export function emitRelu(): Code {
  const f = new Code([i32, i32, i32]);
  const [x, out, n] = [0, 1, 2];
  const end = f.local(i32);
  f.get(x).get(n).i32(4).mul().add().set(end);
  f.block().loop().get(x).get(end).geU().brIf(1);
  f.get(out).get(x).v128Load().f32x4Const(0).f32x4Max().v128Store();
  f.inc(x, 16).inc(out, 16).br(0).end().end();
  return f;
}

/** leakyRelu(x, out, n, slope): out = x * (x > 0 ? 1 : slope) per lane. */
export function emitLeakyRelu(): Code {
  const f = new Code([i32, i32, i32, f32]);
  const [x, out, n, slope] = [0, 1, 2, 3];
  const end = f.local(i32), s = f.local(v128), v = f.local(v128);
  f.get(x).get(n).i32(4).mul().add().set(end);
  f.get(slope).f32x4Splat().set(s);
  f.block().loop().get(x).get(end).geU().brIf(1);
  f.get(x).v128Load().set(v);
  // out <- v * bitselect(1, s, v > 0)
  f.get(out).get(v).f32x4Const(1).get(s).get(v).f32x4Const(0).f32x4Gt().v128Bitselect().f32x4Mul().v128Store();
  f.inc(x, 16).inc(out, 16).br(0).end().end();
  return f;
}

/**
 * activationBackward(x, g, gx, n, slope, accumulate): d = g * (x > 0 ? 1 : slope) per lane, then
 * gx = gx + d when accumulate is non-zero, else gx = d. One loop for each case.
 */
export function emitActivationBackward(): Code {
  const f = new Code([i32, i32, i32, i32, f32, i32]);
  const [x, g, gx, n, slope, accumulate] = [0, 1, 2, 3, 4, 5];
  const end = f.local(i32), s = f.local(v128);
  f.get(x).get(n).i32(4).mul().add().set(end);
  f.get(slope).f32x4Splat().set(s);
  const d = (): void => {
    // g * bitselect(1, s, x > 0)
    f.get(g).v128Load().f32x4Const(1).get(s).get(x).v128Load().f32x4Const(0).f32x4Gt().v128Bitselect().f32x4Mul();
  };
  f.get(accumulate).if();
  f.block().loop().get(x).get(end).geU().brIf(1);
  f.get(gx).get(gx).v128Load();
  d();
  f.f32x4Add().v128Store();
  f.inc(x, 16).inc(g, 16).inc(gx, 16).br(0).end().end();
  f.else();
  f.block().loop().get(x).get(end).geU().brIf(1);
  f.get(gx);
  d();
  f.v128Store();
  f.inc(x, 16).inc(g, 16).inc(gx, 16).br(0).end().end();
  f.end();
  return f;
}
