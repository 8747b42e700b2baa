import { BPS, feeOf } from '@allot/protocol'
import type { Prepared } from './prepare.js'
import { ceilDiv, compareRatio, type RatioKeys, sortByRatioWithTies } from './ratio.js'
import { buyFillKeepingRatio, keepsSignedRatio, sellFillKeepingRatio } from './signed-ratio.js'

/** Amounts of every prepared order at one price vector (zeros where an order does not trade). */
export interface Amounts {
  sold: bigint[]
  bought: bigint[]
  fee: bigint[]
}

/** Limit with fee, exactly as the settlement contract checks it (`priceRespectsLimit`). */
export function eligible(P: Prepared, i: number, prices: readonly bigint[]): boolean {
  const pS = prices[P.sell[i]]
  const pB = prices[P.buy[i]]
  if (pS <= 0n || pB <= 0n || P.maxSold[i] === 0n) return false
  const o = P.orders[i]
  return o.sellAmount * pS * BPS >= o.buyAmount * pB * (BPS + P.feeBps)
}

/**
 * What the fills need of a batch that does not depend on prices, built once per `Prepared` (a pure
 * memo: results never depend on whether it was built before). An arc is a (sell asset, buy asset)
 * pair with orders; within an arc every order sees the same prices, so its price priority (slack
 * `s·p[X] / (b·p[Y])`) is the order of its limit `s/b`, whatever the prices, and the orders eligible at
 * some prices are a prefix of that order.
 */
interface ArcTable {
  /** Arcs in ascending key `sell · A + buy` (a number: A² may pass 2³¹), their assets, and the reverse arc's index (−1: none). */
  key: number[]
  from: Int32Array
  to: Int32Array
  back: Int32Array
  /** Orders of arc e, `ord[start[e] .. start[e + 1])`: best limit first, ties by descending index. */
  start: Int32Array
  ord: Int32Array
  /** Per order: the position in `ord` of the first order of its run of exactly equal limits (−1: no arc). */
  run: Int32Array
  /** Per arc, the last two price pairs' eligible orders and caps (gains filled in when first needed). */
  slots: (ArcSlot | undefined)[]
  scratch?: Scratch
}

/** Eligible orders of one arc at prices (pX, pY), best first, with their caps and (lazily) gains. */
interface ArcSlot {
  pX: bigint
  pY: bigint
  elig: number[]
  cap: bigint[]
  /**
   * Gain of elig[k] at `gainBits` (NaN: not computed yet; null: none yet), and at the resolution used
   * before (the resolution follows the number of arcs, which often alternates between two values).
   */
  gain: Float64Array | null
  gainBits: number
  gainBefore: Float64Array | null
  gainBitsBefore: number
  /** Amounts of elig[k] filled whole (its cap), once computed (null: none yet). */
  wholeSold: (bigint | undefined)[] | null
  wholeBought: (bigint | undefined)[] | null
  /** The last partial fill: elig[partK] filled `partU` in value (−1: none yet), and its amounts. */
  partK: number
  partU: bigint
  partSold: bigint
  partBought: bigint
  /** The other slot of the same arc (two per arc: the search alternates between a vector and its neighbours). */
  next: ArcSlot | undefined
}

/** Work arrays of `fillAtPrices`, reused from one evaluation to the next (every entry read is written first). */
interface Scratch {
  /** Per order: value-unit fill and cap of this evaluation. */
  u: bigint[]
  cap: bigint[]
  /** Per asset: the price last converted to a float, and that float. */
  pLast: bigint[]
  pF: Float64Array
  /** Per table arc: its position among the arcs of this evaluation (−1: none). */
  posOf: Int32Array
  /** Per position: the arc's assets; per asset: its first outgoing position (`findCycle`). */
  fromOf: Int32Array
  toOf: Int32Array
  outStart: Int32Array
  color: Uint8Array
  viaArc: Int32Array
  stackNode: Int32Array
  stackNext: Int32Array
  head: Int32Array
  fwGain: Float64Array
  bwGain: Float64Array
  onArc: Uint8Array
  dist: Float64Array
  pred: Int32Array
  mark: Int32Array
}

function scratchOf(T: ArcTable, A: number, n: number): Scratch {
  if (T.scratch === undefined) {
    const m = T.key.length
    T.scratch = {
      u: new Array(n).fill(0n),
      cap: new Array(n).fill(0n),
      pLast: new Array(A).fill(-1n),
      pF: new Float64Array(A),
      posOf: new Int32Array(m),
      fromOf: new Int32Array(m),
      toOf: new Int32Array(m),
      outStart: new Int32Array(A + 1),
      color: new Uint8Array(A),
      viaArc: new Int32Array(A),
      stackNode: new Int32Array(A + 1),
      stackNext: new Int32Array(A + 1),
      head: new Int32Array(m),
      fwGain: new Float64Array(m),
      bwGain: new Float64Array(m),
      onArc: new Uint8Array(A),
      dist: new Float64Array(A),
      pred: new Int32Array(A),
      mark: new Int32Array(A),
    }
  }
  return T.scratch
}

const arcTables = new WeakMap<Prepared, ArcTable>()

