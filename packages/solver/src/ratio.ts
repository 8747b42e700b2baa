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

const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0 // little-endian: high word at 1

/** Indices `items` sorted ascending by exact ratio, ties by rank. */
export function sortByRatio(k: RatioKeys, items: ArrayLike<number>): Uint32Array {
  return sortByRatioWithTies(k, items).order
}

/**
 * `sortByRatio`, plus `tie[p] = 1` exactly when order[p] has the same ratio as order[p − 1] (found by
 * the repair pass's own comparisons, so callers need not compare neighbours again).
 */
export function sortByRatioWithTies(
  k: RatioKeys,
  items: ArrayLike<number>,
): { order: Uint32Array; tie: Uint8Array } {
  const n = items.length
  const out = new Uint32Array(n)
  const tie = new Uint8Array(n)
  if (n === 0) return { order: out, tie }
  // LSD radix sort (four 16-bit digits) of the floats' bit patterns — positive floats order like their
  // bits — stable, so equal floats keep ascending position. Deterministic and exact for the floats.
  const vals = new Float64Array(n)
  for (let p = 0; p < n; p++) {
    const x = k.approx[items[p]]
    vals[p] = x > 0 && Number.isFinite(x) ? x : 0
  }
  const w = new Uint32Array(vals.buffer)
  let idx = new Uint32Array(n)
  let tmp = new Uint32Array(n)
  for (let p = 0; p < n; p++) idx[p] = p
  // Small inputs: a comparison sort (float, then position) is cheaper than four radix passes.
  if (n < 2048) idx.sort((a, b) => vals[a] - vals[b] || a - b)
  const count = new Uint32Array(n < 2048 ? 0 : 65537)
  for (let d = 0; d < (n < 2048 ? 0 : 4); d++) {
    const off = d < 2 ? 1 - HI : HI
    const sh = (d & 1) * 16
    count.fill(0)
    for (let p = 0; p < n; p++) count[((w[2 * p + off] >>> sh) & 0xffff) + 1]++
    if (count[((w[off] >>> sh) & 0xffff) + 1] === n) continue // one digit value: nothing to do
    for (let b = 0; b < 65536; b++) count[b + 1] += count[b]
    for (let p = 0; p < n; p++) {
      const q = idx[p]
      tmp[count[(w[2 * q + off] >>> sh) & 0xffff]++] = q
    }
    const t = idx
    idx = tmp
    tmp = t
  }
  for (let p = 0; p < n; p++) out[p] = items[idx[p]]
  // Insertion sort with the exact comparator: linear when the float order is nearly right.
  for (let p = 1; p < n; p++) {
    const v = out[p]
    let q = p - 1
    const c = compareRatioExact(k, out[q], v)
    if (c < 0 || (c === 0 && k.rank(out[q]) < k.rank(v))) {
      tie[p] = c === 0 ? 1 : 0
      continue
    }
    while (q >= 0 && compareRatio(k, out[q], v) > 0) {
      out[q + 1] = out[q]
      q--
    }
    out[q + 1] = v
    // Rare (the float order was wrong here): flags of the moved stretch afresh; p + 1 comes next.
    for (let r = Math.max(1, q + 1); r <= p; r++)
      tie[r] = compareRatioExact(k, out[r - 1], out[r]) === 0 ? 1 : 0
  }
  return { order: out, tie }
}

/**
 * Price cap of a batch whose largest amount has `amountBits` bits: the settlement contract multiplies
 * amount · price · (10⁴ + fee) (< 2¹⁴) in uint256 with overflow checks, so every price must stay below
 * 2^(242 − amountBits) — at least 2¹¹⁴ when amounts are below 2¹²⁸, never below 2.
 */
export function maxPriceFor(amountBits: number): bigint {
  return 1n << BigInt(Math.max(1, 242 - amountBits))
}

/** Bit length of x > 0. */
export function bitLength(x: bigint): number {
  return x.toString(2).length
}

/** The power of two that brings every price of a group below its own cap (0 when all already are). */
export function excessBits(ps: readonly bigint[], caps: readonly bigint[]): number {
  let shift = 0
  for (let k = 0; k < ps.length; k++) {
    if (ps[k] >= caps[k]) shift = Math.max(shift, bitLength(ps[k]) - bitLength(caps[k]) + 1)
  }
  return shift
}

/**
 * Scales a group of prices down by a common power of two (floor, at least 1) until each is below its
 * cap; unchanged when they already are.
 */
export function capPrices(ps: readonly bigint[], caps: readonly bigint[]): bigint[] {
  const shift = BigInt(excessBits(ps, caps))
  if (shift === 0n) return [...ps]
  return ps.map((p) => (p <= 0n ? p : p >> shift > 0n ? p >> shift : 1n))
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
