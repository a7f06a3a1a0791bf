/**
 * Batch norm's passes (../batch-norm.ts) as WebAssembly SIMD functions over the kernel's memory.
 * Input is (N, C, S) floats; per-channel arrays are float64 for the sums, float32 otherwise. Pointers
 * are byte offsets, sizes counts of elements.
 *
 *   bnSum(x, N, C, S, sum, ld)                     sum[c] += Σ x                      (f64)
 *   bnSquares(x, N, C, S, mean, sq, ld)            sq[c]  += Σ (x - mean[c])²          (f64; mean f64)
 *   bnNormalize(x, N, C, S, mean, invStd, gamma, beta, xhat, out)                      (f32)
 *   bnGradSums(g, xhat, N, C, S, sumG, sumGH, ld)  sumG[c] += Σ g, sumGH[c] += Σ g·xhat (f64)
 *   bnInputGrad(g, xhat, N, C, S, scale, mg, mgh, gx, accumulate)
 *                                                  gx (+)= scale[c]·(g - mg[c] - xhat·mgh[c]) (f32)
 *
 * Two layouts, as the reference: S > 1, a run of S values per (n, c), four lanes at a time and the
 * last S % 4 one by one, with the channel's numbers splatted; S = 1, rows of C channels, four
 * channels at a time with the per-channel numbers loaded as vectors (and the last C % 4 alone).
 * The sums take ld, the bytes from one image to the next (C·S·4 for the whole array): called on
 * channels c0..c0+C of a wider array, each thread sums its own channels (pool.ts splits them), each
 * channel in the same order whoever sums it. Sums widen each f32x4 to two f64x2 (f64x2.promote_low_f32x4, the high half shuffled down first):
 * exact, and in float64 as the reference, only in another order. The normalisation and the input
 * gradient are float32 lane arithmetic, where the reference rounds once from float64.
 */
import { Code, countUp, f32, f64, i32, v128 } from "./emit.js";

/** while (p < end) { body }: the body advances p. */
function whileBelow(f: Code, p: number, end: number, body: () => void): void {
  f.block().loop().get(p).get(end).geU().brIf(1);
  body();
  f.br(0).end().end();
}

/** The high two f32 lanes of local `v` widened to f64x2 (the low two: promote it directly). */
function promoteHigh(f: Code, v: number): Code {
  return f.get(v).get(v).shuffle32(2, 3, 2, 3).f64x2PromoteLowF32x4();
}

/**
 * The per-channel float64 sums: `sources` float32 inputs (x; or g and xhat), `outputs` f64 arrays,
 * and for each output the f64x2 term of a pair of elements (`vecTerm`, given the widened sources'
 * locals) and the f64 term of one element (`scalarTerm`). `mean` (bnSquares) is subtracted first.
 */
