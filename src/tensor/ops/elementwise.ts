/**
 * Element-wise ops, forward and backward side by side: add, sub and mul with broadcasting of the
 * second operand, scalar ops, and the activations relu, leakyRelu, tanh and sigmoid.
 *
 * Broadcasting: `b`'s shape, aligned to the right of `a`'s, keeps a's size on one contiguous run
 * of axes and 1 elsewhere. That covers a bias row vector (F) or (1,F) against (N,F), a
 * per-channel vector (C,1,1) or (1,C,1,1) against (N,C,H,W), and a single value. Viewed that way
 * `a` is (outer, mid, inner) and `b` is (mid): one plan, one loop, for every case.
 *
 * Worked examples (a's shape, b's shape -> the plan):
 *   (64, 512)      + (512)        -> outer 64, mid 512, inner 1      a bias added to each row
 *   (64, 32, 7, 7) + (32, 1, 1)   -> outer 64, mid 32,  inner 49     a per-channel batch-norm shift
 *   (64, 1, 28, 28) * (1)         -> outer 50176, mid 1, inner 1     one value everywhere
 *   (64, 10)       + (64, 1)      -> outer 1,  mid 64,  inner 10     one value per row
 *   (64, 10)       + (10, 64)     -> error: b's sizes do not match a's on its run of axes
 * The backward of b sums the upstream gradient over outer and inner: db[m] += sum dy[o, m, i].
 */
import { activationKernel } from "../kernels/activations.js";
import { elementwiseKernel } from "../kernels/elementwise.js";
import { allocForOverwrite } from "../storage.js";
import { Tensor, shapeStr } from "../tensor.js";

interface BroadcastPlan {
  outer: number;
  mid: number;
  inner: number;
}

function broadcastPlan(op: string, a: readonly number[], b: readonly number[]): BroadcastPlan {
  const fail = (): never => {
    throw new Error(`${op}: cannot broadcast ${shapeStr(b)} onto ${shapeStr(a)}`);
  };
  if (b.length > a.length) {
    // Leading 1s of b beyond a's rank are harmless; anything else is not.
    for (let i = 0; i < b.length - a.length; i++) if (b[i] !== 1) fail();
    b = b.slice(b.length - a.length);
  }
  const off = a.length - b.length;
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < b.length; i++) {
    const ax = off + i;
    if (a[ax] === 1) {
      // a size-1 axis of a is neutral: it may sit inside b's run (it does not change the sizes)
      if (b[i] !== 1) fail();
      if (lo >= 0 && hi === ax) hi = ax + 1;
      continue;
    }
    if (b[i] === 1) continue; // broadcast along this axis
    if (b[i] !== a[ax]) fail();
    if (lo < 0) lo = ax;
    else if (hi !== ax) fail(); // b's full-size axes must be contiguous
    hi = ax + 1;
  }
  if (lo < 0) return { outer: a.reduce((x, y) => x * y, 1), mid: 1, inner: 1 };
  const prod = (from: number, to: number): number => a.slice(from, to).reduce((x, y) => x * y, 1);
  return { outer: prod(0, lo), mid: prod(lo, hi), inner: prod(hi, a.length) };
}

/** Sums `g` (outer, mid, inner) over outer and inner into `out` (mid), accumulating with sign. */
function reduceToMid(g: Float32Array, p: BroadcastPlan, out: Float32Array, sign: number, times?: Float32Array): void {
  const { outer, mid, inner } = p;
  if (inner === 1) {
    // b along the last axes: out[m] gathers g[o, m] over o (as binary's forward, no run of one)
    for (let o = 0, base = 0; o < outer; o++, base += mid)
      if (times) for (let m = 0; m < mid; m++) out[m]! += sign * g[base + m]! * times[base + m]!;
      else for (let m = 0; m < mid; m++) out[m]! += sign * g[base + m]!;
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let m = 0; m < mid; m++) {
      let s = 0;
      const base = (o * mid + m) * inner;
      if (times) for (let i = 0; i < inner; i++) s += g[base + i]! * times[base + i]!;
      else for (let i = 0; i < inner; i++) s += g[base + i]!;
      out[m]! += sign * s;
    }
  }
}

