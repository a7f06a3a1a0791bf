/**
 * Step buffers in the SIMD kernel's own memory (storage.ts's heap, kernels/wasm/arena.ts): inside a
 * `recycling` scope with the kernel active, new buffers are views on its shared memory, and the
 * kernel computes on them in place instead of copying. Where an operand sits must not change a bit
 * of any result: every kernel call is run with each operand in the kernel's memory or on the
 * JavaScript heap, on one thread and on two, and compared bit for bit with all operands on the heap.
 * Also: a pass over a buffer whose length is not a multiple of four leaves its neighbour alone, an
 * output that is also an input is still right, growing the memory keeps earlier buffers, and the
 * heap goes away with the kernel.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matmulBlocked, setMatmulKernel } from "../src/tensor/kernels/matmul.js";
import { createSimdMatmul, type SimdMatmul } from "../src/tensor/kernels/wasm/simd-kernel.js";
import { convOutSize } from "../src/tensor/kernels/im2col.js";
import { alloc, allocForOverwrite, recycling, setStorageHeap } from "../src/tensor/storage.js";
import { spawnNodeWorker } from "../src/io/workers.js";
import { Prng } from "../src/tensor/index.js";
import { firstBitDifference } from "./gradcheck.js";
import { loadMnist } from "../src/io/mnist.js";
import { Batcher } from "../src/mnist/batches.js";
import { IMAGE_SIZE } from "../src/mnist/image.js";
import { createCritic, createGenerator, MODEL_KINDS } from "../src/gan/models.js";
import { DEFAULT_CONFIG } from "../src/gan/config.js";
import { Wgan } from "../src/gan/wgan.js";

const onHeap = (a: Float32Array): boolean => !(a.buffer instanceof SharedArrayBuffer);

/** A copy of `src` in the kernel's memory (the active kernel's storage, inside a recycling scope). */
function resident(src: Float32Array): Float32Array {
  const r = allocForOverwrite(src.length);
  expect(onHeap(r), "a step buffer from the kernel's memory").toBe(false);
  r.set(src);
  return r;
}

/**
 * Runs `call` on copies of `operands`, once with every operand on the heap and once per other
 * choice of which ones sit in the kernel's memory; every operand must end bit for bit as in the
 * first run (outputs the results, inputs untouched).
 */
function samePlacedAnywhere(operands: Float32Array[], call: (ops: Float32Array[]) => void): void {
  const want = operands.map((a) => a.slice());
  call(want);
  for (let mask = 1; mask < 1 << operands.length; mask++) {
    const ops = operands.map((a, i) => ((mask >> i) & 1 ? resident(a) : a.slice()));
    call(ops);
    ops.forEach((a, i) => expect(firstBitDifference(a, want[i]!), `operand ${i}, placement ${mask.toString(2)}`).toBe(-1));
  }
}

const KERNELS: [string, () => Promise<SimdMatmul>][] = [
  ["1 thread", () => createSimdMatmul({ threads: 1 })],
  ["2 threads", () => createSimdMatmul({ threads: 2, spawn: spawnNodeWorker, minParallelWork: 0, minParallelTiles: 0, minParallelPass: 0 })],
];

