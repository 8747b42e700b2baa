import { BPS, feeOf } from '@allot/protocol'
import { fillAtPrices, repairDeficits } from './fill.js'
import { type PairFills, PairPriceChoice, pairSetup, type Ratio } from './pair.js'
import type { Prepared } from './prepare.js'
import { capPrices, gcd } from './ratio.js'
import { keepsSignedRatio } from './signed-ratio.js'

/**
 * The single-pair fast path (fastpair.ts) when every amount is below 2⁶⁴ and there are fewer than 2²¹
 * orders: the same decisions as `choosePairPrice` + `solvePairWide`, on columns instead of objects.
 *
 * - Amounts are read as 32-bit words (`Prepared.sell64` / `buy64`, the funded `maxSold` likewise).
 * - Limits are sorted by a bucket sort of their float keys; near-ties (relative margin 2⁻⁴⁰) are decided
 *   exactly by comparing the 128-bit cross products `num_i·den_j` and `num_j·den_i` in 22-bit limbs
 *   (every partial sum below 2⁴⁸, exact in a double). Within one side the fee factors cancel, so the
 *   raw amounts are compared.
 * - The volume sums of the price choice and the fills are prefix sums of the words in two float limbs
 *   (exact below 2²¹ terms: 2³² · 2²¹ = 2⁵³); bigints are formed only at candidate prices, group
 *   boundaries and for the output amounts.
 * - Floats only prune and order; every decision that reaches the output is exact.
 */

const LO = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1 // low word of a u64 in a u32 view
const HI = 1 - LO
const TWO32 = 4294967296
const M22 = 0x3fffff
const P22 = 4194304
const INV22 = 2 ** -22 // x · 2⁻²² is exactly x / 2²²: a multiplication instead of a division
const HI_M = 1 + 2 ** -40
const LO_M = 1 - 2 ** -40

/**
 * sign(a·b − c·d) for a, b, c, d < 2⁶⁴ given as 32-bit words (lo, hi), exact: limbs of 22, 22 and 20
 * bits (bits 0–21 of lo; 22–31 of lo with 0–11 of hi; 12–31 of hi).
 */
export function cmpProducts(
  aL: number,
  aH: number,
  bL: number,
  bH: number,
  cL: number,
  cH: number,
  dL: number,
  dH: number,
): number {
  const a0 = aL & M22
  const a1 = (aL >>> 22) | ((aH & 0xfff) << 10)
  const a2 = aH >>> 12
  const b0 = bL & M22
  const b1 = (bL >>> 22) | ((bH & 0xfff) << 10)
  const b2 = bH >>> 12
  const c0 = cL & M22
  const c1 = (cL >>> 22) | ((cH & 0xfff) << 10)
  const c2 = cH >>> 12
  const d0 = dL & M22
  const d1 = (dL >>> 22) | ((dH & 0xfff) << 10)
  const d2 = dH >>> 12
  // Columns of the difference, |e_k| < 3·2⁴⁴; carries keep every value exact.
  const e0 = a0 * b0 - c0 * d0
  const e1 = a0 * b1 + a1 * b0 - (c0 * d1 + c1 * d0)
  const e2 = a0 * b2 + a1 * b1 + a2 * b0 - (c0 * d2 + c1 * d1 + c2 * d0)
  const e3 = a1 * b2 + a2 * b1 - (c1 * d2 + c2 * d1)
  const e4 = a2 * b2 - c2 * d2
  let carry = Math.floor(e0 * INV22)
  const r0 = e0 - carry * P22
  let x = e1 + carry
  carry = Math.floor(x * INV22)
  const r1 = x - carry * P22
  x = e2 + carry
  carry = Math.floor(x * INV22)
  const r2 = x - carry * P22
  x = e3 + carry
  carry = Math.floor(x * INV22)
  const r3 = x - carry * P22
  const top = e4 + carry
  if (top !== 0) return top > 0 ? 1 : -1
  return r0 === 0 && r1 === 0 && r2 === 0 && r3 === 0 ? 0 : 1
}

/**
 * `items` sorted by ascending ratio N[i]/D[i] (32-bit word columns of 64-bit values), ties by
 * ascending index, with `tie[p] = 1` when order[p] has the same ratio as order[p − 1]; `vals[p]`
 * approximates item p's ratio times a positive constant within 2⁻⁵⁰ relative (finite, > 0), and
 * is returned permuted alongside (`sorted[p]` for order[p]).
 */
