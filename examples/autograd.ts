/**
 * Autograd on a tiny expression: f(a, b) = sum(tanh(a·b)²) + mean(a²), with a (2,3) and b (3,2). The
 * engine's backward pass gives df/da and df/db; each is printed beside a central difference,
 * (f(x + h) - f(x - h)) / 2h, computed by nudging one input value at a time. `a` is used twice, so
 * its gradient is the sum of both paths' (gradients accumulate).
 *   npx tsx examples/autograd.ts
 */
import * as T from "../src/tensor/index.js";

const a = T.tensor([2, 3], [0.5, -1.0, 2.0, 1.5, 0.25, -0.75], true); // (2,3), requires a gradient
const b = T.tensor([3, 2], [1.0, -0.5, 0.3, 0.8, -1.2, 0.4], true); // (3,2)

/** The expression, from engine ops; each op records its backward as it runs. */
function f(): T.Tensor {
  const t = T.tanh(T.matmul(a, b)); // (2,2)
  return T.add(T.sum(T.mul(t, t)), T.mean(T.mul(a, a))); // scalar
}

const y = f();
y.backward();
console.log(`f(a, b) = ${y.item().toFixed(6)}`);

const h = 1e-3;
for (const [name, t] of [["a", a], ["b", b]] as const) {
  console.log(`\nd f / d ${name}      backward    central difference`);
  for (let i = 0; i < t.data.length; i++) {
    const keep = t.data[i]!;
    t.data[i] = keep + h;
    const up = T.noGrad(f).item();
    t.data[i] = keep - h;
    const down = T.noGrad(f).item();
    t.data[i] = keep;
    const numeric = (up - down) / (2 * h);
    console.log(`  ${name}[${i}]  ${t.grad![i]!.toFixed(6).padStart(12)}  ${numeric.toFixed(6).padStart(12)}`);
  }
}
