/**
 * The safetensors file format (huggingface/safetensors), F32 and I64 tensors only:
 *   8 bytes   N, the header's length, little-endian u64
 *   N bytes   JSON {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...},
 *             padded with spaces to a multiple of 8
 *   the rest  raw little-endian tensor data; offsets are relative to its start, contiguous, covering it
 * Reading validates everything and fails with one line `<file>: <problem>`. Not a general reader:
 * other dtypes are refused, and I64 values must be exact in float32 (they are counters here).
 */
import { alloc, shapeStr, sizeOf } from "../tensor/index.js";

export type Dtype = "float32" | "int64";

/** One tensor's values (row-major, held as float32 whatever the dtype), shape and stored dtype. */
export interface TensorData {
  data: Float32Array;
  shape: readonly number[];
  dtype: Dtype;
}

export type TensorEntry = [string, TensorData];

export interface Safetensors {
  /** in file order (by data offset) */
  tensors: Map<string, { dtype: Dtype; shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
}

/** Bytes per element and the format's name for each dtype. */
const FORMAT = { float32: { code: "F32", bytes: 4 }, int64: { code: "I64", bytes: 8 } } as const;
const FROM_CODE: Record<string, Dtype> = { F32: "float32", I64: "int64" };
/** The reference implementation's limit on the header's size. */
const MAX_HEADER = 100_000_000;

/** The whole file as bytes: header length, padded JSON header, then each entry's data in order. */
export function encodeSafetensors(entries: readonly TensorEntry[], metadata: Record<string, string> = {}): Uint8Array {
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== "string") throw new Error(`safetensors: metadata ${k} is a ${typeof v}, not a string`);
  // The header is assembled by hand so its keys keep entry order (JSON.stringify would move
  // integer-like names first).
  const parts = [`"__metadata__":${JSON.stringify(metadata)}`];
  const seen = new Set<string>();
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === "__metadata__" || seen.has(name)) throw new Error(`safetensors: tensor name ${JSON.stringify(name)} used twice or reserved`);
    seen.add(name);
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(t.shape) !== t.data.length)
      throw new Error(`safetensors: ${name} has shape ${shapeStr(t.shape)} but ${t.data.length} values`);
    const end = offset + t.data.length * FORMAT[t.dtype].bytes;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: FORMAT[t.dtype].code, shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const N = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + N + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(N), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, 8 + N); // spaces
  let at = 8 + N;
  for (const [name, { data, dtype }] of entries) {
    if (dtype === "float32") {
      for (let i = 0; i < data.length; i++, at += 4) view.setFloat32(at, data[i]!, true);
    } else {
      for (let i = 0; i < data.length; i++, at += 8) {
        if (!Number.isInteger(data[i]!)) throw new Error(`safetensors: int64 tensor ${name} holds ${data[i]}`);
        view.setBigInt64(at, BigInt(data[i]!), true);
      }
    }
  }
  return bytes;
}

/** Parses the bytes of a safetensors file (copying the data out); `name` is used in error messages. */
export function parseSafetensors(bytes: Uint8Array, name: string): Safetensors {
  const fail = (problem: string): Error => new Error(`${name}: ${problem.replace(/\s*\n\s*/g, " ")}`);
  if (bytes.length === 0) throw fail("empty file");
  if (bytes.length < 8) throw fail(`too short for safetensors: ${bytes.length} bytes, the header length alone takes 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const N64 = view.getBigUint64(0, true);
  if (N64 > BigInt(MAX_HEADER)) throw fail(`header length ${N64} is over the ${MAX_HEADER}-byte limit: not a safetensors file?`);
  const N = Number(N64);
  if (N > bytes.length - 8) throw fail(`header length ${N} is more than the ${bytes.length - 8} bytes after it`);
  const dataStart = 8 + N;
  const dataLen = bytes.length - dataStart;

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (e) {
    throw fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw fail("header is not a JSON object");

  const metadata: Record<string, string> = {};
  const found: { key: string; dtype: Dtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [key, v] of Object.entries(header)) {
    if (key === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw fail("__metadata__ is not an object");
      for (const [mk, mv] of Object.entries(v)) {
        if (typeof mv !== "string") throw fail(`__metadata__ value ${JSON.stringify(mk)} is not a string`);
        metadata[mk] = mv;
      }
      continue;
    }
    const what = `tensor ${JSON.stringify(key)}`;
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw fail(`${what} is not an object`);
    const { dtype: code, shape, data_offsets: offs } = v as Record<string, unknown>;
    const dtype = typeof code === "string" ? FROM_CODE[code] : undefined;
    if (dtype === undefined) throw fail(`${what}: dtype ${JSON.stringify(code)} is not supported (F32 or I64)`);
    const isCount = (d: unknown): d is number => typeof d === "number" && Number.isSafeInteger(d) && d >= 0;
    if (!Array.isArray(shape) || !shape.every(isCount))
      throw fail(`${what}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount) || offs[0] > offs[1])
      throw fail(`${what}: data_offsets ${JSON.stringify(offs)} is not [begin, end] with 0 <= begin <= end`);
    const [begin, end] = offs as [number, number];
    const need = sizeOf(shape) * FORMAT[dtype].bytes;
    if (end - begin !== need)
      throw fail(`${what}: shape ${shapeStr(shape)} of ${code} needs ${need} bytes, data_offsets [${begin}, ${end}] span ${end - begin}`);
    found.push({ key, dtype, shape, begin, end });
  }

  const last = found.reduce((m, t) => Math.max(m, t.end), 0);
  if (last > dataLen)
    throw fail(`truncated: header says ${found.length} tensors ending at byte ${dataStart + last}, file holds ${bytes.length}`);
  found.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (let i = 0; i < found.length; i++) {
    const t = found[i]!;
    if (t.begin < covered) throw fail(`tensors ${JSON.stringify(found[i - 1]!.key)} and ${JSON.stringify(t.key)} overlap in the data`);
    if (t.begin > covered) throw fail(`bytes ${covered}..${t.begin} of the data belong to no tensor`);
    covered = t.end;
  }
  if (covered < dataLen) throw fail(`${dataLen - covered} bytes after the last tensor's data`);

  const tensors: Safetensors["tensors"] = new Map();
  for (const t of found) {
    const data = alloc(sizeOf(t.shape));
    const at = dataStart + t.begin;
    if (t.dtype === "float32") {
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(at + 4 * i, true);
    } else {
      for (let i = 0; i < data.length; i++) {
        const v = view.getBigInt64(at + 8 * i, true);
        const f = Math.fround(Number(v));
        if (BigInt(f) !== v) throw fail(`tensor ${JSON.stringify(t.key)}: int64 value ${v} is not exact in float32`);
        data[i] = f;
      }
    }
    tensors.set(t.key, { dtype: t.dtype, shape: t.shape, data });
  }
  return { tensors, metadata };
}
