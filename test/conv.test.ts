/**
 * The im2col convolution against the direct nested-loop reference, and the transposed convolution
 * as the adjoint of the convolution: <conv(x), y> = <x, convT(y)> for the same weights.
 */
import { describe, expect, it } from "vitest";
import * as T from "../src/tensor/index.js";
import { conv2dDirect, convOutSize, col2im, im2col } from "../src/tensor/kernels/im2col.js";
import { convLowering, referenceLowering } from "../src/tensor/kernels/conv-lowering.js";
import type { ConvLowering } from "../src/tensor/kernels/conv-lowering.js";
import { matmulNaive } from "../src/tensor/kernels/matmul.js";
import { firstBitDifference, maxRelDiff } from "./gradcheck.js";
import { ADJOINT_REL_TOL, KERNEL_REL_TOL } from "./tolerances.js";
import { onEveryBackend, simdKernelPair } from "./backends.js";
import { createSimdMatmul } from "../src/tensor/kernels/wasm/simd-kernel.js";

const prng = new T.Prng(99);
const rand = (shape: number[]): T.Tensor => {
  const t = new T.Tensor(shape);
  prng.fillUniform(t.data, -1, 1);
  return t;
};
const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
/** sum |a_i b_i|: the scale of a dot product, against which its rounding error is measured. */
const absDot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + Math.abs(v * b[i]!), 0);

// [N, C, H, W, O, K, stride, pad]
const CASES: [number, number, number, number, number, number, number, number][] = [
  [2, 11, 28, 28, 32, 4, 2, 1], // the conv critic's first layer
  [3, 32, 14, 14, 64, 4, 2, 1], // its second
  [1, 1, 5, 7, 1, 1, 1, 0],
  [2, 3, 9, 6, 5, 3, 1, 1],
  [1, 2, 9, 9, 3, 3, 2, 1],
  [2, 4, 7, 7, 2, 5, 3, 2],
  [1, 2, 3, 3, 2, 4, 1, 2], // a 4x4 kernel wider than the image: every run crosses an edge
];

