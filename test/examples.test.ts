/**
 * The three examples in examples/ run as a reader would run them (`tsx examples/NAME.ts`) and say
 * what they claim: autograd's gradients match their central differences, the network learns XOR,
 * and the critic step prints the shapes of the conv critic's tensors.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");

function runExample(name: string): string {
  const r = spawnSync(process.execPath, ["--import", "tsx", `examples/${name}.ts`], { cwd: ROOT, encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe("examples", () => {
  it("autograd: every gradient agrees with its central difference", () => {
    const rows = [...runExample("autograd").matchAll(/^\s+([ab])\[(\d)\]\s+(-?[\d.]+)\s+(-?[\d.]+)$/gm)];
    expect(rows).toHaveLength(12); // six entries of a, six of b
    for (const [, , , backward, numeric] of rows) expect(Math.abs(Number(backward) - Number(numeric))).toBeLessThan(1e-3);
  });

  it("xor: the loss falls and all four answers are right", () => {
    const out = runExample("xor");
    const losses = [...out.matchAll(/loss ([\d.]+)/g)].map((m) => Number(m[1]));
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 10);
    const answers = [...out.matchAll(/^\s+(\d)\s+(\d)\s+(\d)\s+(\d)$/gm)];
    expect(answers).toHaveLength(4);
    for (const [, x0, x1, want, got] of answers) {
      expect(Number(want)).toBe(Number(x0) ^ Number(x1));
      expect(got).toBe(want);
    }
  });

  it("critic-step: prints the conv critic's shapes from input to loss", () => {
    const out = runExample("critic-step");
    expect(out).toMatch(/as PyTorch's D reads it\s+\(8,11,28,28\)/);
    expect(out).toMatch(/conv2d\s+\(8,32,14,14\)/);
    expect(out).toMatch(/reshape\s+\(8,3136\)/);
    expect(out).toMatch(/sub\s+\(\)/);
    expect(out.match(/matmul\s+\(8,6272\)/g)).toHaveLength(1); // the label planes' part, made once for fakes and reals
    expect(out).toMatch(/fc\.bias\s+\(1\)\s+largest \|gradient\| 0\.00e\+0/); // cancels between real and fake
  });
});
