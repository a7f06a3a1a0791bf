/**
 * Shared benchmark helpers: check a result against a reference, then time with a median.
 * Generic (nothing here knows about matmul), so any benchmark can verify before it times and a fast
 * wrong kernel never gets a number. Not a statistics package: one median, one spread, no outliers.
 */
import { performance } from "node:perf_hooks";

/** A result that disagrees with its reference; the benchmark reports it and exits with status 1. */
export class VerificationError extends Error {
  override name = "VerificationError";
}

/**
 * Max |got - want| over all entries, relative to the largest |want| (the scale of the result), so one
 * wrong entry counts as much as a wrong everything. `got` and `want` have the same length.
 */
export function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`maxRelDiff: lengths ${got.length} and ${want.length} differ`);
  let worst = 0;
  let scale = 1e-30;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= worst)) worst = d; // also catches NaN, which makes the comparison false
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return worst / scale;
}

/** Throws a VerificationError naming `what` unless maxRelDiff(got, want) <= relTol; returns the error. */
export function checkClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, relTol: number): number {
  const err = maxRelDiff(got, want);
  if (!(err <= relTol))
    throw new VerificationError(`${what}: max relative error ${err.toExponential(2)} exceeds ${relTol.toExponential(0)}`);
  return err;
}

export interface TimingOptions {
  /** Untimed calls first, so the JIT has compiled the hot loop (default 1). */
  warmup?: number;
  /** At least this many timed runs (default 5). */
  minRuns?: number;
  /** Keep timing until the timed runs add up to this many seconds (default 0.5)... */
  minSeconds?: number;
  /** ...but never more than this many runs (default 1000). */
  maxRuns?: number;
}

export interface Timing {
  /** Median wall time of one run, in seconds. */
  median: number;
  /** Fastest run, in seconds. */
  min: number;
  /** Every timed run, in seconds, in the order they ran. */
  samples: number[];
}

/** Times `fn` (after warm-up) until both minRuns and minSeconds are met; reports the median run. */
export function timeMedian(fn: () => void, opts: TimingOptions = {}): Timing {
  const { warmup = 1, minRuns = 5, minSeconds = 0.5, maxRuns = 1000 } = opts;
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  let total = 0;
  while (samples.length < maxRuns && (samples.length < minRuns || total < minSeconds)) {
    const t0 = performance.now();
    fn();
    const dt = (performance.now() - t0) / 1000;
    samples.push(dt);
    total += dt;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, samples };
}
