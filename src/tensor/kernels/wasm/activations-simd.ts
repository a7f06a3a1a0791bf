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
 *
 * tanh runs the reference's float64 steps (`tanhOf`) on two f64 lanes, twice per four floats.
 */
import { Code, f32, i32, v128 } from "./emit.js";
import { EXPM1_COEFFICIENTS, ROUND_TO_INTEGER, TANH_Y_MAX } from "../activations.js";

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

/**
 * tanh(x, out, n): out = tanhOf(x) per lane (../activations.ts), in float64: lanes 0-1 and 2-3 of
 * each vector of x widened to two f64x2 values, each taken through the same operations in the same
 * order as the reference, rounded back to f32 and joined; the sign bit is then copied from x.
 */
export function emitTanh(): Code {
  const f = new Code([i32, i32, i32]);
  const [x, out, n] = [0, 1, 2];
  const end = f.local(i32), v = f.local(v128), lo = f.local(v128);
  const y = f.local(v128), k = f.local(v128), r = f.local(v128), s = f.local(v128), m = f.local(v128);
  /** The f64x2 on the stack -> its tanhOf, unsigned, on the stack. */
  const tanh2 = (): void => {
    f.f64x2Abs().set(y);
    f.get(y).get(y).f64x2Add().f64x2Const(TANH_Y_MAX).f64x2Min().set(y); // y = min(2|x|, 40)
    // k = round(y / ln 2), by adding and subtracting 1.5·2^52
    f.get(y).f64x2Const(Math.LOG2E).f64x2Mul().f64x2Const(ROUND_TO_INTEGER).f64x2Add().f64x2Const(ROUND_TO_INTEGER).f64x2Sub().set(k);
    f.get(y).get(k).f64x2Const(Math.LN2).f64x2Mul().f64x2Sub().set(r); // r = y - k·ln 2
    // q = e^r - 1 = r·(1 + r·(1/2! + r·(... + r/9!))), Horner's form from the highest power
    const c = EXPM1_COEFFICIENTS;
    f.f64x2Const(c[0]!);
    for (let i = 1; i < c.length; i++) f.get(r).f64x2Mul().f64x2Const(c[i]!).f64x2Add();
    f.get(r).f64x2Mul().set(r); // r now holds q
    // s = 2^k: k + 1023 is the low bits of k + (2^52 + 1023); shifted up 52 they are 2^k's exponent field
    f.get(k).f64x2Const(2 ** 52 + 1023).f64x2Add().i32(52).i64x2Shl().set(s);
    f.get(s).get(r).f64x2Mul().get(s).f64x2Const(1).f64x2Sub().f64x2Add().set(m); // m = s·q + (s - 1) = e^y - 1
    f.get(m).get(m).f64x2Const(2).f64x2Add().f64x2Div(); // m / (m + 2)
  };
  f.get(x).get(n).i32(4).mul().add().set(end);
  f.block().loop().get(x).get(end).geU().brIf(1);
  f.get(x).v128Load().set(v);
  f.get(v).f64x2PromoteLowF32x4();
  tanh2();
  f.f32x4DemoteF64x2Zero().set(lo);
  f.get(v).get(v).shuffle32(2, 3, 0, 1).f64x2PromoteLowF32x4();
  tanh2();
  f.f32x4DemoteF64x2Zero().set(m);
  // out <- bitselect(x, joined, sign bits): |tanh| with x's sign
  f.get(out).get(v).get(lo).get(m).shuffle32(0, 1, 4, 5);
  f.i32x4Const(-0x80000000, -0x80000000, -0x80000000, -0x80000000).v128Bitselect().v128Store();
  f.inc(x, 16).inc(out, 16).br(0).end().end();
  return f;
}
