/**
 * Every tensor buffer in the engine is allocated here, and nowhere else. Always float32; zero-filled
 * by `alloc`, left as found by `allocForOverwrite` for outputs written in full.
 *
 * Buffers are recycled across training steps: inside `recycling(fn)` every buffer handed out is
 * remembered, and when `fn` returns they all go back to a free list by size, to be handed out
 * (zeroed) by the next step instead of fresh ones. A training step allocates the same sizes every
 * time, so after the first step it allocates nothing and leaves the garbage collector nothing to
 * do. The contract: nothing allocated inside `recycling` may be used after it returns (a step
 * keeps only numbers, and writes into buffers made outside it: weights, gradients, optimizer state).
 * A value that must outlive the step is made inside `keep(fn)`.
 *
 * Where a scope's new buffers live: on the JavaScript heap, or in a matmul kernel's own memory
 * when the active kernel offers it (`setStorageHeap`, called by kernels/matmul.ts's
 * setMatmulKernel): the SIMD kernel then computes on them in place, without copying operands in
 * and results out. Other buffers outside a scope stay on the JavaScript heap, where the garbage
 * collector frees them (nothing would in the kernel's memory); only `allocLasting`, for what lives
 * as long as a model, takes them from the kernel too.
 */

/** Fresh, zero-filled float32 buffers from a kernel's memory; null when it has no more room. */
export interface StorageHeap {
  alloc(n: number): Float32Array | null;
}

/** Where `recycling` scopes take new buffers from, besides the JavaScript heap. */
let heap: StorageHeap | null = null;

/** Buffers handed out in the current `recycling` scope, or null outside one. */
let inScope: Float32Array[] | null = null;
/** Buffers returned by finished scopes, by length. */
const free = new Map<number, Float32Array[]>();
/** Tests: NaN into every buffer a scope returns, so a step that reads stale values shows it. */
let poison = false;

/** A zero-filled float32 buffer of `n` elements. */
export function alloc(n: number): Float32Array {
  const { buf, reused } = take(n);
  return reused ? buf.fill(0) : buf;
}

/**
 * A float32 buffer of `n` elements whose contents are unspecified: inside `recycling` a reused
 * buffer keeps the values of its last use. Only for outputs that the caller overwrites in full
 * (an op's result computed element by element, a product that does not accumulate); everything
 * that is added into, gradients above all, comes from `alloc`. Skipping the zero fill saves a
 * pass over memory per op.
 */
export function allocForOverwrite(n: number): Float32Array {
  return take(n).buf;
}

/**
 * A zero-filled buffer of `n` elements that lives as long as a model: its flat parameters and
 * gradients, an optimizer's state. In the active kernel's memory when it offers one (storage
 * above), where the kernel updates it in place; it is never recycled, and in that memory never
 * freed (a model is made a few times per process). Else on the JavaScript heap.
 */
export function allocLasting(n: number): Float32Array {
  checkCount(n);
  return heap?.alloc(n) ?? new Float32Array(n);
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new Error(`alloc: bad element count ${n}`);
}

/** A buffer of `n` elements: a recycled one inside a scope when one is free (`reused`), else a new, zeroed one. */
function take(n: number): { buf: Float32Array; reused: boolean } {
  checkCount(n);
  if (inScope === null) return { buf: new Float32Array(n), reused: false };
  const recycled = free.get(n)?.pop();
  const buf = recycled ?? heap?.alloc(n) ?? new Float32Array(n);
  inScope.push(buf);
  return { buf, reused: recycled !== undefined };
}

/** Runs `fn`, then recycles every buffer allocated during it (see the header). Nested calls join the outer one. */
export function recycling<T>(fn: () => T): T {
  if (inScope !== null) return fn();
  inScope = [];
  try {
    return fn();
  } finally {
    for (const buf of inScope) {
      if (poison) buf.fill(NaN);
      const list = free.get(buf.length);
      if (list) list.push(buf);
      else free.set(buf.length, [buf]);
    }
    inScope = null;
  }
}

/**
 * Takes the new buffers of later `recycling` scopes from `h` (null: the JavaScript heap), and drops
 * the free list, whose buffers may live in the previous heap. Not inside a scope.
 */
export function setStorageHeap(h: StorageHeap | null): void {
  if (inScope !== null) throw new Error("setStorageHeap: inside a recycling scope");
  heap = h;
  free.clear();
}

/**
 * For tests: while on, every buffer a `recycling` scope gives back is filled with NaN, so that
 * an op reading a part of an `allocForOverwrite` buffer it did not write turns its result into NaN.
 */
export function poisonRecycledBuffers(on: boolean): void {
  poison = on;
}

/** Runs `fn` with recycling suspended: what it allocates outlives the current scope. */
export function keep<T>(fn: () => T): T {
  const outer = inScope;
  inScope = null;
  try {
    return fn();
  } finally {
    inScope = outer;
  }
}
