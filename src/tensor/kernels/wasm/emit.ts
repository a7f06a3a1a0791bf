/**
 * A small WebAssembly binary emitter: the bytes of a module (types, one imported memory, functions,
 * exports) written by our own code, no toolchain. It knows only the instructions our kernels use,
 * including the 128-bit SIMD ones (prefix 0xfd). Pure code: it runs in Node, browsers and workers.
 * It is not a validator: the engine's WebAssembly.compile checks what it produces.
 *
 * Reference: the WebAssembly core specification, 2.0 (binary format, chapter 5), and the SIMD
 * proposal's opcode table (merged into 2.0).
 */

/** Value types (spec 5.3.1). */
export const i32 = 0x7f;
export const f32 = 0x7d;
export const f64 = 0x7c;
export const v128 = 0x7b;
export type ValType = typeof i32 | typeof f32 | typeof f64 | typeof v128;

/** Unsigned LEB128: 7 bits per byte, low bits first, high bit set on every byte but the last. */
export function uleb(out: number[], n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`uleb: bad value ${n}`);
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
}

/** Signed LEB128 (i32.const immediates): stops once the remaining bits are all copies of the sign bit. */
export function sleb(out: number[], n: number): void {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) throw new Error(`sleb: bad value ${n}`);
  n |= 0; // i32 bit pattern: 0xffffffff and -1 are the same constant
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

/** A name: its UTF-8 length, then its bytes (our names are ASCII). */
function name(out: number[], s: string): void {
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0x7f);
}

/** A vector of already-encoded items: count, then the items. */
function vec(out: number[], items: number[][]): void {
  uleb(out, items.length);
  for (const it of items) out.push(...it);
}

/**
 * One function body under construction. Every method appends one instruction (or a few, named)
 * and returns `this`, so code reads top to bottom like the wasm text format. Locals are numbered
 * after the parameters, in the order `local()` creates them.
 */
export class Code {
  readonly bytes: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(readonly params: readonly ValType[], readonly results: readonly ValType[] = []) {}

  /** A new local of type `t`; returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  private op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  private opU(code: number, n: number): this {
    this.bytes.push(code);
    uleb(this.bytes, n);
    return this;
  }
  /** memarg: log2 of the alignment (a hint), then the constant byte offset added to the address. */
  private mem(code: number[], align: number, offset: number): this {
    this.bytes.push(...code);
    uleb(this.bytes, align);
    uleb(this.bytes, offset);
    return this;
  }
  /** 0xfd prefix, then the SIMD opcode as a u32 LEB128. */
  private simd(n: number): number[] {
    const b = [0xfd];
    uleb(b, n);
    return b;
  }

