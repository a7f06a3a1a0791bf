/**
 * Safetensors checkpoints: the documented byte layout, bit-exact round trips of a model (float32
 * and int64 tensors) and of an optimizer, atomic writes, and one test per corrupt or mismatched
 * file, each built here in a fresh temp folder; every error must be one line naming the file.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as T from "../src/tensor/index.js";
import { Prng } from "../src/tensor/index.js";
import { Adam, BatchNorm1d, LeakyReLU, Linear, RMSprop, Sequential } from "../src/nn/index.js";
import { loadModule, loadOptimizer, readSafetensors, saveModule, saveOptimizer, writeSafetensors } from "../src/io/checkpoint.js";
import type { TensorEntry } from "../src/nn/index.js";

const dir = mkdtempSync(join(tmpdir(), "nn-checkpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => join(dir, name);

/** Linear(3,4), BatchNorm1d(4), LeakyReLU(0.2), Linear(4,out): PyTorch names 0.*, 1.*, 3.* */
function mlp(seed: number, out = 2): Sequential {
  return new Sequential(new Linear(3, 4, new Prng(seed)), new BatchNorm1d(4), new LeakyReLU(0.2), new Linear(4, out, new Prng(seed + 1)));
}

/** The model after three training forwards and two Adam steps: running stats moved, counter at 3. */
function trained(seed: number): { net: Sequential; opt: Adam } {
  const net = mlp(seed);
  const opt = new Adam(net, { lr: 0.01 });
  const p = new Prng(seed + 2);
  for (let i = 0; i < 3; i++) {
    const x = T.zeros([5, 3]);
    p.fillNormal(x.data);
    const y = net.forward(x);
    if (i < 2) {
      opt.zeroGrad();
      T.mean(y).backward();
      opt.step();
    }
  }
  return { net, opt };
}