function arcTableOf(P: Prepared): ArcTable {
  const cached = arcTables.get(P)
  if (cached !== undefined) return cached
  const n = P.orders.length
  const A = P.assets.length
  const maxSold = P.maxSold
  const byKey = new Map<number, number[]>()
  for (let i = 0; i < n; i++) {
    if (maxSold[i] === 0n) continue
    const k = P.sell[i] * A + P.buy[i]
    let l = byKey.get(k)
    if (l === undefined) byKey.set(k, (l = []))
    l.push(i)
  }
  const keys = [...byKey.keys()].sort((x, y) => x - y)
  const m = keys.length
  const sellF = P.sellF
  const buyF = P.buyF
  const approx = new Float64Array(n)
  for (let i = 0; i < n; i++) approx[i] = sellF[i] / buyF[i]
  const limit: RatioKeys = {
    num: (i) => P.orders[i].sellAmount,
    den: (i) => P.orders[i].buyAmount,
    approx,
    rank: (i) => i,
  }
  const t: ArcTable = {
    key: keys,
    from: new Int32Array(m),
    to: new Int32Array(m),
    back: new Int32Array(m).fill(-1),
    start: new Int32Array(m + 1),
    ord: new Int32Array(n),
    run: new Int32Array(n).fill(-1),
    slots: new Array(m).fill(undefined),
  }
  const indexOfKey = new Map<number, number>()
  let at = 0
  for (let e = 0; e < m; e++) {
    const k = keys[e]
    indexOfKey.set(k, e)
    t.from[e] = Math.floor(k / A)
    t.to[e] = k % A
    t.start[e] = at
    // Ascending limit, ties ascending index; read backwards: best first, ties descending index.
    const { order, tie } = sortByRatioWithTies(limit, byKey.get(k) as number[])
    const L = order.length
    for (let q = 0; q < L; q++) {
      const i = order[L - 1 - q]
      t.ord[at + q] = i
      t.run[i] = q > 0 && tie[L - q] === 1 ? t.run[t.ord[at + q - 1]] : at + q
    }
    at += L
  }
  t.start[m] = at
  for (let e = 0; e < m; e++) {
    const b = indexOfKey.get(t.to[e] * A + t.from[e])
    if (b !== undefined) t.back[e] = b
  }
  arcTables.set(P, t)
  return t
}

/**
 * Eligible orders of static arc e at prices (pX, pY), best first, and their caps (value units): from the
 * two-slot memo when these prices were seen last, else computed (and remembered unless `active` is given).
 */
function arcSlot(
  P: Prepared,
  T: ArcTable,
  e: number,
  pX: bigint,
  pY: bigint,
  pXF: number,
  pYF: number,
  active: ArrayLike<boolean> | undefined,
): ArcSlot {
  if (active === undefined) {
    const s0 = T.slots[e]
    if (s0 !== undefined) {
      if (s0.pX === pX && s0.pY === pY) return s0
      const s1 = s0.next
      if (s1 !== undefined && s1.pX === pX && s1.pY === pY) {
        // Most recent first.
        s0.next = undefined
        s1.next = s0
        T.slots[e] = s1
        return s1
      }
    }
  }
  const elig: number[] = []
  const caps: bigint[] = []
  const maxSold = P.maxSold
  const sellF = P.sellF
  const buyF = P.buyF
  const limitF = 1 + Number(P.feeBps) / 1e4
  for (let q = T.start[e]; q < T.start[e + 1]; q++) {
    const i = T.ord[q]
    if (active !== undefined && !active[i]) continue
    // Limits fall along the arc: the first order below its limit ends the eligible prefix. Floats
    // decide only where they provably agree with the exact comparison (ratio.ts).
    const slack = (sellF[i] * pXF) / (buyF[i] * pYF)
    if (slack < limitF * (1 - 2 ** -40)) break
    const o = P.orders[i]
    if (slack <= limitF * (1 + 2 ** -40) && o.sellAmount * pX * BPS < o.buyAmount * pY * (BPS + P.feeBps))
      break
    let c = maxSold[i] * pX
    if (P.buyKind[i] === 1) {
      const want = o.buyAmount * pY
      if (want < c) c = want
      else if (!o.partiallyFillable && want > c) c = 0n // cannot be funded in full at these prices
    }
    if (c <= 0n) continue
    elig.push(i)
    caps.push(c)
  }
  const slot: ArcSlot = {
    pX,
    pY,
    elig,
    cap: caps,
    gain: null,
    gainBits: -1,
    gainBefore: null,
    gainBitsBefore: -1,
    wholeSold: null,
    wholeBought: null,
    partK: -1,
    partU: 0n,
    partSold: 0n,
    partBought: 0n,
    next: undefined,
  }
  if (active === undefined) {
    const s0 = T.slots[e]
    if (s0 !== undefined) s0.next = undefined
    slot.next = s0
    T.slots[e] = slot
  }
  return slot
}

/**
 * Fills at fixed prices (README "Fills at given prices"). In value units (amount · price) a fill
 * sells and buys the same value, so fills are a circulation on the graph whose nodes are assets and
 * whose arcs are the eligible orders (capacity: what the order may sell, in value). We route
 * (1) every pair's two-way trade, then (2) any remaining cycle (rings) by its bottleneck, until
 * the residual graph is acyclic; each arc's flow then goes to its orders by price priority with
 * the marginal group pro rata. Amounts are rounded as the contract requires (never creating an
 * asset) and any rounding deficit is repaired by cutting buyers of the short asset.
 * `active[i] = false` keeps order i out.
 */