for (const [name, make] of KERNELS)
  describe(`operands in the kernel's memory, ${name}`, () => {
    let k: SimdMatmul;
    beforeAll(async () => {
      k = await make();
      setMatmulKernel(k);
    });
    afterAll(async () => {
      setMatmulKernel(matmulBlocked);
      await k.dispose();
    });
    const prng = new Prng(11);
    const rand = (n: number): Float32Array => prng.fillUniform(new Float32Array(n), -1, 1);

    it("the kernel offers its memory, and a scope's new buffers come from it", () => {
      expect(k.storage).toBeDefined();
      recycling(() => {
        const a = alloc(1000);
        expect(onHeap(a)).toBe(false);
        expect(a.every((v) => v === 0)).toBe(true);
      });
    });

    for (const [M, N, K] of [[7, 9, 5], [37, 29, 19], [130, 70, 260]] as const)
      it(`products ${M}x${N}x${K}, every transpose, overwriting and accumulating`, () =>
        recycling(() => {
          for (const transA of [false, true])
            for (const transB of [false, true])
              for (const accumulate of [false, true])
                samePlacedAnywhere([rand(M * K), rand(K * N), rand(M * N)], ([A, B, C]) => k.gemm(transA, transB, M, N, K, A!, B!, C!, accumulate));
        }));

    it("the convolution lowerings, with and without bias, overwriting and accumulating", () =>
      recycling(() => {
        const [N, C, H, W, P, KK, stride, pad] = [3, 2, 9, 7, 5, 4, 2, 1];
        const OH = convOutSize(H, KK, stride, pad), OW = convOutSize(W, KK, stride, pad);
        const g = { N, C, H, W, KH: KK, KW: KK, stride, pad, OH, OW };
        const img = N * C * H * W, CKK = C * KK * KK, out = N * P * OH * OW;
        const L = k.conv!;
        for (const accumulate of [false, true]) {
          samePlacedAnywhere([rand(img), rand(P * CKK), rand(out), rand(P)], ([x, w, o, b]) => L.im2colTimesWt(x!, g, w!, P, o!, { bias: b!, accumulate }));
          samePlacedAnywhere([rand(img), rand(P * CKK), rand(out)], ([x, w, o]) => L.im2colTimesWt(x!, g, w!, P, o!, { accumulate }));
        }
        samePlacedAnywhere([rand(out), rand(img), rand(P * CKK)], ([A, x, dW]) => L.addAtTimesIm2col(A!, P, x!, g, dW!));
        // im2col kept in a cache buffer (written by the first call, read by the second)
        const R = N * OH * OW;
        samePlacedAnywhere([rand(img), rand(P * CKK), rand(out), rand(R * CKK), rand(out), rand(P * CKK)], ([x, w, o, cols, A, dW]) => {
          const cache = { buf: cols!, filled: false };
          L.im2colTimesWt(x!, g, w!, P, o!, { cols: cache });
          L.addAtTimesIm2col(A!, P, x!, g, dW!, cache);
        });
        samePlacedAnywhere([rand(out), rand(P * CKK), rand(img)], ([A, w, x]) => L.addCol2imOfProduct(A!, P, w!, g, x!));
      }));

    it("activations, the sum, the optimizer and batch norm, at lengths that do not fill the last vector", () =>
      recycling(() => {
        const a = k.activations!, bn = k.batchNorm!;
        for (const n of [37, 64, 1001]) {
          samePlacedAnywhere([rand(n), rand(n)], ([x, o]) => a.relu(x!, o!));
          samePlacedAnywhere([rand(n), rand(n), rand(n)], ([x, y, o]) => k.elementwise!.add(x!, y!, o!));
          samePlacedAnywhere([rand(n), rand(n)], ([x, o]) => a.leakyRelu(x!, o!, 0.2));
          for (const accumulate of [false, true])
            samePlacedAnywhere([rand(n), rand(n), rand(n)], ([x, g, gx]) => a.backward(x!, g!, gx!, 0.2, accumulate));
        }
        for (const n of [37, 1001]) {
          samePlacedAnywhere([rand(n), rand(n), rand(n).map(Math.abs)], ([w, g, v]) => k.optimizer!.rmsprop(w!, g!, v!, 1e-3, 0.99, 1e-8));
          samePlacedAnywhere([rand(n)], ([w]) => k.optimizer!.clip(w!, 0.5));
        }
        const [N, C, S] = [3, 5, 7], n = N * C * S;
        samePlacedAnywhere([rand(n), rand(C), rand(C), rand(C), rand(C), rand(n), rand(n)], ([x, m, i, g, b, xhat, out]) =>
          bn.normalize(x!, N, C, S, m!, i!, g!, b!, xhat!, out!));
        const coefficients = { scale: rand(C), mg: rand(C), mgh: rand(C) };
        for (const accumulate of [false, true])
          samePlacedAnywhere([rand(n), rand(n), rand(n)], ([g, xhat, gx]) => {
            const sums = [new Float64Array(C), new Float64Array(C)] as const;
            bn.backward(g!, xhat!, N, C, S, sums[0], sums[1], () => coefficients, gx!, accumulate);
          });
      }));

    it("a pass over a buffer of 4k+1 floats leaves the next buffer alone; an output that is also the input is right", () =>
      recycling(() => {
        const x = resident(rand(37)), out = resident(new Float32Array(37));
        const next = resident(new Float32Array(16).fill(7)); // allocated right after out's block
        const want = Float32Array.from(x, (v) => (v > 0 ? v : Math.fround(v * Math.fround(0.2))));
        k.activations!.leakyRelu(x, out, 0.2); // ten vectors: the last one's three spare lanes are written too
        expect(firstBitDifference(out, want)).toBe(-1);
        expect(next.every((v) => v === 7)).toBe(true);
        k.activations!.leakyRelu(x, x, 0.2);
        expect(firstBitDifference(x, want)).toBe(-1);
        // C is also A and B, deeper than a k block (256): written in place, the second block would read the first's results
        const n = 300, sq = resident(rand(n * n)), sqWant = new Float32Array(n * n);
        k.gemm(false, false, n, n, n, sq.slice(), sq.slice(), sqWant, false);
        k.gemm(false, false, n, n, n, sq, sq, sq, false);
        expect(firstBitDifference(sq, sqWant)).toBe(-1);
      }));

    it("parts of a buffer in the kernel's memory (a layer's weights in a flat buffer) are used in place; an output part over an input part is right", () =>
      recycling(() => {
        const M = 24, N = 40, K = 36;
        const flat = resident(rand(M * K + K * N + M * N));
        const A = flat.subarray(0, M * K), B = flat.subarray(M * K, M * K + K * N), C = flat.subarray(M * K + K * N);
        const want = new Float32Array(M * N);
        k.gemm(false, false, M, N, K, A.slice(), B.slice(), want, false); // on the heap: copied in and out
        const before = k.copiedFloats;
        k.gemm(false, false, M, N, K, A, B, C, false);
        expect(k.copiedFloats - before, "floats copied for operands that are views on the memory").toBe(0);
        expect(firstBitDifference(C, want)).toBe(-1);
        // C over the first M·N floats of A (another view of the same bytes): computed aside, then copied
        const over = flat.subarray(0, M * N);
        k.gemm(false, false, M, N, K, A, B, over, false);
        expect(firstBitDifference(over, want)).toBe(-1);
      }));

    it("the sum written over either of its inputs runs in place (nothing copied); written over a shifted view of one, it is computed aside", () =>
      recycling(() => {
        const n = 4099, a0 = rand(n), b0 = rand(n);
        const want = Float32Array.from(a0, (v, i) => v + b0[i]!);
        for (const over of ["a", "b"] as const) {
          const a = resident(a0), b = resident(b0);
          const before = k.copiedFloats;
          k.elementwise!.add(a, b, over === "a" ? a : b);
          expect(k.copiedFloats - before, `written over ${over}`).toBe(0);
          expect(firstBitDifference(over === "a" ? a : b, want), `written over ${over}`).toBe(-1);
          expect(firstBitDifference(over === "a" ? b : a, over === "a" ? b0 : a0), "the other input untouched").toBe(-1);
        }
        // out one float past a's start: read and written in place, a lane would read a float already written
        const flat = resident(new Float32Array(n + 1)), b = resident(b0);
        flat.set(a0);
        const a = flat.subarray(0, n), shifted = flat.subarray(1, n + 1);
        k.elementwise!.add(a, b, shifted);
        expect(firstBitDifference(shifted, want)).toBe(-1);
      }));

    it("a pass whose output is a part of a buffer, 4k+1 floats long, leaves the floats after it alone", () =>
      recycling(() => {
        const flat = resident(rand(64)), x = rand(37);
        const after = flat.slice(37);
        const out = flat.subarray(0, 37); // a view: the last vector of a pass over it would spill three lanes
        k.activations!.leakyRelu(x, out, 0.2);
        expect(firstBitDifference(out, Float32Array.from(x, (v) => (v > 0 ? v : Math.fround(v * Math.fround(0.2)))))).toBe(-1);
        expect(firstBitDifference(flat.subarray(37), after)).toBe(-1);
        k.elementwise!.add(x, x, flat.subarray(3, 40));
        expect(firstBitDifference(flat.subarray(40), after.subarray(3))).toBe(-1);
      }));

    it("a view made after the memory grew is a different buffer object over the same bytes: overlap is still seen", () =>
      recycling(() => {
        const n = 64, x = resident(rand(n * n)), xWant = new Float32Array(n * n);
        k.gemm(false, false, n, n, n, x.slice(), x.slice(), xWant, false);
        const big = alloc(48 << 20); // the memory grows: later views are on a new buffer object
        expect(big.buffer).not.toBe(x.buffer);
        const alias = new Float32Array(big.buffer, x.byteOffset, x.length);
        k.gemm(false, false, n, n, n, x, x, alias, false);
        expect(firstBitDifference(x, xWant)).toBe(-1);
      }));

    it("growing the memory keeps the buffers made before", () =>
      recycling(() => {
        const first = resident(rand(1000)), copy = first.slice();
        const big = alloc(48 << 20); // 192 MiB: the memory grows
        expect(onHeap(big)).toBe(false);
        big[big.length - 1] = 1;
        expect(firstBitDifference(first, copy)).toBe(-1);
        const out = resident(new Float32Array(1000));
        k.activations!.relu(first, out);
        expect(firstBitDifference(out, Float32Array.from(copy, (v) => (v > 0 ? v : 0)))).toBe(-1);
      }));
  });