function emitSums(nSources: number, nOutputs: number, withMean: boolean, vecTerm: (f: Code, out: number, lanes: number[]) => void, scalarTerm: (f: Code, out: number, vals: number[]) => void): Code {
  // params: sources..., N, C, S, [mean], outputs..., ld
  const params = [...Array(nSources).fill(i32), i32, i32, i32, ...(withMean ? [i32] : []), ...Array(nOutputs).fill(i32), i32];
  const f = new Code(params);
  const src = [...Array(nSources).keys()];
  const [N, C, S] = [nSources, nSources + 1, nSources + 2];
  const mean = withMean ? nSources + 3 : -1;
  const outs = [...Array(nOutputs).keys()].map((i) => nSources + 3 + (withMean ? 1 : 0) + i);
  const ld = nSources + 3 + (withMean ? 1 : 0) + nOutputs;
  const n = f.local(i32), c = f.local(i32), q = f.local(i32), end = f.local(i32), vend = f.local(i32);
  const p = src.map(() => f.local(i32));
  const v = src.map(() => f.local(v128));
  const lo = src.map(() => f.local(v128)); // widened lanes 0-1 (minus the mean)
  const hi = src.map(() => f.local(v128)); // widened lanes 2-3
  const sc = src.map(() => f.local(f64));
  const mu = f.local(v128), mu2 = f.local(v128), muS = f.local(f64);
  const acc = outs.map(() => [f.local(v128), f.local(v128)]);
  const tail = outs.map(() => f.local(f64));
  /** Each source pointer at image n's first channel: src + n·ld. */
  const toImage = (): void => {
    for (const i of src) f.get(src[i]!).get(n).get(ld).mul().add().set(p[i]!);
  };

  /** Widen the four f32 lanes at each source pointer into lo/hi, the mean subtracted (mean vectors in mu, mu2). */
  const widen = (): void => {
    for (const i of src) {
      f.get(p[i]!).v128Load().set(v[i]!);
      f.get(v[i]!).f64x2PromoteLowF32x4();
      if (withMean) f.get(mu).f64x2Sub();
      f.set(lo[i]!);
      promoteHigh(f, v[i]!);
      if (withMean) f.get(mu2).f64x2Sub();
      f.set(hi[i]!);
      f.inc(p[i]!, 16);
    }
  };
  const scalar = (): void => {
    for (const i of src) {
      f.get(p[i]!).f32Load().f64PromoteF32();
      if (withMean) f.get(muS).f64Sub();
      f.set(sc[i]!).inc(p[i]!, 4);
    }
  };

  f.get(S).i32(1).eq().if();
  {
    // (N, C): four channels at a time into out[c..c+3] as two f64x2 (q = c*8 bytes)
    countUp(f, n, N, () => {
      toImage();
      f.i32(0).set(c);
      f.block().loop().get(c).i32(4).add().get(C).leU().eqz().brIf(1);
      f.get(c).i32(8).mul().set(q);
      if (withMean) {
        f.get(mean).get(q).add().v128Load().set(mu);
        f.get(mean).get(q).add().v128Load(16).set(mu2);
      }
      widen();
      outs.forEach((o, k) => {
        f.get(o).get(q).add().get(o).get(q).add().v128Load();
        vecTerm(f, k, lo);
        f.f64x2Add().v128Store();
        f.get(o).get(q).add().get(o).get(q).add().v128Load(16);
        vecTerm(f, k, hi);
        f.f64x2Add().v128Store(16);
      });
      f.inc(c, 4).br(0).end().end();
      f.block().loop().get(c).get(C).geU().brIf(1);
      f.get(c).i32(8).mul().set(q);
      if (withMean) f.get(mean).get(q).add().f64Load().set(muS);
      scalar();
      outs.forEach((o, k) => {
        f.get(o).get(q).add().get(o).get(q).add().f64Load();
        scalarTerm(f, k, sc);
        f.f64Add().f64Store();
      });
      f.inc(c, 1).br(0).end().end();
    });
  }
  f.else();
  {
    // (N, C, S): a run of S per (n, c), accumulated in two f64x2 and a scalar per output
    countUp(f, n, N, () => {
      toImage();
      countUp(f, c, C, () => {
        f.get(c).i32(8).mul().set(q);
        if (withMean) f.get(mean).get(q).add().f64Load().tee(muS).f64x2Splat().tee(mu).set(mu2);
        for (const [a0, a1] of acc) f.f32x4Const(0).tee(a0!).set(a1!);
        for (const t of tail) f.f64Const(0).set(t);
        f.get(p[0]!).get(S).i32(~3).and_().i32(4).mul().add().set(vend);
        f.get(p[0]!).get(S).i32(4).mul().add().set(end);
        whileBelow(f, p[0]!, vend, () => {
          widen();
          acc.forEach(([a0, a1], k) => {
            f.get(a0!);
            vecTerm(f, k, lo);
            f.f64x2Add().set(a0!);
            f.get(a1!);
            vecTerm(f, k, hi);
            f.f64x2Add().set(a1!);
          });
        });
        whileBelow(f, p[0]!, end, () => {
          scalar();
          tail.forEach((t, k) => {
            f.get(t);
            scalarTerm(f, k, sc);
            f.f64Add().set(t);
          });
        });
        outs.forEach((o, k) => {
          const [a0, a1] = acc[k]!;
          f.get(o).get(q).add().get(o).get(q).add().f64Load();
          f.get(a0!).f64x2ExtractLane(0).get(a0!).f64x2ExtractLane(1).f64Add();
          f.get(a1!).f64x2ExtractLane(0).get(a1!).f64x2ExtractLane(1).f64Add().f64Add();
          f.get(tail[k]!).f64Add().f64Add().f64Store();
        });
      });
    });
  }
  f.end();
  return f;
}

/** bnSum(x, N, C, S, sum, ld). */
export function emitBnSum(): Code {
  return emitSums(1, 1, false, (f, _o, w) => f.get(w[0]!), (f, _o, s) => f.get(s[0]!));
}

/** bnSquares(x, N, C, S, mean, sq, ld). */
export function emitBnSquares(): Code {
  return emitSums(1, 1, true, (f, _o, w) => f.get(w[0]!).get(w[0]!).f64x2Mul(), (f, _o, s) => f.get(s[0]!).get(s[0]!).f64Mul());
}

/** bnGradSums(g, xhat, N, C, S, sumG, sumGH, ld). */
export function emitBnGradSums(): Code {
  return emitSums(
    2, 2, false,
    (f, o, w) => (o === 0 ? f.get(w[0]!) : f.get(w[0]!).get(w[1]!).f64x2Mul()),
    (f, o, s) => (o === 0 ? f.get(s[0]!) : f.get(s[0]!).get(s[1]!).f64Mul()),
  );
}

/**
 * The element-wise passes, float32: bnNormalize (out = gamma·h + beta with h = (x - mean)·invStd,
 * h kept in xhat) and bnInputGrad (gx (+)= scale·(g - mg - xhat·mgh)). `four` per-channel f32
 * arrays are read per channel (splatted for S > 1, loaded as vectors for S = 1).
 */