export function fillAtPrices(
  P: Prepared,
  prices: readonly bigint[],
  active?: ArrayLike<boolean>,
  /** Then raise the surplus of the routing to its maximum at these prices (README step 3b). */
  optimize = false,
): Amounts {
  const n = P.orders.length
  const A = P.assets.length
  const T = arcTableOf(P)
  const S = scratchOf(T, A, n)
  // Value-unit fills and caps: entries of eligible orders are written before they are read.
  const u = S.u
  const cap = S.cap
  const pF = S.pF
  for (let a = 0; a < A; a++) {
    if (prices[a] === S.pLast[a]) continue
    S.pLast[a] = prices[a]
    pF[a] = Number(prices[a])
  }
  // The arcs with eligible orders at these prices (ascending key) and their orders, best slack first.
  const arcs: number[] = []
  const slots: ArcSlot[] = []
  const posOf = S.posOf.fill(-1)
  for (let e = 0; e < T.key.length; e++) {
    const x = T.from[e]
    const y = T.to[e]
    const pX = prices[x]
    const pY = prices[y]
    if (pX <= 0n || pY <= 0n) continue
    const slot = arcSlot(P, T, e, pX, pY, pF[x], pF[y], active)
    if (slot.elig.length === 0) continue
    for (let k = 0; k < slot.elig.length; k++) cap[slot.elig[k]] = slot.cap[k]
    posOf[e] = arcs.length
    arcs.push(e)
    slots.push(slot)
  }
  const m = arcs.length
  const orders = P.orders
  // Orders whose rounded fill would break their signed ratio trade, from then on, the most that keeps it,
  // as if fill-or-kill of that amount (its cap, overwritten below; step 4).
  const fixed = new Uint8Array(n)
  const fok = (i: number) => !orders[i].partiallyFillable || fixed[i] === 1
  const out_ = new Uint8Array(n) // fill-or-kill orders taken out of the circulation
  // A fill-or-kill order whose whole fill at these prices breaks its signed ratio cannot trade: out first.
  for (const slot of slots)
    for (const i of slot.elig) if (fok(i) && !wholeKeepsRatio(P, prices, i)) out_[i] = 1
  const resid: bigint[] = new Array(m)
  const flow: bigint[] = new Array(m)
  // Positions' assets; the arcs leaving asset a are positions [outStart[a], outStart[a + 1]) (ascending keys).
  const fromOf = S.fromOf
  const toOf = S.toOf
  const outStart = S.outStart.fill(0)
  for (let r = 0; r < m; r++) {
    fromOf[r] = T.from[arcs[r]]
    toOf[r] = T.to[arcs[r]]
    outStart[fromOf[r] + 1]++
  }
  for (let a = 0; a < A; a++) outStart[a + 1] += outStart[a]
  let short = true
  for (let round = 0; short && round <= n; round++) {
    short = false
    for (let r = 0; r < m; r++) {
      const list = slots[r].elig
      let c = out_[list[0]] ? 0n : cap[list[0]]
      for (let k = 1; k < list.length; k++) if (!out_[list[k]]) c += cap[list[k]]
      resid[r] = c
      flow[r] = 0n
    }
    const push = (cycle: readonly number[], x: bigint) => {
      for (const r of cycle) {
        resid[r] -= x
        flow[r] += x
      }
    }
    // 1. Pairs: a ↔ b trades directly first.
    for (let r = 0; r < m; r++) {
      const e = arcs[r]
      if (T.from[e] > T.to[e] || T.back[e] < 0) continue
      const rb = posOf[T.back[e]]
      if (rb < 0) continue
      const x = bigMinOf(resid[r], resid[rb])
      if (x > 0n) push([r, rb], x)
    }
    // 2. Rings: any cycle left in the residual graph carries its bottleneck (each push empties an arc).
    for (let guard = 0; guard <= m; guard++) {
      const cycle = findCycle(A, S, resid)
      if (cycle === null) break
      let x = resid[cycle[0]]
      for (const r of cycle) x = bigMinOf(x, resid[r])
      push(cycle, x)
    }
    if (optimize) maximiseSurplus(P, prices, pF, A, T, arcs, slots, cap, out_, flow)
    // 3. Each arc's flow goes to its orders best slack first; the marginal group of equal slack
    //    shares pro rata (floor, remainder units by ascending id); a fill-or-kill order fills whole
    //    (ascending id) only while the partially fillable ones cannot take the flow alone.
    for (let r = 0; r < m; r++) {
      const list = slots[r].elig
      let f = flow[r]
      for (const i of list) u[i] = 0n
      const planned = f
      let g = 0
      while (f > 0n && g < list.length) {
        let h = g + 1
        while (h < list.length && T.run[list[h]] === T.run[list[g]]) h++
        let total = out_[list[g]] ? 0n : cap[list[g]]
        for (let k = g + 1; k < h; k++) if (!out_[list[k]]) total += cap[list[k]]
        if (total <= f) {
          for (let k = g; k < h; k++) if (!out_[list[k]]) u[list[k]] = cap[list[k]]
          f -= total
        } else {
          // (A group of one is not out: its cap is the total, above f > 0.)
          const members =
            h === g + 1
              ? [list[g]]
              : list
                  .slice(g, h)
                  .filter((i) => !out_[i])
                  .sort((x, y) => x - y)
          let partial = 0n
          for (const i of members) if (!fok(i)) partial += cap[i]
          for (const i of members) {
            if (fok(i) && partial < f && cap[i] <= f - partial) {
              u[i] = cap[i]
              f -= cap[i]
            }
          }
          if (partial > 0n && f > 0n && members.length === 1) {
            u[members[0]] = bigMinOf(f, partial) // its pro-rata share below: ⌊cap · give / cap⌋
          } else if (partial > 0n && f > 0n) {
            const give = bigMinOf(f, partial)
            let given = 0n
            for (const i of members) {
              if (fok(i)) continue
              u[i] = (cap[i] * give) / partial
              given += u[i]
            }
            let rest = give - given
            for (let k = 0; rest > 0n; k = (k + 1) % members.length) {
              const i = members[k]
              if (!fok(i) && u[i] < cap[i]) {
                u[i] += 1n
                rest -= 1n
              }
            }
          }
          // A fill-or-kill order left out where partially fillable ones could not take the rest: the
          // arc delivers less than its flow, so the circulation is recomputed without it.
          if (f > (partial > 0n ? bigMinOf(f, partial) : 0n)) {
            for (const i of members) if (fok(i) && u[i] === 0n) out_[i] = 1
            short = true
          }
          f = 0n
        }
        g = h
      }
      if (f > 0n && planned > 0n) short = true
    }
    // 4. The signed ratio (rule 2): an order whose fill, rounded, would give it less than its signed ratio
    //    trades the most that keeps it, as a fill-or-kill order of that amount, and the circulation is
    //    recomputed around it — conservation then holds in value, not by cutting other orders afterwards.
    if (short) continue
    const sellF = P.sellF
    const buyF = P.buyF
    const feeF = 1 + Number(P.feeBps) / 10_000
    for (let r = 0; r < m; r++) {
      const pX = pF[fromOf[r]]
      const pY = pF[toOf[r]]
      for (const i of slots[r].elig) {
        if (u[i] === 0n || fok(i)) continue
        // Surely kept (floats, margins far above their error): with k = s·p[X]/p[Y] − (1 + f/10⁴)·b the
        // margin per unit sold, bought·s − (sold + fee)·b ≥ sold·k − s − s·p[X]/p[Y] − b for either kind
        // (bought ≥ sold·p[X]/p[Y] − 1, or sold ≤ bought·p[Y]/p[X] + 1; fee ≤ sold·f/10⁴ + 1), and
        // sold ≥ min(u/p[X], maxSold) − 1 − p[Y]/p[X].
        const sa = sellF[i]
        const ba = buyF[i]
        const top = (sa * pX) / pY
        const k = top - feeF * ba - top * 2 ** -40
        let soldMin = Number(u[i]) / pX
        const ms = Number(P.maxSold[i])
        if (ms < soldMin) soldMin = ms
        soldMin = soldMin * (1 - 2 ** -40) - 1 - pY / pX
        if (k > 0 && soldMin * k > (sa + top + ba + 2) * (1 + 2 ** -40)) continue
        const v = ratioValueCap(P, prices, i, u[i])
        if (v < 0n) continue
        short = true
        if (v === 0n) out_[i] = 1
        else {
          fixed[i] = 1
          cap[i] = v
        }
      }
    }
  }
  return roundAndRepair(P, prices, pF, u, cap, slots, fixed)
}

