/**
 * Ops that move values without arithmetic: reshape (and flatten), concat and slice along an axis.
 * Reshape shares its input's buffer (and hands its gradient's buffer back when it can); concat and
 * slice copy. Viewed around an axis, a tensor is (outer, axis, inner), and every copy here is a
 * loop over contiguous runs of axis*inner values.
 */
import { allocForOverwrite } from "../storage.js";
import { Tensor, shapeStr, sizeOf } from "../tensor.js";

/** Same values, new shape (one dimension may be -1 and is inferred). Shares the input's buffer. */
export function reshape(a: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.length - known.length;
  const knownSize = sizeOf(known);
  const resolved =
    inferred === 1 && knownSize > 0 && a.size % knownSize === 0 ? shape.map((d) => (d === -1 ? a.size / knownSize : d)) : shape;
  if (inferred > 1 || sizeOf(resolved) !== a.size || resolved.some((d) => d < 0))
    throw new Error(`reshape: cannot view ${shapeStr(a.shape)} as ${shapeStr(shape)}`);
  // The gradient of a view is the same numbers: y's gradient passes to a as it is, most often as
  // the very buffer (see addToGrad; adding one into the other was 4% of a conv training step).
  return Tensor.fromOp("reshape", resolved, a.data, [a], (y) => a.addToGrad(y.grad!));
}

/** (N, ...) -> (N, rest): keeps the first axis, joins the others. */
export function flatten(a: Tensor): Tensor {
  if (a.ndim < 1) throw new Error(`flatten: scalar of shape ${shapeStr(a.shape)}`);
  return reshape(a, [a.shape[0]!, a.size / Math.max(a.shape[0]!, 1)]);
}

function normAxis(op: string, shape: readonly number[], axis: number): number {
  const ax = axis < 0 ? axis + shape.length : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= shape.length) throw new Error(`${op}: axis ${axis} out of range for ${shapeStr(shape)}`);
  return ax;
}

/** Joins tensors along `axis`; every other dimension must agree. */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  if (tensors.length === 0) throw new Error("concat: no tensors");
  const first = tensors[0]!;
  const ax = normAxis("concat", first.shape, axis);
  for (const t of tensors) {
    const ok = t.ndim === first.ndim && t.shape.every((d, i) => i === ax || d === first.shape[i]);
    if (!ok) throw new Error(`concat: shapes ${tensors.map((x) => shapeStr(x.shape)).join(" and ")} differ off axis ${ax}`);
  }
  const outer = sizeOf(first.shape.slice(0, ax));
  const inner = sizeOf(first.shape.slice(ax + 1));
  const widths = tensors.map((t) => t.shape[ax]! * inner);
  const total = widths.reduce((x, y) => x + y, 0);
  const shape = [...first.shape];
  shape[ax] = tensors.reduce((s, t) => s + t.shape[ax]!, 0);
  const out = allocForOverwrite(outer * total);
  let off = 0;
  tensors.forEach((t, k) => {
    const w = widths[k]!;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * w, o * w + w), o * total + off);
    off += w;
  });
  return Tensor.fromOp("concat", shape, out, tensors, (y) => {
    const g = y.grad!;
    let off2 = 0;
    tensors.forEach((t, k) => {
      const w = widths[k]!;
      if (t.requiresGrad) {
        const gt = t.gradBuffer();
        for (let o = 0; o < outer; o++) {
          const src = o * total + off2;
          const dst = o * w;
          for (let i = 0; i < w; i++) gt[dst + i]! += g[src + i]!;
        }
      }
      off2 += w;
    });
  });
}

/** a[..., start:end, ...] along `axis` (end exclusive). */
export function slice(a: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normAxis("slice", a.shape, axis);
  const len = a.shape[ax]!;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > len || start > end)
    throw new Error(`slice: range [${start}, ${end}) out of bounds for axis ${ax} of ${shapeStr(a.shape)}`);
  const outer = sizeOf(a.shape.slice(0, ax));
  const inner = sizeOf(a.shape.slice(ax + 1));
  const shape = [...a.shape];
  shape[ax] = end - start;
  const w = (end - start) * inner;
  const out = allocForOverwrite(outer * w);
  for (let o = 0; o < outer; o++) {
    const src = (o * len + start) * inner;
    out.set(a.data.subarray(src, src + w), o * w);
  }
  return Tensor.fromOp("slice", shape, out, [a], (y) => {
    const g = y.grad!;
    const ga = a.gradBuffer();
    for (let o = 0; o < outer; o++) {
      const dst = (o * len + start) * inner;
      for (let i = 0; i < w; i++) ga[dst + i]! += g[o * w + i]!;
    }
  });
}
