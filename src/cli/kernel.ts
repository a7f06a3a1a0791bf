/**
 * `--kernel`: which matmul kernel the engine's ops use for this command. `naive` is the readable
 * triple loop, for stepping through real training in a debugger; `blocked` is the default.
 */
import { MATMUL_KERNELS, setMatmulKernel } from "../tensor/kernels/matmul.js";
import type { FlagSpec } from "./args.js";
import { UsageError } from "./errors.js";

export const KERNEL_FLAG = {
  type: "string",
  default: "blocked",
  help: `matmul kernel: ${MATMUL_KERNELS.map((k) => k.name).join(" or ")} (naive: the plain triple loop, slow but easy to step through)`,
} as const satisfies FlagSpec;

/** Makes the named kernel the ops' kernel, or throws a usage error naming the choices. */
export function selectKernel(command: string, name: string): void {
  const k = MATMUL_KERNELS.find((m) => m.name === name);
  if (!k) throw new UsageError(`${command}: --kernel must be ${MATMUL_KERNELS.map((m) => m.name).join(" or ")}, got '${name}'`);
  setMatmulKernel(k);
}
