/**
 * 2-D convolution and its transpose as autograd ops, both lowered to one matrix product over the
 * whole batch through im2col (see kernels/im2col.ts for the legend). R = N*OH*OW rows of patches.
 *
 * conv2d, w (O,C,KH,KW), y (N,O,OH,OW):
 *   forward   cols = im2col(x) (R, C*KH*KW);  rows (R,O) = cols · Wᵀ;  y = rows as NCHW, + b
 *   backward  dW += dRowsᵀ · cols  (Conv2DBackpropFilter; cols kept from the forward pass)
 *             dx += col2im(dRows · W)  (Conv2DBackpropInput)
 * convTranspose2d, w (Cin,Cout,KH,KW) as in PyTorch, y (N,Cout,OH,OW), OH = (H-1)*S - 2P + KH:
 *   it is the adjoint of conv2d in its input, so its forward is conv2d's input backward:
 *   forward   rows = x as (N*H*W, Cin);  cols = rows · W (R, Cout*KH*KW);  y = col2im(cols) + b
 *   backward  dx += (im2col(dy) · Wᵀ) as NCHW   (a conv2d of dy)
 *             dW += rowsᵀ · im2col(dy)
 *
 * Each line with im2col or col2im, with the layout changes between NCHW and rows around it, is
 * one call of the active kernel's lowering (kernels/conv-lowering.ts): the SIMD kernel runs it in
 * its WebAssembly memory, a chunk of images at a time. When the weight will need a gradient and
 * the lowering keeps cols (the reference one: `keepsCols`), the forward pass keeps them in a step
 * buffer (ColsCache) for the backward pass, and convTranspose2d's backward makes im2col(dy) once
 * for its two products; the SIMD lowering makes each chunk's cols again instead, in cache.
 *
 * Worked shapes, the conv generator's first upsampling layer (kernel 4, stride 2, padding 1):
 *   x (64, 64, 7, 7), w (64, 32, 4, 4): OH = (7-1)*2 - 2*1 + 4 = 14, so y is (64, 32, 14, 14)
 *   rows   (64*7*7, 64)      = (3136, 64)      each input pixel's 64 channels
 *   cols   rows · W          = (3136, 32*4*4) = (3136, 512): each pixel's 4x4 footprint in 32 channels
 *   y      col2im(cols)      = (64, 32, 14, 14): overlapping footprints summed where they meet
 * and the conv critic's first layer, its mirror image: x (64, 11, 28, 28), w (32, 11, 4, 4):
 *   cols   im2col(x)         = (64*14*14, 11*4*4) = (12544, 176);  rows = cols · Wᵀ = (12544, 32)
 */
import { batchNormKernel } from "../kernels/batch-norm.js";
import { convLowering, patchDims } from "../kernels/conv-lowering.js";
import type { ColsCache } from "../kernels/conv-lowering.js";
import { ConvGeometry, convOutSize } from "../kernels/im2col.js";
import { allocForOverwrite } from "../storage.js";
import { Tensor, isGradEnabled, shapeStr } from "../tensor.js";

export interface ConvOptions {
  stride?: number;
  padding?: number;
}

/** db[c] += sum of dy over batch and positions, dy (N, C, S): batch norm's per-channel sums, on the active kernel. */
function channelBiasGrad(dy: Float32Array, db: Float32Array, N: number, C: number, S: number): void {
  const sum = new Float64Array(C);
  batchNormKernel().channelSums(dy, N, C, S, sum);
  for (let c = 0; c < C; c++) db[c]! += sum[c]!;
}

/** An empty ColsCache for im2col of the geometry's input: (R, CKK) floats. */
function colsCache(g: ConvGeometry): ColsCache {
  const { R, CKK } = patchDims(g);
  return { buf: allocForOverwrite(R * CKK), filled: false };
}

function checkOptions(op: string, o: ConvOptions): { stride: number; pad: number } {
  const stride = o.stride ?? 1;
  const pad = o.padding ?? 0;
  if (!Number.isInteger(stride) || stride < 1 || !Number.isInteger(pad) || pad < 0)
    throw new Error(`${op}: bad stride ${stride} or padding ${pad}`);
  return { stride, pad };
}

/**
 * @param x (N,C,H,W)  @param w (O,C,KH,KW)  @param b (O), optional
 * @returns (N,O,OH,OW) with OH = floor((H + 2P - KH)/S) + 1
 */
