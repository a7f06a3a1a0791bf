/**
 * The training page's counting kernel: it counts every product's operations, a convolution's
 * lowered products included, and passes on everything else the kernel it wraps offers, so that
 * training through it runs on that kernel's own passes and memory.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countingKernel } from "../src/web/flops.js";
import { matmulBlocked, setMatmulKernel } from "../src/tensor/kernels/matmul.js";
import { createSimdMatmul, type SimdMatmul } from "../src/tensor/kernels/wasm/simd-kernel.js";
import * as T from "../src/tensor/index.js";
import { Prng } from "../src/tensor/prng.js";

/** Operations of conv2d (4,3,12,12) * (5,3,4,4), stride 2, padding 1, forward and backward, and of linear (4,20) -> 7. */
function convAndLinear(): { conv: number; linear: number } {
  const prng = new Prng(3);
  const rand = (shape: number[]): T.Tensor => new T.Tensor(shape, prng.fillUniform(T.alloc(shape.reduce((a, b) => a * b, 1)), -1, 1), true);
  const x = rand([4, 3, 12, 12]), w = rand([5, 3, 4, 4]), b = rand([5]);
  T.sum(T.conv2d(x, w, b, { stride: 2, padding: 1 })).backward();
  const R = 4 * 6 * 6, CKK = 3 * 4 * 4; // forward, the weight's gradient and the input's: R·P·CKK terms each
  const xl = rand([4, 20]), wl = rand([7, 20]), bl = rand([7]);
  T.sum(T.linear(xl, wl, bl)).backward(); // forward, dX and dW: 4·7·20 terms each
  return { conv: 3 * 2 * R * 5 * CKK, linear: 3 * 2 * 4 * 7 * 20 };
}

describe("countingKernel", () => {
  let simd: SimdMatmul | undefined;
  beforeAll(async () => {
    simd = await createSimdMatmul({ threads: 1 });
  });
  afterAll(async () => {
    setMatmulKernel(matmulBlocked);
    await simd?.dispose();
  });

  it("passes on the SIMD kernel's memory and passes, and counts its convolutions' products", () => {
    const counter = countingKernel(simd!);
    for (const part of ["conv", "storage", "activations", "batchNorm", "elementwise", "optimizer"] as const) {
      expect(simd![part], part).toBeDefined();
      if (part === "conv") expect(counter.conv!.keepsCols).toBe(simd!.conv!.keepsCols);
      else expect(counter[part], part).toBe(simd![part]);
    }
    setMatmulKernel(counter);
    const want = convAndLinear();
    expect(counter.flops).toBe(want.conv + want.linear);
    counter.flops = 0;
    counter.counting = false;
    convAndLinear();
    expect(counter.flops).toBe(0);
  });

  it("over the TypeScript kernel, the convolutions' products come through gemm: the same count", () => {
    const counter = countingKernel(matmulBlocked);
    expect(counter.conv).toBeUndefined();
    expect(counter.storage).toBeUndefined();
    setMatmulKernel(counter);
    const want = convAndLinear();
    expect(counter.flops).toBe(want.conv + want.linear);
  });
});
