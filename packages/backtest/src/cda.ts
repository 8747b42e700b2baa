import type { HistoryOrder } from './history.js'

/**
 * The continuous double auction counterfactual (docs/backtest.md "The continuous engine"): the same
 * orders, one at a time in arrival order, against a price-time priority book per asset pair. An order
 * that crosses trades at once at the resting order's limit (the maker's price, as on every exchange);
 * what is left of a partially fillable order rests until the window ends; a fill-or-kill order fills
 * whole at arrival or not at all (it never rests). There are no ring trades: each pair is its own book.
 *
 * Amounts are bigints in base units, as in the solver. The fee is the protocol's (`⌈sold·f/10⁴⌉` on top
 * of `sold`, charged per trade), and limits hold with the fee included, as the contract checks them.
 * Rounding: a trade of q base units pays `⌊q·price⌋` quote units, so the base seller carries the
 * sub-unit dust, as the solver's sell-kind rounding does.
 */
export interface CdaParams {
  numeraire: string
  feeBps?: number
  /** Available balances; absent: every order is funded by its own sellAmount. */
  balances?: Record<string, Record<string, bigint>>
}

export interface CdaFill {
  sold: bigint
  bought: bigint
  fee: bigint
}

export interface CdaTrade {
  base: string
  quote: string
  maker: string
  taker: string
  /** Base units traded and quote units paid for them. */
  baseAmount: bigint
  quoteAmount: bigint
  /** The execution price (quote per base, in base units): the maker's limit, fee included. */
  priceNum: bigint
  priceDen: bigint
  /** Arrival time of the taker. */
  t: number
}

export interface CdaResult {
  /** Every order, by id: zeros when it never traded. */
  fills: Map<string, CdaFill>
  trades: CdaTrade[]
}

const B = 10_000n

interface Entry {
  o: HistoryOrder
  seq: number
  ask: boolean
  /** Effective limit as quote per base (fee included): an ask's least, a bid's most. */
  num: bigint
  den: bigint
  fill: CdaFill
}

/** The pair an order trades in: quote = the numeraire when one side is it, else the larger key. */
export function pairOf(a: string, b: string, numeraire: string): { base: string; quote: string } {
  if (a === numeraire) return { base: b, quote: a }
  if (b === numeraire) return { base: a, quote: b }
  return a < b ? { base: a, quote: b } : { base: b, quote: a }
}

const minOf = (a: bigint, b: bigint) => (a < b ? a : b)
const feeOf = (sold: bigint, f: bigint) => (sold * f + B - 1n) / B

/** The largest σ with σ + ⌈σ·f/10⁴⌉ ≤ left (the solver's rule 3 for sell-kind orders). */
export function maxSoldWithFee(left: bigint, f: bigint): bigint {
  if (left <= 0n) return 0n
  if (f === 0n) return left
  let s = (left * B) / (B + f)
  while (s + 1n + feeOf(s + 1n, f) <= left) s++
  while (s > 0n && s + feeOf(s, f) > left) s--
  return s
}

/** Largest q with ⌊q·num/den⌋ ≤ v. */
const baseFor = (v: bigint, num: bigint, den: bigint) => ((v + 1n) * den - 1n) / num