export function conv2d(x: Tensor, w: Tensor, b?: Tensor, opts: ConvOptions = {}): Tensor {
  const { stride, pad } = checkOptions("conv2d", opts);
  if (x.ndim !== 4 || w.ndim !== 4 || x.shape[1] !== w.shape[1])
    throw new Error(`conv2d: input ${shapeStr(x.shape)} does not fit weight ${shapeStr(w.shape)}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, , KH, KW] = w.shape as [number, number, number, number];
  if (b && (b.ndim !== 1 || b.shape[0] !== O)) throw new Error(`conv2d: bias ${shapeStr(b.shape)} does not fit weight ${shapeStr(w.shape)}`);
  const OH = convOutSize(H, KH, stride, pad);
  const OW = convOutSize(W, KW, stride, pad);
  if (OH < 1 || OW < 1) throw new Error(`conv2d: kernel ${KH}x${KW} larger than padded input ${shapeStr(x.shape)}`);
  const geom: ConvGeometry = { N, C, H, W, KH, KW, stride, pad, OH, OW };
  const S = OH * OW;
  const lower = convLowering();
  const out = allocForOverwrite(N * O * S);
  // the weight's gradient needs cols again: kept from the forward pass when it will be asked for
  const cols = lower.keepsCols && isGradEnabled() && w.requiresGrad ? colsCache(geom) : undefined;
  lower.im2colTimesWt(x.data, geom, w.data, O, out, { bias: b?.data, cols }); // y = im2col(x) · Wᵀ as NCHW, + b
  return Tensor.fromOp("conv2d", [N, O, OH, OW], out, b ? [x, w, b] : [x, w], (y) => {
    const g = y.grad!;
    if (w.requiresGrad) lower.addAtTimesIm2col(g, O, x.data, geom, w.gradBuffer(), cols); // dW += dYᵀ (O,R) · cols (R,CKK)
    if (b?.requiresGrad) channelBiasGrad(g, b.gradBuffer(), N, O, S);
    if (x.requiresGrad) {
      // a fresh gradient is written over (zeros, then col2im adds into them chunk by chunk), not zero-filled first
      const { grad, accumulate } = x.gradTarget();
      lower.addCol2imOfProduct(g, O, w.data, geom, grad, { overwrite: !accumulate }); // dx (+)= col2im(dY (R,O) · W (O,CKK))
    }
  });
}

/**
 * @param x (N,Cin,H,W)  @param w (Cin,Cout,KH,KW)  @param b (Cout), optional
 * @returns (N,Cout,OH,OW) with OH = (H-1)*S - 2P + KH
 */
export function convTranspose2d(x: Tensor, w: Tensor, b?: Tensor, opts: ConvOptions = {}): Tensor {
  const { stride, pad } = checkOptions("convTranspose2d", opts);
  if (x.ndim !== 4 || w.ndim !== 4 || x.shape[1] !== w.shape[0])
    throw new Error(`convTranspose2d: input ${shapeStr(x.shape)} does not fit weight ${shapeStr(w.shape)}`);
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  const [, Cout, KH, KW] = w.shape as [number, number, number, number];
  if (b && (b.ndim !== 1 || b.shape[0] !== Cout))
    throw new Error(`convTranspose2d: bias ${shapeStr(b.shape)} does not fit weight ${shapeStr(w.shape)}`);
  const OH = (H - 1) * stride - 2 * pad + KH;
  const OW = (W - 1) * stride - 2 * pad + KW;
  if (OH < 1 || OW < 1) throw new Error(`convTranspose2d: padding ${pad} leaves no output for ${shapeStr(x.shape)}`);
  // The geometry of the conv2d whose adjoint this is: it maps (N,Cout,OH,OW) to (N,Cin,H,W).
  const geom: ConvGeometry = { N, C: Cout, H: OH, W: OW, KH, KW, stride, pad, OH: H, OW: W };
  const lower = convLowering();
  const out = allocForOverwrite(N * Cout * OH * OW);
  lower.addCol2imOfProduct(x.data, Cin, w.data, geom, out, { overwrite: true, bias: b?.data }); // y = bias + col2im(x as rows (R,Cin) · W (Cin,CKK))
  return Tensor.fromOp("convTranspose2d", [N, Cout, OH, OW], out, b ? [x, w, b] : [x, w], (y) => {
    const g = y.grad!;
    const cols = lower.keepsCols && w.requiresGrad && x.requiresGrad ? colsCache(geom) : undefined; // im2col(dy) once for both
    if (w.requiresGrad) lower.addAtTimesIm2col(x.data, Cin, g, geom, w.gradBuffer(), cols); // dW += rowsᵀ (Cin,R) · im2col(dy) (R,CKK)
    if (b?.requiresGrad) channelBiasGrad(g, b.gradBuffer(), N, Cout, OH * OW);
    if (x.requiresGrad) {
      const { grad, accumulate } = x.gradTarget(); // a fresh gradient is written over, not added to zeros
      lower.im2colTimesWt(g, geom, w.data, Cin, grad, { accumulate, cols }); // dx (+)= im2col(dy) · Wᵀ as NCHW
    }
  });
}