/**
 * −1 when order i's fill from value `ui` keeps its signed ratio once rounded (rule 2); else the value
 * (`sold·p[sell]` sell kind, `bought·p[buy]` buy kind) of the largest fill below it that keeps it (0: none).
 */
function ratioValueCap(P: Prepared, prices: readonly bigint[], i: number, ui: bigint): bigint {
  const o = P.orders[i]
  const pS = prices[P.sell[i]]
  const pB = prices[P.buy[i]]
  const maxSold = P.maxSold[i]
  if (P.buyKind[i] === 0) {
    let s = ui / pS
    if (s > maxSold) s = maxSold
    const b = (s * pS) / pB
    if (s === 0n || b === 0n || keepsSignedRatio(o.sellAmount, o.buyAmount, s, b, feeOf(s, P.feeBps)))
      return -1n
    return sellFillKeepingRatio(o.sellAmount, o.buyAmount, pS, pB, P.feeBps, s)[0] * pS
  }
  let b = ui / pB
  if (b > o.buyAmount) b = o.buyAmount
  let s = ceilDiv(b * pB, pS)
  if (s > maxSold) {
    b = (maxSold * pS) / pB
    s = ceilDiv(b * pB, pS)
  }
  if (s === 0n || b === 0n || keepsSignedRatio(o.sellAmount, o.buyAmount, s, b, feeOf(s, P.feeBps)))
    return -1n
  return buyFillKeepingRatio(o.sellAmount, o.buyAmount, pS, pB, P.feeBps, b, maxSold)[1] * pB
}

/** Whether order i filled whole at these prices keeps its signed ratio (rule 2). */
function wholeKeepsRatio(P: Prepared, prices: readonly bigint[], i: number): boolean {
  const o = P.orders[i]
  const pS = prices[P.sell[i]]
  const pB = prices[P.buy[i]]
  const s = P.buyKind[i] === 0 ? P.maxSold[i] : ceilDiv(o.buyAmount * pB, pS)
  const b = P.buyKind[i] === 0 ? (s * pS) / pB : o.buyAmount
  return keepsSignedRatio(o.sellAmount, o.buyAmount, s, b, feeOf(s, P.feeBps))
}

