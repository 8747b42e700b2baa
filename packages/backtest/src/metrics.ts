import { pairOf } from './cda.js'
import type { HistoryOrder } from './history.js'

/**
 * The measures of one batch's outcome (docs/backtest.md "What is measured"), the same functions for the
 * uniform-price batch and for the continuous counterfactual, so the two compare. Values are floats in
 * numeraire whole units: a metric, never an amount that settles.
 */
export interface Fill {
  sold: bigint
  bought: bigint
  fee: bigint
}

/** Numeraire whole units per base unit of each asset. */
export type Valuation = Record<string, number>

export interface Arbitrage {
  /** Asset pairs whose best remaining sell and buy orders still cross (a 2-cycle). */
  crossedPairs: number
  /** A profitable cycle among the remaining orders (Bellman–Ford), its assets and its gain (product of rates − 1). */
  cycle: string[]
  cycleGain: number
  /** Gain × the cycle's bottleneck value: an estimate of what an arbitrageur could take. */
  value: number
}

export interface OutcomeMetrics {
  orders: number
  /** Orders with a non-zero fill. */
  filledOrders: number
  /** filledOrders / orders. */
  fillRate: number
  /** Value sold / value offered (offers capped at the trader's balance when balances are known). */
  valueFillRate: number
  /** Traded value: half the value traders sold (each trade counted once). */
  volume: number
  /** Σ over fills of what the trader got beyond its limit, valued in the numeraire (the solver's rule 8). */
  surplus: number
  fees: number
  /** Per asset (≠ numeraire): price paid in numeraire per whole unit (uniform clearing price, or the VWAP). */
  prices: Record<string, number>
  /** Per asset: price / reference − 1. */
  priceError: Record<string, number>
  /** Mean |price error| over the assets that have both. */
  meanAbsPriceError: number
  /** Mean over pairs of (max − min) / mean of the effective prices traders got in that pair. */
  spread: number
  arbitrage: Arbitrage
}

/** Per trader: [surplus, markout at the next reference, value sold]. */
export type TraderOutcomes = Record<string, [number, number, number]>

const ratio = (a: bigint, b: bigint) => (b === 0n ? 0 : Number(a) / Number(b))

export interface OutcomeInput {
  orders: readonly HistoryOrder[]
  fills: ReadonlyMap<string, Fill>
  numeraire: string
  decimals: Record<string, number>
  /** For surplus, volume, fill rate. */
  valuation: Valuation
  /** For markouts: the next batch's reference (or this one's, or the valuation). */
  markoutValuation: Valuation
  reference?: Record<string, number>
  /** Uniform prices of a batch result (absent: the continuous engine; prices are its VWAPs). */
  uniformPrices?: Record<string, bigint>
  feeBps: number
  balances?: Record<string, Record<string, bigint>>
}