function sortSide(
  items: Int32Array,
  vals: Float64Array,
  N: Uint32Array,
  D: Uint32Array,
): { order: Int32Array; tie: Uint8Array; sorted: Float64Array } {
  const n = items.length
  const tie = new Uint8Array(n)
  if (n === 0) return { order: new Int32Array(0), tie, sorted: new Float64Array(0) }
  // Slots 0..n − 1 and a spare one, n, that holds an order lifted out while others move up.
  const out = new Int32Array(n + 1)
  const sv = new Float64Array(n + 1)
  // Each order's N and D words travel with it (order[t]'s at 2t, 2t + 1), so the exact pass below
  // reads them in sequence: gathered at random from N and D there, they were one cache miss each.
  const nw = new Uint32Array(2 * n + 2)
  const dw = new Uint32Array(2 * n + 2)
  /** Item p (input position) to slot t. */
  const put = (t: number, p: number) => {
    const i = items[p]
    out[t] = i
    sv[t] = vals[p]
    nw[2 * t] = N[2 * i]
    nw[2 * t + 1] = N[2 * i + 1]
    dw[2 * t] = D[2 * i]
    dw[2 * t + 1] = D[2 * i + 1]
  }
  /** Slot f's order to slot t. */
  const move = (f: number, t: number) => {
    out[t] = out[f]
    sv[t] = sv[f]
    nw[2 * t] = nw[2 * f]
    nw[2 * t + 1] = nw[2 * f + 1]
    dw[2 * t] = dw[2 * f]
    dw[2 * t + 1] = dw[2 * f + 1]
  }
  /**
   * Slots [a, e) in ascending (float, index) order: a comparator sort of their positions, then the
   * permutation applied in place, cycle by cycle, through the spare slot.
   */
  const sortSlots = (a: number, e: number) => {
    const from = new Int32Array(e - a)
    for (let k = 0; k < from.length; k++) from[k] = a + k
    from.sort((x, y) => sv[x] - sv[y] || out[x] - out[y])
    const done = new Uint8Array(e - a)
    for (let k = 0; k < from.length; k++) {
      if (done[k] || from[k] === a + k) continue
      move(a + k, n)
      let t = a + k
      while (from[t - a] !== a + k) {
        done[t - a] = 1
        move(from[t - a], t)
        t = from[t - a]
      }
      done[t - a] = 1
      move(n, t)
    }
  }
  if (n < 2048) {
    for (let p = 0; p < n; p++) put(p, p)
    sortSlots(0, n)
  } else {
    // Bucket sort on the floats' high words (positive floats order like their bit patterns, and the high
    // word holds the exponent and the top 20 mantissa bits: buckets are log-spaced): about two orders per
    // bucket, buckets filled stably in one counting and one scatter pass (reads in sequence, writes at
    // random), then each bucket sorted by its floats, stably. A bucket of many orders (limits at one
    // round price) is left as it is when its floats are equal, else sorted with a comparator: never
    // quadratic.
    const w = new Uint32Array(vals.buffer, vals.byteOffset, 2 * n)
    let minH = w[HI]
    let maxH = minH
    for (let p = 1; p < n; p++) {
      const h = w[2 * p + HI]
      if (h < minH) minH = h
      else if (h > maxH) maxH = h
    }
    const span = 32 - Math.clz32(maxH - minH)
    const shift = Math.max(0, span - (30 - Math.clz32(n)))
    const nb = ((maxH - minH) >>> shift) + 1
    const end = new Int32Array(nb + 1)
    for (let p = 0; p < n; p++) end[((w[2 * p + HI] - minH) >>> shift) + 1]++
    for (let b = 0; b < nb; b++) end[b + 1] += end[b]
    // `end[b]` starts as bucket b's first slot and ends as its end (bucket b + 1's first slot).
    for (let p = 0; p < n; p++) put(end[(w[2 * p + HI] - minH) >>> shift]++, p)
    let a = 0
    for (let b = 0; b < nb; a = end[b++]) {
      const e = end[b]
      if (e - a < 2) continue
      if (e - a <= 48) {
        // Insertion sort, stable: an order moves past strictly larger floats only.
        for (let t = a + 1; t < e; t++) {
          const fv = sv[t]
          if (sv[t - 1] <= fv) continue
          move(t, n)
          let q = t - 1
          while (q >= a && sv[q] > fv) {
            move(q, q + 1)
            q--
          }
          move(n, q + 1)
        }
        continue
      }
      let sorted = true
      for (let t = a + 1; t < e && sorted; t++) sorted = sv[t - 1] <= sv[t]
      if (!sorted) sortSlots(a, e)
    }
  }
  // Sign of ratio(slot q) − ratio(slot r): N_q·D_r vs N_r·D_q, exact. (Integer arguments only: doubles
  // passed to a call are boxed.)
  const exact = (q: number, r: number): number =>
    cmpProducts(
      nw[2 * q + LO],
      nw[2 * q + HI],
      dw[2 * r + LO],
      dw[2 * r + HI],
      nw[2 * r + LO],
      nw[2 * r + HI],
      dw[2 * q + LO],
      dw[2 * q + HI],
    )
  // The same, the floats deciding outside the 2⁻⁴⁰ margin.
  const cmp = (q: number, r: number): number => {
    const x = sv[q]
    const y = sv[r]
    return x < y * LO_M ? -1 : x > y * HI_M ? 1 : exact(q, r)
  }
  // Insertion pass with the exact comparator: linear when the float order is nearly right.
  for (let p = 1; p < n; p++) {
    const c = cmp(p - 1, p)
    if (c < 0 || (c === 0 && out[p - 1] < out[p])) {
      tie[p] = c === 0 ? 1 : 0
      continue
    }
    const v = out[p]
    move(p, n)
    let q = p - 1
    while (q >= 0) {
      const c2 = cmp(q, n)
      if (c2 < 0 || (c2 === 0 && out[q] < v)) break
      move(q, q + 1)
      q--
    }
    move(n, q + 1)
    for (let r = Math.max(1, q + 1); r <= p; r++) tie[r] = cmp(r - 1, r) === 0 ? 1 : 0
  }
  return { order: out.subarray(0, n), tie, sorted: sv.subarray(0, n) }
}

