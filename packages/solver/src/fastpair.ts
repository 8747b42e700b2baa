import { feeOf } from '@allot/protocol'
import { type Amounts, eligible, fillAtPrices, repairDeficits } from './fill.js'
import { choosePairPrice, type PairFills, type PairSides, pairSetup } from './pair.js'
import { solvePairNarrow } from './pairnarrow.js'
import type { Prepared } from './prepare.js'
import { capPrices } from './ratio.js'
import { keepsSignedRatio } from './signed-ratio.js'

/** Sums of 64-bit words in two float limbs stay exact below 2²¹ terms (2³² · 2²¹ = 2⁵³). */
const NARROW_MAX_ORDERS = 1 << 21

/**
 * Whether the single-pair fast path applies: two assets, every order sell-kind and partially
 * fillable (the common case of a market; anything else takes the general path).
 */
export function fastPairApplies(P: Prepared): boolean {
  return P.assets.length === 2 && P.allSellPartial
}

/**
 * Single pair, same outcome as `initialPrices` + `fillAtPrices` (the general path) without its
 * per-order work: the price is chosen on the sides sorted once (pair.ts), the eligible orders are a
 * prefix (sellers, ascending limit) and a suffix (buyers) of those sorted sides, found by binary
 * search with the exact limit check; the short side fills whole, the long side by price priority
 * with the marginal group of equal limits pro rata (⌊cap·F/Σcap⌋, remainder units one each by
 * ascending index); rounding and the deficit repair are the general ones. Bigint work is one
 * addition per eligible order plus the output amounts; `fastpair.test.ts` checks it equals the
 * general path.
 */
export function solvePairFast(
  P: Prepared,
  previous?: Record<string, bigint>,
): { prices: bigint[]; amounts: PairFills } {
  if (P.narrow && P.size < NARROW_MAX_ORDERS) return solvePairNarrow(P, previous)
  return solvePairWide(P, previous)
}