onEveryBackend((backend) => {
  describe("the active kernel's convolution lowering against im2col, col2im and the naive product", () => {
    it(backend === "js" ? "the js backend uses the reference lowering" : "the wasm backends bring their own", () => {
      if (backend === "js") expect(convLowering()).toBe(referenceLowering);
      else expect(convLowering()).not.toBe(referenceLowering);
    });
    for (const [N, C, H, W, P, K, stride, pad] of CASES)
      it(`x (${N},${C},${H},${W}), P ${P}, kernel ${K} stride ${stride} pad ${pad}`, () => {
        const OH = convOutSize(H, K, stride, pad), OW = convOutSize(W, K, stride, pad);
        const g = { N, C, H, W, KH: K, KW: K, stride, pad, OH, OW };
        const R = N * OH * OW, CKK = C * K * K, S = OH * OW;
        const x = rand([N, C, H, W]).data, w = rand([P, CKK]).data, A = rand([N, P, OH, OW]).data, bias = rand([P]).data;
        const cols = new Float32Array(R * CKK);
        im2col(x, g, cols);
        // The NCHW side as rows (R,P), by the definition: row (n, s), column p.
        const asRows = (t: Float32Array): Float32Array => {
          const r = new Float32Array(R * P);
          for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) for (let q = 0; q < S; q++) r[(n * S + q) * P + p] = t[(n * P + p) * S + q]!;
          return r;
        };
        const asNchw = (r: Float32Array): Float32Array => {
          const t = new Float32Array(R * P);
          for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) for (let q = 0; q < S; q++) t[(n * P + p) * S + q] = r[(n * S + q) * P + p]!;
          return t;
        };
        const L = convLowering();
        // out = (cols · Wᵀ) as NCHW, + bias; then accumulated onto a start value
        const rows = new Float32Array(R * P);
        matmulNaive.gemm(false, true, R, P, CKK, cols, w, rows, false);
        const want = asNchw(rows);
        const out = new Float32Array(R * P).fill(NaN);
        L.im2colTimesWt(x, g, w, P, out);
        expect(maxRelDiff(out, want), "im2colTimesWt").toBeLessThan(KERNEL_REL_TOL);
        const withBias = new Float32Array(R * P).fill(NaN);
        L.im2colTimesWt(x, g, w, P, withBias, { bias });
        expect(maxRelDiff(withBias, want.map((v, i) => v + bias[Math.floor(i / S) % P]!)), "im2colTimesWt + bias").toBeLessThan(KERNEL_REL_TOL);
        const start = rand([N, P, OH, OW]).data, acc = start.slice();
        L.im2colTimesWt(x, g, w, P, acc, { accumulate: true });
        expect(maxRelDiff(acc, want.map((v, i) => v + start[i]!)), "im2colTimesWt, accumulate").toBeLessThan(KERNEL_REL_TOL);
        // dW += (A as rows)ᵀ · cols
        const dW0 = rand([P, CKK]).data, dW = dW0.slice(), wantDW = dW0.slice();
        L.addAtTimesIm2col(A, P, x, g, dW);
        matmulNaive.gemm(true, false, P, CKK, R, asRows(A), cols, wantDW, true);
        expect(maxRelDiff(dW, wantDW), "addAtTimesIm2col").toBeLessThan(KERNEL_REL_TOL);
        // img += col2im((A as rows) · W)
        const img0 = rand([N, C, H, W]).data, img = img0.slice(), wantImg = img0.slice();
        const prod = new Float32Array(R * CKK);
        L.addCol2imOfProduct(A, P, w, g, img);
        matmulNaive.gemm(false, false, R, CKK, P, asRows(A), w, prod, false);
        col2im(prod, g, wantImg);
        expect(maxRelDiff(img, wantImg), "addCol2imOfProduct").toBeLessThan(KERNEL_REL_TOL);
        // written over from a per-channel start (a transposed convolution's bias), or from zeros
        const biasC = rand([C]).data, fromBias = new Float32Array(N * C * H * W), fromZero = new Float32Array(N * C * H * W);
        for (let i = 0; i < fromBias.length; i++) fromBias[i] = biasC[Math.floor(i / (H * W)) % C]!;
        col2im(prod, g, fromBias);
        col2im(prod, g, fromZero);
        const over = new Float32Array(N * C * H * W).fill(NaN), overZero = new Float32Array(N * C * H * W).fill(NaN);
        L.addCol2imOfProduct(A, P, w, g, over, { overwrite: true, bias: biasC });
        L.addCol2imOfProduct(A, P, w, g, overZero, { overwrite: true });
        expect(maxRelDiff(over, fromBias), "addCol2imOfProduct, written over from the bias").toBeLessThan(KERNEL_REL_TOL);
        expect(maxRelDiff(overZero, fromZero), "addCol2imOfProduct, written over from zeros").toBeLessThan(KERNEL_REL_TOL);
        if (!L.keepsCols) {
          // a lowering that makes cols per chunk neither fills nor reads a cache
          const unused = { buf: new Float32Array(R * CKK).fill(NaN), filled: false };
          const out2 = new Float32Array(R * P).fill(NaN);
          L.im2colTimesWt(x, g, w, P, out2, { cols: unused });
          expect(unused.filled).toBe(false);
          expect(maxRelDiff(out2, want), "im2colTimesWt, a cache given").toBeLessThan(KERNEL_REL_TOL);
          return;
        }
        // a ColsCache: an empty one is filled with im2col(x); a filled one is used as it is, so a
        // cache holding another image's cols gives that image's results
        const cache = { buf: new Float32Array(R * CKK).fill(NaN), filled: false };
        const cached = new Float32Array(R * P).fill(NaN);
        L.im2colTimesWt(x, g, w, P, cached, { cols: cache });
        expect(cache.filled).toBe(true);
        expect(firstBitDifference(cache.buf, cols), "the cache holds im2col(x)").toBe(-1);
        expect(maxRelDiff(cached, want), "im2colTimesWt, filling the cache").toBeLessThan(KERNEL_REL_TOL);
        const dWc = dW0.slice();
        L.addAtTimesIm2col(A, P, x, g, dWc, { buf: cols.slice(), filled: false });
        expect(maxRelDiff(dWc, wantDW), "addAtTimesIm2col, filling a cache").toBeLessThan(KERNEL_REL_TOL);
        const x2 = rand([N, C, H, W]).data, cols2 = new Float32Array(R * CKK);
        im2col(x2, g, cols2);
        const other = { buf: cols2, filled: true };
        const fromCache = new Float32Array(R * P).fill(NaN), dW2 = dW0.slice(), wantDW2 = dW0.slice(), rows2 = new Float32Array(R * P);
        L.im2colTimesWt(x, g, w, P, fromCache, { cols: other }); // x is not read: the cache is filled
        matmulNaive.gemm(false, true, R, P, CKK, cols2, w, rows2, false);
        expect(maxRelDiff(fromCache, asNchw(rows2)), "im2colTimesWt from a filled cache").toBeLessThan(KERNEL_REL_TOL);
        L.addAtTimesIm2col(A, P, x, g, dW2, other);
        matmulNaive.gemm(true, false, P, CKK, R, asRows(A), cols2, wantDW2, true);
        expect(maxRelDiff(dW2, wantDW2), "addAtTimesIm2col from a filled cache").toBeLessThan(KERNEL_REL_TOL);
      });
  });

  describe("conv2d: im2col path against the direct reference", () => {
    for (const [N, C, H, W, O, K, stride, pad] of CASES)
      it(`x (${N},${C},${H},${W}) w (${O},${C},${K},${K}) stride ${stride} pad ${pad}`, () => {
        const x = rand([N, C, H, W]), w = rand([O, C, K, K]), b = rand([O]);
        const y = T.conv2d(x, w, b, { stride, padding: pad });
        const OH = convOutSize(H, K, stride, pad), OW = convOutSize(W, K, stride, pad);
        expect(y.shape).toEqual([N, O, OH, OW]);
        const ref = conv2dDirect(x.data, w.data, b.data, { N, C, H, W, KH: K, KW: K, stride, pad, OH, OW }, O);
        expect(maxRelDiff(y.data, ref)).toBeLessThan(KERNEL_REL_TOL);
      });
  });

  describe("adjoints", () => {
    for (const [N, C, H, W, O, K, stride, pad] of CASES) {
      const OH = convOutSize(H, K, stride, pad), OW = convOutSize(W, K, stride, pad);
      const g = { N, C, H, W, KH: K, KW: K, stride, pad, OH, OW };
      it(`col2im is the adjoint of im2col (${N},${C},${H},${W}) K ${K} s ${stride} p ${pad}`, () => {
        const x = rand([N, C, H, W]).data;
        const y = rand([N * OH * OW, C * K * K]).data;
        const cols = new Float32Array(y.length);
        im2col(x, g, cols);
        const back = new Float32Array(x.length);
        col2im(y, g, back);
        const lhs = dot(cols, y), rhs = dot(x, back);
        expect(Math.abs(lhs - rhs) / absDot(cols, y)).toBeLessThan(ADJOINT_REL_TOL);
      });
      it(`<conv(x), y> = <x, convT(y)> (${N},${C},${H},${W}) K ${K} s ${stride} p ${pad}`, () => {
        const x = rand([N, C, H, W]), w = rand([O, C, K, K]), y = rand([N, O, OH, OW]);
        const cx = T.conv2d(x, w, undefined, { stride, padding: pad });
        const ty = T.convTranspose2d(y, w, undefined, { stride, padding: pad });
        expect(ty.shape).toEqual(x.shape); // every case has (H + 2P - K) divisible by S
        const lhs = dot(cx.data, y.data), rhs = dot(x.data, ty.data);
        expect(Math.abs(lhs - rhs) / absDot(cx.data, y.data)).toBeLessThan(ADJOINT_REL_TOL);
      });
    }
    it("convTranspose2d 4x4 stride 2 pad 1 doubles 7x7 to 14x14 (the generator's upsampling)", () => {
      const y = T.convTranspose2d(rand([2, 64, 7, 7]), rand([64, 32, 4, 4]), rand([32]), { stride: 2, padding: 1 });
      expect(y.shape).toEqual([2, 32, 14, 14]);
    });
  });
});