/**
 * maxSold of a side's orders in sorted order, as 32-bit words (`w[2p]` low, `w[2p + 1]` high: one
 * gather, then every pass over the side reads them sequentially), every 64th prefix sum in two float
 * limbs, the total, and the largest one (as a float).
 */
interface Blocks {
  w: Uint32Array
  lo: Float64Array
  hi: Float64Array
  totLo: number
  totHi: number
  max: number
}

function blocksOf(L: Int32Array, m32: Uint32Array): Blocks {
  const len = L.length
  const w = new Uint32Array(2 * len)
  const lo = new Float64Array((len >> 6) + 1)
  const hi = new Float64Array((len >> 6) + 1)
  let a = 0
  let h = 0
  let max = 0
  for (let j = 0; j < len; j++) {
    if ((j & 63) === 0) {
      lo[j >> 6] = a
      hi[j >> 6] = h
    }
    const i = L[j]
    const x = m32[2 * i + LO]
    const y = m32[2 * i + HI]
    w[2 * j] = x
    w[2 * j + 1] = y
    a += x
    h += y
    if (y * TWO32 + x > max) max = y * TWO32 + x
  }
  if ((len & 63) === 0) {
    lo[len >> 6] = a
    hi[len >> 6] = h
  }
  return { w, lo, hi, totLo: a, totHi: h, max }
}

/** Σ of the words of the side's first k orders, exact. */
function prefixOf(b: Blocks, k: number): bigint {
  let a = b.lo[k >> 6]
  let h = b.hi[k >> 6]
  const w = b.w
  for (let j = (k >> 6) << 6; j < k; j++) {
    a += w[2 * j]
    h += w[2 * j + 1]
  }
  return (BigInt(h) << 32n) + BigInt(a)
}

/** A u32 view (two words per value) of a BigUint64Array. */
function words(a: BigUint64Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, 2 * a.length)
}

