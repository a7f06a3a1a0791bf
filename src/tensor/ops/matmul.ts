/**
 * Matrix products as autograd ops: `matmul` (M,K)·(K,N) and `linear`, x·Wᵀ + b with W in PyTorch's
 * (out, in) layout. Backwards use the transposed kernel variants of `gemm` directly:
 *   Y = A·B      =>  dA += dY·Bᵀ,  dB += Aᵀ·dY
 *   Y = X·Wᵀ + b =>  dX += dY·W,   dW += dYᵀ·X,  db += column sums of dY
 */
import { elementwiseKernel } from "../kernels/elementwise.js";
import { gemm } from "../kernels/matmul.js";
import { allocForOverwrite } from "../storage.js";
import { Tensor, shapeStr } from "../tensor.js";

/** (M,K)·(K,N) -> (M,N). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 2 || b.ndim !== 2 || a.shape[1] !== b.shape[0])
    throw new Error(`matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} do not multiply`);
  const [M, K] = a.shape as [number, number];
  const N = b.shape[1]!;
  const out = allocForOverwrite(M * N);
  gemm(false, false, M, N, K, a.data, b.data, out, false);
  return Tensor.fromOp("matmul", [M, N], out, [a, b], (y) => {
    const g = y.grad!;
    if (a.requiresGrad) gemm(false, true, M, K, N, g, b.data, a.gradBuffer(), true); // dA += dY (M,N) · Bᵀ (N,K)
    if (b.requiresGrad) gemm(true, false, K, N, M, a.data, g, b.gradBuffer(), true); // dB += Aᵀ (K,M) · dY (M,N)
  });
}

/**
 * Fully connected layer: y = x·Wᵀ + b.
 * @param x (B, in) input rows
 * @param w (out, in) weight, PyTorch's nn.Linear layout
 * @param b (out) bias, optional
 * @returns (B, out)
 */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  if (x.ndim !== 2 || w.ndim !== 2 || x.shape[1] !== w.shape[1])
    throw new Error(`linear: input ${shapeStr(x.shape)} does not fit weight ${shapeStr(w.shape)}`);
  const [B, I] = x.shape as [number, number];
  const O = w.shape[0]!;
  if (b && (b.ndim !== 1 || b.shape[0] !== O))
    throw new Error(`linear: bias ${shapeStr(b.shape)} does not fit weight ${shapeStr(w.shape)}`);
  const out = allocForOverwrite(B * O); // written over by gemm, from the bias rows when there is a bias
  gemm(false, true, B, O, I, x.data, w.data, out, false, b?.data); // Y (B,O) = [b +] X (B,I) · Wᵀ (I,O)
  const inputs = b ? [x, w, b] : [x, w];
  return Tensor.fromOp("linear", [B, O], out, inputs, (y) => {
    const g = y.grad!;
    // each product covers the whole gradient, so a fresh one (or one marked zero) is written over
    if (x.requiresGrad) {
      const t = x.gradTarget();
      gemm(false, false, B, I, O, g, w.data, t.grad, t.accumulate); // dX (+)= dY (B,O) · W (O,I)
    }
    if (w.requiresGrad) {
      const t = w.gradTarget();
      gemm(true, false, O, I, B, g, x.data, t.grad, t.accumulate); // dW (+)= dYᵀ (O,B) · X (B,I)
    }
    if (b?.requiresGrad) elementwiseKernel().addColumnSums(g, B, O, b.gradBuffer()); // db += column sums of dY
  });
}
