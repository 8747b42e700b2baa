import { BPS } from '@allot/protocol'
import type { Amounts } from './fill.js'
import type { Prepared } from './prepare.js'
import { compareRatioExact, gcd, type RatioKeys, sortByRatioWithTies } from './ratio.js'

/**
 * Fills as 64-bit columns (the narrow single-pair path's output when every amount fits): no bigint per
 * order. `fee` is null when the fee is 0; `filled` counts the orders with sold > 0.
 */
export interface FillColumns {
  sold: BigUint64Array
  bought: BigUint64Array
  fee: BigUint64Array | null
  filled: number
}

/** What a single-pair path returns: bigint arrays, or the same amounts as columns. */
export type PairFills = Amounts | FillColumns

export function isFillColumns(a: PairFills): a is FillColumns {
  return a.sold instanceof BigUint64Array
}

/** The amounts as bigint arrays (zeros included), as every other path returns them. */
export function amountsOf(a: PairFills): Amounts {
  if (!isFillColumns(a)) return a
  const n = a.sold.length
  return {
    sold: Array.from(a.sold),
    bought: Array.from(a.bought),
    fee: a.fee === null ? new Array<bigint>(n).fill(0n) : Array.from(a.fee),
  }
}

/** A price ratio p[base] / p[quote] = num / den (quote units per base unit), reduced. */
export interface Ratio {
  num: bigint
  den: bigint
}

/** Filled by choosePairPrice on request: both sides sorted by ascending limit (ties: ascending index). */
export interface PairSides {
  S?: Uint32Array
  B?: Uint32Array
  /** Limits as ratios p[base]/p[quote] (fee included), for exact comparisons. */
  keys?: RatioKeys
  /** tieS[p] = 1 when S[p] has the same limit as S[p − 1]; likewise tieB. */
  tieS?: Uint8Array
  tieB?: Uint8Array
  /** At the chosen price: eligible sellers S[0..ks), buyers B[kb..), and the sums of their sell-kind maxSold. */
  ks?: number
  kb?: number
  sumS?: bigint
  sumB?: bigint
}

/**
 * Single-pair uniform price (README "Single pair"): among the candidate prices — every order's limit
 * (fee included) and the previous price — the one that maximises the traded volume in base units
 * V(r) = min(S(r), D(r)), S the base the eligible base sellers supply, D the base the eligible base
 * buyers demand; ties: least |S − D|, then nearest the previous price, then the lowest price.
 * Between two consecutive limits S and D are of the form a + c/r, both non-increasing in r, so the
 * maximum over all prices is attained at a limit: the candidate set is exhaustive.
 * Buy-kind orders count with their full buyAmount, sell-kind ones with their funded maxSold.
 * A float pass prunes candidates whose approximate volume is below (1 − 10⁻⁶) of the best
 * (the float error is below 10⁻⁹ relative, so no optimum is pruned); the rest is decided exactly.
 */