export function solvePairNarrow(
  P: Prepared,
  previous?: Record<string, bigint>,
): { prices: bigint[]; amounts: PairFills } {
  const n = P.size
  const { base, quote, prev, none: zero } = pairSetup(P, previous)
  let m64 = P.sell64
  if (!(P.fullAllowance && P.feeBps === 0n)) {
    // Funded amounts below the sell amounts: their words.
    m64 = new BigUint64Array(n)
    const ms = P.maxSold
    for (let i = 0; i < n; i++) m64[i] = ms[i]
  }
  const m32 = words(m64)
  const choice = choosePriceNarrow(P, base, quote, prev, m32)
  if (choice === null) return zero()
  const { prices, S, B, tieS, tieB, blkS, blkB } = choice
  const ns = S.length
  const nb = B.length
  const fb = BPS + P.feeBps
  // maxSold of sellers S[0..k) and of buyers B[k..nb), exact.
  const totB = prefixOf(blkB, nb)
  const sumS = (k: number): bigint => prefixOf(blkS, k)
  const sumB = (k: number): bigint => totB - prefixOf(blkB, k)
  // Sellers (ascending limit) eligible: a prefix; buyers (ascending limit) eligible: a suffix. The
  // contract's limit check (fill.ts \`eligible\`; every order on a side has maxSold > 0).
  const sell64 = P.sell64
  const buy64 = P.buy64
  const elig = (i: number): boolean => {
    const pS = prices[P.sell[i]]
    const pB = prices[P.buy[i]]
    return pS > 0n && pB > 0n && sell64[i] * pS * BPS >= buy64[i] * pB * fb
  }
  let lo = 0
  let hi = ns
  while (lo < hi) {
    const m = (lo + hi) >> 1
    if (elig(S[m])) lo = m + 1
    else hi = m
  }
  const ks = lo
  lo = 0
  hi = nb
  while (lo < hi) {
    const m = (lo + hi) >> 1
    if (elig(B[m])) hi = m
    else lo = m + 1
  }
  const kb = lo
  const pBase = prices[base]
  const pQuote = prices[quote]
  const vS = sumS(ks) * pBase
  const vB = sumB(kb) * pQuote
  // biome-ignore lint/complexity/useMathMinMax: bigint operands (Math.min would convert them)
  const F = vS < vB ? vS : vB
  if (F === 0n) return zero()
  // Outputs as 64-bit columns: sold ≤ maxSold < 2⁶⁴ always; bought ≤ (a side's largest maxSold)·pS/pB,
  // so when that float bound is below 2⁶³ (a factor 2 above any float error) every bought fits too,
  // else bought is a bigint array. The choice of representation decides no amount.
  const ratioF = Number(pBase) / Number(pQuote)
  const boundS = blkS.max * ratioF
  const boundB = blkB.max / ratioF
  const soldW = new BigUint64Array(n)
  const sold32 = words(soldW)
  const boughtW = new BigUint64Array(n)
  const bought32 = words(boughtW)
  const boughtBig: bigint[] | null =
    boundS < 2 ** 63 && boundB < 2 ** 63 ? null : new Array<bigint>(n).fill(0n)
  const out: SideFill = {
    F,
    whole: new Uint8Array(n),
    m64,
    sell64,
    buy64,
    feeBps: P.feeBps,
    ratioBroken: false,
    soldW,
    boughtW,
    boughtBig,
    filled: 0,
  }
  // Sellers best first are S[0..ks); buyers best first are B[nb − 1], B[nb − 2], … down to B[kb].
  let [soldS, boughtS] = fillSide(out, S, tieS, blkS, true, ks, pBase, pQuote)
  let [soldB, boughtB] = fillSide(out, B, tieB, blkB, false, nb - kb, pQuote, pBase)
  if (out.ratioBroken) return { prices, amounts: fillAtPrices(P, prices) }
  const whole = out.whole
  // Whole fills, in index order: sold = maxSold (its words copied), bought = ⌊sold·pS/pB⌋ (kept only
  // when > 0). Totals per side for the deficit check as sums of 32-bit words in float limbs (bigints
  // above 2⁶⁴).
  const acc = new Float64Array(8) // per side (seller 0, buyer 4): sold lo, hi, bought lo, hi
  const sell = P.sell
  let filled = out.filled
  // ⌊s·pS/pB⌋ in 22-bit limbs (`mulRatioInto`) when both sides' ratios allow it, else bigints.
  const rS = boughtBig === null ? ratioLimbs(pBase, pQuote) : null
  const rB = boughtBig === null ? ratioLimbs(pQuote, pBase) : null
  const sF = P.sellF
  const bF = P.buyF
  // The signed ratio (rule 2) surely holds when its float sides differ by more than their error (each
  // below 2⁻⁴⁸ relative: a few roundings of 2⁻⁵³), with the fee bounded above by sold·f/10⁴ + 1.
  const feeF = Number(P.feeBps) / 10_000
  for (let i = 0; i < n; i++) {
    if (whole[i] === 0) continue
    const seller = sell[i] === base
    const sLo = m32[2 * i + LO]
    const sHi = m32[2 * i + HI]
    const o = seller ? 0 : 4
    const r = seller ? rS : rB
    const got = r === null ? -1 : mulRatioInto(sLo, sHi, r, bought32, 2 * i)
    if (got === 0) continue // bought 0: not filled
    const soldF = sHi * 4294967296 + sLo
    const boughtF =
      got === 1
        ? bought32[2 * i + HI] * 4294967296 + bought32[2 * i + LO]
        : (soldF * Number(seller ? pBase : pQuote)) / Number(seller ? pQuote : pBase) - 1
    if (boughtF * sF[i] <= (soldF * (1 + feeF) + 1) * bF[i] * (1 + 2 ** -40)) {
      // Near the limit: exactly, and slightly less sold where rounding would break the ratio.
      const pS = seller ? pBase : pQuote
      const pB = seller ? pQuote : pBase
      const s0 = m64[i]
      const b0 = (s0 * pS) / pB
      // Rounding would break the signed ratio: the general fill at these prices re-routes around it.
      if (!keepsSignedRatio(sell64[i], buy64[i], s0, b0, feeOf(s0, P.feeBps)))
        return { prices, amounts: fillAtPrices(P, prices) }
    }
    if (got === 1) {
      acc[o + 2] += bought32[2 * i + LO]
      acc[o + 3] += bought32[2 * i + HI]
    } else {
      const s = m64[i]
      const b = seller ? (s * pBase) / pQuote : (s * pQuote) / pBase
      if (b === 0n) continue
      if (boughtBig === null) {
        boughtW[i] = b
        acc[o + 2] += bought32[2 * i + LO]
        acc[o + 3] += bought32[2 * i + HI]
      } else {
        boughtBig[i] = b
        if (seller) boughtS += b
        else boughtB += b
      }
    }
    filled++
    sold32[2 * i + LO] = sLo
    sold32[2 * i + HI] = sHi
    acc[o] += sLo
    acc[o + 1] += sHi
  }
  const total = (o: number) => (BigInt(acc[o + 1]) << 32n) + BigInt(acc[o])
  soldS += total(0)
  boughtS += total(2)
  soldB += total(4)
  boughtB += total(6)
  const feeW = P.feeBps === 0n ? null : feesOf(soldW, P.feeBps)
  // No rounding deficit (the usual case): the repair's first pass would find nothing to do.
  if (soldS - boughtB >= 0n && soldB - boughtS >= 0n) {
    if (boughtBig === null) return { prices, amounts: { sold: soldW, bought: boughtW, fee: feeW, filled } }
    return { prices, amounts: { sold: Array.from(soldW), bought: boughtBig, fee: bigintsOrZeros(feeW, n) } }
  }
  // Repair order: per side worst slack first, equal limits by ascending index (sellers in S order,
  // buyers in descending index within a group, so no group needs sorting).
  const worst: number[] = []
  const sameS = (q: number) => tieS[q + 1] === 1 // sellers[q] and sellers[q + 1]
  const sameB = (q: number) => tieB[nb - 1 - q] === 1 // buyers[q] = B[nb − 1 − q] and buyers[q + 1]
  for (let h = ks; h > 0; ) {
    let g = h - 1
    while (g > 0 && sameS(g - 1)) g--
    for (let q = g; q < h; q++) worst.push(S[q])
    h = g
  }
  for (let h = nb - kb; h > 0; ) {
    let g = h - 1
    while (g > 0 && sameB(g - 1)) g--
    for (let q = h - 1; q >= g; q--) worst.push(B[nb - 1 - q])
    h = g
  }
  const sold = Array.from(soldW)
  const bought = boughtBig ?? Array.from(boughtW)
  repairDeficits(P, prices, sold, bought, worst)
  const fee = P.feeBps === 0n ? new Array<bigint>(n).fill(0n) : sold.map((x) => feeOf(x, P.feeBps))
  return { prices, amounts: { sold, bought, fee } }
}