/** Amounts of order i from its value-unit fill `ui` (rule 2), zeros when either would be 0. */
function roundFill(
  P: Prepared,
  prices: readonly bigint[],
  i: number,
  ui: bigint,
  capi: bigint,
  maxSold: readonly bigint[],
  sold: bigint[],
  bought: bigint[],
): void {
  const o = P.orders[i]
  const pS = prices[P.sell[i]]
  const pB = prices[P.buy[i]]
  let s: bigint
  let b: bigint
  if (P.buyKind[i] === 0) {
    s = ui / pS
    if (s > maxSold[i]) s = maxSold[i]
    if (!o.partiallyFillable && ui !== capi) s = 0n
    b = (s * pS) / pB
  } else {
    b = ui / pB
    if (b > o.buyAmount) b = o.buyAmount
    if (!o.partiallyFillable && b !== o.buyAmount) b = 0n
    s = ceilDiv(b * pB, pS)
    if (s > maxSold[i]) {
      b = o.partiallyFillable ? (maxSold[i] * pS) / pB : 0n
      s = ceilDiv(b * pB, pS)
    }
  }
  // The signed ratio after rounding (rule 2): a marginal order trades slightly less, or (fill-or-kill,
  // whose whole fill breaks it) not at all; fillAtPrices keeps such a fill-or-kill order out beforehand.
  if (s !== 0n && b !== 0n && !keepsSignedRatio(o.sellAmount, o.buyAmount, s, b, feeOf(s, P.feeBps))) {
    if (!o.partiallyFillable) s = 0n
    else if (P.buyKind[i] === 0) [s, b] = sellFillKeepingRatio(o.sellAmount, o.buyAmount, pS, pB, P.feeBps, s)
    else [s, b] = buyFillKeepingRatio(o.sellAmount, o.buyAmount, pS, pB, P.feeBps, b, maxSold[i])
  }
  if (s === 0n || b === 0n) {
    s = 0n
    b = 0n
  }
  sold[i] = s
  bought[i] = b
}

/** Amounts from value units, then repair of rounding deficits (cutting the short asset's buyers, worst first). */
function roundAndRepair(
  P: Prepared,
  prices: readonly bigint[],
  pF: ArrayLike<number>,
  u: readonly bigint[],
  cap: readonly bigint[],
  slots: readonly ArcSlot[],
  fixed: Uint8Array,
): Amounts {
  const n = P.orders.length
  const sold: bigint[] = new Array(n).fill(0n)
  const bought: bigint[] = new Array(n).fill(0n)
  const maxSold = P.maxSold
  const filled: number[] = []
  for (const slot of slots) {
    for (let k = 0; k < slot.elig.length; k++) {
      const i = slot.elig[k]
      if (u[i] === 0n) continue
      // A fill's amounts depend on the arc's prices and its value only: whole fills are kept with the
      // prices, and the last partial fill of the arc (its marginal order's, often the same again).
      // An order held to its signed ratio (fixed) has a cap of this call only: no memo for it.
      if (fixed[i] === 1) {
        roundFill(P, prices, i, u[i], cap[i], maxSold, sold, bought)
        if (sold[i] !== 0n) filled.push(i)
        continue
      }
      const whole = u[i] === cap[i]
      const ws = slot.wholeSold
      if (whole && ws !== null && ws[k] !== undefined) {
        sold[i] = ws[k] as bigint
        bought[i] = (slot.wholeBought as bigint[])[k]
      } else if (!whole && slot.partK === k && slot.partU === u[i]) {
        sold[i] = slot.partSold
        bought[i] = slot.partBought
      } else {
        roundFill(P, prices, i, u[i], cap[i], maxSold, sold, bought)
        if (!whole) {
          slot.partK = k
          slot.partU = u[i]
          slot.partSold = sold[i]
          slot.partBought = bought[i]
        }
        if (whole) {
          if (slot.wholeSold === null) {
            slot.wholeSold = new Array(slot.elig.length).fill(undefined)
            slot.wholeBought = new Array(slot.elig.length).fill(undefined)
          }
          ;(slot.wholeSold as (bigint | undefined)[])[k] = sold[i]
          ;(slot.wholeBought as (bigint | undefined)[])[k] = bought[i]
        }
      }
      if (sold[i] !== 0n) filled.push(i)
    }
  }
  // Buyers of an asset, worst slack first (ties ascending index): sorted only for an asset in deficit.
  const sellF = P.sellF
  const buyF = P.buyF
  let slack: RatioKeys | null = null
  const buyers = new Map<number, number[]>()
  const buyersOf = (a: number): readonly number[] => {
    let l = buyers.get(a)
    if (l === undefined) {
      if (slack === null) {
        slack = {
          num: (i) => P.orders[i].sellAmount * prices[P.sell[i]],
          den: (i) => P.orders[i].buyAmount * prices[P.buy[i]],
          approx: new Float64Array(n),
          rank: (i) => i,
        }
      }
      const keys = slack
      l = filled.filter((i) => P.buy[i] === a)
      for (const i of l) keys.approx[i] = (sellF[i] * pF[P.sell[i]]) / (buyF[i] * pF[P.buy[i]])
      l.sort((x, y) => compareRatio(keys, x, y))
      buyers.set(a, l)
    }
    return l
  }
  repairWith(P, prices, sold, bought, filled, buyersOf)
  const fee = P.feeBps === 0n ? new Array<bigint>(n).fill(0n) : sold.map((s) => feeOf(s, P.feeBps))
  return { sold, bought, fee }
}

/**
 * Repair of rounding deficits (README "Rounding and repair"): while an asset has Σ bought > Σ sold,
 * cut its buyers, worst slack first. `worstFirst` lists every order that may have a non-zero fill, per
 * buy asset in ascending slack (ties: ascending index); orders outside it must have zero fills.
 */
