/**
 * `npm run bench:peak`: the arithmetic ceiling of one core for 128-bit WebAssembly SIMD, the figure
 * bench:matmul divides by. Runs our own emitted wasm, f32x4.mul then f32x4.add, and where the
 * engine has relaxed SIMD also f32x4.relaxed_madd (one instruction, fused on CPUs with FMA), each
 * counted as 2 flops per lane per multiply-add as a matmul's is, in two patterns:
 *   chain: R independent chains acc = acc·m + c, no memory traffic (mul and add both on the
 *          chain, so R must cover their summed latency);
 *   gemm:  R accumulators acc += x·m, the two x vectors reloaded from L1 each iteration (as the
 *          micro-kernel reloads B), only the add on the chain.
 * Reports the best over patterns and R (enough chains to hide latency, few enough to stay in the
 * 16 xmm registers), whichever instruction form gives it. One core; a second core doubles the
 * ceiling. Flags: --json, --quick.
 */
import { pathToFileURL } from "node:url";
import { Code, i32, moduleBytes, v128 } from "../src/tensor/kernels/wasm/emit.js";
import { relaxedSimdAvailable } from "../src/tensor/kernels/wasm/matmul-simd.js";
import { enableRelaxedSimd } from "../src/io/wasm-features.js";
import { timeMedian } from "./timing.js";

/** Chain counts tried: at 4 cycles for mul and 2-4 for add, 3 FP ports need about 12 chains. */
const CHAINS = [6, 8, 10, 12, 14];
/** Accumulators for the gemm pattern: with x0, x1 and R/2 multipliers, 10 fills 15 registers. */
const ACCS = [4, 6, 8, 10];
/** Loop iterations per call: long enough (~10 ms) that the call's own cost vanishes. */
const ITERS = 2_000_000;

/**
 * peak(n): n iterations of acc_r = acc_r * 0.5 + 1 for r < chains (every lane converges to 2, so
 * no overflow, no subnormals); returns lane 0 of the sum, so nothing is dead code.
 */
function chainModule(chains: number, fma = false): Uint8Array<ArrayBuffer> {
  const f = new Code([i32], [0x7d]);
  const n = 0;
  const m = f.local(v128), c = f.local(v128);
  const acc = Array.from({ length: chains }, () => f.local(v128));
  f.f32x4Const(0.5).set(m).f32x4Const(1).set(c);
  for (let r = 0; r < chains; r++) f.f32x4Const(r).set(acc[r]!);
  f.block().get(n).eqz().brIf(0).loop();
  for (let r = 0; r < chains; r++) {
    if (fma) f.get(acc[r]!).get(m).get(c).f32x4RelaxedMadd().set(acc[r]!);
    else f.get(acc[r]!).get(m).f32x4Mul().get(c).f32x4Add().set(acc[r]!);
  }
  f.get(n).i32(1).sub().tee(n).brIf(0).end().end();
  f.get(acc[0]!);
  for (let r = 1; r < chains; r++) f.get(acc[r]!).f32x4Add();
  f.f32x4ExtractLane(0);
  return moduleBytes({ module: "env", field: "memory", min: 1 }, [f], { peak: 0 });
}

/**
 * gemm(n): n iterations of: x0, x1 = v128.load(0), v128.load(16); acc_r += x_(r%2) · m_(r/2)
 * (distinct products, so none can be merged). Memory holds 1e-3 in every lane and m_k = 1e-3, so
 * each accumulator ends at n·1e-6; returns lane 0 of acc_0 for the check.
 */
function gemmModule(accs: number, fma = false): Uint8Array<ArrayBuffer> {
  const f = new Code([i32], [0x7d]);
  const n = 0;
  const x = [f.local(v128), f.local(v128)];
  const m = Array.from({ length: accs / 2 }, () => f.local(v128));
  const acc = Array.from({ length: accs }, () => f.local(v128));
  for (const mk of m) f.f32x4Const(1e-3).set(mk);
  f.block().get(n).eqz().brIf(0).loop();
  f.i32(0).v128Load(0).set(x[0]!).i32(0).v128Load(16).set(x[1]!);
  for (let r = 0; r < accs; r++) {
    if (fma) f.get(x[r % 2]!).get(m[r >> 1]!).get(acc[r]!).f32x4RelaxedMadd().set(acc[r]!);
    else f.get(acc[r]!).get(x[r % 2]!).get(m[r >> 1]!).f32x4Mul().f32x4Add().set(acc[r]!);
  }
  f.get(n).i32(1).sub().tee(n).brIf(0).end().end();
  f.get(acc[0]!);
  for (let r = 1; r < accs; r++) f.get(acc[r]!).f32x4Add();
  f.f32x4ExtractLane(0);
  return moduleBytes({ module: "env", field: "memory", min: 1 }, [f], { peak: 0 });
}

export interface PeakResult {
  /** Best GFLOP/s over patterns and accumulator counts, one core. */
  gflops: number;
  /** Which pattern and how many accumulators gave it, e.g. "gemm 8". */
  best: string;
  /** GFLOP/s of each variant tried. */
  variants: Record<string, number>;
}

/** Measures the 128-bit mul+add ceiling of the calling thread's core. */
export async function measureSimdPeak(quick = false): Promise<PeakResult> {
  const memory = new WebAssembly.Memory({ initial: 1 });
  new Float32Array(memory.buffer, 0, 8).fill(1e-3);
  const variants: Record<string, number> = {};
  let best = { gflops: 0, name: "" };
  const forms = relaxedSimdAvailable() ? [false, true] : [false];
  const tries: [string, number, Uint8Array<ArrayBuffer>, number][] = [];
  for (const fma of forms) {
    const op = fma ? "fma" : "mul+add";
    for (const r of CHAINS) tries.push([`${op} chain ${r}`, r, chainModule(r, fma), 2 * r]);
    for (const r of ACCS) tries.push([`${op} gemm ${r}`, r, gemmModule(r, fma), r * 1000 * 1e-6]);
  }
  for (const [name, r, bytes, want] of tries) {
    const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
    const peak = instance.exports.peak as (n: number) => number;
    const got = peak(1000); // a check that the loop computes what it claims
    if (!(Math.abs(got - want) <= 1e-3 * want)) throw new Error(`peak: ${name} returned ${got}, not ${want}`);
    const t = timeMedian(() => peak(ITERS), quick ? { warmup: 1, minRuns: 3, minSeconds: 0.1 } : { warmup: 2, minRuns: 9, minSeconds: 0.5 });
    const gflops = (ITERS * r * 4 * 2) / t.median / 1e9;
    variants[name] = Number(gflops.toFixed(2));
    if (gflops > best.gflops) best = { gflops, name };
  }
  return { gflops: Number(best.gflops.toFixed(2)), best: best.name, variants };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  enableRelaxedSimd();
  for (const a of argv)
    if (a !== "--json" && a !== "--quick") {
      console.error(`bench:peak: unknown flag "${a}" (npm run bench:peak -- [--json] [--quick])`);
      process.exit(2);
    }
  const r = await measureSimdPeak(argv.includes("--quick"));
  console.log("128-bit WebAssembly SIMD peak, one core: f32x4.mul + f32x4.add, and relaxed SIMD's multiply-add where available; median GFLOP/s");
  for (const [name, g] of Object.entries(r.variants)) console.log(`  ${name.padEnd(17)} ${g.toFixed(2).padStart(6)}`);
  console.log(`peak: ${r.gflops.toFixed(2)} GFLOP/s per core (${r.best}); two cores: ${(2 * r.gflops).toFixed(2)}`);
  if (argv.includes("--json")) console.log(JSON.stringify(r));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