  // --- control: blocks have no parameters or results here (block type 0x40, "empty") ----------
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  if(): this { return this.op(0x04, 0x40); }
  /** if ... else ... end that leaves one value of type t. */
  ifValue(t: ValType): this { return this.op(0x04, t); }
  else(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  /** Branch to the `depth`-th enclosing block (0 = innermost): a loop's start, a block's end. */
  br(depth: number): this { return this.opU(0x0c, depth); }
  brIf(depth: number): this { return this.opU(0x0d, depth); }
  return(): this { return this.op(0x0f); }
  call(fn: number): this { return this.opU(0x10, fn); }
  drop(): this { return this.op(0x1a); }
  /** select: of the two values below the i32 on top, the first if it is non-zero, else the second. */
  select(): this { return this.op(0x1b); }

  // --- locals ---------------------------------------------------------------------------------
  get(l: number): this { return this.opU(0x20, l); }
  set(l: number): this { return this.opU(0x21, l); }
  tee(l: number): this { return this.opU(0x22, l); }

  // --- i32 arithmetic and comparisons (results are i32 0/1) ------------------------------------
  i32(n: number): this {
    this.bytes.push(0x41);
    sleb(this.bytes, n);
    return this;
  }
  eqz(): this { return this.op(0x45); }
  eq(): this { return this.op(0x46); }
  ne(): this { return this.op(0x47); }
  ltS(): this { return this.op(0x48); }
  ltU(): this { return this.op(0x49); }
  geS(): this { return this.op(0x4e); }
  leU(): this { return this.op(0x4d); }
  geU(): this { return this.op(0x4f); }
  add(): this { return this.op(0x6a); }
  sub(): this { return this.op(0x6b); }
  mul(): this { return this.op(0x6c); }
  divU(): this { return this.op(0x6e); }
  remU(): this { return this.op(0x70); }
  and_(): this { return this.op(0x71); }
  or_(): this { return this.op(0x72); }
  /** local += n, for pointers and counters. */
  inc(l: number, n: number): this { return this.get(l).i32(n).add().set(l); }
  /** local += other local. */
  incBy(l: number, by: number): this { return this.get(l).get(by).add().set(l); }

  // --- scalar memory (addresses are i32 byte offsets into the one memory) ----------------------
  f32Load(offset = 0): this { return this.mem([0x2a], 2, offset); }
  f32Store(offset = 0): this { return this.mem([0x38], 2, offset); }
  f32Const(x: number): this {
    this.bytes.push(0x43);
    const b = new Uint8Array(new Float32Array([x]).buffer); // little-endian IEEE 754, as wasm
    this.bytes.push(...b);
    return this;
  }
  /** i64.load and i64.store: 8 bytes moved as one integer, bit for bit (two floats at once). */
  i64Load(offset = 0): this { return this.mem([0x29], 3, offset); }
  i64Store(offset = 0): this { return this.mem([0x37], 3, offset); }
  f32Add(): this { return this.op(0x92); }
  f32Sub(): this { return this.op(0x93); }
  f64Load(offset = 0): this { return this.mem([0x2b], 3, offset); }
  f64Store(offset = 0): this { return this.mem([0x39], 3, offset); }
  f64Const(x: number): this {
    this.bytes.push(0x44);
    this.bytes.push(...new Uint8Array(new Float64Array([x]).buffer));
    return this;
  }
  f64Add(): this { return this.op(0xa0); }
  f64Sub(): this { return this.op(0xa1); }
  f64Mul(): this { return this.op(0xa2); }
  /** f64.promote_f32: a float32 widened, exactly. */
  f64PromoteF32(): this { return this.op(0xbb); }
  f32Mul(): this { return this.op(0x94); }

  // --- bulk memory (prefix 0xfc): zero-filling pads --------------------------------------------
  /** memory.fill(dest, value byte, length), memory index 0. */
  memoryFill(): this { return this.op(0xfc, 0x0b, 0x00); }

  // --- 128-bit SIMD (prefix 0xfd): loads and stores take a memarg like scalar ones -------------
  /** v128.load: 16 bytes at addr + offset (alignment hint 16). */
  v128Load(offset = 0): this { return this.mem(this.simd(0x00), 4, offset); }
  /** v128.load32_splat: one f32 at addr + offset, copied into all four lanes. */
  v128Load32Splat(offset = 0): this { return this.mem(this.simd(0x09), 2, offset); }
  v128Store(offset = 0): this { return this.mem(this.simd(0x0b), 4, offset); }
  /** v128.store64_lane: 64-bit lane `l` (0 or 1) of a v128, i.e. two f32 lanes, to addr + offset. */
  v128Store64Lane(offset: number, l: number): this {
    this.mem(this.simd(0x5b), 3, offset);
    this.bytes.push(l);
    return this;
  }
  /** v128.const of four f32 lanes. */
  f32x4Const(x: number): this {
    this.bytes.push(...this.simd(0x0c));
    const b = new Uint8Array(new Float32Array([x, x, x, x]).buffer);
    this.bytes.push(...b);
    return this;
  }
  /**
   * i8x16.shuffle of two v128s, given as four 32-bit lane indices (0-3 pick from the first
   * operand, 4-7 from the second); encoded as the 16 byte-lane immediates the opcode takes.
   */
  shuffle32(l0: number, l1: number, l2: number, l3: number): this {
    this.bytes.push(...this.simd(0x0d));
    for (const l of [l0, l1, l2, l3]) this.bytes.push(4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3);
    return this;
  }
  f32x4Splat(): this { return this.op(...this.simd(0x13)); }
  i32x4Splat(): this { return this.op(...this.simd(0x11)); }
  /** v128.const of four i32 lanes. */
  i32x4Const(l0: number, l1: number, l2: number, l3: number): this {
    this.bytes.push(...this.simd(0x0c));
    const b = new Uint8Array(new Int32Array([l0, l1, l2, l3]).buffer);
    this.bytes.push(...b);
    return this;
  }
  i32x4Add(): this { return this.op(...this.simd(0xae)); }
  /** i32x4.lt_u: per lane all ones where a < b as unsigned integers. Stack: a, b. */
  i32x4LtU(): this { return this.op(...this.simd(0x3a)); }
  v128And(): this { return this.op(...this.simd(0x4e)); }
  /** f32x4.extract_lane: lane `l` (0-3) as an f32. */
  f32x4ExtractLane(l: number): this { return this.op(...this.simd(0x1f), l); }
  f32x4Add(): this { return this.op(...this.simd(0xe4)); }
  f32x4Mul(): this { return this.op(...this.simd(0xe6)); }
  f32x4Sub(): this { return this.op(...this.simd(0xe5)); }
  f32x4Div(): this { return this.op(...this.simd(0xe7)); }
  /** f32x4.sqrt: per lane, correctly rounded (IEEE 754). */
  f32x4Sqrt(): this { return this.op(...this.simd(0xe3)); }
  /** f32x4.min: per lane the smaller, NaN if either is NaN, and -0 under +0. */
  f32x4Min(): this { return this.op(...this.simd(0xe8)); }
  f64x2Splat(): this { return this.op(...this.simd(0x14)); }
  /** f64x2.extract_lane: lane `l` (0 or 1) as an f64. */
  f64x2ExtractLane(l: number): this { return this.op(...this.simd(0x21), l); }
  f64x2Add(): this { return this.op(...this.simd(0xf0)); }
  f64x2Sub(): this { return this.op(...this.simd(0xf1)); }
  f64x2Mul(): this { return this.op(...this.simd(0xf2)); }
  f64x2Div(): this { return this.op(...this.simd(0xf3)); }
  /** f64x2.abs: per lane the sign bit cleared. */
  f64x2Abs(): this { return this.op(...this.simd(0xec)); }
  /** f64x2.min: per lane the smaller, NaN if either is NaN. */
  f64x2Min(): this { return this.op(...this.simd(0xf4)); }
  /** v128.const of two equal f64 lanes. */
  f64x2Const(x: number): this {
    this.bytes.push(...this.simd(0x0c));
    this.bytes.push(...new Uint8Array(new Float64Array([x, x]).buffer));
    return this;
  }
  /** i64x2.shl: each 64-bit lane shifted left by an i32 count (mod 64). Stack: v, count. */
  i64x2Shl(): this { return this.op(...this.simd(0xcb)); }
  /** f32x4.demote_f64x2_zero: two f64 lanes rounded (to nearest, ties to even) to f32 lanes 0 and 1; lanes 2 and 3 zero. */
  f32x4DemoteF64x2Zero(): this { return this.op(...this.simd(0x5e)); }
  /** f64x2.promote_low_f32x4: f32 lanes 0 and 1 widened to two f64 lanes, exactly. */
  f64x2PromoteLowF32x4(): this { return this.op(...this.simd(0x5f)); }
  /** f32x4.pmin: per lane b < a ? b : a (stack: a, b), one x86 minps; unlike min, a NaN in b gives a. */
  f32x4Pmin(): this { return this.op(...this.simd(0xea)); }
  /** f32x4.pmax: per lane a < b ? b : a (stack: a, b), one x86 maxps; unlike max, a NaN in b gives a. */
  f32x4Pmax(): this { return this.op(...this.simd(0xeb)); }
  /** f32x4.max: per lane the larger, NaN if either is NaN, and +0 over -0. */
  f32x4Max(): this { return this.op(...this.simd(0xe9)); }
  /** f32x4.gt: per lane all ones where a > b, else zeros (a mask). Stack: a, b. */
  f32x4Gt(): this { return this.op(...this.simd(0x44)); }
  /** v128.bitselect: bits of the first where the mask's are 1, of the second elsewhere. Stack: v1, v2, mask. */
  v128Bitselect(): this { return this.op(...this.simd(0x52)); }
  /**
   * f32x4.relaxed_madd (relaxed SIMD, opcode 0x105): a·b + c per lane, with one rounding where the
   * CPU has a fused multiply-add, else two. Stack: a, b, c -> result. Validates only on engines
   * with relaxed SIMD (see relaxedSimdAvailable in matmul-simd.ts).
   */
  f32x4RelaxedMadd(): this { return this.op(...this.simd(0x105)); }

  /** The body as the code section stores it: size, locals grouped by type, instructions, end. */
  encode(): number[] {
    const body: number[] = [];
    const groups: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(body, groups.length);
    for (const [n, t] of groups) {
      uleb(body, n);
      body.push(t);
    }
    body.push(...this.bytes, 0x0b);
    const out: number[] = [];
    uleb(out, body.length);
    out.push(...body);
    return out;
  }
}

/** The imported linear memory: `min`/`max` in 64 KiB pages; `shared` needs a max (threads). */
export interface MemoryImport {
  module: string;
  field: string;
  min: number;
  max?: number;
  shared?: boolean;
}

/**
 * A module of functions over one imported memory: `functions[i]` gets function index i (there are
 * no imported functions), and each `exports` entry names one of them.
 */
export function moduleBytes(memory: MemoryImport, functions: readonly Code[], exports: Record<string, number>): Uint8Array<ArrayBuffer> {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1
  const section = (id: number, content: number[]): void => {
    out.push(id);
    uleb(out, content.length);
    out.push(...content);
  };

  // Type section (1): one signature per function (duplicates are legal and keep indices simple).
  const types = functions.map((f) => {
    const t = [0x60];
    uleb(t, f.params.length);
    t.push(...f.params);
    uleb(t, f.results.length);
    t.push(...f.results);
    return t;
  });
  const typeSec: number[] = [];
  vec(typeSec, types);
  section(1, typeSec);

  // Import section (2): the memory. Limits flag 0 = min only, 1 = min and max, 3 = shared.
  const imp: number[] = [];
  name(imp, memory.module);
  name(imp, memory.field);
  imp.push(0x02);
  if (memory.shared && memory.max === undefined) throw new Error("moduleBytes: a shared memory needs a max");
  imp.push(memory.max === undefined ? 0x00 : memory.shared ? 0x03 : 0x01);
  uleb(imp, memory.min);
  if (memory.max !== undefined) uleb(imp, memory.max);
  const importSec: number[] = [];
  vec(importSec, [imp]);
  section(2, importSec);

  // Function section (3): function i has type i.
  const funcSec: number[] = [];
  vec(funcSec, functions.map((_, i) => { const b: number[] = []; uleb(b, i); return b; }));
  section(3, funcSec);

  // Export section (7): name, kind 0 (function), index.
  const exportSec: number[] = [];
  vec(exportSec, Object.entries(exports).map(([n, i]) => {
    const b: number[] = [];
    name(b, n);
    b.push(0x00);
    uleb(b, i);
    return b;
  }));
  section(7, exportSec);

  // Code section (10): the bodies, in function order.
  const codeSec: number[] = [];
  vec(codeSec, functions.map((f) => f.encode()));
  section(10, codeSec);

  return new Uint8Array(out);
}

/**
 * Stores the 4x4 transposition of four f32x4 locals row[0..3], through the locals t[0..3]: column q
 * of the four rows (row r in lane r) goes to the address `address()` pushes, plus offset(q). Eight
 * shuffles: t0 = (r0[0] r1[0] r0[1] r1[1]), t1 = (r0[2] r1[2] r0[3] r1[3]), t2 and t3 likewise for
 * r2 and r3; column q is then t's halves, (t0 lo, t2 lo), (t0 hi, t2 hi), (t1 lo, t3 lo), (t1 hi, t3 hi).
 */
export function storeTransposed4(f: Code, row: readonly number[], t: readonly number[], address: () => void, offset: (q: number) => number): void {
  f.get(row[0]!).get(row[1]!).shuffle32(0, 4, 1, 5).set(t[0]!);
  f.get(row[0]!).get(row[1]!).shuffle32(2, 6, 3, 7).set(t[1]!);
  f.get(row[2]!).get(row[3]!).shuffle32(0, 4, 1, 5).set(t[2]!);
  f.get(row[2]!).get(row[3]!).shuffle32(2, 6, 3, 7).set(t[3]!);
  const cols: [number, number, number, number, number][] = [
    [t[0]!, t[2]!, 0, 1, 0], [t[0]!, t[2]!, 2, 3, 1], [t[1]!, t[3]!, 0, 1, 2], [t[1]!, t[3]!, 2, 3, 3],
  ];
  for (const [u, v, l0, l1, q] of cols) {
    address();
    f.get(u).get(v).shuffle32(l0, l1, l0 + 4, l1 + 4).v128Store(offset(q));
  }
}

/**
 * The same for two rows, row[0] and row[1] (through t[0] and t[1]): column q's pair is 64-bit
 * lane q%2 of t[q>>1], stored (two floats) at `address()` plus offset(q).
 */
export function storeTransposedPair(f: Code, row: readonly number[], t: readonly number[], address: () => void, offset: (q: number) => number): void {
  f.get(row[0]!).get(row[1]!).shuffle32(0, 4, 1, 5).set(t[0]!);
  f.get(row[0]!).get(row[1]!).shuffle32(2, 6, 3, 7).set(t[1]!);
  for (let q = 0; q < 4; q++) {
    address();
    f.get(t[q >> 1]!).v128Store64Lane(offset(q), q & 1);
  }
}

/** Emits for (v = 0; v < bound; v++) { body } into f; v and bound are locals. */
export function countUp(f: Code, v: number, bound: number, body: () => void): void {
  f.i32(0).set(v).block().loop().get(v).get(bound).geU().brIf(1);
  body();
  f.inc(v, 1).br(0).end().end();
}

/**
 * Emits a pass over n floats (local n) of the arrays at the byte offsets in the locals `pointers`
 * as two streams: the first and the second half of every array, one vector of each per iteration;
 * then the vectors left past the two halves (up to seven floats, and the last vector's spare lanes)
 * one at a time. In all, the ceil(n/4) vectors a single loop from the start would cover, each once.
 * `body(p)` emits one vector's work at the pointer locals p (one per array, in order) and leaves
 * them where they are; this moves them. The pointers in `pointers` end past the first half.
 *
 * Why two streams: on this project's machine a pass that writes lines the other core also holds
 * (every step buffer and weight a split product has read) waits on each line's hand-over, and two
 * streams keep twice as many of those in flight. RMSprop over 786,432 floats after products on two
 * threads had read them: 911-931 -> 693-696 µs on two threads, 1,510-1,715 -> 1,105-1,205 on one
 * (four interleaved streams: 852-853 and 1,378-1,471). RMSprop uses it (optimizer-simd.ts); the
 * activations' passes, over 64 to 256 KiB, measured slower with it and keep one loop.
 */
export function twoStreams(f: Code, n: number, pointers: readonly number[], body: (p: readonly number[]) => void): void {
  const half = f.local(i32), end = f.local(i32), i = f.local(i32);
  const second = pointers.map(() => f.local(i32));
  f.get(pointers[0]!).get(n).i32(4).mul().add().set(end);
  f.get(n).i32(8).divU().i32(16).mul().set(half); // bytes in each half: floor(n/8) vectors
  pointers.forEach((p, k) => f.get(p).get(half).add().set(second[k]!));
  const step = (ps: readonly number[]): void => {
    body(ps);
    for (const p of ps) f.inc(p, 16);
  };
  f.i32(0).set(i);
  f.block().loop().get(i).get(half).geU().brIf(1);
  step(pointers);
  step(second);
  f.inc(i, 16).br(0).end().end();
  f.block().loop().get(second[0]!).get(end).geU().brIf(1);
  step(second);
  f.br(0).end().end();
}