export function repairDeficits(
  P: Prepared,
  prices: readonly bigint[],
  sold: bigint[],
  bought: bigint[],
  worstFirst: ArrayLike<number>,
): void {
  const A = P.assets.length
  const buyersWorstFirst: number[][] = Array.from({ length: A }, () => [])
  const filled: number[] = []
  for (let k = 0; k < worstFirst.length; k++) {
    const i = worstFirst[k]
    if (sold[i] === 0n) continue
    buyersWorstFirst[P.buy[i]].push(i)
    filled.push(i)
  }
  repairWith(P, prices, sold, bought, filled, (a) => buyersWorstFirst[a])
}

/**
 * `repairDeficits` on the orders `filled` (every order with a non-zero fill, any order), `buyersOf(a)`
 * giving those that buy asset a, worst slack first (asked only for an asset in deficit).
 */
function repairWith(
  P: Prepared,
  prices: readonly bigint[],
  sold: bigint[],
  bought: bigint[],
  filled: readonly number[],
  buyersOf: (a: number) => readonly number[],
): void {
  const orders = P.orders
  const maxSold = P.maxSold
  /**
   * Order i cut to buy at most b, keeping its signed ratio (rule 2). Returns whether the cut landed where
   * rounding alone puts it (false: the ratio took more, which can move a larger deficit on).
   */
  const setFromBought = (i: number, b: bigint): boolean => {
    const o = orders[i]
    const pS = prices[P.sell[i]]
    const pB = prices[P.buy[i]]
    if (b <= 0n) {
      sold[i] = 0n
      bought[i] = 0n
      return true
    }
    if (o.kind === 'sell') {
      // Largest sold with floor(sold·pS/pB) ≤ b, then as much of it as keeps the signed ratio.
      let s = ((b + 1n) * pB - 1n) / pS
      if (s > maxSold[i]) s = maxSold[i]
      const [s1, got] = sellFillKeepingRatio(o.sellAmount, o.buyAmount, pS, pB, P.feeBps, s)
      // A sale for nothing is no fill (the contract refuses it: EmptyFill).
      sold[i] = got === 0n ? 0n : s1
      bought[i] = got
      return s1 === s
    }
    ;[sold[i], bought[i]] = buyFillKeepingRatio(o.sellAmount, o.buyAmount, pS, pB, P.feeBps, b, maxSold[i])
    return bought[i] === b
  }
  const A = P.assets.length
  const limit = 1000 + 10 * A
  for (let pass = 0; ; pass++) {
    const tot = new Array<bigint>(A).fill(0n)
    for (const i of filled) {
      tot[P.sell[i]] += sold[i]
      tot[P.buy[i]] -= bought[i]
    }
    let clean = true
    for (let a = 0; a < A; a++) {
      if (tot[a] >= 0n) continue
      clean = false
      // Cut buyers of a, worst slack first: first those whose cut lands where rounding puts it (the signed
      // ratio takes nothing more) and whose own sell asset has the dust to absorb what they stop selling
      // (the cut then goes nowhere else), then those absorbed, then any (the deficit moves on).
      for (const round of [0, 1, 2]) {
        const absorbOnly = round < 2
        for (const i of buyersOf(a)) {
          if (tot[a] >= 0n) break
          if (bought[i] === 0n) continue
          const b0 = bought[i]
          const s0 = sold[i]
          const whole = !orders[i].partiallyFillable || pass > limit / 2
          const landed = setFromBought(i, whole ? 0n : b0 + tot[a])
          const x = P.sell[i]
          if ((round === 0 && !landed) || (absorbOnly && tot[x] - (s0 - sold[i]) < 0n)) {
            sold[i] = s0
            bought[i] = b0
            // Less of a cut, as much as x's dust absorbs: the deficit shrinks and goes nowhere else.
            if (whole || tot[x] <= 0n) continue
            const pS = prices[x]
            const pB = prices[a]
            const o = orders[i]
            const [s1, b1] =
              o.kind === 'sell'
                ? sellFillKeepingRatio(o.sellAmount, o.buyAmount, pS, pB, P.feeBps, s0 - tot[x])
                : buyFillKeepingRatio(
                    o.sellAmount,
                    o.buyAmount,
                    pS,
                    pB,
                    P.feeBps,
                    ((s0 - tot[x]) * pS) / pB,
                    maxSold[i],
                  )
            if (b1 >= b0 || s0 - s1 > tot[x]) continue
            sold[i] = b1 === 0n ? 0n : s1
            bought[i] = b1
          }
          tot[x] -= s0 - sold[i]
          tot[a] += b0 - bought[i]
        }
        if (tot[a] >= 0n) break
      }
    }
    if (clean) break
    if (pass > limit) {
      sold.fill(0n)
      bought.fill(0n)
      break
    }
  }
}

/**
 * Gains are integers of at most 2^g with g = 51 − bits(V·m) (V assets on arcs, m arcs): one Bellman–Ford
 * round scans 2m residual edges, so it extends a walk by at most 2m of them, and after V rounds every
 * distance is at most 2·V·m·2^g < 2⁵², an integer exact in a double (integer arithmetic, the same on every machine). Below MIN_GAIN_BITS of
 * resolution the step is skipped.
 */
const MIN_GAIN_BITS = 20