function emitElementwise(kind: "normalize" | "inputGrad"): Code {
  // normalize: x, N, C, S, mean, invStd, gamma, beta, xhat, out
  // inputGrad: g, xhat, N, C, S, scale, mg, mgh, gx, accumulate
  const norm = kind === "normalize";
  const f = new Code(Array(10).fill(i32)); // ten i32 parameters either way
  const [a, b] = norm ? [0, -1] : [0, 1]; // sources: x; or g and xhat
  const [N, C, S] = norm ? [1, 2, 3] : [2, 3, 4];
  const ch = norm ? [4, 5, 6, 7] : [5, 6, 7]; // per-channel arrays
  const dst = norm ? [8, 9] : [8]; // xhat and out; or gx
  const accumulate = 9;
  const n = f.local(i32), c = f.local(i32), end = f.local(i32), vend = f.local(i32), q = f.local(i32);
  const pa = f.local(i32), pb = f.local(i32), pd0 = f.local(i32), pd1 = f.local(i32);
  const k = ch.map(() => f.local(v128)); // per-channel vectors
  const ks = ch.map(() => f.local(f32));
  const h = f.local(v128), hs = f.local(f32);
  f.get(a).set(pa);
  if (!norm) f.get(b).set(pb);
  f.get(dst[0]!).set(pd0);
  if (norm) f.get(dst[1]!).set(pd1);

  /** One vector (lanes) or one element (scalar) at the pointers, then the pointers advanced. */
  const step = (vec: boolean, acc: boolean): void => {
    const w = vec ? 16 : 4;
    const load = (p: number): Code => (vec ? f.get(p).v128Load() : f.get(p).f32Load());
    const sub = (): Code => (vec ? f.f32x4Sub() : f.f32Sub());
    const mul = (): Code => (vec ? f.f32x4Mul() : f.f32Mul());
    const add = (): Code => (vec ? f.f32x4Add() : f.f32Add());
    const K = vec ? k : ks;
    const store = (): Code => (vec ? f.v128Store() : f.f32Store());
    if (norm) {
      // h = (x - mean) * invStd; xhat = h; out = gamma * h + beta
      load(pa).get(K[0]!);
      sub().get(K[1]!);
      mul().set(vec ? h : hs);
      f.get(pd0).get(vec ? h : hs);
      store();
      f.get(pd1).get(K[2]!).get(vec ? h : hs);
      mul().get(K[3]!);
      add();
      store();
      f.inc(pa, w).inc(pd0, w).inc(pd1, w);
    } else {
      // r = scale * ((g - mg) - xhat * mgh); gx = acc ? gx + r : r
      f.get(pd0);
      if (acc) load(pd0);
      f.get(K[0]!);
      load(pa).get(K[1]!);
      sub();
      load(pb).get(K[2]!);
      mul();
      sub();
      mul();
      if (acc) add();
      store();
      f.inc(pa, w).inc(pb, w).inc(pd0, w);
    }
  };
  /** Loads the per-channel numbers of channel c (byte offset q = c*4): vectors of four, or one each. */
  const perChannel = (vec: boolean): void => {
    ch.forEach((arr, i) => {
      if (vec) f.get(arr).get(q).add().v128Load().set(k[i]!);
      else f.get(arr).get(q).add().f32Load().set(ks[i]!);
    });
  };
  const body = (acc: boolean): void => {
    f.get(S).i32(1).eq().if();
    countUp(f, n, N, () => {
      f.i32(0).set(c);
      f.block().loop().get(c).i32(4).add().get(C).leU().eqz().brIf(1);
      f.get(c).i32(4).mul().set(q);
      perChannel(true);
      step(true, acc);
      f.inc(c, 4).br(0).end().end();
      f.block().loop().get(c).get(C).geU().brIf(1);
      f.get(c).i32(4).mul().set(q);
      perChannel(false);
      step(false, acc);
      f.inc(c, 1).br(0).end().end();
    });
    f.else();
    countUp(f, n, N, () => countUp(f, c, C, () => {
      f.get(c).i32(4).mul().set(q);
      perChannel(false);
      ks.forEach((s, i) => f.get(s).f32x4Splat().set(k[i]!));
      f.get(pa).get(S).i32(~3).and_().i32(4).mul().add().set(vend);
      f.get(pa).get(S).i32(4).mul().add().set(end);
      whileBelow(f, pa, vend, () => step(true, acc));
      whileBelow(f, pa, end, () => step(false, acc));
    }));
    f.end();
  };
  if (norm) body(false);
  else {
    f.get(accumulate).if();
    body(true);
    f.else();
    body(false);
    f.end();
  }
  return f;
}

export function emitBnNormalize(): Code {
  return emitElementwise("normalize");
}

export function emitBnInputGrad(): Code {
  return emitElementwise("inputGrad");
}
