/**
 * A two-layer network learns XOR, the function no single linear layer can represent:
 *   x (4, 2) -> Linear(2, 8) -> tanh -> Linear(8, 2) -> scores (4, 2), trained by cross-entropy
 * with SGD (momentum 0.9) on the four points. Prints the loss as it falls and the final answers.
 *   npx tsx examples/xor.ts
 */
import * as T from "../src/tensor/index.js";
import { Linear, SGD, Sequential, Tanh } from "../src/nn/index.js";

const prng = new T.Prng(1);
const net = new Sequential(new Linear(2, 8, prng), new Tanh(), new Linear(8, 2, prng));
const opt = new SGD(net, { lr: 0.1, momentum: 0.9 });

const x = T.tensor([4, 2], [0, 0, 0, 1, 1, 0, 1, 1]); // the four corners
const labels = [0, 1, 1, 0]; // x0 XOR x1

for (let step = 0; step <= 300; step++) {
  net.zeroGrad();
  const loss = T.crossEntropy(net.forward(x), labels); // mean over the four points
  loss.backward();
  opt.step();
  if (step % 50 === 0) console.log(`step ${String(step).padStart(3)}  loss ${loss.item().toFixed(4)}`);
}

const scores = T.noGrad(() => net.forward(x)).data;
console.log("\n x0 x1  XOR  network says");
for (let i = 0; i < 4; i++) {
  const answer = scores[2 * i + 1]! > scores[2 * i]! ? 1 : 0;
  console.log(`  ${x.data[2 * i]}  ${x.data[2 * i + 1]}    ${labels[i]}    ${answer}`);
}
