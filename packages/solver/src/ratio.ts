/**
 * Exact ordering of rationals with a fast path. Sorting 10⁶ orders by their limit with a bigint
 * comparator is ~10× slower than sorting Float64 keys, so we sort fixed-point integer keys packed
 * in a Float64Array (native numeric sort) and then repair the order with an exact comparator.
 * Floats only give the starting permutation and decide comparisons where they provably agree
 * with the exact answer (a margin far above their rounding error); the result is the unique exact
 * order (ratio, then id), whatever the floats did.
 */

/** Relative margin above which a float comparison of two quotients is certainly right. */
const MARGIN = 2 ** -40

export interface RatioKeys {
  /** Exact numerator and denominator of entry i (denominator > 0); called only on near-ties. */
  num: (i: number) => bigint
  den: (i: number) => bigint
  /** Float approximations of num/den within 2⁻⁵⁰ relative (finite, > 0). */
  approx: Float64Array
  /** Tie-break rank (smaller first); distinct for distinct entries. */
  rank: (i: number) => number
}

/** Exact comparison of ratio i with ratio j (0 when equal). */
export function compareRatioExact(k: RatioKeys, i: number, j: number): number {
  const a = k.approx[i]
  const b = k.approx[j]
  if (a < b * (1 - MARGIN)) return -1
  if (a > b * (1 + MARGIN)) return 1
  const l = k.num(i) * k.den(j)
  const r = k.num(j) * k.den(i)
  return l < r ? -1 : l > r ? 1 : 0
}

/** Exact comparison of ratio i with ratio j, then by rank. */
export function compareRatio(k: RatioKeys, i: number, j: number): number {
  return compareRatioExact(k, i, j) || k.rank(i) - k.rank(j)
}

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0 // little-endian: high word at 1

/** Indices `items` sorted ascending by exact ratio, ties by rank. */
export function sortByRatio(k: RatioKeys, items: ArrayLike<number>): Uint32Array {
  const n = items.length
  const out = new Uint32Array(n)
  if (n === 0) return out
  let idxBits = 1
  while (2 ** idxBits < n) idxBits++
  const hiBits = Math.min(31, 52 - idxBits)
  const shift = 2 ** (31 - hiBits)
  const scale = 2 ** idxBits
  const packed = new Float64Array(n)
  for (let p = 0; p < n; p++) {
    const x = k.approx[items[p]]
    f64[0] = x > 0 && Number.isFinite(x) ? x : 0
    const hi = u32[HI] & 0x7fffffff
    packed[p] = Math.floor(hi / shift) * scale + p
  }
  packed.sort()
  for (let p = 0; p < n; p++) out[p] = items[packed[p] % scale]
  // Insertion sort with the exact comparator: linear when the float order is nearly right.
  for (let p = 1; p < n; p++) {
    const v = out[p]
    let q = p - 1
    if (compareRatio(k, out[q], v) <= 0) continue
    while (q >= 0 && compareRatio(k, out[q], v) > 0) {
      out[q + 1] = out[q]
      q--
    }
    out[q + 1] = v
  }
  return out
}

export function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a
  let y = b < 0n ? -b : b
  while (y > 0n) [x, y] = [y, x % y]
  return x
}

/** floor(a / b) for b > 0 (bigint division truncates toward zero). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b
  return a < 0n && q * b !== a ? q - 1n : q
}

export function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b
}

export function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}

/** Order-preserving string comparison by UTF-16 code units (locale-free). */
export function compareStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