/** What both sides' fills share: the traded value F, the whole-fill marks and the output columns. */
interface SideFill {
  F: bigint
  /** 1 for an order filled whole (computed afterwards in index order). */
  whole: Uint8Array
  /** maxSold per order. */
  m64: BigUint64Array
  /** The orders' sellAmount and buyAmount, and the fee: for the signed ratio of a fill. */
  sell64: BigUint64Array
  buy64: BigUint64Array
  feeBps: bigint
  /** Set when a marginal fill, rounded, would break its signed ratio (rule 2). */
  ratioBroken: boolean
  soldW: BigUint64Array
  boughtW: BigUint64Array
  /** bought when it may not fit in 64 bits (else null: `boughtW`). */
  boughtBig: bigint[] | null
  /** Orders written with sold > 0. */
  filled: number
}

/**
 * One side's fills at traded value F: its orders best first are L[0..len) (`forward`) or L[|L| − 1],
 * L[|L| − 2], … (buyers); `blk` the maxSold prefix sums in L's order, `tie` L's tie flags. Orders
 * whole while the cumulative cap stays within F are marked; the marginal group of equal limits is
 * rationed pro rata (⌊cap·left/Σcap⌋, remainder units one each by ascending index) and written.
 * Returns [Σ sold, Σ bought] of what it wrote.
 */
function fillSide(
  c: SideFill,
  L: Int32Array,
  tie: Uint8Array,
  blk: Blocks,
  forward: boolean,
  len: number,
  pS: bigint,
  pB: bigint,
): [bigint, bigint] {
  const N = L.length
  const whole = c.whole
  const m64 = c.m64
  const tot = forward ? 0n : prefixOf(blk, N)
  // maxSold of the first k best; whether the q-th and (q + 1)-th best have equal limits.
  const cum = (k: number): bigint => (forward ? prefixOf(blk, k) : tot - prefixOf(blk, N - k))
  const same = (q: number): boolean => (forward ? tie[q + 1] === 1 : tie[N - 1 - q] === 1)
  // Orders whole while the cumulative cap stays within F: cum·pS ≤ F ⇔ cum ≤ ⌊F/pS⌋.
  const lim = c.F / pS
  let a = 0
  let z = len
  while (a < z) {
    const mid = (a + z + 1) >> 1
    if (cum(mid) <= lim) a = mid
    else z = mid - 1
  }
  const k = a
  let g = k
  let h = k
  if (k < len) {
    while (g > 0 && same(g - 1)) g--
    h = k + 1
    while (h < len && same(h - 1)) h++
  }
  // The best g whole (positions of L: [0, g) forward, [N − g, N) backward).
  if (forward) for (let q = 0; q < g; q++) whole[L[q]] = 1
  else for (let q = N - g; q < N; q++) whole[L[q]] = 1
  if (k === len) return [0n, 0n]
  const f = c.F - cum(g) * pS
  const members: number[] = []
  for (let q = g; q < h; q++) members.push(forward ? L[q] : L[N - 1 - q])
  members.sort((x, y) => x - y)
  let partial = 0n
  for (const i of members) partial += m64[i] * pS
  if (partial <= f) {
    for (const i of members) whole[i] = 1
    return [0n, 0n]
  }
  const u = members.map((i) => (m64[i] * pS * f) / partial)
  let rest = f
  for (const x of u) rest -= x
  for (let q = 0; rest > 0n; q = (q + 1) % members.length) {
    if (u[q] < m64[members[q]] * pS) {
      u[q] += 1n
      rest -= 1n
    }
  }
  let soldSum = 0n
  let boughtSum = 0n
  for (let q = 0; q < members.length; q++) {
    const i = members[q]
    let s0 = u[q] / pS
    const ms = m64[i]
    if (s0 > ms) s0 = ms
    const s = s0
    const b = (s * pS) / pB
    // Rounding would break the signed ratio (rule 2): the caller takes the general fill instead.
    if (s > 0n && b > 0n && !keepsSignedRatio(c.sell64[i], c.buy64[i], s, b, feeOf(s, c.feeBps)))
      c.ratioBroken = true
    if (s > 0n && b > 0n) {
      c.soldW[i] = s
      if (c.boughtBig === null) c.boughtW[i] = b
      else c.boughtBig[i] = b
      soldSum += s
      boughtSum += b
      c.filled++
    }
  }
  return [soldSum, boughtSum]
}