export function choosePairPrice(
  P: Prepared,
  orders: readonly number[],
  base: number,
  quote: number,
  prev?: Ratio,
  sorted?: PairSides,
): Ratio | null {
  const fb = BPS + P.feeBps
  const sellersIdx: number[] = [] // sell base for quote: eligible when r ≥ buyAmount·(1+f) / sellAmount
  const buyersIdx: number[] = [] // sell quote for base: eligible when r ≤ sellAmount / (buyAmount·(1+f))
  for (const i of orders) {
    if (P.maxSold[i] === 0n) continue
    if (P.sell[i] === base && P.buy[i] === quote) sellersIdx.push(i)
    else if (P.sell[i] === quote && P.buy[i] === base) buyersIdx.push(i)
  }
  if (sellersIdx.length === 0 || buyersIdx.length === 0) return null
  const n = P.orders.length
  const PREV = n // index of the previous-price candidate
  const hasPrev = prev !== undefined && prev.num > 0n && prev.den > 0n
  const approx = new Float64Array(n + 1)
  const fbF = Number(fb)
  const bpsF = Number(BPS)
  for (const i of sellersIdx) approx[i] = (P.buyF[i] * fbF) / (P.sellF[i] * bpsF)
  for (const i of buyersIdx) approx[i] = (P.sellF[i] * bpsF) / (P.buyF[i] * fbF)
  if (hasPrev) approx[PREV] = Number(prev.num) / Number(prev.den)
  // Limits as num/den (p[base]/p[quote]); without a fee the common factor 10⁴ is left out (same order,
  // no bigint allocated per comparison).
  const noFee = P.feeBps === 0n
  const num = (i: number): bigint => {
    if (i === PREV) return (prev as Ratio).num
    const o = P.orders[i]
    if (noFee) return P.sell[i] === base ? o.buyAmount : o.sellAmount
    return P.sell[i] === base ? o.buyAmount * fb : o.sellAmount * BPS
  }
  const den = (i: number): bigint => {
    if (i === PREV) return (prev as Ratio).den
    const o = P.orders[i]
    if (noFee) return P.sell[i] === base ? o.sellAmount : o.buyAmount
    return P.sell[i] === base ? o.sellAmount * BPS : o.buyAmount * fb
  }
  const keys: RatioKeys = { num, den, approx, rank: (i) => i }
  const sortedS = sortByRatioWithTies(keys, sellersIdx) // ascending limit
  const sortedB = sortByRatioWithTies(keys, buyersIdx) // ascending limit
  const S = sortedS.order
  const B = sortedB.order
  const tieS = sortedS.tie
  const tieB = sortedB.tie
  if (sorted !== undefined) {
    sorted.S = S
    sorted.B = B
    sorted.keys = keys
    sorted.tieS = tieS
    sorted.tieB = tieB
  }
  const ns = S.length
  const nb = B.length
  // Float fast path of the exact comparison (ratio.ts margin), inlined: this loop runs once per order.
  const hiM = 1 + 2 ** -40
  const loM = 1 - 2 ** -40
  const cmp = (i: number, j: number) => {
    const a = approx[i]
    const b = approx[j]
    if (a < b * loM) return -1
    if (a > b * hiM) return 1
    return compareRatioExact(keys, i, j)
  }
  // Distinct candidate prices in ascending order; for each, ks = #sellers with limit ≤ r and
  // kb = first buyer with limit ≥ r.
  const cand = new Int32Array(ns + nb + 1)
  const candKs = new Int32Array(ns + nb + 1)
  const candKb = new Int32Array(ns + nb + 1)
  let C = 0
  {
    let x = 0
    let y = 0
    let prevDone = !hasPrev
    while (x < ns || y < nb || !prevDone) {
      let v = -1
      if (x < ns) v = S[x]
      if (y < nb && (v < 0 || cmp(B[y], v) < 0)) v = B[y]
      if (!prevDone && (v < 0 || cmp(PREV, v) < 0)) v = PREV
      const kb = y
      // v is the least head, so a head ≤ v equals v; its equal run follows from the tie flags.
      if (x < ns && (S[x] === v || cmp(S[x], v) === 0)) {
        x++
        while (x < ns && tieS[x] === 1) x++
      }
      if (y < nb && (B[y] === v || cmp(B[y], v) === 0)) {
        y++
        while (y < nb && tieB[y] === 1) y++
      }
      if (!prevDone && cmp(PREV, v) === 0) prevDone = true
      cand[C] = v
      candKs[C] = x
      candKb[C] = kb
      C++
    }
  }
  // Contributions: seller sell-kind → base (aS); seller buy-kind → quote (qS), base = q/r.
  // Buyer sell-kind → quote (qB), base = q/r; buyer buy-kind → base (aB).
  const aS = new Float64Array(ns + 1)
  const qS = new Float64Array(ns + 1)
  for (let k = 0; k < ns; k++) {
    const i = S[k]
    const sellKind = P.buyKind[i] === 0
    aS[k + 1] = aS[k] + (sellKind ? Number(P.maxSold[i]) : 0)
    qS[k + 1] = qS[k] + (sellKind ? 0 : P.buyF[i])
  }
  const aB = new Float64Array(nb + 1)
  const qB = new Float64Array(nb + 1)
  for (let k = nb - 1; k >= 0; k--) {
    const i = B[k]
    const sellKind = P.buyKind[i] === 0
    aB[k] = aB[k + 1] + (sellKind ? 0 : P.buyF[i])
    qB[k] = qB[k + 1] + (sellKind ? Number(P.maxSold[i]) : 0)
  }
  const vol = new Float64Array(C)
  let best = 0
  for (let c = 0; c < C; c++) {
    const f = approx[cand[c]]
    const a = candKs[c]
    const b = candKb[c]
    const s = aS[a] + qS[a] / f
    const d = aB[b] + qB[b] / f
    const v = Math.min(s, d)
    vol[c] = v
    if (v > best) best = v
  }
  if (!(best > 0)) return null
  const floor = best * (1 - 1e-6)
  // Exact pass over the survivors (few in practice): sellers' prefix sums and buyers' suffix sums,
  // started at the first survivor and moved between survivors, so bigint work is about one addition
  // per order eligible there. After each surviving limit c, the balance point of the open gap up to
  // the next limit (where S = D; README "Single pair") is a candidate too: the least imbalance may
  // lie inside a gap, and only there can both sides fill whole (fill-or-kill orders that match).
  let eaS = 0n
  let eqS = 0n
  let pa = 0
  let eaB = 0n // buyers B[pb..nb): buy kind (base)
  let eqB = 0n // buyers B[pb..nb): sell kind (quote)
  let pb = -1
  const choice = new PairPriceChoice(hasPrev ? prev : undefined)
  let wKs = 0
  let wKb = 0
  let wSumS = 0n
  let wSumB = 0n
  const moveTo = (ks: number, kb: number) => {
    while (pa < ks) {
      const i = S[pa++]
      if (P.buyKind[i] === 0) eaS += P.maxSold[i]
      else eqS += P.orders[i].buyAmount
    }
    if (pb < 0) {
      pb = kb
      for (let k = pb; k < nb; k++) {
        const i = B[k]
        if (P.buyKind[i] === 0) eqB += P.maxSold[i]
        else eaB += P.orders[i].buyAmount
      }
    }
    while (pb < kb) {
      const i = B[pb++]
      if (P.buyKind[i] === 0) eqB -= P.maxSold[i]
      else eaB -= P.orders[i].buyAmount
    }
  }
  // Candidate r = cn/cd with sellers S[0..ks) and buyers B[kb..) eligible (the sums moved there).
  const consider = (cn: bigint, cd: bigint, ks: number, kb: number) => {
    // Everything times num (r = num/den): S·num = aS·num + qS·den.
    const sn = eaS * cn + eqS * cd
    const dn = eaB * cn + eqB * cd
    // biome-ignore lint/complexity/useMathMinMax: bigint operands (Math.min would convert them)
    const vn = sn < dn ? sn : dn
    if (!choice.offer(cn, cd, vn, sn > dn ? sn - dn : dn - sn)) return
    wKs = ks
    wKb = kb
    wSumS = eaS
    wSumB = eqB
  }
  for (let c = 0; c < C; c++) {
    if (vol[c] < floor) continue
    moveTo(candKs[c], candKb[c])
    const cn = num(cand[c])
    const cd = den(cand[c])
    consider(cn, cd, candKs[c], candKb[c])
    // The gap (cand[c], cand[c + 1]): V there is at most V(cand[c]) (the same sellers, fewer buyers, both
    // sides non-increasing in r), so it is looked at only when cand[c] survived the float pass.
    if (c + 1 >= C) continue
    const kb = candKb[c + 1]
    moveTo(candKs[c], kb)
    const nn = num(cand[c + 1])
    const nd = den(cand[c + 1])
    // S(r) = aS + qS/r and D(r) = aB + qB/r meet at r = (qB − qS) / (aS − aB).
    let bn = eqB - eqS
    let bd = eaS - eaB
    if (bn === 0n && bd === 0n) {
      // S ≡ D on the whole gap: its midpoint stands for it.
      bn = cn * nd + nn * cd
      bd = 2n * cd * nd
    } else if (bd < 0n) {
      bn = -bn
      bd = -bd
    }
    if (bn <= 0n || bd <= 0n) continue
    // Strictly inside the gap (an endpoint is a candidate already).
    if (bn * cd <= cn * bd || bn * nd >= nn * bd) continue
    const g = gcd(bn, bd)
    consider(bn / g, bd / g, candKs[c], kb)
  }
  if (!choice.found || choice.vn === 0n) return null
  if (sorted !== undefined) {
    sorted.ks = wKs
    sorted.kb = wKb
    sorted.sumS = wSumS
    sorted.sumB = wSumB
  }
  const g = gcd(choice.num, choice.den)
  return { num: choice.num / g, den: choice.den / g }
}

