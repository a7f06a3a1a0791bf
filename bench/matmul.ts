/**
 * `npm run bench:matmul`: GFLOP/s of every matmul kernel on the shapes our models actually multiply.
 * Each kernel's output is first checked against `matmulNaive` (itself checked against the float64
 * definition on sampled entries); a kernel that disagrees is never timed and the run exits 1.
 * The JS kernels run on one thread; the WebAssembly SIMD kernel on one thread and on two (worker
 * threads), each figure also as a fraction of the 128-bit SIMD peak of `bench/peak.ts` (per core,
 * times the threads), with the operands on the JavaScript heap (copied in and out by every call)
 * and, as in a training step, in the kernel's own memory. Numbers are medians, so a busy machine
 * shifts them but rarely flips a ranking. Flags: --json (last line is one JSON object), --quick (fewer runs), --kernel NAME,
 * --backend js|wasm, --threads N (1 to 16).
 */
import { MATMUL_KERNELS, matmulNaive, type MatmulKernel } from "../src/tensor/kernels/matmul.js";
import { defaultBlocking, relaxedSimdAvailable, simdAvailable } from "../src/tensor/kernels/wasm/matmul-simd.js";
import { createSimdMatmul, type SimdMatmul } from "../src/tensor/kernels/wasm/simd-kernel.js";
import { enableRelaxedSimd } from "../src/io/wasm-features.js";
import { spawnNodeWorker } from "../src/io/workers.js";
import { MAX_SLOTS } from "../src/tensor/kernels/wasm/pool.js";
import { Prng } from "../src/tensor/prng.js";
import { measureSimdPeak } from "./peak.js";
import { VerificationError, checkClose, timeMedian, type TimingOptions } from "./timing.js";

/** One product C (M,N) = op(A)·op(B), with the transpose flags the model passes to `gemm`. */
interface Shape {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Where the product comes from. */
  note: string;
}

const SHAPES: Shape[] = [
  // MLP forward, linear(): Y (B,out) = X (B,in) · Wᵀ, W stored (out,in), so transB. B = 64.
  { m: 64, n: 512, k: 794, transA: false, transB: true, note: "mlp 794->512" },
  { m: 64, n: 1024, k: 512, transA: false, transB: true, note: "mlp 512->1024" },
  { m: 64, n: 784, k: 1024, transA: false, transB: true, note: "mlp 1024->784" },
  // Conv forward on im2col: rows (R,O) = cols (R,CKK) · Wᵀ, W stored (O,CKK), so transB.
  { m: 12544, n: 32, k: 176, transA: false, transB: true, note: "conv im2col" },
  { m: 3136, n: 64, k: 512, transA: false, transB: true, note: "conv im2col" },
  // The textbook square product, no transposes.
  { m: 512, n: 512, k: 512, transA: false, transB: false, note: "square" },
  // The small-K product issue #10 quotes TensorFlow.js at (6 GFLOP/s there).
  { m: 3136, n: 32, k: 16, transA: false, transB: true, note: "issue #10" },
];

/** Issue #10's TensorFlow.js WASM backend figures on this kind of machine, for comparison. */
const TFJS_WASM = "TensorFlow.js WASM backend (issue #10): 24-35 GFLOP/s at the GAN shapes, 6 at 3136x32x16";

/** SIMD kernel thread counts timed (the calling thread included). */
const SIMD_THREADS = [1, 2];
/** The SIMD kernel's two micro-kernels: f32x4.mul then f32x4.add, or relaxed SIMD's multiply-add. */
const SIMD_KERNELS = ["simd", "simd-fma"];

/** float32 kernels summing in different orders: max |diff| relative to max |C| (as test/tolerances.ts). */
const REL_TOL = 1e-5;
/** Entries of naive's result checked against the float64 definition, per shape. */
const SAMPLES = 64;

const USAGE = "usage: npm run bench:matmul -- [--json] [--quick] [--kernel NAME] [--backend js|wasm] [--threads N]";

interface Args {
  json: boolean;
  quick: boolean;
  kernels: readonly MatmulKernel[];
  /** Thread counts to time the SIMD kernels on (none: the JS kernels only). */
  simdThreads: readonly number[];
  /** Which SIMD kernels: "simd" (mul + add), "simd-fma" (relaxed SIMD's multiply-add). */
  simdKernels: readonly string[];
}