describe("the SIMD lowering by chunks of images (wasm/conv-chunks.ts), batches of many chunks", () => {
  const simd = simdKernelPair();
  // the critic's second layer (chunks cut by the cache budget), its first (one channel), an odd
  // batch whose weight-gradient segments differ in size, and a batch of one image; then 4x4
  // kernels whose weight gradient packs B from the image (im2colPackB) in more than one block of
  // columns (C 40: 640 columns, past the 512 of a block) and of rows (a block of 256 positions
  // starting inside an image row), and with padding 3 (three kernel rows and columns outside)
  const BIG: [number, number, number, number, number, number, number, number][] = [
    [24, 32, 14, 14, 64, 4, 2, 1],
    [20, 1, 28, 28, 32, 4, 2, 1],
    [7, 3, 9, 9, 5, 3, 1, 1],
    [1, 32, 14, 14, 64, 4, 2, 1],
    [12, 40, 10, 10, 24, 4, 2, 1],
    [4, 5, 8, 9, 7, 4, 1, 3],
  ];
  for (const [N, C, H, W, P, K, stride, pad] of BIG)
    it(`x (${N},${C},${H},${W}), P ${P}: each lowering as the reference's, and one thread's bits on two`, () => {
      const OH = convOutSize(H, K, stride, pad), OW = convOutSize(W, K, stride, pad);
      const g = { N, C, H, W, KH: K, KW: K, stride, pad, OH, OW };
      const CKK = C * K * K, n = N * P * OH * OW;
      const x = rand([N, C, H, W]).data, w = rand([P, CKK]).data, A = rand([N, P, OH, OW]).data, bias = rand([P]).data;
      const dW0 = rand([P, CKK]).data, img0 = rand([N, C, H, W]).data, start = rand([N, P, OH, OW]).data, biasC = rand([C]).data;
      const run = (L: ConvLowering): Float32Array[] => {
        const out = new Float32Array(n).fill(NaN), acc = start.slice(), dW = dW0.slice(), img = img0.slice(), over = new Float32Array(img0.length).fill(NaN);
        L.im2colTimesWt(x, g, w, P, out, { bias });
        L.im2colTimesWt(x, g, w, P, acc, { accumulate: true });
        L.addAtTimesIm2col(A, P, x, g, dW);
        L.addCol2imOfProduct(A, P, w, g, img);
        L.addCol2imOfProduct(A, P, w, g, over, { overwrite: true, bias: biasC });
        return [out, acc, dW, img, over];
      };
      const want = run(referenceLowering), one = run(simd.one().conv!), two = run(simd.two().conv!);
      ["im2colTimesWt + bias", "im2colTimesWt, accumulate", "addAtTimesIm2col", "addCol2imOfProduct", "addCol2imOfProduct, written over from the bias"].forEach((what, i) => {
        expect(maxRelDiff(one[i]!, want[i]!), what).toBeLessThan(KERNEL_REL_TOL);
        expect(firstBitDifference(two[i]!, one[i]!), `${what}: two threads`).toBe(-1);
      });
    });
});