/** The fast path with bigint sums throughout (amounts of 2⁶⁴ or more). */
export function solvePairWide(
  P: Prepared,
  previous?: Record<string, bigint>,
): { prices: bigint[]; amounts: Amounts } {
  const n = P.orders.length
  const { base, quote, prev, none: zero } = pairSetup(P, previous)
  const all: number[] = new Array(n)
  for (let i = 0; i < n; i++) all[i] = i
  const sides: PairSides = {}
  const r = choosePairPrice(P, all, base, quote, prev, sides)
  if (r === null) return zero()
  const S = sides.S as Uint32Array
  const B = sides.B as Uint32Array
  const prices: bigint[] = [0n, 0n]
  ;[prices[base], prices[quote]] = capPrices([r.num, r.den], [P.maxPrice[base], P.maxPrice[quote]])
  // Sellers (ascending limit) eligible: a prefix; buyers (ascending limit) eligible: a suffix.
  let lo = 0
  let hi = S.length
  while (lo < hi) {
    const m = (lo + hi) >> 1
    if (eligible(P, S[m], prices)) lo = m + 1
    else hi = m
  }
  const ks = lo
  lo = 0
  hi = B.length
  while (lo < hi) {
    const m = (lo + hi) >> 1
    if (eligible(P, B[m], prices)) hi = m
    else lo = m + 1
  }
  const kb = lo
  // Best first: sellers S[0..ks) in order, buyers B[kb..) reversed.
  const sellers = S.subarray(0, ks)
  const buyers = B.slice(kb).reverse()
  let sumS = 0n
  let sumB = 0n
  if (sides.ks === ks && sides.kb === kb) {
    // The price choice summed exactly these orders already.
    sumS = sides.sumS as bigint
    sumB = sides.sumB as bigint
  } else {
    for (let k = 0; k < sellers.length; k++) sumS += P.maxSold[sellers[k]]
    for (let k = 0; k < buyers.length; k++) sumB += P.maxSold[buyers[k]]
  }
  const vS = sumS * prices[base]
  const vB = sumB * prices[quote]
  const F = vS < vB ? vS : vB
  const sold: bigint[] = new Array(n).fill(0n)
  const bought: bigint[] = new Array(n).fill(0n)
  if (F === 0n) return zero()
  // Equal limits from the sort's tie flags: sellers in S order; buyers reversed (tie with the next in B).
  const tieS = sides.tieS as Uint8Array
  const tieB = sides.tieB as Uint8Array
  const nbE = buyers.length
  const sameS = (q: number) => tieS[q + 1] === 1 // sellers[q] and sellers[q + 1]
  const sameB = (q: number) => tieB[kb + nbE - 1 - q] === 1 // buyers[q] and buyers[q + 1]
  const fillSide = (list: ArrayLike<number>, pS: bigint, pB: bigint, same: (q: number) => boolean) => {
    // Orders whole while the cumulative cap stays within F: cum·pS ≤ F ⇔ cum ≤ ⌊F/pS⌋.
    const lim = F / pS
    let cum = 0n
    let k = 0
    for (; k < list.length; k++) {
      const next = cum + P.maxSold[list[k]]
      if (next > lim) break
      cum = next
    }
    if (k === list.length) {
      for (let q = 0; q < list.length; q++) setWhole(list[q], pS, pB)
      return
    }
    // Marginal group: the orders of equal limit around list[k].
    let g = k
    while (g > 0 && same(g - 1)) g--
    let h = k + 1
    while (h < list.length && same(h - 1)) h++
    for (let q = 0; q < g; q++) setWhole(list[q], pS, pB)
    let groupCum = 0n
    for (let q = 0; q < g; q++) groupCum += P.maxSold[list[q]]
    const f = F - groupCum * pS
    const members = Array.from(list)
      .slice(g, h)
      .sort((x, y) => x - y)
    let partial = 0n
    for (const i of members) partial += P.maxSold[i] * pS
    if (partial <= f) {
      // Cannot happen (k broke the cumulative bound), kept for safety: fill the group whole.
      for (const i of members) setWhole(i, pS, pB)
      return
    }
    const u = members.map((i) => (P.maxSold[i] * pS * f) / partial)
    let rest = f
    for (const x of u) rest -= x
    for (let q = 0; rest > 0n; q = (q + 1) % members.length) {
      if (u[q] < P.maxSold[members[q]] * pS) {
        u[q] += 1n
        rest -= 1n
      }
    }
    members.forEach((i, q) => {
      let s0 = u[q] / pS
      if (s0 > P.maxSold[i]) s0 = P.maxSold[i]
      set(i, s0, pS, pB)
    })
  }
  // Sold s0 unless rounding would break the signed ratio (rule 2): then the general fill at these prices
  // (fill.ts step 4) re-routes around the order, below.
  let ratioBroken = false
  const set = (i: number, s0: bigint, pS: bigint, pB: bigint) => {
    const o = P.orders[i]
    const s = s0
    const b = (s * pS) / pB
    if (s > 0n && b > 0n && !keepsSignedRatio(o.sellAmount, o.buyAmount, s, b, feeOf(s, P.feeBps)))
      ratioBroken = true
    if (s > 0n && b > 0n) {
      sold[i] = s
      bought[i] = b
    }
  }
  const setWhole = (i: number, pS: bigint, pB: bigint) => set(i, P.maxSold[i], pS, pB)
  fillSide(sellers, prices[base], prices[quote], sameS)
  fillSide(buyers, prices[quote], prices[base], sameB)
  if (ratioBroken) return { prices, amounts: fillAtPrices(P, prices) }
  // No rounding deficit (the usual case): the repair's first pass would find nothing to do.
  let totBase = 0n
  let totQuote = 0n
  for (let q = 0; q < sellers.length; q++) {
    totBase += sold[sellers[q]]
    totQuote -= bought[sellers[q]]
  }
  for (let q = 0; q < buyers.length; q++) {
    totQuote += sold[buyers[q]]
    totBase -= bought[buyers[q]]
  }
  const fee = P.feeBps === 0n ? new Array<bigint>(n).fill(0n) : sold.map((s) => feeOf(s, P.feeBps))
  if (totBase >= 0n && totQuote >= 0n) return { prices, amounts: { sold, bought, fee } }
  // Repair order: per side worst slack first, equal limits by ascending index.
  const worst: number[] = []
  // Within a group of equal limits, sellers are in ascending index (S order) and buyers in descending
  // index (B reversed), so no group needs sorting.
  const pushWorstFirst = (bestFirst: ArrayLike<number>, same: (q: number) => boolean, ascending: boolean) => {
    let h = bestFirst.length
    while (h > 0) {
      let g = h - 1
      while (g > 0 && same(g - 1)) g--
      if (ascending) for (let q = g; q < h; q++) worst.push(bestFirst[q])
      else for (let q = h - 1; q >= g; q--) worst.push(bestFirst[q])
      h = g
    }
  }
  pushWorstFirst(sellers, sameS, true)
  pushWorstFirst(buyers, sameB, false)
  repairDeficits(P, prices, sold, bought, worst)
  const repairedFee = P.feeBps === 0n ? fee : sold.map((s) => feeOf(s, P.feeBps))
  return { prices, amounts: { sold, bought, fee: repairedFee } }
}
