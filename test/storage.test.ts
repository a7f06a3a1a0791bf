/**
 * The allocator's recycling: a step's buffers come back to the next step zeroed, `keep` lets a value
 * outlive its step, and outside a scope nothing is reused.
 */
import { describe, expect, it } from "vitest";
import { alloc, keep, recycling } from "../src/tensor/storage.js";

describe("recycling", () => {
  it("the next scope gets the same buffers back, zeroed", () => {
    const first = recycling(() => {
      const a = alloc(1000);
      a.fill(7);
      return a;
    });
    const second = recycling(() => alloc(1000));
    expect(second).toBe(first); // the very same buffer
    expect(second.every((v) => v === 0)).toBe(true);
  });

  it("two live buffers of one size are never the same one, and keep() escapes the scope", () => {
    let kept: Float32Array | undefined;
    recycling(() => {
      const a = alloc(333);
      const b = alloc(333);
      expect(a).not.toBe(b);
      kept = keep(() => alloc(333));
      kept.fill(5);
    });
    recycling(() => {
      const c = alloc(333);
      const d = alloc(333);
      const e = alloc(333); // a third: the free list held only two
      for (const x of [c, d, e]) expect(x).not.toBe(kept);
    });
    expect(kept!.every((v) => v === 5)).toBe(true);
  });

  it("outside a scope every buffer is new", () => {
    recycling(() => alloc(64));
    expect(alloc(64)).not.toBe(alloc(64));
    expect(recycling(() => recycling(() => alloc(64)))).toBeInstanceOf(Float32Array); // nested scopes join the outer
  });
});