type BinaryKind = "add" | "sub" | "mul";

function binary(kind: BinaryKind, a: Tensor, b: Tensor): Tensor {
  const p = broadcastPlan(kind, a.shape, b.shape);
  const { outer, mid, inner } = p;
  const ad = a.data;
  const bd = b.data;
  const out = allocForOverwrite(ad.length);
  if (kind === "add" && bd.length === ad.length) elementwiseKernel().add(ad, bd, out); // same shape
  else if (inner === 1)
    // b runs along the last axes (same shape, or a bias row): one loop per outer index, b[m] beside
    // a[o, m]. The general loop below would spend more on a run of one than on the arithmetic.
    for (let o = 0, base = 0; o < outer; o++, base += mid) {
      if (kind === "add") for (let m = 0; m < mid; m++) out[base + m] = ad[base + m]! + bd[m]!;
      else if (kind === "sub") for (let m = 0; m < mid; m++) out[base + m] = ad[base + m]! - bd[m]!;
      else for (let m = 0; m < mid; m++) out[base + m] = ad[base + m]! * bd[m]!;
    }
  else
    for (let o = 0; o < outer; o++) {
      for (let m = 0; m < mid; m++) {
        const bv = bd[m]!;
        const base = (o * mid + m) * inner;
        if (kind === "add") for (let i = base; i < base + inner; i++) out[i] = ad[i]! + bv;
        else if (kind === "sub") for (let i = base; i < base + inner; i++) out[i] = ad[i]! - bv;
        else for (let i = base; i < base + inner; i++) out[i] = ad[i]! * bv;
      }
    }
  return Tensor.fromOp(kind, a.shape, out, [a, b], (y) => {
    const g = y.grad!;
    if (a.requiresGrad) {
      if (kind === "mul") {
        const ga = a.gradBuffer();
        // d(a*b)/da = b, broadcast back over outer and inner
        if (inner === 1)
          for (let o = 0, base = 0; o < outer; o++, base += mid) for (let m = 0; m < mid; m++) ga[base + m]! += g[base + m]! * bd[m]!;
        else
          for (let o = 0; o < outer; o++)
            for (let m = 0; m < mid; m++) {
              const bv = bd[m]!;
              const base = (o * mid + m) * inner;
              for (let i = base; i < base + inner; i++) ga[i]! += g[i]! * bv;
            }
      } else a.addToGrad(g); // d(a±b)/da = 1: g itself (b, below, gets its own buffer)
    }
    if (b.requiresGrad) {
      if (kind === "add" && b.size === g.length) {
        // b has a's shape: its gradient is g itself, in a buffer of its own (a may hold g's); a fresh
        // one is a copy (a memcpy), not an addition into zeros
        const { grad, accumulate } = b.gradTarget();
        if (accumulate) elementwiseKernel().add(grad, g, grad); // the conv critic's label planes, used by reals and fakes
        else grad.set(g);
        return;
      }
      const gb = b.gradBuffer();
      if (kind === "mul") reduceToMid(g, p, gb, 1, ad); // d(a*b)/db = a, summed over broadcast axes
      else reduceToMid(g, p, gb, kind === "sub" ? -1 : 1);
    }
  });
}

/** a + b, with b broadcast onto a's shape (see the file header). */
export const add = (a: Tensor, b: Tensor): Tensor => binary("add", a, b);
/** a - b, with b broadcast onto a's shape. */
export const sub = (a: Tensor, b: Tensor): Tensor => binary("sub", a, b);
/** a * b element-wise, with b broadcast onto a's shape. */
export const mul = (a: Tensor, b: Tensor): Tensor => binary("mul", a, b);

