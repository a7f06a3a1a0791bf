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
