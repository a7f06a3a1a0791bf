/**
 * The IDX file format of the MNIST distribution: parsed from bytes and encoded to bytes (files, and
 * gzip, are src/io/idx.ts's). Only unsigned-byte
 * files (element type 0x08) are accepted; every check that fails throws one line naming the file's
 * basename and what is wrong with it. This is the file layer only: scaling and batching live elsewhere.
 *
 * Layout: bytes 0,1 = 0 (magic); byte 2 = element type; byte 3 = number of dimensions D; then D
 * big-endian uint32 sizes; then prod(sizes) elements, row-major, with nothing after them.
 */
import { IMAGE_H, IMAGE_W, NUM_CLASSES } from "./image.js";

/** What a caller expects a file to hold: images are (N, H, W), labels are (N). */
export type IdxKind = "images" | "labels";

/** A parsed IDX file: its dimensions and its data, row-major, one byte per element. */
export interface Idx {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;
const TYPE_NAMES: Record<number, string> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "int16",
  0x0c: "int32",
  0x0d: "float32",
  0x0e: "float64",
};
const KIND_DIMS: Record<IdxKind, number> = { images: 3, labels: 1 };

/** Parses the bytes of an IDX file; `name` is used in error messages. The result's data is a view. */
export function parseIdx(bytes: Uint8Array, name: string, kind?: IdxKind): Idx {
  if (bytes.length < 4) throw new Error(`${name}: too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new Error(`${name}: not an IDX file (magic bytes ${magic}, expected 00 00 08 ..)`);
  }
  const type = bytes[2]!;
  if (type !== UBYTE) {
    const what = TYPE_NAMES[type] ?? "unknown type";
    throw new Error(`${name}: element type 0x${type.toString(16).padStart(2, "0")} (${what}), expected 0x08 (unsigned byte)`);
  }
  const ndim = bytes[3]!;
  if (kind !== undefined && ndim !== KIND_DIMS[kind])
    throw new Error(`${name}: header says ${ndim} dimensions, expected ${KIND_DIMS[kind]} for ${kind}`);
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen)
    throw new Error(`${name}: truncated header: ${ndim} dimensions need ${headerLen} bytes, file holds ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerLen);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const held = bytes.length - headerLen;
  const shape = dims.join("x");
  if (held < size) throw new Error(`${name}: truncated: header says ${shape} (${size} bytes of data), file holds ${held}`);
  if (held > size) throw new Error(`${name}: ${held - size} bytes after the data: header says ${shape} (${size} bytes of data), file holds ${held}`);
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerLen, size) };
}

/** The bytes of an IDX file of unsigned bytes with dimensions `dims` holding `data` (row-major). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  if (dims.length > 255) throw new Error(`encodeIdx: ${dims.length} dimensions, at most 255`);
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== data.length) throw new Error(`encodeIdx: dims ${dims.join("x")} need ${size} bytes, got ${data.length}`);
  const headerLen = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLen + size);
  const view = new DataView(out.buffer);
  out[2] = UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, headerLen);
  return out;
}

/** A matched pair of MNIST files: n images (N, 28, 28) and n labels (N), each label a digit 0..9. */
export interface ImagesLabels {
  n: number;
  /** (N, 28, 28) bytes 0..255, row-major. */
  images: Uint8Array;
  /** (N) digits 0..9. */
  labels: Uint8Array;
}

/**
 * Pairs a parsed images file with its labels file, checking they agree in count, size and label
 * range; `imgName` and `labName` name them in errors.
 */
export function pairImagesLabels(img: Idx, lab: Idx, imgName: string, labName: string): ImagesLabels {
  const [n, h, w] = img.dims as [number, number, number];
  if (h !== IMAGE_H || w !== IMAGE_W) throw new Error(`${imgName}: images are ${h}x${w}, expected ${IMAGE_H}x${IMAGE_W}`);
  if (lab.dims[0] !== n) throw new Error(`${imgName} holds ${n} images but ${labName} holds ${lab.dims[0]} labels`);
  const labels = lab.data;
  for (let i = 0; i < n; i++)
    if (labels[i]! >= NUM_CLASSES) throw new Error(`${labName}: label ${labels[i]} at index ${i} is not a digit 0..9`);
  return { n, images: img.data, labels };
}
