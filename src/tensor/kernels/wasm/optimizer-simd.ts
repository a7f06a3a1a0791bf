/**
 * The optimizer passes of ../optimizer.ts as WebAssembly SIMD functions over the kernel's memory,
 * four lanes at a time, the same float32 operations in the same order as the reference (no fused
 * multiply-add). Like activations-simd.ts, each runs over ceil(n/4) vectors of arrays that start
 * 64-byte-aligned regions. Emitted by our own `emit.ts`.
 */
import { Code, f32, i32, twoStreams, v128 } from "./emit.js";

/**
 * rmsprop(w, g, v, n, lr, alpha, oneMinusAlpha, eps, clip): v = a·v + b·(g·g); w = w - (lr·g) /
 * (sqrt(v) + eps), then clamped into [-clip, clip] as `emitClip` does (clip +inf: no change).
 * Over the arrays' two halves at once (emit.ts's twoStreams): in a training step the weights it
 * writes are in both cores' caches, and two streams keep twice as many of those lines in hand-over.
 * Toggled every ten batches within one process, both ways round (three runs each): the mlp plain
 * step about 2% faster; the optimizer's passes 1.03-1.19 -> 0.78-0.81 ms a batch (five runs each).
 * The passes over a batch tried the same way got slower (leakyRelu 156-185 -> 211-223 µs a batch,
 * its backward 111-129 -> 142-155), so they keep one stream.
 */
export function emitRmsprop(): Code {
  const f = new Code([i32, i32, i32, i32, f32, f32, f32, f32, f32]);
  const [w, g, v, n, lr, alpha, beta, eps, c] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const gv = f.local(v128), vv = f.local(v128);
  const [L, A, B, E] = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const hi = f.local(v128), lo = f.local(v128);
  f.get(lr).f32x4Splat().set(L).get(alpha).f32x4Splat().set(A).get(beta).f32x4Splat().set(B).get(eps).f32x4Splat().set(E);
  f.get(c).f32x4Splat().set(hi).f32x4Const(0).get(hi).f32x4Sub().set(lo);
  twoStreams(f, n, [w, g, v], ([pw, pg, pv]) => {
    f.get(pg!).v128Load().set(gv);
    // v = A·v + B·(g·g)
    f.get(pv!).get(A).get(pv!).v128Load().f32x4Mul().get(B).get(gv).get(gv).f32x4Mul().f32x4Mul().f32x4Add().set(vv).get(vv).v128Store();
    // w = min(max(w - (L·g) / (sqrt(v) + E), -c), c)
    f.get(pw!).get(pw!).v128Load().get(L).get(gv).f32x4Mul().get(vv).f32x4Sqrt().get(E).f32x4Add().f32x4Div().f32x4Sub();
    f.get(lo).f32x4Pmax().get(hi).f32x4Pmin().v128Store();
  });
  return f;
}

/**
 * clip(w, n, c): w = min(max(w, -c), c) per lane, as pmin(pmax(w, -c), c): pmax(w, -c) is
 * w < -c ? -c : w, and pmin(x, c) is c < x ? c : x, so a NaN w stays the same NaN, -0 stays -0 and
 * ±inf becomes ±c, as the reference's Math.min and Math.max give them (c is positive, or +inf for
 * no bound). Each is one x86 minps or maxps, where f32x4.min and max, which must also order -0
 * below +0 and return NaN for a NaN in either operand, take several instructions each. RMSprop with
 * its clipping over a critic's 931,000 weights, repeated so that they stay in cache: 1,151-1,308 ->
 * 533-770 µs on one thread, 715-764 -> 364-474 on two. In a training step the pass takes longer for
 * another reason, writing weights that both cores hold (emit.ts's twoStreams), and the mlp critic's
 * step measured level (0.80-1.06 ms a batch either way, four runs each).
 */
export function emitClip(): Code {
  const f = new Code([i32, i32, f32]);
  const [w, n, c] = [0, 1, 2];
  const end = f.local(i32), hi = f.local(v128), lo = f.local(v128);
  f.get(w).get(n).i32(4).mul().add().set(end);
  f.get(c).f32x4Splat().set(hi).f32x4Const(0).get(hi).f32x4Sub().set(lo);
  f.block().loop().get(w).get(end).geU().brIf(1);
  f.get(w).get(w).v128Load().get(lo).f32x4Pmax().get(hi).f32x4Pmin().v128Store();
  f.inc(w, 16).br(0).end().end();
  return f;
}
