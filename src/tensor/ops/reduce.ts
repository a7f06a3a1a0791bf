/**
 * Reductions: sum and mean, over the whole tensor (a one-element tensor of shape ()) or along one
 * axis (that axis removed). Around the axis a tensor is (outer, axis, inner); the backward spreads
 * each output's gradient back over the values it summed.
 */
import { alloc } from "../storage.js";
import { Tensor, shapeStr, sizeOf } from "../tensor.js";

function reduce(op: "sum" | "mean", a: Tensor, axis?: number): Tensor {
  let outer = 1;
  let len = a.size;
  let inner = 1;
  let shape: number[] = [];
  if (axis !== undefined) {
    const ax = axis < 0 ? axis + a.ndim : axis;
    if (!Number.isInteger(ax) || ax < 0 || ax >= a.ndim) throw new Error(`${op}: axis ${axis} out of range for ${shapeStr(a.shape)}`);
    outer = sizeOf(a.shape.slice(0, ax));
    len = a.shape[ax]!;
    inner = sizeOf(a.shape.slice(ax + 1));
    shape = a.shape.filter((_, i) => i !== ax);
  }
  const scale = op === "mean" ? 1 / len : 1;
  const x = a.data;
  const out = alloc(outer * inner);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let s = 0; // accumulated in float64
      for (let k = 0; k < len; k++) s += x[(o * len + k) * inner + i]!;
      out[o * inner + i] = s * scale;
    }
  return Tensor.fromOp(op, shape, out, [a], (y) => {
    const g = y.grad!;
    const ga = a.gradBuffer();
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const gi = g[o * inner + i]! * scale;
        for (let k = 0; k < len; k++) ga[(o * len + k) * inner + i]! += gi;
      }
  });
}

/** Sum of all values (shape ()), or along `axis` (that axis removed). */
export const sum = (a: Tensor, axis?: number): Tensor => reduce("sum", a, axis);
/** Mean of all values (shape ()), or along `axis` (that axis removed). */
export const mean = (a: Tensor, axis?: number): Tensor => reduce("mean", a, axis);
