/**
 * The engine's core runs anywhere: every entry point of src/tensor, src/nn, src/gan, the pure parts
 * of src/mnist and src/recognition, and src/util is bundled by esbuild for the browser platform, and
 * the test fails naming the file if any module it reaches imports a Node module or uses `process`,
 * `Buffer` or `import.meta`. Files, paths and the process belong to src/io/ and src/cli/.
 */
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { relative, resolve } from "node:path";
import { build } from "esbuild";
import type { Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");

const CORE_ENTRIES = [
  "src/tensor/index.ts",
  "src/tensor/kernels/matmul.ts",
  "src/tensor/kernels/wasm/matmul-simd.ts",
  "src/tensor/kernels/wasm/simd-kernel.ts",
  "src/tensor/kernels/wasm/worker.ts",
  "src/nn/index.ts",
  "src/gan/models.ts",
  "src/gan/wgan.ts",
  "src/gan/sampling.ts",
  "src/gan/config.ts",
  "src/gan/training.ts",
  "src/gan/load.ts",
  "src/mnist/idx.ts",
  "src/mnist/dataset.ts",
  "src/mnist/batches.ts",
  "src/mnist/grid.ts",
  "src/mnist/image.ts",
  "src/recognition/classifier.ts",
  "src/recognition/evaluate.ts",
  "src/recognition/report.ts",
  "src/util/plot.ts",
];

const NODE_BUILTINS = new Set(builtinModules);
/** Globals and syntax that exist only under Node (or only in modules loaded from files). */
const NODE_ONLY = [/\bprocess\s*\./, /\bBuffer\s*\./, /\bimport\.meta\b/, /\brequire\s*\(/];

/**
 * Bundles `entries` for the browser and returns one line per problem: a Node module imported (with
 * the importing file) or a Node-only global used in a bundled file. Empty when the code is portable.
 */
async function nodeReach(entries: string[]): Promise<string[]> {
  const problems: string[] = [];
  const guard: Plugin = {
    name: "no-node",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.replace(/^node:/, "");
        if (args.path.startsWith("node:") || NODE_BUILTINS.has(bare)) {
          problems.push(`${relative(ROOT, args.importer)} imports ${args.path}`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
  const result = await build({
    entryPoints: entries.map((e) => resolve(ROOT, e)),
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    metafile: true,
    outdir: "out",
    logLevel: "silent",
    plugins: [guard],
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    if (input.includes("node_modules")) continue;
    const text = readFileSync(resolve(ROOT, input), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, ""); // code, not comments
    for (const pattern of NODE_ONLY) if (pattern.test(text)) problems.push(`${input} uses ${pattern.source.replace(/\\[sb]\*?|\\/g, "")}`);
  }
  return problems;
}

describe("the core bundles for the browser", () => {
  it("no entry point of the core reaches a Node module or a Node-only global", async () => {
    expect(await nodeReach(CORE_ENTRIES)).toEqual([]);
  });

  it("the check itself names the file that reaches Node (src/io is the Node side)", async () => {
    const problems = await nodeReach(["src/io/files.ts"]);
    expect(problems).toContain("src/io/files.ts imports node:fs");
    expect(problems.some((p) => p.startsWith("src/io/files.ts uses process"))).toBe(true);
  });
});