describe("a training step on the SIMD kernel", () => {
  it("copies next to nothing into or out of the kernel: batches, label planes, weights and step buffers all live in its memory", async () => {
    const k = await createSimdMatmul({ threads: 2, spawn: spawnNodeWorker });
    setMatmulKernel(k);
    try {
      const d = loadMnist("test");
      const B = 32;
      for (const kind of MODEL_KINDS) {
        const prng = new Prng(4);
        const wgan = new Wgan(createGenerator(kind, 100, prng), createCritic(kind, prng), prng, { ...DEFAULT_CONFIG, nCritic: 1 });
        const batcher = new Batcher({ n: 4 * B, pixels: d.pixels.subarray(0, 4 * B * IMAGE_SIZE), labels: d.labels.subarray(0, 4 * B) }, prng, { batchSize: B });
        let steps = 0, copied = 0;
        for (const b of batcher.epoch()) {
          const before = k.copiedFloats;
          wgan.step(b.images, b.oneHot, b.index); // a critic step and a generator step
          if (++steps > 1) copied = Math.max(copied, k.copiedFloats - before);
        }
        // Left: the critics' one-float output bias, whose gradient a vector pass cannot write in place
        // (a batch of images would be 32·784 = 25,088 floats, batch norm's coefficients 3,136 a layer)
        expect(copied, kind).toBeLessThan(16);
      }
    } finally {
      setMatmulKernel(matmulBlocked);
      await k.dispose();
    }
  });
});

describe("the storage heap follows the active kernel", () => {
  it("a scope's buffers are on the JavaScript heap again once another kernel is active, and a disposed kernel offers none", async () => {
    const k = await createSimdMatmul({ threads: 1 });
    setMatmulKernel(k);
    expect(recycling(() => onHeap(alloc(64)))).toBe(false);
    setMatmulKernel(matmulBlocked);
    expect(recycling(() => onHeap(alloc(64)))).toBe(true);
    await k.dispose();
    expect(k.storage!.alloc(64)).toBeNull();
    expect(() => recycling(() => setStorageHeap(null))).toThrow(/inside a recycling scope/);
  });

  it("without resident storage the kernel offers none", async () => {
    const k = await createSimdMatmul({ threads: 1, residentStorage: false });
    expect(k.storage).toBeUndefined();
    await k.dispose();
  });
});