/** a * s + t for scalars s and t (scale, shift, negate in one op). */
export function affineScalar(a: Tensor, s: number, t = 0): Tensor {
  const x = a.data;
  const out = allocForOverwrite(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * s + t;
  return Tensor.fromOp("affineScalar", a.shape, out, [a], (y) => {
    const g = y.grad!;
    const ga = a.gradBuffer();
    for (let i = 0; i < g.length; i++) ga[i]! += g[i]! * s;
  });
}

/** a * s, any shape. */
export const mulScalar = (a: Tensor, s: number): Tensor => affineScalar(a, s, 0);
/** a + t, any shape. */
export const addScalar = (a: Tensor, t: number): Tensor => affineScalar(a, 1, t);
/** -a, any shape. */
export const neg = (a: Tensor): Tensor => affineScalar(a, -1, 0);

/**
 * The element-wise activations. Each derivative is computed from the input x or the output y, so the
 * backward needs no extra buffer: relu, leakyRelu, tanh (1 - y²), sigmoid (y(1 - y)). relu and
 * leakyRelu run their passes on the active kernel (kernels/activations.ts: TypeScript, or
 * WebAssembly SIMD in the SIMD kernel's memory, the same bits either way), and their backward
 * writes straight into a fresh gradient when it can (Tensor.gradTarget). tanh's forward pass runs on
 * the active kernel too (float64 steps rounded once: kernels/activations.ts). sigmoid writes its own
 * two loops, and tanh its backward one, rather than passing f and f' to a shared loop: V8 cannot
 * inline a function passed as an argument at a call site that sees several (a shared loop measured
 * 1.7-2.2x slower).
 */
function activation(op: string, a: Tensor, out: Float32Array, backward: (x: Float32Array, y: Float32Array, g: Float32Array, ga: Float32Array) => void): Tensor {
  return Tensor.fromOp(op, a.shape, out, [a], (y) => backward(a.data, y.data, y.grad!, a.gradBuffer()));
}

/** max(x, 0), +0 for x <= 0; the derivative is 1 where x > 0, else 0 (PyTorch's at the kink). */
export function relu(a: Tensor): Tensor {
  const out = allocForOverwrite(a.size);
  activationKernel().relu(a.data, out);
  return Tensor.fromOp("relu", a.shape, out, [a], (y) => {
    const { grad, accumulate } = a.gradTarget();
    activationKernel().backward(a.data, y.grad!, grad, 0, accumulate);
  });
}

/** max(x, slope*x) for 0 < slope < 1: the WGAN critic's activation with slope 0.2. */
export function leakyRelu(a: Tensor, slope: number): Tensor {
  const out = allocForOverwrite(a.size);
  activationKernel().leakyRelu(a.data, out, slope);
  return Tensor.fromOp("leakyRelu", a.shape, out, [a], (y) => {
    const { grad, accumulate } = a.gradTarget();
    activationKernel().backward(a.data, y.grad!, grad, slope, accumulate);
  });
}

/** tanh(x), any shape, in [-1, 1]: the generators' last activation; the derivative 1 - y² from the output. */
export function tanh(a: Tensor): Tensor {
  const x = a.data;
  const out = allocForOverwrite(x.length);
  activationKernel().tanh(x, out);
  return activation("tanh", a, out, (_x, y, g, ga) => {
    for (let i = 0; i < g.length; i++) ga[i]! += g[i]! * (1 - y[i]! * y[i]!);
  });
}

/** 1 / (1 + e^-x), any shape; the derivative y(1 - y) from the output. */
export function sigmoid(a: Tensor): Tensor {
  const x = a.data;
  const out = allocForOverwrite(x.length);
  for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]!));
  return activation("sigmoid", a, out, (_x, y, g, ga) => {
    for (let i = 0; i < g.length; i++) ga[i]! += g[i]! * y[i]! * (1 - y[i]!);
  });
}