export function measureOutcome(x: OutcomeInput, traders: TraderOutcomes): OutcomeMetrics {
  const { orders, fills, valuation: val, markoutValuation: mval } = x
  let filledOrders = 0
  let soldValue = 0
  let offeredValue = 0
  let surplus = 0
  let fees = 0
  const vwap = new Map<string, { base: number; quote: number }>() // asset -> Σ base units, Σ numeraire units
  // per sell asset, per buy asset: the pair's effective prices, whether the order sells the base, and its VWAP
  const pairs = new Map<
    string,
    Map<string, { list: number[]; sellsBase: boolean; vwap?: { base: number; quote: number } }>
  >()
  const eff: number[][] = []
  for (const o of orders) {
    const fl = fills.get(o.id) ?? { sold: 0n, bought: 0n, fee: 0n }
    const vx = val[o.sellAsset] ?? 0
    const vy = val[o.buyAsset] ?? 0
    let offer = o.sellAmount
    const bal = x.balances?.[o.trader]?.[o.sellAsset]
    if (x.balances && (bal ?? 0n) < offer) offer = bal ?? 0n
    offeredValue += Number(offer) * vx
    const t = traders[o.trader] ?? [0, 0, 0]
    traders[o.trader] = t
    if (fl.sold === 0n) continue
    filledOrders++
    const sv = Number(fl.sold) * vx
    soldValue += sv
    fees += Number(fl.fee) * vx
    // rule 8: (bought·s − (sold + fee)·b) / s units of the bought asset beyond the limit
    const s = ratio(fl.bought * o.sellAmount - (fl.sold + fl.fee) * o.buyAmount, o.sellAmount) * vy
    surplus += s
    t[0] += s
    t[1] += Number(fl.bought) * (mval[o.buyAsset] ?? 0) - Number(fl.sold + fl.fee) * (mval[o.sellAsset] ?? 0)
    t[2] += sv
    let bySell = pairs.get(o.sellAsset)
    if (!bySell) {
      bySell = new Map()
      pairs.set(o.sellAsset, bySell)
    }
    let pair = bySell.get(o.buyAsset)
    if (!pair) {
      const { base, quote } = pairOf(o.sellAsset, o.buyAsset, x.numeraire)
      // both directions of a pair share one list of prices and one VWAP
      const back = pairs.get(o.buyAsset)?.get(o.sellAsset)
      const list = back?.list ?? []
      if (!back) eff.push(list)
      let w = back?.vwap
      if (!w && quote === x.numeraire) {
        w = { base: 0, quote: 0 }
        vwap.set(base, w)
      }
      pair = { list, sellsBase: o.sellAsset === base, ...(w ? { vwap: w } : {}) }
      bySell.set(o.buyAsset, pair)
    }
    const baseAmt = Number(pair.sellsBase ? fl.sold : fl.bought)
    const quoteAmt = Number(pair.sellsBase ? fl.bought : fl.sold)
    pair.list.push(baseAmt > 0 ? quoteAmt / baseAmt : 0)
    if (pair.vwap) {
      pair.vwap.base += baseAmt
      pair.vwap.quote += quoteAmt
    }
  }
  const dec = (a: string) => x.decimals[a] ?? 0
  const prices: Record<string, number> = {}
  if (x.uniformPrices) {
    const p = x.uniformPrices
    const pn = p[x.numeraire]
    for (const [a, pa] of Object.entries(p)) {
      if (a === x.numeraire || !pn) continue
      prices[a] = ratio(pa, pn) * 10 ** (dec(a) - dec(x.numeraire))
    }
  } else {
    for (const [a, w] of vwap) prices[a] = (w.quote / w.base) * 10 ** (dec(a) - dec(x.numeraire))
  }
  const priceError: Record<string, number> = {}
  let errSum = 0
  let errN = 0
  for (const [a, p] of Object.entries(prices)) {
    const r = x.reference?.[a]
    if (!r) continue
    priceError[a] = p / r - 1
    errSum += Math.abs(priceError[a])
    errN++
  }
  let spreadSum = 0
  for (const list of eff) {
    let lo = Number.POSITIVE_INFINITY
    let hi = 0
    let sum = 0
    for (const p of list) {
      lo = Math.min(lo, p)
      hi = Math.max(hi, p)
      sum += p
    }
    spreadSum += sum > 0 ? (hi - lo) / (sum / list.length) : 0
  }
  return {
    orders: orders.length,
    filledOrders,
    fillRate: orders.length ? filledOrders / orders.length : 0,
    valueFillRate: offeredValue > 0 ? soldValue / offeredValue : 0,
    volume: soldValue / 2,
    surplus,
    fees,
    prices,
    priceError,
    meanAbsPriceError: errN ? errSum / errN : 0,
    spread: eff.length ? spreadSum / eff.length : 0,
    arbitrage: arbitrageLeft(orders, fills, val, x.feeBps, x.balances),
  }
}

interface Arc {
  from: string
  to: string
  /** Units of `to` an arbitrageur receives per unit of `from` it pays (the best remaining order's limit, fee included). */
  rate: number
  /** What that order still sells, in `to` units. */
  capacity: bigint
}

/**
 * What the remaining orders (what is left of each order after its fill, above 10⁻³ of it; fill-or-kill
 * ones only if untouched) still offer each other: an order selling X for Y lets an arbitrageur turn Y into X at
 * `s·10⁴ / (b·(10⁴ + f))`; a cycle whose rates multiply above 1 is money left on the table.
 */
