/**
 * The WebAssembly emitter behind the SIMD matmul: LEB128 encodings against the specification's
 * examples, and emitted SIMD code run and checked lane by lane. The kernel itself is tested in
 * matmul.test.ts, by the same suite as every other matmul kernel.
 */
import { describe, expect, it } from "vitest";
import { Code, f32, i32, moduleBytes, sleb, uleb } from "../src/tensor/kernels/wasm/emit.js";
import { DEFAULT_BLOCKING, kernelModuleBytes, relaxedSimdAvailable, sharedMemoryAvailable, simdAvailable } from "../src/tensor/kernels/wasm/matmul-simd.js";

const enc = (f: (out: number[], n: number) => void, n: number): number[] => {
  const out: number[] = [];
  f(out, n);
  return out;
};

describe("wasm emitter", () => {
  it("writes LEB128 as the specification does", () => {
    expect(enc(uleb, 0)).toEqual([0x00]);
    expect(enc(uleb, 127)).toEqual([0x7f]);
    expect(enc(uleb, 128)).toEqual([0x80, 0x01]);
    expect(enc(uleb, 624485)).toEqual([0xe5, 0x8e, 0x26]); // the example in Wikipedia and DWARF
    expect(enc(uleb, 0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(enc(sleb, 0)).toEqual([0x00]);
    expect(enc(sleb, 63)).toEqual([0x3f]);
    expect(enc(sleb, 64)).toEqual([0xc0, 0x00]); // bit 6 set: needs a second byte to stay positive
    expect(enc(sleb, -1)).toEqual([0x7f]);
    expect(enc(sleb, -64)).toEqual([0x40]);
    expect(enc(sleb, -65)).toEqual([0xbf, 0x7f]);
    expect(enc(sleb, -123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(() => enc(uleb, -1)).toThrow();
  });

  it("emits SIMD code that the engine validates and runs: x·y + z lane by lane, splat, shuffle", async () => {
    expect(simdAvailable()).toBe(true); // Node 20 has WebAssembly SIMD; the kernel needs it
    // f(p): mem[p+32 : p+48] = v128(mem[p]) * splat(mem[p+16]) + shuffle(mem[p], 3,2,1,0)
    const f = new Code([i32]);
    f.get(0).get(0).v128Load(0).get(0).v128Load32Splat(16).f32x4Mul();
    f.get(0).v128Load(0).get(0).v128Load(0).shuffle32(3, 2, 1, 0).f32x4Add().v128Store(32);
    // g(p): returns lane 2 of mem[p] as f32, plus 0.5
    const g = new Code([i32], [f32]);
    g.get(0).v128Load().f32x4ExtractLane(2).f32Const(0.5).f32Add();
    const memory = new WebAssembly.Memory({ initial: 1 });
    const { instance } = await WebAssembly.instantiate(moduleBytes({ module: "env", field: "memory", min: 1 }, [f, g], { f: 0, g: 1 }), { env: { memory } });
    const m = new Float32Array(memory.buffer);
    m.set([1, 2, 3, 4], 4); // p = 16
    m[8] = 10; // the splat operand, at p + 16
    (instance.exports.f as (p: number) => void)(16);
    expect(Array.from(m.subarray(12, 16))).toEqual([1 * 10 + 4, 2 * 10 + 3, 3 * 10 + 2, 4 * 10 + 1]);
    expect((instance.exports.g as (p: number) => number)(16)).toBe(3.5);
  });

  it("emits relaxed SIMD's multiply-add, a·b + c per lane, and the kernel uses it only when asked", async () => {
    expect(relaxedSimdAvailable()).toBe(true); // the test setup enables it in Node 20
    // h(p): mem[p+32 : p+48] = mem[p] * mem[p+16] + mem[p+32]
    const h = new Code([i32]);
    h.get(0).get(0).v128Load(0).get(0).v128Load(16).get(0).v128Load(32).f32x4RelaxedMadd().v128Store(32);
    const memory = new WebAssembly.Memory({ initial: 1 });
    const { instance } = await WebAssembly.instantiate(moduleBytes({ module: "env", field: "memory", min: 1 }, [h], { h: 0 }), { env: { memory } });
    const m = new Float32Array(memory.buffer);
    m.set([1, 2, 3, 4, 10, 20, 30, 40, 0.5, 0.25, -1, 7], 0);
    (instance.exports.h as (p: number) => void)(0);
    expect(Array.from(m.subarray(8, 12))).toEqual([10.5, 40.25, 89, 167]);
    // relaxed_madd is 0xfd then LEB128(0x105) = 0x85 0x02; the plain kernel has no such sequence.
    const has = (b: Uint8Array): boolean => b.some((_, i) => b[i] === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02);
    const mem = { min: 2, max: 4, shared: false };
    expect(has(kernelModuleBytes({ ...DEFAULT_BLOCKING, fma: true }, mem))).toBe(true);
    expect(has(kernelModuleBytes({ ...DEFAULT_BLOCKING, fma: false }, mem))).toBe(false);
  });

  it("marks a shared memory import, which needs a max", () => {
    expect(sharedMemoryAvailable()).toBe(true);
    const bytes = moduleBytes({ module: "env", field: "memory", min: 1, max: 2, shared: true }, [], {});
    expect(WebAssembly.validate(bytes)).toBe(true);
    expect(() => moduleBytes({ module: "env", field: "memory", min: 1, shared: true }, [], {})).toThrow(/max/);
  });
});
