/**
 * The element-wise passes of ../elementwise.ts as WebAssembly SIMD functions over the kernel's
 * memory, four lanes at a time. Like activations-simd.ts, each takes byte offsets and an element
 * count n and runs over ceil(n/4) vectors (every array starts a 64-byte-aligned region, so the
 * last vector's extra lanes stay inside it). Emitted by our own `emit.ts`.
 */
import { Code, i32 } from "./emit.js";

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