/** Parses argv; any problem is one line on stderr and exit status 2. */
function parseArgs(argv: string[]): Args {
  const fail = (msg: string): never => {
    console.error(`bench:matmul: ${msg} (${USAGE.slice(7)})`);
    process.exit(2);
  };
  let json = false;
  let quick = false;
  let only: string | undefined;
  let backend: string | undefined;
  let threads: number | undefined;
  const value = (i: number, a: string, flag: string): string => {
    const v = a === flag ? argv[i + 1] : a.slice(flag.length + 1);
    if (!v || v.startsWith("--")) fail(`${flag} needs a value`);
    return v!;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--backend" || a.startsWith("--backend=")) {
      backend = value(i, a, "--backend");
      if (a === "--backend") i++;
      if (backend !== "js" && backend !== "wasm") fail(`--backend must be js or wasm, got "${backend}"`);
    } else if (a === "--threads" || a.startsWith("--threads=")) {
      const v = value(i, a, "--threads");
      if (a === "--threads") i++;
      threads = Number(v);
      if (!Number.isInteger(threads) || threads < 1 || threads > MAX_SLOTS) fail(`--threads must be an integer from 1 to ${MAX_SLOTS}, got "${v}"`);
    } else if (a === "--json") json = true;
    else if (a === "--quick") quick = true;
    else if (a === "--kernel" || a.startsWith("--kernel=")) {
      only = a === "--kernel" ? argv[++i] : a.slice("--kernel=".length);
      if (!only || only.startsWith("--")) fail("--kernel needs a name");
    } else if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown flag "${a}"`);
  }
  const names = [...MATMUL_KERNELS.map((k) => k.name), ...SIMD_KERNELS];
  if (only !== undefined && !names.includes(only)) fail(`unknown kernel "${only}", known: ${names.join(", ")}`);
  const isSimd = only !== undefined && SIMD_KERNELS.includes(only);
  const js = backend !== "wasm" && !isSimd;
  const wasm = backend !== "js" && (only === undefined || isSimd);
  const kernels = !js ? [] : only === undefined ? MATMUL_KERNELS : MATMUL_KERNELS.filter((k) => k.name === only);
  return {
    json, quick, kernels,
    simdThreads: wasm ? (threads !== undefined ? [threads] : SIMD_THREADS) : [],
    simdKernels: only === undefined ? SIMD_KERNELS : isSimd ? [only] : [],
  };
}

/** A (M,K) or, with transA, (K,M); B (K,N) or, with transB, (N,K); all row-major, as `gemm` takes them. */
function operands(s: Shape, prng: Prng): { A: Float32Array; B: Float32Array } {
  return {
    A: prng.fillUniform(new Float32Array(s.m * s.k), -1, 1),
    B: prng.fillUniform(new Float32Array(s.k * s.n), -1, 1),
  };
}

/** Checks SAMPLES entries of C against op(A)·op(B) summed in float64, straight from the definition. */
function checkAgainstDefinition(s: Shape, A: Float32Array, B: Float32Array, C: Float32Array, prng: Prng, what: string): number {
  const { m: M, n: N, k: K, transA, transB } = s;
  const got: number[] = [];
  const want: number[] = [];
  for (let t = 0; t < SAMPLES; t++) {
    const i = prng.int(M);
    const j = prng.int(N);
    let sum = 0;
    for (let p = 0; p < K; p++) sum += (transA ? A[p * M + i]! : A[i * K + p]!) * (transB ? B[j * K + p]! : B[p * N + j]!);
    got.push(C[i * N + j]!);
    want.push(sum);
  }
  return checkClose(what, got, want, REL_TOL);
}

function shapeLabel(s: Shape): string {
  const t = (s.transA ? "Aᵀ" : "A") + "·" + (s.transB ? "Bᵀ" : "B");
  return `${s.m}x${s.n}x${s.k} ${t}`;
}

interface Result {
  m: number;
  n: number;
  k: number;
  kernel: string;
  threads: number;
  /** Where A, B and C were: the JavaScript heap, or the SIMD kernel's own memory (no copies). */
  operands: "heap" | "kernel";
  gflops: number;
  transA: boolean;
  transB: boolean;
  /** gflops over the SIMD peak of `threads` cores (bench/peak.ts). */
  peakFraction: number;
  /** Median seconds per product, and how many timed runs it is the median of. */
  seconds: number;
  runs: number;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  enableRelaxedSimd();
  const peak = await measureSimdPeak(args.quick);
  // The SIMD kernel on 1 and 2 threads, or a one-line notice and the JS kernels only.
  const simd: SimdMatmul[] = [];
  if (args.simdThreads.length > 0 && !simdAvailable()) console.log("bench:matmul: no WebAssembly SIMD here, timing the JS kernels only");
  else
    for (const name of args.simdKernels) {
      const fma = name === "simd-fma";
      if (fma && !relaxedSimdAvailable()) {
        console.log("bench:matmul: no relaxed SIMD here, so no simd-fma rows");
        continue;
      }
      for (const threads of args.simdThreads) simd.push(await createSimdMatmul({ threads, spawn: spawnNodeWorker, blocking: defaultBlocking(fma) }));
    }
  const kernels: (MatmulKernel & { threads?: number })[] = [...args.kernels, ...simd];
  // Naive is slow (about 0.5 s per conv-sized product), so it gets the minimum 5 runs; the fast
  // kernels run until half a second has passed, which for small shapes means many more: up to
  // 50,000 (3136x32x16 takes about 25 microseconds on two threads), so that a short stall of the
  // machine weighs on the smallest shape no more than on the others (at most 1,000 runs, its
  // median had come from a 60-millisecond window).
  const timing = (k: MatmulKernel): TimingOptions =>
    args.quick
      ? { warmup: 1, minRuns: 3, minSeconds: k === matmulNaive ? 0 : 0.15, maxRuns: 50_000 }
      : { warmup: 1, minRuns: 5, minSeconds: k === matmulNaive ? 0 : 0.5, maxRuns: 50_000 };

  const results: Result[] = [];
  const cols = ["shape", "from", "kernel", "threads", "GFLOP/s", "of peak", "vs naive", "rel err", "runs"];
  const widths = [22, 14, 21, 7, 9, 7, 9, 9, 5];
  const row = (cells: string[]): string => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(`matmul kernels, median GFLOP/s (2·M·N·K / time)${args.quick ? ", --quick" : ""}`);
  console.log(`128-bit SIMD peak (bench/peak.ts): ${peak.gflops.toFixed(1)} GFLOP/s per core ("of peak" divides by it times the threads)`);
  console.log(row(cols));
  console.log(row(widths.map((w) => "-".repeat(w))));

  for (const s of SHAPES) {
    const prng = new Prng(1234);
    const { A, B } = operands(s, prng);
    const { m: M, n: N, k: K, transA, transB } = s;
    const flops = 2 * M * N * K;
    const label = shapeLabel(s);

    // The reference result for this shape: naive's, vouched for by the float64 definition.
    const ref = new Float32Array(M * N).fill(NaN);
    matmulNaive.gemm(transA, transB, M, N, K, A, B, ref, false);
    let naiveGflops: number | undefined;

    // A SIMD kernel is timed twice: operands on the JavaScript heap (copied into its memory and the
    // result out, every call), and operands in its memory (`storage`), as a training step has them.
    const runs = kernels.flatMap((kernel) => {
      const heap = { kernel, A, B, operands: "heap" as const };
      const st = kernel.storage;
      if (!st) return [heap];
      const resident = (src: Float32Array): Float32Array => {
        const r = st.alloc(src.length);
        if (!r) throw new Error(`bench:matmul: ${kernel.name}'s memory is full`);
        return (r.set(src), r);
      };
      return [heap, { kernel, A: resident(A), B: resident(B), operands: "kernel" as const }];
    });
    for (const { kernel, A: a, B: b, operands: where } of runs) {
      const C = where === "heap" ? new Float32Array(M * N) : kernel.storage!.alloc(M * N)!;
      C.fill(NaN); // NaN: a kernel that skips an entry cannot pass
      const name = where === "heap" ? kernel.name : `${kernel.name} (in memory)`;
      let err: number;
      try {
        if (kernel === matmulNaive) {
          err = checkAgainstDefinition(s, A, B, ref, prng, `naive on ${label} vs float64 definition`);
        } else {
          kernel.gemm(transA, transB, M, N, K, a, b, C, false);
          err = checkClose(`${name} on ${label} vs naive`, C, ref, REL_TOL);
        }
      } catch (e) {
        if (!(e instanceof VerificationError)) throw e;
        console.error(`bench:matmul: verification FAILED, refusing to time: ${e.message}`);
        process.exit(1);
      }
      const t = timeMedian(() => kernel.gemm(transA, transB, M, N, K, a, b, C, false), timing(kernel));
      const gflops = flops / t.median / 1e9;
      if (kernel === matmulNaive) naiveGflops = gflops;
      const speedup = naiveGflops === undefined ? "-" : `${(gflops / naiveGflops).toFixed(1)}x`;
      const threads = kernel.threads ?? 1;
      const ofPeak = gflops / (peak.gflops * threads);
      console.log(row([label, s.note, name, String(threads), gflops.toFixed(2), `${(100 * ofPeak).toFixed(0)}%`, speedup, err.toExponential(1), String(t.samples.length)]));
      results.push({
        m: M, n: N, k: K, kernel: kernel.name, threads, operands: where, gflops: Number(gflops.toFixed(3)), peakFraction: Number(ofPeak.toFixed(3)),
        transA, transB, seconds: Number(t.median.toPrecision(4)), runs: t.samples.length,
      });
    }
  }
  console.log(TFJS_WASM);
  for (const k of simd) await k.dispose();
  if (args.json) console.log(JSON.stringify({ peak: peak.gflops, results }));
}

await main();