/**
 * Order i's gain at these prices (`pF`: the prices as floats), ⌊(d − e)·2^g / d⌋ at least 0, with
 * d = sellAmount·10⁴·p[sell], e = buyAmount·(10⁴+f)·p[buy], g = `gainBits` ≤ 49 (README step 3b).
 * It is 2^g − ⌈y⌉ with y = e·2^g/d when y is not an integer. The float y below is within a relative
 * 2⁻⁴⁹·⁸ of it (nine roundings of 2⁻⁵³: four inputs, five operations), so the true y lies strictly
 * inside (y − y·2⁻⁴⁸, y + y·2⁻⁴⁸) even after those two roundings; when both ends have the same floor k,
 * ⌈y⌉ = k + 1 exactly, and when the lower end is above 2^g − 1, ⌈y⌉ ≥ 2^g and the gain is 0. Otherwise
 * (within 2^(g−48) of an integer below 2^g − 1), bigints. The same integer
 * either way (`fill.test.ts`).
 */
export function surplusGain(
  P: Prepared,
  prices: readonly bigint[],
  pF: ArrayLike<number>,
  i: number,
  gainBits: number,
): number {
  const unit = 2 ** gainBits
  const y = ((P.buyF[i] * Number(BPS + P.feeBps) * pF[P.buy[i]]) / (P.sellF[i] * 1e4 * pF[P.sell[i]])) * unit
  const lo = y - y * 2 ** -48
  const k = Math.floor(lo)
  if (k === Math.floor(y + y * 2 ** -48)) return k + 1 < unit ? unit - (k + 1) : 0
  // y > unit − 1: ⌈y⌉ ≥ unit, the gain is 0 (an order at its limit has y = unit exactly).
  if (lo > unit - 1) return 0
  return surplusGainExact(P, prices, i, gainBits)
}

/** `surplusGain` in bigints. */
export function surplusGainExact(
  P: Prepared,
  prices: readonly bigint[],
  i: number,
  gainBits: number,
): number {
  const o = P.orders[i]
  const d = o.sellAmount * BPS * prices[P.sell[i]]
  const x = ((d - o.buyAmount * (BPS + P.feeBps) * prices[P.buy[i]]) << BigInt(gainBits)) / d
  return x > 0n ? Number(x) : 0
}

/**
 * Max-surplus circulation at fixed prices (README "Fills at given prices", 3b). Each arc (sell → buy)
 * is a chain of segments, one per order, best slack first, with capacity its cap (value units)
 * and gain ⌊wᵢ·2^g⌋, wᵢ = 1 − buyAmount·(10⁴+f)·p[buy] / (sellAmount·10⁴·p[sell]) — order i's surplus
 * per unit of value, so the surplus of a circulation is about Σ gain·flow / 2^g / p[numeraire]. Gains
 * fall along an arc (concave), so an arc's flow always fills its best segments first (segments
 * [0, head) full, head partly). Starting from the routing of steps 1–2, positive-gain cycles of the
 * residual graph (longest-path Bellman–Ford, ascending arcs) carry their bottleneck until none is left
 * or a fixed bound of pushes is reached: the surplus only rises, and every decision is an exact
 * integer comparison. `arcs[r]` is the table's arc of position r, `slots[r]` its eligible orders.
 */