/**
 * The best of a single pair's candidate prices r = num/den by the strict order of README "Single pair":
 * the larger traded volume, then the smaller imbalance, then nearer the previous price, then the lower
 * price — strict, so the order in which candidates are offered does not matter. Volume and imbalance
 * come times num (V·num, |S − D|·num), as the sums at r give them.
 */
export class PairPriceChoice {
  found = false
  num = 0n
  den = 1n
  /** V·num of the best. */
  vn = 0n
  private imb = 0n
  private dist = 0n

  constructor(private readonly prev: Ratio | undefined) {}

  /** Offers r = cn/cd with V·cn = vn and |S − D|·cn = imb; true when it is the best so far. */
  offer(cn: bigint, cd: bigint, vn: bigint, imb: bigint): boolean {
    let dist = 0n
    const prev = this.prev
    if (prev !== undefined) {
      const d = cn * prev.den - prev.num * cd
      dist = d < 0n ? -d : d
    }
    if (this.found) {
      const l = vn * this.num
      const r = this.vn * cn
      if (l < r) return false
      if (l === r) {
        const li = imb * this.num
        const ri = this.imb * cn
        if (li > ri) return false
        if (li === ri) {
          // |r − prev| = dist / (den · prev.den)
          const ld = dist * this.den
          const rd = this.dist * cd
          if (ld > rd || (ld === rd && cn * this.den >= this.num * cd)) return false
        }
      }
    }
    this.found = true
    this.num = cn
    this.den = cd
    this.vn = vn
    this.imb = imb
    this.dist = dist
    return true
  }
}

/**
 * What both single-pair fast paths start from: the orientation of `initialPrices` (base is the
 * non-numeraire asset, else asset 0), the previous batch's price as a ratio when it has one for both
 * assets, and the result of a pair that does not trade.
 */
export function pairSetup(
  P: Prepared,
  previous?: Record<string, bigint>,
): {
  base: number
  quote: number
  prev: Ratio | undefined
  none: () => { prices: bigint[]; amounts: Amounts }
} {
  const n = P.size
  const base = P.assets.indexOf(P.numeraire) === 0 ? 1 : 0
  const quote = 1 - base
  const pb = previous?.[P.assets[base]]
  const pq = previous?.[P.assets[quote]]
  const prev = pb !== undefined && pq !== undefined && pb > 0n && pq > 0n ? { num: pb, den: pq } : undefined
  const none = () => ({
    prices: [0n, 0n],
    amounts: { sold: new Array(n).fill(0n), bought: new Array(n).fill(0n), fee: new Array(n).fill(0n) },
  })
  return { base, quote, prev, none }
}
