/**
 * Turns on WebAssembly features that this Node ships behind a V8 flag, before any kernel is
 * compiled. Today that is relaxed SIMD, whose f32x4.relaxed_madd lets the matmul micro-kernel do a
 * multiply-add in one instruction (fused on CPUs with FMA): browsers have it on by default since
 * 2023 and Node since version 22 (V8 12); Node 20 runs it behind --experimental-wasm-relaxed-simd.
 * V8 flags are process-wide, so the matmul workers see it too. The kernels themselves only detect
 * the feature (`relaxedSimdAvailable`) and emit plain mul + add when it is absent.
 */
import { setFlagsFromString } from "node:v8";
import { relaxedSimdAvailable } from "../tensor/kernels/wasm/matmul-simd.js";

/** Enables relaxed SIMD if this engine has it behind a flag; returns whether it is available now. */
export function enableRelaxedSimd(): boolean {
  if (relaxedSimdAvailable()) return true;
  setFlagsFromString("--experimental-wasm-relaxed-simd");
  return relaxedSimdAvailable();
}
