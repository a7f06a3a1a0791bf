/**
 * `Module`: named parameters, buffers and sub-modules, registered in order, with PyTorch's names
 * (`net.0.weight`, `net.1.running_mean`) so checkpoints line up with a PyTorch `state_dict()`.
 * `pack()` moves every parameter of a model into one flat Float32Array (and its gradient into
 * another): each parameter's `data` and `grad` become views, so an optimizer step and weight
 * clipping are each one loop over one buffer, and zeroing the gradients writes nothing (each is
 * marked zero until a backward writes over it or something reads it: see zeroGrad).
 */
import { Tensor, alloc, allocLasting } from "../tensor/index.js";

/** A non-trainable state array (running statistics); `int64` marks PyTorch's integer counters. */
export interface Buffer {
  data: Float32Array;
  shape: number[];
  dtype: "float32" | "int64";
}

/** One flat allocation holding every parameter of a model, and one for their gradients. */
export interface FlatParameters {
  data: Float32Array;
  grad: Float32Array;
}

export class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Buffer>();
  private readonly children = new Map<string, Module>();
  private flat: FlatParameters | null = null;
  /** The parameters whose parts the flat buffers hold, in order (after pack()). */
  private packed: Tensor[] = [];

  /** Registers a trainable parameter under `name` and returns it. */
  protected param(name: string, shape: number[]): Tensor {
    const t = new Tensor(shape, undefined, true);
    this.params.set(name, t);
    return t;
  }

  /** Registers a state buffer under `name` and returns it. */
  protected buffer(name: string, shape: number[], dtype: Buffer["dtype"] = "float32"): Buffer {
    const b: Buffer = { data: alloc(shape.reduce((x, y) => x * y, 1)), shape, dtype };
    this.buffers.set(name, b);
    return b;
  }

  /** Registers a sub-module under `name` and returns it. */
  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** All parameters with their dotted names, in registration order (PyTorch's order). */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** All buffers with their dotted names. */
  namedBuffers(prefix = ""): [string, Buffer][] {
    const out: [string, Buffer][] = [];
    for (const [n, b] of this.buffers) out.push([prefix + n, b]);
    for (const [n, c] of this.children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /**
   * Every tensor of the model's state in PyTorch's `state_dict()` order: each module's own
   * parameters, then its buffers, then its children's.
   */
  stateEntries(prefix = ""): [string, { data: Float32Array; shape: readonly number[]; dtype: Buffer["dtype"] }][] {
    const out: [string, { data: Float32Array; shape: readonly number[]; dtype: Buffer["dtype"] }][] = [];
    for (const [n, p] of this.params) out.push([prefix + n, { data: p.data, shape: p.shape, dtype: "float32" }]);
    for (const [n, b] of this.buffers) out.push([prefix + n, b]);
    for (const [n, c] of this.children) out.push(...c.stateEntries(`${prefix}${n}.`));
    return out;
  }

  /** This module and every module below it, depth first in registration order (PyTorch's `modules()`). */
  modules(): Module[] {
    const out: Module[] = [this];
    for (const c of this.children.values()) out.push(...c.modules());
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  /** Sets training mode (batch statistics in batch norm) on this module and all below it. */
  train(on = true): this {
    this.training = on;
    for (const c of this.children.values()) c.train(on);
    return this;
  }

  /** Inference mode: batch norm uses its running statistics. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Moves all parameters into one flat buffer (values kept) and their gradients into another.
   * Call once, on the root model, after construction. Returns the two buffers.
   */
  pack(): FlatParameters {
    if (this.flat) return this.flatParameters();
    const params = this.parameters();
    const n = params.reduce((s, p) => s + p.size, 0);
    const data = allocLasting(n);
    const grad = allocLasting(n);
    let off = 0;
    for (const p of params) {
      data.set(p.data, off);
      p.data = data.subarray(off, off + p.size);
      p.grad = grad.subarray(off, off + p.size);
      off += p.size;
    }
    this.flat = { data, grad };
    this.packed = params;
    return this.flat;
  }

  /** The flat buffers made by `pack()` (gradients as they read: see zeroGrad); an error if the model was never packed. */
  flatParameters(): FlatParameters {
    if (!this.flat) throw new Error("flatParameters: call pack() on the model first");
    for (const p of this.packed) void p.grad; // reading a gradient marked zero fills it with zeros
    return this.flat;
  }

  /**
   * Zeroes every parameter's gradient. On a packed model without writing: each parameter's
   * gradient is marked zero (Tensor.markGradZero), so the first product of the next backward
   * writes over it; `pack()` and `flatParameters()` fill whatever is still marked before they hand
   * the flat buffers out.
   */
  zeroGrad(): void {
    if (this.flat) for (const p of this.packed) p.markGradZero();
    else for (const p of this.parameters()) p.zeroGrad();
  }

}

/** A module with one input and one output: what `Sequential` chains. */
export interface Layer extends Module {
  forward(x: Tensor): Tensor;
}