/**
 * P/Q as R = ⌈P·2¹³²/Q⌉ in nine 22-bit limbs (low first), for ⌊s·P/Q⌋ without bigints
 * (`mulRatioInto`); null when Q > 2⁶⁸ or R ≥ 2¹⁹⁸ (the caller takes bigints).
 *
 * Exact: with s < 2⁶⁴, e = s·R/2¹³² = s·P/Q + ε, 0 ≤ ε < s/2¹³² < 2⁻⁶⁸. An integer m with
 * s·P/Q < m ≤ e would give 1/Q ≤ (m·Q − s·P)/Q = m − s·P/Q ≤ ε < 2⁻⁶⁸, impossible for Q ≤ 2⁶⁸; so
 * ⌊e⌋ = ⌊s·P/Q⌋ (rounding R up is what makes an exact integer s·P/Q come out exact).
 */
export function ratioLimbs(P: bigint, Q: bigint): Float64Array | null {
  if (P <= 0n || Q <= 0n || Q > 1n << 68n) return null
  const R = ((P << 132n) + Q - 1n) / Q
  if (R >= 1n << 198n) return null
  const r = new Float64Array(9)
  for (let k = 0; k < 9; k++) r[k] = Number((R >> BigInt(22 * k)) & 0x3fffffn)
  return r
}

/**
 * ⌊s·R/2¹³²⌋ for s = hi·2³² + lo and R from `ratioLimbs`, written as two 32-bit words at out[at +
 * LO], out[at + HI]: 1 when it is positive and below 2⁶⁴, 0 when it is 0 (nothing written), −1 when
 * it is 2⁶⁴ or more (nothing written). Limbs: s in 22, 22 and 20 bits; every column sum of the product
 * is below 3·2⁴⁴ and every carry below 2²⁵, exact in a double.
 */
export function mulRatioInto(lo: number, hi: number, r: Float64Array, out: Uint32Array, at: number): number {
  const s0 = lo & M22
  const s1 = (lo >>> 22) | ((hi & 0xfff) << 10)
  const s2 = hi >>> 12
  // Columns 0–5 are the fraction (2¹³² = 2^(22·6)): only their carry is kept.
  let x = s0 * r[0]
  let carry = Math.floor(x * INV22)
  x = s0 * r[1] + s1 * r[0] + carry
  carry = Math.floor(x * INV22)
  x = s0 * r[2] + s1 * r[1] + s2 * r[0] + carry
  carry = Math.floor(x * INV22)
  x = s0 * r[3] + s1 * r[2] + s2 * r[1] + carry
  carry = Math.floor(x * INV22)
  x = s0 * r[4] + s1 * r[3] + s2 * r[2] + carry
  carry = Math.floor(x * INV22)
  x = s0 * r[5] + s1 * r[4] + s2 * r[3] + carry
  carry = Math.floor(x * INV22)
  x = s0 * r[6] + s1 * r[5] + s2 * r[4] + carry
  carry = Math.floor(x * INV22)
  const l6 = x - carry * P22
  x = s0 * r[7] + s1 * r[6] + s2 * r[5] + carry
  carry = Math.floor(x * INV22)
  const l7 = x - carry * P22
  x = s0 * r[8] + s1 * r[7] + s2 * r[6] + carry
  carry = Math.floor(x * INV22)
  const l8 = x - carry * P22
  // Bits 66 and up of the quotient: columns 9 and 10 and the last carry.
  if (carry + s1 * r[8] + s2 * r[7] + s2 * r[8] !== 0 || l8 >= 1048576) return -1
  if (l6 === 0 && l7 === 0 && l8 === 0) return 0
  out[at + LO] = (l6 | ((l7 & 0x3ff) << 22)) >>> 0
  out[at + HI] = ((l7 >>> 10) | (l8 << 12)) >>> 0
  return 1
}

/** ⌈sold·f/10⁴⌉ per order (below sold, so 64-bit). */
function feesOf(sold: BigUint64Array, feeBps: bigint): BigUint64Array {
  const fee = new BigUint64Array(sold.length)
  const s32 = words(sold)
  for (let i = 0; i < sold.length; i++)
    if ((s32[2 * i] | s32[2 * i + 1]) !== 0) fee[i] = feeOf(sold[i], feeBps)
  return fee
}

