/**
 * The IDX reader/writer: round trips (plain and gzipped) and one test per corrupt file, each made
 * here with the writer (or by hand) in a fresh temp folder; every error must name the file and the problem.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { encodeIdx } from "../src/mnist/idx.js";
import { readIdx, readImagesLabels, writeIdx } from "../src/io/idx.js";

const dir = mkdtempSync(join(tmpdir(), "mnist-idx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** n fake 28x28 images (pixel j of image i = (i + j) mod 256) and labels i mod 10. */
function fixture(n: number, h = 28, w = 28) {
  const images = new Uint8Array(n * h * w).map((_, j) => (Math.floor(j / (h * w)) + j) % 256);
  const labels = new Uint8Array(n).map((_, i) => i % 10);
  return { images, labels };
}

describe("IDX round trip", () => {
  it("reads back what it wrote, plain and .gz, and finds the .gz form of a missing plain file", () => {
    const { images, labels } = fixture(5);
    writeIdx(join(dir, "a-images"), [5, 28, 28], images);
    writeIdx(join(dir, "b-images.gz"), [5, 28, 28], images);
    for (const p of ["a-images", "b-images.gz", "b-images"]) {
      const r = readIdx(join(dir, p), "images");
      expect(r.dims).toEqual([5, 28, 28]);
      expect(r.data).toEqual(images);
    }
    writeIdx(join(dir, "a-labels.gz"), [5], labels);
    const both = readImagesLabels(join(dir, "a-images"), join(dir, "a-labels"));
    expect(both.n).toBe(5);
    expect(Array.from(both.labels)).toEqual([0, 1, 2, 3, 4]);
  });

  it("writes the documented header: 00 00 08 D, then big-endian sizes", () => {
    const bytes = encodeIdx([2, 3], new Uint8Array(6));
    expect(Array.from(bytes.subarray(0, 12))).toEqual([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
    expect(bytes.length).toBe(12 + 6);
  });
});

describe("IDX corrupt files", () => {
  /** Writes raw bytes as `name` and returns what reading it throws. */
  const bad = (name: string, bytes: Uint8Array, kind?: "images" | "labels") => {
    writeFileSync(join(dir, name), bytes);
    return () => readIdx(join(dir, name), kind);
  };
  const good = encodeIdx([3, 28, 28], fixture(3).images);

  it("bad magic", () => {
    const b = good.slice();
    b[0] = 0x1f;
    expect(bad("magic", b)).toThrow(/^magic: not an IDX file \(magic bytes 1f 00 08 03/);
  });
  it("element type 0x0D (float32)", () => {
    const b = good.slice();
    b[2] = 0x0d;
    expect(bad("type", b)).toThrow("type: element type 0x0d (float32), expected 0x08 (unsigned byte)");
  });
  it("wrong dimension count for the kind", () => {
    expect(bad("dims", good, "labels")).toThrow("dims: header says 3 dimensions, expected 1 for labels");
  });
  it("truncated data, truncated header, empty file, trailing bytes", () => {
    expect(bad("train-images-idx3-ubyte", good.subarray(0, 16 + 1000))).toThrow(
      "train-images-idx3-ubyte: truncated: header says 3x28x28 (2352 bytes of data), file holds 1000",
    );
    expect(bad("short-header", good.subarray(0, 10))).toThrow("short-header: truncated header: 3 dimensions need 16 bytes, file holds 10");
    expect(bad("empty", new Uint8Array(0))).toThrow("empty: too short for an IDX header (0 bytes)");
    const long = new Uint8Array(good.length + 7);
    long.set(good);
    expect(bad("long", long)).toThrow(/^long: 7 bytes after the data/);
  });
  it("a truncated or broken .gz", () => {
    writeFileSync(join(dir, "trunc.gz"), gzipSync(good.subarray(0, 100)));
    expect(() => readIdx(join(dir, "trunc.gz"))).toThrow(/^trunc\.gz: truncated: header says 3x28x28/);
    writeFileSync(join(dir, "junk.gz"), good);
    expect(() => readIdx(join(dir, "junk.gz"))).toThrow(/^junk\.gz: not a valid gzip file/);
  });
  it("a missing file names both forms it looked for", () => {
    expect(() => readIdx(join(dir, "nothing"))).toThrow(/^nothing: not found \(looked for .*nothing and .*nothing\.gz\)/);
  });

  it("count mismatch, a label of 11, images that are not 28x28", () => {
    const { images, labels } = fixture(4);
    writeIdx(join(dir, "i4"), [4, 28, 28], images);
    writeIdx(join(dir, "l3"), [3], labels.subarray(0, 3));
    expect(() => readImagesLabels(join(dir, "i4"), join(dir, "l3"))).toThrow("i4 holds 4 images but l3 holds 3 labels");
    const eleven = labels.slice();
    eleven[2] = 11;
    writeIdx(join(dir, "l11"), [4], eleven);
    expect(() => readImagesLabels(join(dir, "i4"), join(dir, "l11"))).toThrow("l11: label 11 at index 2 is not a digit 0..9");
    writeIdx(join(dir, "i32"), [4, 32, 32], fixture(4, 32, 32).images);
    writeIdx(join(dir, "l4"), [4], labels);
    expect(() => readImagesLabels(join(dir, "i32"), join(dir, "l4"))).toThrow("i32: images are 32x32, expected 28x28");
  });

  it("every message is a single line", () => {
    expect(bad("one-line", good.subarray(0, 20))).toThrow(/^one-line: [^\n]+$/);
  });
});