export function arbitrageLeft(
  orders: readonly HistoryOrder[],
  fills: ReadonlyMap<string, Fill>,
  val: Valuation,
  feeBps: number,
  balances?: Record<string, Record<string, bigint>>,
): Arbitrage {
  const best = new Map<string, Map<string, Arc>>() // by the asset paid, by the asset received
  const arcs: Arc[] = []
  const f = 1 + feeBps / 10_000
  for (const o of orders) {
    const fl = fills.get(o.id) ?? { sold: 0n, bought: 0n, fee: 0n }
    if (!o.partiallyFillable && fl.sold > 0n) continue
    let left = o.sellAmount - fl.sold - fl.fee
    const bal = balances?.[o.trader]?.[o.sellAsset]
    if (balances && (bal ?? 0n) < left) left = bal ?? 0n
    if (o.kind === 'buy' && fl.bought >= o.buyAmount) continue
    // What rounding leaves of a filled order (a unit or so) is dust, not an offer: ignore remainders
    // below 10⁻³ of the order.
    if (left <= 0n || left * 1000n <= o.sellAmount) continue
    const rate = ratio(o.sellAmount, o.buyAmount) / f
    let from = best.get(o.buyAsset)
    if (!from) {
      from = new Map()
      best.set(o.buyAsset, from)
    }
    const cur = from.get(o.sellAsset)
    if (!cur) {
      const arc = { from: o.buyAsset, to: o.sellAsset, rate, capacity: left }
      from.set(o.sellAsset, arc)
      arcs.push(arc)
    } else if (rate > cur.rate) {
      cur.rate = rate
      cur.capacity = left
    }
  }
  const eps = 1e-9
  let crossedPairs = 0
  for (const a of arcs) {
    if (a.from >= a.to) continue
    const back = best.get(a.to)?.get(a.from)
    if (back && a.rate * back.rate > 1 + eps) crossedPairs++
  }
  const cycle = positiveCycle(arcs, eps)
  let cycleGain = 0
  let value = 0
  if (cycle.length > 0) {
    let product = 1
    let bottleneck = Number.POSITIVE_INFINITY
    for (const a of cycle) {
      product *= a.rate
      bottleneck = Math.min(bottleneck, Number(a.capacity) * (val[a.to] ?? 0))
    }
    cycleGain = product - 1
    value = Number.isFinite(bottleneck) ? bottleneck * cycleGain : 0
  }
  return { crossedPairs, cycle: cycle.map((a) => a.from), cycleGain, value }
}

/** Bellman–Ford on −log(rate) from a virtual source; returns the arcs of one negative cycle, or []. */
function positiveCycle(arcs: Arc[], eps: number): Arc[] {
  const nodes = [...new Set(arcs.flatMap((a) => [a.from, a.to]))].sort()
  const idx = new Map(nodes.map((n, i) => [n, i]))
  const dist = new Float64Array(nodes.length)
  const pred: (Arc | undefined)[] = new Array(nodes.length)
  const w = arcs.map((a) => -Math.log(a.rate))
  let last = -1
  for (let round = 0; round < nodes.length; round++) {
    last = -1
    for (let k = 0; k < arcs.length; k++) {
      const u = idx.get(arcs[k].from) as number
      const v = idx.get(arcs[k].to) as number
      if (dist[u] + w[k] < dist[v] - eps) {
        dist[v] = dist[u] + w[k]
        pred[v] = arcs[k]
        last = v
      }
    }
    if (last < 0) return []
  }
  if (last < 0) return []
  // `last` was relaxed in round n: walking back n steps lands on the cycle (CLRS 24.1)
  let v = last
  for (let k = 0; k < nodes.length; k++) {
    const a = pred[v]
    if (!a) return []
    v = idx.get(a.from) as number
  }
  const cycle: Arc[] = []
  let u = v
  do {
    const a = pred[u]
    if (!a) return []
    cycle.push(a)
    u = idx.get(a.from) as number
  } while (u !== v && cycle.length <= nodes.length)
  return cycle.reverse()
}