/** The bytes of each state tensor: equal arrays here mean bit-exact equality. */
function bits(entries: TensorEntry[]): [string, number[]][] {
  return entries.map(([n, t]) => [n, Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

/** A file made by hand: N (u64 LE) = header's byte length, the header, then `data` zero bytes. */
function rawFile(name: string, header: string | object, data = 0, headerLen?: bigint): string {
  const h = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const bytes = new Uint8Array(8 + h.length + data);
  new DataView(bytes.buffer).setBigUint64(0, headerLen ?? BigInt(h.length), true);
  bytes.set(h, 8);
  writeFileSync(at(name), bytes);
  return at(name);
}

/** Expects `fn` to throw exactly one line equal to (or matching) `message`. */
function expectOneLine(fn: () => unknown, message: string | RegExp): void {
  let err: Error | undefined;
  try {
    fn();
  } catch (e) {
    err = e as Error;
  }
  expect(err, "expected an error").toBeDefined();
  expect(err!.message).not.toContain("\n");
  if (typeof message === "string") expect(err!.message).toBe(message);
  else expect(err!.message).toMatch(message);
}

const F32 = (shape: number[], begin: number, end: number) => ({ dtype: "F32", shape, data_offsets: [begin, end] });

describe("safetensors layout", () => {
  it("u64 header length, space-padded JSON header (multiple of 8) with __metadata__, contiguous little-endian data", () => {
    writeSafetensors(at("layout.safetensors"), [
      ["w", { data: T.tensor([2, 2], [1, -2, 0.5, 3]).data, shape: [2, 2], dtype: "float32" }],
      ["n", { data: T.tensor([], [7]).data, shape: [], dtype: "int64" }],
    ], { architecture: "test" });
    const b = readFileSync(at("layout.safetensors"));
    const N = Number(b.readBigUInt64LE(0));
    expect(N % 8).toBe(0);
    const text = b.subarray(8, 8 + N).toString("utf8");
    expect(text.trimEnd()).toBe(
      '{"__metadata__":{"architecture":"test"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"n":{"dtype":"I64","shape":[],"data_offsets":[16,24]}}',
    );
    expect(text.slice(text.trimEnd().length)).toMatch(/^ *$/);
    expect(b.length).toBe(8 + N + 24);
    expect([0, 1, 2, 3].map((i) => b.readFloatLE(8 + N + 4 * i))).toEqual([1, -2, 0.5, 3]);
    expect(b.readBigInt64LE(8 + N + 16)).toBe(7n);
  });
});

describe("checkpoint round trips", () => {
  it("module: every tensor bit-exact (float32 edge values and the int64 counter), metadata back", () => {
    const { net } = trained(1);
    const w = (net.layers[0] as Linear).weight.data;
    w.set([-0, 1e-45, 3.4e38, -1.5e-39]); // negative zero, denormals, near float32's max
    const meta = { architecture: "mlp", epoch: "3", step: "120", seed: "42" };
    saveModule(at("g.safetensors"), net, meta);
    const fresh = mlp(99);
    expect(loadModule(at("g.safetensors"), fresh)).toEqual(meta);
    expect(bits(fresh.stateEntries())).toEqual(bits(net.stateEntries()));
    expect((fresh.layers[1] as BatchNorm1d).numBatchesTracked.data[0]).toBe(3);
    const file = readSafetensors(at("g.safetensors"));
    expect(file.tensors.get("1.num_batches_tracked")).toEqual({ dtype: "int64", shape: [], data: Float32Array.of(3) });
  });

  it("loading into a packed model writes through to its flat buffer", () => {
    const { net } = trained(2);
    saveModule(at("packed.safetensors"), net, {});
    const fresh = mlp(50);
    fresh.pack();
    loadModule(at("packed.safetensors"), fresh);
    expect(Array.from(fresh.flatParameters().data)).toEqual(Array.from(net.flatParameters().data));
  });

  it("optimizer: Adam's moments and int64 step bit-exact, and the next step is identical", () => {
    const { net, opt } = trained(3);
    saveModule(at("m.safetensors"), net, {});
    saveOptimizer(at("m.opt.safetensors"), opt, { step: "2" });
    const net2 = mlp(70);
    const opt2 = new Adam(net2, { lr: 0.01 });
    loadModule(at("m.safetensors"), net2);
    expect(loadOptimizer(at("m.opt.safetensors"), opt2)).toEqual({ step: "2" });
    expect(bits(opt2.stateEntries())).toEqual(bits(opt.stateEntries()));
    expect(opt2.stepCount).toBe(2);
    for (const [n, o] of [[net, opt], [net2, opt2]] as const) {
      n.flatParameters().grad.fill(0.125);
      o.step();
    }
    expect(bits(net2.stateEntries())).toEqual(bits(net.stateEntries()));
  });

  it("writes atomically: no temporary file is left beside the checkpoints, a failed write leaves nothing", () => {
    const { net, opt } = trained(4);
    const sub = mkdtempSync(join(dir, "atomic-"));
    saveModule(join(sub, "g.safetensors"), net, {});
    saveModule(join(sub, "g.safetensors"), net, {}); // overwrite in place
    saveOptimizer(join(sub, "g.opt.safetensors"), opt, {});
    expect(readdirSync(sub).sort()).toEqual(["g.opt.safetensors", "g.safetensors"]);
    expectOneLine(() => saveModule(join(sub, "missing-folder", "g.safetensors"), net, {}), /^cannot write .*g\.safetensors: ENOENT$/);
    expect(readdirSync(sub).sort()).toEqual(["g.opt.safetensors", "g.safetensors"]);
  });
});

describe("corrupt files: one line each, naming the file", () => {
  it("empty and short files", () => {
    writeFileSync(at("empty.safetensors"), new Uint8Array(0));
    expectOneLine(() => readSafetensors(at("empty.safetensors")), "empty.safetensors: empty file");
    writeFileSync(at("short.safetensors"), new Uint8Array(5));
    expectOneLine(() => readSafetensors(at("short.safetensors")), "short.safetensors: too short for safetensors: 5 bytes, the header length alone takes 8");
    expectOneLine(() => readSafetensors(at("absent.safetensors")), /^absent\.safetensors: not found \(.*absent\.safetensors\)$/);
  });

  it("header length larger than the file, or over the 100 MB limit", () => {
    const p = rawFile("long.safetensors", "{}", 0, 1000n);
    expectOneLine(() => readSafetensors(p), "long.safetensors: header length 1000 is more than the 2 bytes after it");
    const q = rawFile("huge.safetensors", "{}", 0, 1n << 62n);
    expectOneLine(() => readSafetensors(q), "huge.safetensors: header length 4611686018427387904 is over the 100000000-byte limit: not a safetensors file?");
  });

  it("header that is not JSON, or not a JSON object", () => {
    expectOneLine(() => readSafetensors(rawFile("json.safetensors", '{"w": {"dtype": ')), /^json\.safetensors: header is not valid JSON \(.+\)$/);
    expectOneLine(() => readSafetensors(rawFile("array.safetensors", "[1, 2]")), "array.safetensors: header is not a JSON object");
    expectOneLine(() => readSafetensors(rawFile("meta.safetensors", { __metadata__: { epoch: 3 } })), 'meta.safetensors: __metadata__ value "epoch" is not a string');
  });

  it("unsupported dtype, bad shape, malformed data_offsets", () => {
    expectOneLine(
      () => readSafetensors(rawFile("dtype.safetensors", { w: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, 4)),
      'dtype.safetensors: tensor "w": dtype "F16" is not supported (F32 or I64)',
    );
    expectOneLine(
      () => readSafetensors(rawFile("shape.safetensors", { w: F32([2, -1], 0, 0) })),
      'shape.safetensors: tensor "w": shape [2,-1] is not a list of non-negative integers',
    );
    expectOneLine(
      () => readSafetensors(rawFile("offs.safetensors", { w: F32([1], 8, 4) }, 8)),
      'offs.safetensors: tensor "w": data_offsets [8,4] is not [begin, end] with 0 <= begin <= end',
    );
  });

  it("data_offsets inconsistent with the shape, out of range, overlapping, leaving gaps or trailing bytes", () => {
    expectOneLine(
      () => readSafetensors(rawFile("size.safetensors", { w: F32([2, 2], 0, 12) }, 12)),
      'size.safetensors: tensor "w": shape (2,2) of F32 needs 16 bytes, data_offsets [0, 12] span 12',
    );
    const range = rawFile("range.safetensors", { a: F32([4], 0, 16), b: F32([4], 16, 32) }, 16);
    const N = readFileSync(range).readBigUInt64LE(0);
    expectOneLine(() => readSafetensors(range), `range.safetensors: truncated: header says 2 tensors ending at byte ${8n + N + 32n}, file holds ${8n + N + 16n}`);
    expectOneLine(
      () => readSafetensors(rawFile("overlap.safetensors", { a: F32([4], 0, 16), b: F32([4], 8, 24) }, 24)),
      'overlap.safetensors: tensors "a" and "b" overlap in the data',
    );
    expectOneLine(
      () => readSafetensors(rawFile("gap.safetensors", { a: F32([2], 0, 8), b: F32([2], 16, 24) }, 24)),
      "gap.safetensors: bytes 8..16 of the data belong to no tensor",
    );
    expectOneLine(
      () => readSafetensors(rawFile("trailing.safetensors", { a: F32([4], 0, 16) }, 20)),
      "trailing.safetensors: 4 bytes after the last tensor's data",
    );
  });

  it("truncated data", () => {
    const { net } = trained(5);
    saveModule(at("full.safetensors"), net, {});
    const bytes = readFileSync(at("full.safetensors"));
    writeFileSync(at("cut.safetensors"), bytes.subarray(0, bytes.length - 12));
    expectOneLine(
      () => loadModule(at("cut.safetensors"), mlp(6)),
      `cut.safetensors: truncated: header says 9 tensors ending at byte ${bytes.length}, file holds ${bytes.length - 12}`,
    );
  });

  it("an int64 value float32 cannot hold exactly", () => {
    const p = rawFile("i64.safetensors", { n: { dtype: "I64", shape: [], data_offsets: [0, 8] } }, 8);
    const bytes = readFileSync(p);
    bytes.writeBigInt64LE(16777217n, bytes.length - 8);
    writeFileSync(p, bytes);
    expectOneLine(() => readSafetensors(p), 'i64.safetensors: tensor "n": int64 value 16777217 is not exact in float32');
  });
});

describe("checkpoints of another model or optimizer", () => {
  it("wrong names: lists what is missing and what is unexpected", () => {
    const other = new Sequential(new Linear(3, 4, new Prng(1)), new LeakyReLU(0.2), new Linear(4, 2, new Prng(2)));
    saveModule(at("other.safetensors"), other, {});
    expectOneLine(
      () => loadModule(at("other.safetensors"), mlp(1)),
      "other.safetensors: not a checkpoint of this model: missing 1.weight, 1.bias, 1.running_mean, 1.running_var, 1.num_batches_tracked, 3.weight, 3.bias, unexpected 2.weight, 2.bias",
    );
  });

  it("wrong shape: nothing is copied in", () => {
    saveModule(at("wide.safetensors"), mlp(1, 5), {});
    const target = mlp(2);
    const before = bits(target.stateEntries());
    expectOneLine(() => loadModule(at("wide.safetensors"), target), "wide.safetensors: 3.weight has shape (5,4), this model expects (2,4)");
    expect(bits(target.stateEntries())).toEqual(before);
  });

  it("wrong dtype", () => {
    const entries = mlp(1).stateEntries().map(([n, t]): TensorEntry => [n, { ...t, dtype: "float32" }]);
    writeSafetensors(at("dtype-model.safetensors"), entries, {});
    expectOneLine(() => loadModule(at("dtype-model.safetensors"), mlp(1)), "dtype-model.safetensors: 1.num_batches_tracked is float32, this model expects int64");
  });

  it("optimizer state of another kind, or of another model", () => {
    const { opt } = trained(7);
    saveOptimizer(at("adam.safetensors"), opt, {});
    expectOneLine(
      () => loadOptimizer(at("adam.safetensors"), new RMSprop(mlp(8), { lr: 0.01 })),
      "adam.safetensors: not a checkpoint of this optimizer: missing square_avg, unexpected exp_avg, exp_avg_sq, step",
    );
    expectOneLine(
      () => loadOptimizer(at("adam.safetensors"), new Adam(mlp(8, 3))), // 34 = 3*4 + 4 + 4 + 4 + 4*2 + 2 parameters; 39 with 3 outputs
      "adam.safetensors: exp_avg has shape (34), this optimizer expects (39)",
    );
  });
});
