/**
 * Runs before every test file, as the CLI's backend set-up does before any kernel is compiled:
 * turns on relaxed SIMD where this Node has it behind a flag (see src/io/wasm-features.ts), so the
 * suites run the micro-kernel `train` runs.
 */
import { enableRelaxedSimd } from "../src/io/wasm-features.js";

enableRelaxedSimd();
