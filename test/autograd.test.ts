/** Autograd mechanics: accumulation for shared tensors, no-grad scope, detach, shape errors. */
import { describe, expect, it } from "vitest";
import * as T from "../src/tensor/index.js";

describe("autograd", () => {
  it("a tensor used twice receives the sum of both gradients", () => {
    // L = sum(W·x1) + sum(W·x2): dL/dW = sum_rows(1ᵀ x1) + sum_rows(1ᵀ x2); like a critic scoring real and fake
    const w = T.tensor([2, 3], [1, 2, 3, 4, 5, 6], true);
    const x1 = T.tensor([1, 3], [1, 0, 2]);
    const x2 = T.tensor([1, 3], [0, 3, -1]);
    const loss = T.add(T.sum(T.linear(x1, w)), T.sum(T.linear(x2, w)));
    loss.backward();
    expect([...w.grad!]).toEqual([1, 3, 1, 1, 3, 1]);
  });

  it("a value reused inside one graph accumulates (d(x*x)/dx = 2x)", () => {
    const x = T.tensor([3], [1, -2, 3], true);
    T.sum(T.mul(x, x)).backward();
    expect([...x.grad!]).toEqual([2, -4, 6]);
  });

  it("backward twice without zeroGrad accumulates; zeroGrad clears in place", () => {
    const x = T.tensor([2], [1, 2], true);
    const g = x.gradBuffer();
    T.sum(T.mulScalar(x, 3)).backward();
    T.sum(T.mulScalar(x, 3)).backward();
    expect([...x.grad!]).toEqual([6, 6]);
    x.zeroGrad();
    expect(x.grad).toBe(g);
    expect([...x.grad!]).toEqual([0, 0]);
  });

  it("a second backward over the same graph adds the same gradient again, no more", () => {
    const x = T.tensor([2], [1, 2], true);
    const loss = T.sum(T.mul(T.tanh(x), x));
    loss.backward();
    const once = [...x.grad!];
    loss.backward();
    expect([...x.grad!]).toEqual(once.map((v) => Math.fround(2 * v)));
  });

  it("through a reshape or an addition, whose gradient buffer an input takes over: each pass counted once, whatever the order", () => {
    // x -> h = 2x (an op's result, whose gradient the reshape's buffer becomes) -> reshape:
    // dL/dx = 2u; a second backward adds 2u once more
    const u = T.tensor([4], [1, -1, 2, 0.5]);
    const x = T.tensor([2, 2], [1, 2, 3, 4], true);
    const alone = T.sum(T.mul(T.reshape(T.mulScalar(x, 2), [4]), u));
    alone.backward();
    expect([...x.grad!]).toEqual([2, -2, 4, 1]);
    alone.backward();
    expect([...x.grad!]).toEqual([4, -4, 8, 2]);
    // h also used directly, the reshape's branch first or second in the graph: dL/dh = u + 3, dL/dx
    // = 2u + 6; and a leaf reshaped directly (its gradient must survive the next pass's zeroing)
    for (const reshapeFirst of [true, false]) {
      const z = T.tensor([2, 2], [0.5, 1, 1.5, 2], true);
      const h = T.mulScalar(z, 2);
      const viaReshape = T.sum(T.mul(T.reshape(h, [4]), u));
      const direct = T.sum(T.mulScalar(h, 3));
      const loss = reshapeFirst ? T.add(viaReshape, direct) : T.add(direct, viaReshape);
      loss.backward();
      expect([...z.grad!], `reshape first: ${reshapeFirst}`).toEqual([8, 4, 10, 7]);
      loss.backward();
      expect([...z.grad!], `reshape first: ${reshapeFirst}`).toEqual([16, 8, 20, 14]);
    }
    for (const reshapeFirst of [true, false]) {
      const z = T.tensor([2, 2], [1, 2, 3, 4], true);
      const viaReshape = T.sum(T.mul(T.reshape(z, [4]), u));
      const direct = T.sum(T.mulScalar(z, 3));
      const loss = reshapeFirst ? T.add(viaReshape, direct) : T.add(direct, viaReshape);
      loss.backward();
      expect([...z.grad!], `reshape first: ${reshapeFirst}`).toEqual([4, 2, 5, 3.5]);
      loss.backward();
      expect([...z.grad!], `reshape first: ${reshapeFirst}`).toEqual([8, 4, 10, 7]);
    }
    // the same through an addition, whose first input takes the output's gradient buffer (a + a too)
    for (const reshapeFirst of [true, false]) {
      const z = T.tensor([4], [0.5, 1, 1.5, 2], true);
      const h = T.mulScalar(z, 2);
      const viaAdd = T.sum(T.mul(T.add(h, T.tensor([4], [9, 9, 9, 9])), u));
      const direct = T.sum(T.mulScalar(h, 3));
      const loss = reshapeFirst ? T.add(viaAdd, direct) : T.add(direct, viaAdd);
      loss.backward();
      loss.backward();
      expect([...z.grad!], `add first: ${reshapeFirst}`).toEqual([16, 8, 20, 14]);
    }
    const w = T.tensor([2], [1, 2], true);
    const twice = T.sum(T.mul(T.add(T.mulScalar(w, 1), T.mulScalar(w, 1)), T.tensor([2], [3, 5])));
    twice.backward();
    expect([...w.grad!]).toEqual([6, 10]);
    // with the input's gradient already there, the reshape's is added into it, not put in its place
    const y = T.tensor([3], [1, 2, 3], true);
    y.gradBuffer().fill(1);
    T.sum(T.mulScalar(T.reshape(y, [1, 3]), 2)).backward();
    expect([...y.grad!]).toEqual([3, 3, 3]);
  });

  it("noGrad records nothing", () => {
    const w = T.tensor([2, 2], [1, 2, 3, 4], true);
    const y = T.noGrad(() => T.relu(T.matmul(w, w)));
    expect(y.requiresGrad).toBe(false);
    expect(y.parents.length).toBe(0);
    expect(y.backwardFn).toBeNull();
    expect(T.isGradEnabled()).toBe(true);
    expect(() => T.sum(y).backward()).toThrow(/does not require grad/);
  });

  it("detach cuts the graph but shares values", () => {
    const x = T.tensor([2], [1, 2], true);
    const d = T.mulScalar(x, 2).detach();
    expect([...d.data]).toEqual([2, 4]);
    const loss = T.sum(T.add(T.mul(d, x), x));
    loss.backward();
    expect([...x.grad!]).toEqual([3, 5]); // d + 1, nothing through d
  });

  it("shape errors name the op and both shapes", () => {
    const a = T.zeros([2, 3]), b = T.zeros([4, 5]);
    expect(() => T.matmul(a, b)).toThrow("matmul: shapes (2,3) and (4,5) do not multiply");
    expect(() => T.add(a, T.zeros([2]))).toThrow("add: cannot broadcast (2) onto (2,3)");
    expect(() => T.mul(T.zeros([2, 3, 4]), T.zeros([2, 1, 4]))).toThrow("mul: cannot broadcast (2,1,4) onto (2,3,4)");
    expect(() => T.linear(a, b)).toThrow("linear: input (2,3) does not fit weight (4,5)");
    expect(() => T.concat([a, b], 0)).toThrow(/concat: shapes \(2,3\) and \(4,5\)/);
    expect(() => T.conv2d(T.zeros([1, 2, 5, 5]), T.zeros([3, 1, 3, 3]))).toThrow("conv2d: input (1,2,5,5) does not fit weight (3,1,3,3)");
    expect(() => T.reshape(a, [4, 2])).toThrow("reshape: cannot view (2,3) as (4,2)");
  });
});
