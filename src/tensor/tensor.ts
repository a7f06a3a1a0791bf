/**
 * `Tensor`: a shape and a contiguous row-major Float32Array, plus what reverse-mode autograd needs:
 * the op's inputs and a backward closure written beside the op's forward (in `ops/`).
 * `backward()` sorts the graph topologically once and walks it in reverse; gradients accumulate
 * (`+=`), so a tensor used twice receives the sum. Inside `noGrad(fn)` no graph is recorded.
 */
import { alloc, allocForOverwrite } from "./storage.js";

let gradEnabled = true;

/** Runs `fn` without recording a graph: results keep no inputs and no backward closure alive. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Whether ops record the graph right now (false inside `noGrad`). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `(${shape.join(",")})`;
}

export class Tensor {
  readonly shape: readonly number[];
  /** Row-major values. Parameters may point this at a view of their model's flat buffer. */
  data: Float32Array;
  private gradValues: Float32Array | null = null;
  /** The gradient is zero but `gradValues` still holds old numbers (markGradZero). */
  private gradIsZero = false;
  requiresGrad: boolean;
  /** Name of the op that made this tensor ("leaf" for inputs and parameters). */
  readonly op: string;
  /** The op's inputs (only those that need a gradient are kept). */
  readonly parents: readonly Tensor[];
  /** Adds this tensor's `grad`, pushed through the op, into its parents' `grad`. */
  readonly backwardFn: (() => void) | null;

  constructor(shape: readonly number[], data?: Float32Array, requiresGrad = false) {
    for (const d of shape)
      if (!Number.isInteger(d) || d < 0) throw new Error(`Tensor: bad shape ${shapeStr(shape)}`);
    const n = sizeOf(shape);
    if (data && data.length !== n)
      throw new Error(`Tensor: shape ${shapeStr(shape)} needs ${n} values, got ${data.length}`);
    this.shape = [...shape];
    this.data = data ?? alloc(n);
    this.requiresGrad = requiresGrad;
    this.op = "leaf";
    this.parents = [];
    this.backwardFn = null;
  }

  /**
   * The result of an op. `backward` reads `out.grad` and accumulates into the inputs' grads; it is
   * recorded only when grad mode is on and some input requires a gradient.
   */
  static fromOp(
    op: string,
    shape: readonly number[],
    data: Float32Array,
    inputs: readonly Tensor[],
    backward: (out: Tensor) => void,
  ): Tensor {
    const t = new Tensor(shape, data);
    const needs = gradEnabled ? inputs.filter((x) => x.requiresGrad) : [];
    if (needs.length > 0) {
      const mutable = t as { op: string; parents: readonly Tensor[]; backwardFn: (() => void) | null };
      t.requiresGrad = true;
      mutable.op = op;
      mutable.parents = needs;
      mutable.backwardFn = () => backward(t);
    }
    return t;
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.data.length !== 1) throw new Error(`item: tensor of shape ${shapeStr(this.shape)} is not a scalar`);
    return this.data[0]!;
  }

  /**
   * Gradient of the loss with respect to this tensor, same layout as `data`; null until needed.
   * After `markGradZero` the first read fills it with zeros.
   */
  get grad(): Float32Array | null {
    if (this.gradIsZero) {
      this.gradIsZero = false;
      this.gradValues!.fill(0);
    }
    return this.gradValues;
  }

  set grad(g: Float32Array | null) {
    this.gradValues = g;
    this.gradIsZero = false;
  }

  /**
   * Makes the gradient zero without writing it: the next backward contribution that covers all of
   * it writes over it (`gradTarget` says so), and any other reader finds zeros (`grad` fills them
   * first). A model's zeroGrad does this for its parameters, whose gradients a step otherwise fills
   * with zeros only for the first product to add into them.
   */
  markGradZero(): void {
    if (this.gradValues) this.gradIsZero = true;
  }

  /** This tensor's gradient buffer, allocated (zeros) on first use. */
  gradBuffer(): Float32Array {
    if (this.grad === null) this.grad = alloc(this.data.length);
    return this.grad;
  }

  /**
   * gradient += g, for an op's backward whose output's gradient `g` (the same size) passes to this
   * input unchanged, as through a reshape or an addition. When this tensor is itself an op's result
   * and nothing has flowed into its gradient yet, `g` becomes that gradient: no pass over memory.
   * That is safe because the output's backward is the last reader of `g` in this pass, and both are
   * intermediate gradients, zeroed together when a backward begins (on a second backward over the
   * same graph they are still one buffer, and what flowed into `g` is already here). A leaf's
   * gradient outlives the pass, accumulating until zeroGrad, so a leaf always gets its own buffer.
   * An op must hand one `g` to one input only: two inputs sharing a buffer would see each other's
   * later contributions.
   */
  addToGrad(g: Float32Array): void {
    if (this.grad === null && this.backwardFn !== null) {
      this.grad = g;
      return;
    }
    if (this.grad === g) return;
    const ga = this.gradBuffer();
    for (let i = 0; i < g.length; i++) ga[i]! += g[i]!;
  }

  /**
   * Where an op's backward puts this input's gradient when it computes the whole contribution in
   * one pass: an op's result whose gradient is still empty gets a new buffer to write over (no zero
   * fill, no read of zeros), and so does a gradient made zero by `markGradZero`; otherwise
   * `accumulate` is true and the contribution is added into the gradient (a leaf's, or one that
   * something has already flowed into).
   */
  gradTarget(): { grad: Float32Array; accumulate: boolean } {
    if (this.gradIsZero) {
      this.gradIsZero = false;
      return { grad: this.gradValues!, accumulate: false };
    }
    if (this.grad === null && this.backwardFn !== null) return { grad: (this.grad = allocForOverwrite(this.data.length)), accumulate: false };
    return { grad: this.gradBuffer(), accumulate: true };
  }

  /** Zeroes the gradient in place (keeps the buffer, which may be a view into a flat buffer). */
  zeroGrad(): void {
    if (this.grad) this.grad.fill(0);
  }

  /** A leaf sharing this tensor's values, cut from the graph: no gradient flows back through it. */
  detach(): Tensor {
    return new Tensor(this.shape, this.data, false);
  }

  /**
   * Back-propagates from this tensor. For a scalar the seed gradient is 1; otherwise pass `seed`
   * (same shape) — the vector in the vector-Jacobian product.
   */
  backward(seed?: Float32Array): void {
    if (!this.requiresGrad) throw new Error("backward: tensor does not require grad (no graph was recorded)");
    if (seed === undefined && this.data.length !== 1)
      throw new Error(`backward: tensor of shape ${shapeStr(this.shape)} is not a scalar; pass a seed gradient`);
    if (seed !== undefined && seed.length !== this.data.length)
      throw new Error(`backward: seed has ${seed.length} values, tensor ${shapeStr(this.shape)}`);
    const order = topoOrder(this);
    // Intermediate gradients belong to this pass only (a second backward over the same graph must
    // not count the first one again); leaves keep accumulating until zeroGrad.
    for (const t of order) if (t.backwardFn && t.grad) t.grad.fill(0);
    const g = this.gradBuffer();
    if (seed) for (let i = 0; i < g.length; i++) g[i]! += seed[i]!;
    else g[0]! += 1;
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      if (t.backwardFn && t.grad) t.backwardFn();
    }
  }
}

/** Tensors reachable from `root`, each after all of its inputs (iterative DFS: deep graphs are fine). */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    if (i < t.parents.length) {
      top[1] = i + 1;
      const p = t.parents[i]!;
      if (!seen.has(p)) {
        seen.add(p);
        stack.push([p, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/** A tensor of the given shape filled from `values` (copied into engine storage). */
export function tensor(shape: readonly number[], values?: ArrayLike<number>, requiresGrad = false): Tensor {
  const t = new Tensor(shape, undefined, requiresGrad);
  if (values) {
    if (values.length !== t.size)
      throw new Error(`tensor: shape ${shapeStr(shape)} needs ${t.size} values, got ${values.length}`);
    for (let i = 0; i < values.length; i++) t.data[i] = values[i]!;
  }
  return t;
}

export function zeros(shape: readonly number[], requiresGrad = false): Tensor {
  return new Tensor(shape, undefined, requiresGrad);
}

export function full(shape: readonly number[], value: number, requiresGrad = false): Tensor {
  const t = new Tensor(shape, undefined, requiresGrad);
  t.data.fill(value);
  return t;
}
