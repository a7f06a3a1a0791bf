/**
 * Every tensor buffer in the engine is allocated here, and nowhere else. Keeping one allocation
 * point means a later backend (WebAssembly memory for SIMD kernels, SharedArrayBuffer for worker
 * threads) can change where storage lives without touching a single op. Always float32.
 */

/** A zero-filled float32 buffer of `n` elements. */
export function alloc(n: number): Float32Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`alloc: bad element count ${n}`);
  return new Float32Array(n);
}
