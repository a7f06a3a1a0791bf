/**
 * Convolution lowering: `im2col` unrolls every receptive field of an (N,C,H,W) image batch into a
 * row, so a convolution becomes one matrix product; `col2im` is its adjoint (it sums each row back
 * into the places it came from). `conv2dDirect` is the nested-loop reference the im2col path is
 * tested against.
 *
 * Legend: N batch, C channels, H,W image size, KH,KW kernel size, OH,OW output size, S stride,
 * P zero padding. cols is (N*OH*OW, C*KH*KW): row (n, oh, ow), column (c, i, j) holds
 * x[n, c, oh*S - P + i, ow*S - P + j], or 0 where that falls in the padding.
 */
import { alloc } from "../storage.js";

export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
  OH: number;
  OW: number;
}

/** Output size of a convolution: floor((H + 2P - KH) / S) + 1. */
export function convOutSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/**
 * @param x (N,C,H,W) images
 * @param cols (N*OH*OW, C*KH*KW) output, fully overwritten
 */
export function im2col(x: Float32Array, g: ConvGeometry, cols: Float32Array): void {
  const { N, C, H, W, KH, KW, stride, pad, OH, OW } = g;
  let r = 0;
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * stride - pad;
        const inside = w0 >= 0 && w0 + KW <= W; // the whole kernel row falls in the image: no checks per element
        for (let c = 0; c < C; c++) {
          const plane = (n * C + c) * H;
          for (let i = 0; i < KH; i++) {
            const ih = oh * stride - pad + i;
            if (ih < 0 || ih >= H) {
              for (let j = 0; j < KW; j++) cols[r++] = 0;
              continue;
            }
            const src = (plane + ih) * W + w0;
            if (inside) for (let j = 0; j < KW; j++) cols[r++] = x[src + j]!;
            else
              for (let j = 0; j < KW; j++) {
                const iw = w0 + j;
                cols[r++] = iw >= 0 && iw < W ? x[src + j]! : 0;
              }
          }
        }
      }
}

/**
 * The adjoint of im2col: adds each entry of `cols` into the image position it was read from.
 * @param cols (N*OH*OW, C*KH*KW)
 * @param x (N,C,H,W) accumulated into (+=)
 */
export function col2im(cols: Float32Array, g: ConvGeometry, x: Float32Array): void {
  const { N, C, H, W, KH, KW, stride, pad, OH, OW } = g;
  let r = 0;
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * stride - pad;
        const inside = w0 >= 0 && w0 + KW <= W; // as in im2col
        for (let c = 0; c < C; c++) {
          const plane = (n * C + c) * H;
          for (let i = 0; i < KH; i++) {
            const ih = oh * stride - pad + i;
            if (ih < 0 || ih >= H) {
              r += KW;
              continue;
            }
            const dst = (plane + ih) * W + w0;
            if (inside) for (let j = 0; j < KW; j++, r++) x[dst + j]! += cols[r]!;
            else
              for (let j = 0; j < KW; j++, r++) {
                const iw = w0 + j;
                if (iw >= 0 && iw < W) x[dst + j]! += cols[r]!;
              }
          }
        }
      }
}

/**
 * Reference convolution, straight from the definition (cross-correlation, as in PyTorch):
 * y[n,o,oh,ow] = b[o] + sum_{c,i,j} w[o,c,i,j] * x[n, c, oh*S-P+i, ow*S-P+j].
 * @param x (N,C,H,W)  @param w (O,C,KH,KW)  @param b (O) or null  @returns y (N,O,OH,OW)
 */
export function conv2dDirect(x: Float32Array, w: Float32Array, b: Float32Array | null, g: ConvGeometry, O: number): Float32Array {
  const { N, C, H, W, KH, KW, stride, pad, OH, OW } = g;
  const y = alloc(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b[o]! : 0;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < KH; i++)
              for (let j = 0; j < KW; j++) {
                const ih = oh * stride - pad + i;
                const iw = ow * stride - pad + j;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                  s += w[((o * C + c) * KH + i) * KW + j]! * x[((n * C + c) * H + ih) * W + iw]!;
              }
          y[((n * O + o) * OH + oh) * OW + ow] = s;
        }
  return y;
}