function bigintsOrZeros(c: BigUint64Array | null, n: number): bigint[] {
  return c === null ? new Array<bigint>(n).fill(0n) : Array.from(c)
}

/** The price choice's result: the sides sorted with tie flags, maxSold prefix sums (words in float limbs). */
interface NarrowChoice {
  prices: bigint[]
  S: Int32Array
  B: Int32Array
  tieS: Uint8Array
  tieB: Uint8Array
  blkS: Blocks
  blkB: Blocks
}

/**
 * `choosePairPrice` on columns (a function of its own so that its temporaries — float keys, sort
 * buffers, sorted floats — are garbage before the fills allocate their output). Null: no trade.
 */
function choosePriceNarrow(
  P: Prepared,
  base: number,
  quote: number,
  prev: Ratio | undefined,
  m32: Uint32Array,
): NarrowChoice | null {
  const n = P.size
  const sell64 = P.sell64
  const buy64 = P.buy64
  const s32 = words(sell64)
  const b32 = words(buy64)
  // Sides: sellers sell base for quote, buyers sell quote for base (ascending index); maxSold 0 is out.
  const sell = P.sell
  let ns = 0
  let nb = 0
  for (let i = 0; i < n; i++) {
    if (m32[2 * i] === 0 && m32[2 * i + 1] === 0) continue
    if (sell[i] === base) ns++
    else nb++
  }
  if (ns === 0 || nb === 0) return null
  const fb = BPS + P.feeBps
  const noFee = P.feeBps === 0n
  const PREV = n
  const hasPrev = prev !== undefined
  const fbF = Number(fb)
  const bpsF = Number(BPS)
  // Float limits (p[base]/p[quote], fee included), in side order: hints within 2⁻⁵⁰ relative. The
  // amounts' floats from their words (hi·2³² + lo = Number(amount), as Prepared.sellF).
  const sIdx = new Int32Array(ns)
  const bIdx = new Int32Array(nb)
  const valS = new Float64Array(ns)
  const valB = new Float64Array(nb)
  {
    let x = 0
    let y = 0
    for (let i = 0; i < n; i++) {
      if (m32[2 * i] === 0 && m32[2 * i + 1] === 0) continue
      const sf = s32[2 * i + HI] * TWO32 + s32[2 * i + LO]
      const bf = b32[2 * i + HI] * TWO32 + b32[2 * i + LO]
      if (sell[i] === base) {
        sIdx[x] = i
        valS[x++] = (bf * fbF) / (sf * bpsF)
      } else {
        bIdx[y] = i
        valB[y++] = (sf * bpsF) / (bf * fbF)
      }
    }
  }
  const fPrev = prev === undefined ? 0 : Number(prev.num) / Number(prev.den)
  // Sellers' limit buy/sell, buyers' sell/buy (fee factors cancel within a side).
  const sortedS = sortSide(sIdx, valS, b32, s32)
  const sortedB = sortSide(bIdx, valB, s32, b32)
  const S = sortedS.order
  const fS = sortedS.sorted
  const fB = sortedB.sorted
  const B = sortedB.order
  const tieS = sortedS.tie
  const tieB = sortedB.tie
  // Exact limits for comparisons across sides (and with the previous price): bigints on near-ties only.
  const numOf = (i: number): bigint => {
    if (i === PREV) return (prev as Ratio).num
    if (noFee) return P.sell[i] === base ? buy64[i] : sell64[i]
    return P.sell[i] === base ? buy64[i] * fb : sell64[i] * BPS
  }
  const denOf = (i: number): bigint => {
    if (i === PREV) return (prev as Ratio).den
    if (noFee) return P.sell[i] === base ? sell64[i] : buy64[i]
    return P.sell[i] === base ? sell64[i] * BPS : buy64[i] * fb
  }
  // Exact comparison of limits i and j (bigints), for near-ties only: the callers compare the floats
  // first (relative margin 2⁻⁴⁰), inline, since doubles passed to a call are boxed.
  const exact = (i: number, j: number) => {
    const l = numOf(i) * denOf(j)
    const r = numOf(j) * denOf(i)
    return l < r ? -1 : l > r ? 1 : 0
  }
  // Exact sums of maxSold in two float limbs (exact below 2²¹ terms): block prefix sums for the fills,
  // running sums in the merge below.
  const blkS = blocksOf(S, m32)
  const blkB = blocksOf(B, m32)
  const wS = blkS.w
  const wB = blkB.w
  const totBA = blkB.totLo
  const totBH = blkB.totHi
  // Distinct candidate prices in ascending order (as choosePairPrice), streamed once with no candidate
  // arrays: the float volume V = min(S, D/r) of each (S: base the sellers supply, D: quote the buyers
  // sell; ks = #sellers with limit ≤ r, kb = first buyer with limit ≥ r); the candidates within 10⁻⁶
  // of the best so far are kept with their sums (pruned whenever the best rises, so few are kept), and
  // the exact tie-break chain runs over those within 10⁻⁶ of the final best. After each such candidate,
  // the balance point of the gap up to the next one (where S = D; README "Single pair") is a candidate
  // too; the next one's buyers' sum is recorded for it when the next one is reached.
  const big = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) + BigInt(lo)
  // Kept candidates: v, vol, seller sum (lo, hi), buyer sum (lo, hi); then the next candidate's v and
  // buyer sum (lo, hi), or v = −1 when it has none.
  const REC = 9
  let kept: number[] = []
  let best = 0
  let lastKept = false
  {
    let x = 0
    let y = 0
    let prevDone = !hasPrev
    let sa = 0 // Σ words of S[0..x): low and high limbs
    let sh = 0
    let ba = 0 // Σ words of B[0..y)
    let bh = 0
    while (x < ns || y < nb || !prevDone) {
      let v = -1
      let fv = 0
      if (x < ns) {
        v = S[x]
        fv = fS[x]
      }
      if (y < nb) {
        const f = fB[y]
        if (v < 0 || f < fv * LO_M || (f <= fv * HI_M && exact(B[y], v) < 0)) {
          v = B[y]
          fv = f
        }
      }
      if (!prevDone && (v < 0 || fPrev < fv * LO_M || (fPrev <= fv * HI_M && exact(PREV, v) < 0))) {
        v = PREV
        fv = fPrev
      }
      // Buyers B[y..nb) (limit ≥ v) are eligible at v: their sum is the total less B[0..y).
      const qa = totBA - ba
      const qh = totBH - bh
      if (lastKept) {
        const r = kept.length - REC
        kept[r + 6] = v
        kept[r + 7] = qa
        kept[r + 8] = qh
        lastKept = false
      }
      // v is the least head, so a head ≤ v equals v; its equal run follows from the tie flags.
      if (x < ns && (S[x] === v || (fS[x] <= fv * HI_M && exact(S[x], v) === 0))) {
        do {
          sa += wS[2 * x]
          sh += wS[2 * x + 1]
          x++
        } while (x < ns && tieS[x] === 1)
      }
      if (y < nb && (B[y] === v || (fB[y] <= fv * HI_M && exact(B[y], v) === 0))) {
        do {
          ba += wB[2 * y]
          bh += wB[2 * y + 1]
          y++
        } while (y < nb && tieB[y] === 1)
      }
      if (!prevDone && (v === PREV || (fPrev <= fv * HI_M && exact(PREV, v) === 0))) prevDone = true
      const vol = Math.min(sh * TWO32 + sa, (qh * TWO32 + qa) / fv)
      if (vol < best * (1 - 1e-6)) continue
      if (vol > best) {
        best = vol
        // Drop the kept candidates below the new floor.
        const floor = best * (1 - 1e-6)
        const k2: number[] = []
        for (let r = 0; r < kept.length; r += REC)
          if (kept[r + 1] >= floor) for (let q = 0; q < REC; q++) k2.push(kept[r + q])
        kept = k2
      }
      kept.push(v, vol, sa, sh, qa, qh, -1, 0, 0)
      lastKept = true
    }
  }
  if (!(best > 0)) return null
  const floor = best * (1 - 1e-6)
  const choice = new PairPriceChoice(hasPrev ? prev : undefined)
  const consider = (cn: bigint, cd: bigint, eaS: bigint, eqB: bigint) => {
    const sn = eaS * cn
    const dn = eqB * cd
    // biome-ignore lint/complexity/useMathMinMax: bigint operands (Math.min would convert them)
    choice.offer(cn, cd, sn < dn ? sn : dn, sn > dn ? sn - dn : dn - sn)
  }
  for (let r = 0; r < kept.length; r += REC) {
    if (kept[r + 1] < floor) continue
    const v = kept[r]
    const eaS = big(kept[r + 2], kept[r + 3])
    const cn = numOf(v)
    const cd = denOf(v)
    consider(cn, cd, eaS, big(kept[r + 4], kept[r + 5]))
    const next = kept[r + 6]
    if (next < 0) continue
    // The gap (v, next): S = eaS and D = eqB / r meet at r = eqB / eaS.
    const eqB = big(kept[r + 7], kept[r + 8])
    const nn = numOf(next)
    const nd = denOf(next)
    let bn = eqB
    let bd = eaS
    if (bn === 0n && bd === 0n) {
      bn = cn * nd + nn * cd
      bd = 2n * cd * nd
    }
    if (bn > 0n && bd > 0n && bn * cd > cn * bd && bn * nd < nn * bd) {
      const g = gcd(bn, bd)
      consider(bn / g, bd / g, eaS, eqB)
    }
  }
  if (!choice.found || choice.vn === 0n) return null
  const g0 = gcd(choice.num, choice.den)
  const prices: bigint[] = [0n, 0n]
  ;[prices[base], prices[quote]] = capPrices(
    [choice.num / g0, choice.den / g0],
    [P.maxPrice[base], P.maxPrice[quote]],
  )
  return { prices, S, B, tieS, tieB, blkS, blkB }
}
