/**
 * One critic step of the conditional WGAN on eight real MNIST digits, with every tensor's shape:
 * the same lines as `Wgan.criticStep` (src/gan/wgan.ts), written out so each stage can be printed.
 *   L_D = mean(D(G(z, y), y)) - mean(D(x, y));  backward;  RMSprop step;  clip D's weights to [-c, c]
 * Uses the conv model, whose critic sees the digit as ten label planes beside the image.
 *   npx tsx examples/critic-step.ts
 */
import * as T from "../src/tensor/index.js";
import { RMSprop } from "../src/nn/index.js";
import { createCritic, createGenerator, labelPlanes, scoreEach } from "../src/gan/models.js";
import { oneHot } from "../src/mnist/batches.js";
import { IMAGE_SIZE } from "../src/mnist/image.js";
import { loadMnist } from "../src/io/mnist.js";

const B = 8;
const prng = new T.Prng(0);
const G = createGenerator("conv", 100, prng);
const D = createCritic("conv", prng);
const optD = new RMSprop(D, { lr: 5e-5, clip: 0.01 }); // its step also clips D's weights to [-c, c], in the same pass

const mnist = loadMnist("test");
const x = new T.Tensor([B, 1, 28, 28], mnist.pixels.slice(0, B * IMAGE_SIZE)); // real digits in [-1, 1]
const y = new T.Tensor([B, 10], oneHot(mnist.labels.subarray(0, B))); // their labels, one-hot
const z = new T.Tensor([B, 100], prng.fillNormal(T.alloc(B * 100))); // noise
const show = (name: string, t: T.Tensor): void => console.log(`${name.padEnd(34)} ${T.shapeStr(t.shape)}`);
show("x  real images", x);
show("y  labels, one-hot", y);
show("z  noise", z);

const fake = T.noGrad(() => G.forward(z, y)); // the generator is not trained in a critic step: no graph
show("G(z, y)  fake images", fake);
// PyTorch's critic convolves [image, 10 label planes]; ours never builds that tensor (its first
// convolution is split into the image's part and the planes' part, src/gan/models.ts), shown here for its shape
show("[image, 10 label planes]  as PyTorch's D reads it", T.concat([x, labelPlanes(y)], 1));

D.zeroGrad();
const [fakeScores, realScores] = scoreEach(D, [fake, x], y); // the label planes' part made once for both
const loss = T.sub(T.mean(fakeScores!), T.mean(realScores!));

// The graph the two critic passes recorded, inputs before the ops that use them (a topological order).
// Only tensors that need a gradient are recorded: the images and labels are data, so the graph
// starts at the critic's parameters. The first convolution shows as two: the image's part (a slice of
// its weight, one channel) and the label planes' part (the other ten channels, convolved over the
// ten digits' planes once, then picked per image by a product with the one-hot labels).
console.log("\nthe recorded graph (op: shape), fake images first, then real:");
const names = new Map(D.namedParameters().map(([n, p]) => [p, n] as const));
const seen = new Set<T.Tensor>();
const visit = (t: T.Tensor): void => {
  if (seen.has(t)) return;
  seen.add(t);
  for (const p of t.parents) visit(p);
  show(t.op === "leaf" ? `  parameter ${names.get(t) ?? "?"}` : `  ${t.op}`, t);
};
visit(loss);

loss.backward();
optD.step(); // RMSprop, then the clip
console.log(`\nL_D = ${loss.item().toFixed(6)}; each gradient has its parameter's shape (fc.bias's is 0: it adds`);
console.log("the same to real and fake scores, so it cancels in the difference):");
for (const [name, p] of D.namedParameters()) {
  let largest = 0;
  for (const g of p.grad!) largest = Math.max(largest, Math.abs(g));
  console.log(`  ${name.padEnd(32)} ${T.shapeStr(p.shape).padEnd(14)} largest |gradient| ${largest.toExponential(2)}`);
}
