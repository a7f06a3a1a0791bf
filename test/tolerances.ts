/**
 * Every numerical tolerance the tests use, in one place, sized for float32 arithmetic.
 * float32 has a unit round-off of 2^-24 ≈ 6e-8; sums of K products drift by about sqrt(K) of that
 * relative to the magnitudes summed.
 */

/** Central-difference step for gradient checks: large enough that float32 round-off in the loss
 * (≈ 6e-8 · |loss| / h) stays far below the truncation error h²·f'''/6 ≈ 1e-5. */
export const GRAD_STEP = 1e-2;

/** Gradient check: max |analytic - numeric| over the checked entries, relative to the largest
 * numeric entry (an error in a single entry of 0.5% of the scale fails the check). */
export const GRAD_REL_TOL = 5e-3;

/** Two float32 kernels computing the same sums in different orders (matmul, conv): max abs
 * difference relative to the largest magnitude of the result. */
export const KERNEL_REL_TOL = 1e-5;

/** Adjoint identities <Ax, y> = <x, Aᵀy> computed through float32 kernels: difference relative to
 * sum |(Ax)_i y_i|, the scale of the dot product (not its value, which cancels). */
export const ADJOINT_REL_TOL = 1e-5;

/** Hand-worked optimizer steps, computed in float32 against float64 arithmetic in the test. */
export const OPTIM_ABS_TOL = 1e-6;

/** Our generator against PyTorch's on the same weights and noise: images in [-1, 1], max absolute
 * difference (different summation orders through five layers, in float32 on both sides). */
export const TORCH_ABS_TOL = 1e-4;

/** The WGAN step against PyTorch's (test/parity.test.ts), losses: means of critic scores that
 * cancel (the summed terms are far larger than the mean), so an absolute bound; observed ≤ 2e-6. */
export const PARITY_LOSS_ABS_TOL = 1e-5;

/** The WGAN step against PyTorch's, weights after the steps: the worst single entry. RMSprop divides
 * a gradient by sqrt(v) + 1e-8, so where a gradient is at or below 1e-8 (biases feeding batch norm,
 * whose gradient is 0 but for rounding; sums over the batch that cancel) a rounding residue r ≈ 1e-9
 * moves the weight by about lr · r / 1e-8 = 1e-5, either way. PyTorch in float32 itself differs from the
 * same steps in float64 by up to 2.3e-5 there; ours differs from PyTorch's float32 by up to 5e-5.
 * A first RMSprop step moves a weight by up to 10 lr = 1e-3 at the fixtures' lr of 1e-4. */
export const PARITY_MAX_ABS_TOL = 2e-4;

/** The WGAN step against PyTorch's: root-mean-square difference over all of a model's state (for the
 * generator, estimated from the fixture's sample, each sampled entry counted as the entries it stands
 * for), which the few ill-conditioned entries above barely move (observed ≤ 2e-7) but a small error in
 * every entry would. */
export const PARITY_RMS_TOL = 1e-6;