describe("the SIMD lowerings packing straight from the image, for every even tile height", () => {
  // Strips of 4g rows pack A in 4x4 transpositions, 4g+2 rows add a pair (im2colPackA); small
  // blocks give several k blocks (three channels each), blocks of positions and blocks of columns.
  for (const mr of [2, 4, 6, 10])
    it(`${mr}-row tiles: the forward and the weight's gradient as the reference's`, async () => {
      const k = await createSimdMatmul({ threads: 1, blocking: { mr, nr: 8, mc: mr * 5, kc: 48, nc: 32, unroll: 1, fma: false } });
      const [N, C, H, W, P] = [5, 6, 9, 10, 7];
      const g = { N, C, H, W, KH: 4, KW: 4, stride: 2, pad: 1, OH: convOutSize(H, 4, 2, 1), OW: convOutSize(W, 4, 2, 1) };
      const x = rand([N, C, H, W]).data, w = rand([P, C * 16]).data, A = rand([N, P, g.OH, g.OW]).data, dW0 = rand([P, C * 16]).data;
      const run = (L: ConvLowering): Float32Array[] => {
        const out = new Float32Array(N * P * g.OH * g.OW).fill(NaN), dW = dW0.slice();
        L.im2colTimesWt(x, g, w, P, out);
        L.addAtTimesIm2col(A, P, x, g, dW);
        return [out, dW];
      };
      const want = run(referenceLowering), got = run(k.conv!);
      expect(maxRelDiff(got[0]!, want[0]!), "im2colTimesWt").toBeLessThan(KERNEL_REL_TOL);
      expect(maxRelDiff(got[1]!, want[1]!), "addAtTimesIm2col").toBeLessThan(KERNEL_REL_TOL);
      await k.dispose();
    });
});
