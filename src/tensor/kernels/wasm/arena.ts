/**
 * The SIMD kernel's memory above its fixed part (control block, thread slots): a bump allocator
 * over a WebAssembly.Memory that grows on demand and never frees. Two kinds of block come from it:
 * the kernel's scratch (operands copied in, the cols matrix of a convolution), and, when the
 * memory is shared, tensor buffers that the engine's allocator (../../storage.ts) takes for
 * recycled step buffers, so that ops on them skip the copies in and out.
 *
 * Contract: every block starts on a 64-byte line and its length is rounded up to one, so a vector
 * pass over a block's last partial f32x4 stays inside it; 64 bytes past the top are always in the
 * memory, for reads that run past a region. A block handed out is fresh memory, hence zero.
 *
 * Why shared memory only for tensor buffers: growing a non-shared memory detaches its ArrayBuffer
 * and with it every view on it, every tensor; a shared memory grows in place and old views stay
 * valid (WebAssembly threads proposal, memory.grow); `view` renews the whole-memory view after one.
 */

const PAGE = 65536;
/** Pages added at least per growth, so a step's many allocations grow the memory a few times only. */
const MIN_GROWTH_PAGES = 64;

export const align64 = (n: number): number => Math.ceil(n / 64) * 64;

export class MemoryArena {
  /** First byte past the last block. */
  private top: number;
  private f32: Float32Array;
  /** Every buffer object the memory has had: a shared memory's `buffer` is a new object after each growth, over the same bytes. */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(readonly memory: WebAssembly.Memory, start: number) {
    this.top = align64(start);
    this.f32 = new Float32Array(memory.buffer);
    this.buffers.add(memory.buffer);
  }

  /** Whether `a` views this memory (made before or after any growth), so its byteOffset addresses it. */
  holds(a: Float32Array): boolean {
    return a.buffer === this.memory.buffer || this.buffers.has(a.buffer);
  }

  /** A float view of the whole memory as it is now. */
  get view(): Float32Array {
    return this.memory.buffer === this.f32.buffer ? this.f32 : (this.f32 = new Float32Array(this.memory.buffer));
  }

  /** Byte offset of a fresh block of at least `bytes`, or null when the memory cannot grow so far. */
  tryAlloc(bytes: number): number | null {
    const at = this.top;
    return this.extendTop(at, bytes) ? at : null; // a new, empty last block at the top, lengthened
  }

  /** Whether the block at `at` of `bytes` is the last one, which `extendTop` can lengthen in place. */
  isTop(at: number, bytes: number): boolean {
    return at + align64(bytes) === this.top;
  }

  /** Lengthens the last block (at `at`) to `bytes`; false when the memory cannot grow so far. */
  extendTop(at: number, bytes: number): boolean {
    if (!this.ensure(at + align64(bytes))) return false;
    this.top = at + align64(bytes);
    return true;
  }

  /** Grows the memory to hold `end` and 64 bytes more; false if it may not grow that far. */
  private ensure(end: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (end + 64 <= have) return true;
    const need = Math.ceil((end + 64 - have) / PAGE);
    try {
      this.memory.grow(Math.max(need, MIN_GROWTH_PAGES));
    } catch {
      try {
        this.memory.grow(need); // near the maximum: only what is needed
      } catch {
        return false;
      }
    }
    this.buffers.add(this.memory.buffer);
    return true;
  }
}
