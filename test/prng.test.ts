/** The seeded PRNG: repeatable from its seed, resumable from its state, and roughly the right distributions. */
import { describe, expect, it } from "vitest";
import { Prng } from "../src/tensor/prng.js";

describe("Prng", () => {
  it("repeats from its seed and differs between seeds", () => {
    const a = new Prng(42), b = new Prng(42), c = new Prng(43);
    const xa = Array.from({ length: 100 }, () => a.nextU32());
    const xb = Array.from({ length: 100 }, () => b.nextU32());
    const xc = Array.from({ length: 100 }, () => c.nextU32());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
  });

  it("continues the same stream after getState/setState, normals' spare included", () => {
    const a = new Prng(5);
    a.normal(); // leaves a spare behind
    const state = a.getState();
    const next = [a.normal(), a.normal(), a.uniform()];
    const b = new Prng(999);
    b.setState(JSON.parse(JSON.stringify(state)));
    expect([b.normal(), b.normal(), b.uniform()]).toEqual(next);
  });

  it("fillNormal draws what successive normal() calls draw, at any length and with a spare pending", () => {
    const a = new Prng(7), b = new Prng(7);
    for (const [n, mean, std] of [[0, 0, 1], [1, 0, 1], [6, 0.5, 2], [7, 0, 1], [2, -1, 0.02], [101, 1, 3], [64, 0, 1]] as const) {
      const got = a.fillNormal(new Float32Array(n), mean, std);
      const want = Float32Array.from({ length: n }, () => mean + std * b.normal());
      expect(got).toEqual(want);
      expect(a.getState()).toEqual(b.getState()); // the four words and the spare
    }
  });

  it("draws uniforms in [0,1) and normals with mean 0 and variance 1", () => {
    const p = new Prng(1);
    const n = 200_000;
    let su = 0, sn = 0, sn2 = 0, lo = 1, hi = 0;
    for (let i = 0; i < n; i++) {
      const u = p.uniform();
      lo = Math.min(lo, u); hi = Math.max(hi, u); su += u;
      const z = p.normal();
      sn += z; sn2 += z * z;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(Math.abs(su / n - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sn / n)).toBeLessThan(0.01);
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(0.02);
  });

  it("int(n) covers [0, n) evenly and permutation is a permutation", () => {
    const p = new Prng(3);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[p.int(7)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    const perm = p.permutation(1000);
    expect([...perm].sort((x, y) => x - y)).toEqual([...Array(1000).keys()]);
    expect([...perm]).not.toEqual([...Array(1000).keys()]);
  });
});