function maximiseSurplus(
  P: Prepared,
  prices: readonly bigint[],
  pF: ArrayLike<number>,
  A: number,
  T: ArcTable,
  arcs: readonly number[],
  slots: readonly ArcSlot[],
  cap: readonly bigint[],
  out_: Uint8Array,
  flow: bigint[],
): void {
  const m = arcs.length
  // One segment per order (equal-slack orders have equal gains, so merging them changes nothing; step 3
  // shares an arc's flow pro rata anyway). Arc e: its orders best first; segments [0, head) full,
  // `fill` in segment head. Gains are computed when first needed (most orders never are) and kept with
  // the arc's prices (the slot), as they depend on nothing else but the gain resolution.
  // An arc's segments are its slot's eligible orders less those taken out (`slotPos`: their positions
  // in the slot; null when none is out).
  const S = scratchOf(T, A, P.orders.length)
  const lists: number[][] = []
  const slotPos: (number[] | null)[] = []
  const head = S.head
  const fill: bigint[] = new Array(m)
  for (let e = 0; e < m; e++) {
    const all = slots[e].elig
    let list = all
    let pos: number[] | null = null
    for (let k = 0; k < all.length; k++) {
      if (!out_[all[k]]) continue
      list = []
      pos = []
      for (let q = 0; q < all.length; q++) {
        if (out_[all[q]]) continue
        list.push(all[q])
        pos.push(q)
      }
      break
    }
    lists.push(list)
    slotPos.push(pos)
    let f = flow[e]
    let h = 0
    while (h < list.length && f >= cap[list[h]]) f -= cap[list[h++]]
    head[e] = h
    fill[e] = h < list.length ? f : 0n
  }
  const fromOf = S.fromOf
  const toOf = S.toOf
  // Rounds: one per asset that has an arc (the others never relax).
  const onArc = S.onArc.fill(0)
  for (let e = 0; e < m; e++) onArc[fromOf[e]] = onArc[toOf[e]] = 1
  let V = 0
  for (let a = 0; a < A; a++) V += onArc[a]
  const gainBits = 51 - (32 - Math.clz32(V * m))
  if (V * m >= 2 ** 31 || gainBits < MIN_GAIN_BITS) return
  const gain = (e: number, k: number): number => {
    const slot = slots[e]
    if (slot.gainBits !== gainBits) {
      const before = slot.gainBefore
      const bitsBefore = slot.gainBitsBefore
      slot.gainBefore = slot.gain
      slot.gainBitsBefore = slot.gainBits
      slot.gain =
        bitsBefore === gainBits ? before : (before ?? new Float64Array(slot.elig.length)).fill(Number.NaN)
      slot.gainBits = gainBits
    }
    const memo = slot.gain as Float64Array
    const pos = slotPos[e]
    const at = pos === null ? k : pos[k]
    let g = memo[at]
    if (Number.isNaN(g)) {
      g = surplusGain(P, prices, pF, lists[e][k], gainBits)
      memo[at] = g
    }
    return g
  }
  // Residual edge 2e: forward on arc e (segment head); 2e + 1: backward (the last segment with flow).
  const NONE = Number.NEGATIVE_INFINITY
  const fwGain = S.fwGain
  const bwGain = S.bwGain
  const bwSeg = (e: number) => (fill[e] > 0n ? head[e] : head[e] - 1)
  const refresh = (e: number) => {
    const h = head[e]
    fwGain[e] = h < lists[e].length ? gain(e, h) : NONE
    const b = bwSeg(e)
    bwGain[e] = b >= 0 ? -gain(e, b) : NONE
  }
  for (let e = 0; e < m; e++) refresh(e)
  const dist = S.dist
  const pred = S.pred
  const tail = (r: number) => ((r & 1) === 0 ? fromOf[r >> 1] : toOf[r >> 1])
  const mark = S.mark.fill(-1)
  // A cycle of the predecessor graph through the walk back from x, or null. Such a cycle has a positive
  // gain (exact integer relaxations); it is checked again below.
  const cycleFrom = (x: number, stamp: number): number[] | null => {
    let y = x
    for (let s = 0; s <= V; s++) {
      if (mark[y] === stamp) {
        const cycle: number[] = []
        let z = y
        do {
          const r = pred[z]
          cycle.push(r)
          z = tail(r)
        } while (z !== y && cycle.length <= V)
        return z === y ? cycle : null
      }
      mark[y] = stamp
      if (pred[y] < 0) return null
      y = tail(pred[y])
    }
    return null
  }
  const maxPushes = 4 * (m + 10)
  let stamp = 0
  for (let pushes = 0; pushes < maxPushes; pushes++) {
    dist.fill(0)
    pred.fill(-1)
    let cycle: number[] | null = null
    for (let round = 0; round < V && cycle === null; round++) {
      let last = -1
      for (let e = 0; e < m; e++) {
        const a = fromOf[e]
        const b = toOf[e]
        // (NONE = −∞: the sum is −∞, never above a finite distance.)
        if (dist[a] + fwGain[e] > dist[b]) {
          dist[b] = dist[a] + fwGain[e]
          pred[b] = 2 * e
          last = b
        }
        if (dist[b] + bwGain[e] > dist[a]) {
          dist[a] = dist[b] + bwGain[e]
          pred[a] = 2 * e + 1
          last = a
        }
      }
      if (last < 0) break
      cycle = cycleFrom(last, stamp++)
    }
    if (cycle === null) return
    let total = 0
    let push = -1n
    for (const r of cycle) {
      const e = r >> 1
      let room: bigint
      if ((r & 1) === 0) {
        total += fwGain[e]
        room = cap[lists[e][head[e]]] - fill[e]
      } else {
        total += bwGain[e]
        room = fill[e] > 0n ? fill[e] : cap[lists[e][head[e] - 1]]
      }
      if (push < 0n || room < push) push = room
    }
    if (!(total > 0) || push <= 0n) return
    for (const r of cycle) {
      const e = r >> 1
      if ((r & 1) === 0) {
        fill[e] += push
        if (fill[e] === cap[lists[e][head[e]]]) {
          head[e]++
          fill[e] = 0n
        }
        flow[e] += push
      } else {
        if (fill[e] === 0n) {
          head[e]--
          fill[e] = cap[lists[e][head[e]]]
        }
        fill[e] -= push
        flow[e] -= push
      }
      refresh(e)
    }
  }
}

function bigMinOf(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}

/**
 * A cycle of positions with residual capacity (DFS, ascending assets and arcs), or null. The arcs leaving
 * asset a are positions [S.outStart[a], S.outStart[a + 1]); S.fromOf / S.toOf give a position's assets.
 */
function findCycle(A: number, S: Scratch, resid: readonly bigint[]): number[] | null {
  const color = S.color.fill(0) // 0 new, 1 on the stack, 2 done
  const viaArc = S.viaArc.fill(-1)
  const node = S.stackNode
  const next = S.stackNext
  for (let s = 0; s < A; s++) {
    if (color[s] !== 0) continue
    let top = 0
    node[0] = s
    next[0] = S.outStart[s]
    color[s] = 1
    while (top >= 0) {
      const x = node[top]
      if (next[top] >= S.outStart[x + 1]) {
        color[x] = 2
        top--
        continue
      }
      const r = next[top]++
      if (resid[r] <= 0n) continue
      const b = S.toOf[r]
      if (color[b] === 1) {
        const cycle = [r]
        let y = x
        while (y !== b) {
          const k = viaArc[y]
          cycle.push(k)
          y = S.fromOf[k]
        }
        return cycle.reverse()
      }
      if (color[b] === 0) {
        color[b] = 1
        viaArc[b] = r
        top++
        node[top] = b
        next[top] = S.outStart[b]
      }
    }
  }
  return null
}