export function runContinuousAuction(orders: readonly HistoryOrder[], params: CdaParams): CdaResult {
  const f = BigInt(params.feeBps ?? 0)
  const balances = params.balances
  const spent = new Map<string, bigint>() // trader|asset -> net debit so far (balances mode)
  const fills = new Map<string, CdaFill>()
  const trades: CdaTrade[] = []
  const books = new Map<string, { asks: Entry[]; bids: Entry[] }>()

  const available = (e: Entry): bigint => {
    const left = e.o.sellAmount - e.fill.sold - e.fill.fee
    if (!balances) return left
    const key = `${e.o.trader}|${e.o.sellAsset}`
    const bal = (balances[e.o.trader]?.[e.o.sellAsset] ?? 0n) - (spent.get(key) ?? 0n)
    return bal < left ? bal : left
  }
  /** Most base units e can trade at num/den given what it has already done (and `extra`, a tentative fill). */
  const capAt = (e: Entry, num: bigint, den: bigint, extra: CdaFill): bigint => {
    const fill = {
      sold: e.fill.sold + extra.sold,
      bought: e.fill.bought + extra.bought,
      fee: e.fill.fee + extra.fee,
    }
    let left = e.o.sellAmount - fill.sold - fill.fee
    if (balances) {
      const key = `${e.o.trader}|${e.o.sellAsset}`
      const bal =
        (balances[e.o.trader]?.[e.o.sellAsset] ?? 0n) - (spent.get(key) ?? 0n) - extra.sold - extra.fee
      if (bal < left) left = bal
    }
    const sellable = maxSoldWithFee(left, f)
    if (e.ask) {
      let q = sellable
      if (e.o.kind === 'buy') {
        const want = e.o.buyAmount - fill.bought
        const qb = want <= 0n ? 0n : baseFor(want, num, den)
        if (qb < q) q = qb
      }
      return q
    }
    let q = baseFor(sellable, num, den)
    if (e.o.kind === 'buy') {
      const want = e.o.buyAmount - fill.bought
      if (want < q) q = want < 0n ? 0n : want
    }
    return q
  }
  const done = (e: Entry, extra: CdaFill): boolean =>
    e.o.kind === 'buy'
      ? e.fill.bought + extra.bought >= e.o.buyAmount
      : maxSoldWithFee(e.o.sellAmount - e.fill.sold - extra.sold - e.fill.fee - extra.fee, f) === 0n

  const better = (x: Entry, y: Entry): boolean => {
    // x ahead of y in its side's queue: better price, then earlier arrival
    const c = x.num * y.den - y.num * x.den
    if (c !== 0n) return x.ask ? c < 0n : c > 0n
    return x.seq < y.seq
  }

  let seq = 0
  for (const o of orders) {
    const entry = newEntry(o, seq++, params.numeraire, f)
    fills.set(o.id, entry.fill)
    const { base, quote } = pairOf(o.sellAsset, o.buyAsset, params.numeraire)
    const key = `${base}|${quote}`
    let book = books.get(key)
    if (!book) {
      book = { asks: [], bids: [] }
      books.set(key, book)
    }
    const opposite = entry.ask ? book.bids : book.asks
    // Plan the sweep without touching anything, so a fill-or-kill order that cannot fill whole leaves no trace.
    const plan: { maker: Entry; q: bigint; v: bigint }[] = []
    const mine: CdaFill = { sold: 0n, bought: 0n, fee: 0n }
    for (const maker of opposite) {
      const crosses = entry.ask
        ? entry.num * maker.den <= maker.num * entry.den
        : maker.num * entry.den <= entry.num * maker.den
      if (!crosses) break
      const zero = { sold: 0n, bought: 0n, fee: 0n }
      const qt = capAt(entry, maker.num, maker.den, mine)
      if (qt === 0n) break
      const qm = capAt(maker, maker.num, maker.den, zero)
      const q = minOf(qt, qm)
      if (q === 0n) continue
      const v = (q * maker.num) / maker.den
      if (v === 0n) break
      plan.push({ maker, q, v })
      if (entry.ask) {
        mine.sold += q
        mine.fee += feeOf(q, f)
        mine.bought += v
      } else {
        mine.sold += v
        mine.fee += feeOf(v, f)
        mine.bought += q
      }
      if (q === qt) break
    }
    if (!o.partiallyFillable && !done(entry, mine)) continue // killed
    for (const { maker, q, v } of plan) {
      const seller = entry.ask ? entry : maker
      const buyer = entry.ask ? maker : entry
      applyTrade(seller, q, v)
      applyTrade(buyer, v, q)
      trades.push({
        base,
        quote,
        maker: maker.o.id,
        taker: o.id,
        baseAmount: q,
        quoteAmount: v,
        priceNum: maker.num,
        priceDen: maker.den,
        t: o.t,
      })
    }
    // Makers that can trade no more leave the book; they are at its front.
    while (opposite.length > 0 && isSpent(opposite[0])) opposite.shift()
    if (o.partiallyFillable && !isSpent(entry)) {
      const side = entry.ask ? book.asks : book.bids
      let lo = 0
      let hi = side.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (better(side[mid], entry)) lo = mid + 1
        else hi = mid
      }
      side.splice(lo, 0, entry)
    }
  }
  return { fills, trades }

  function applyTrade(e: Entry, sold: bigint, bought: bigint) {
    const fee = feeOf(sold, f)
    e.fill.sold += sold
    e.fill.bought += bought
    e.fill.fee += fee
    if (balances) {
      const out = `${e.o.trader}|${e.o.sellAsset}`
      spent.set(out, (spent.get(out) ?? 0n) + sold + fee)
      const inn = `${e.o.trader}|${e.o.buyAsset}`
      spent.set(inn, (spent.get(inn) ?? 0n) - bought)
    }
  }
  function isSpent(e: Entry): boolean {
    const zero = { sold: 0n, bought: 0n, fee: 0n }
    return done(e, zero) || available(e) <= 0n || capAt(e, e.num, e.den, zero) === 0n
  }
}

function newEntry(o: HistoryOrder, seq: number, numeraire: string, f: bigint): Entry {
  const { base } = pairOf(o.sellAsset, o.buyAsset, numeraire)
  const ask = o.sellAsset === base
  // ask: least quote/base = b(B+f) / (sB); bid: most quote/base = sB / (b(B+f)); without a fee B cancels
  const num = f === 0n ? (ask ? o.buyAmount : o.sellAmount) : ask ? o.buyAmount * (B + f) : o.sellAmount * B
  const den = f === 0n ? (ask ? o.sellAmount : o.buyAmount) : ask ? o.sellAmount * B : o.buyAmount * (B + f)
  return { o, seq, ask, num, den, fill: { sold: 0n, bought: 0n, fee: 0n } }
}
