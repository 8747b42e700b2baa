import type { Address, Penalty } from '@allot/protocol'
import { fastPairApplies, solvePairFast } from './fastpair.js'
import { type Amounts, fillAtPrices } from './fill.js'
import { pairPricesInside } from './inside.js'
import { amountsOf, type FillColumns, isFillColumns } from './pair.js'
import { balanceOf, isResourceOf, type Prepared, prepare } from './prepare.js'
import { initialPrices } from './prices.js'
import { compareStr, floorDiv } from './ratio.js'
import { balanceChangesOf, clearingResultOf, leasesOf, orderIdOfKey, resultHashOf } from './result.js'
import { improvePrices } from './search.js'
import { objectInputOf } from './table.js'
import type { ClearBatchInput, ClearBatchOutput, ClearTableInput, OrderFill } from './types.js'

/** Prices and fills, before the settlement payload is built (what the benchmarks time). */
export interface Solution {
  prepared: Prepared
  /** Price per prepared asset index (0 when the asset does not trade). */
  prices: bigint[]
  /**
   * Sold, bought and fee per prepared order as bigint arrays; built on first read from `columns` when
   * the narrow single-pair path solved the batch.
   */
  readonly amounts: Amounts
  /** The same amounts as 64-bit columns, when the narrow single-pair path produced them. */
  columns?: FillColumns
  /** Orders with sold > 0. */
  filled: number
}

/**
 * Surplus of one fill in numeraire units: (bought − (sold + fee) · buyAmount / sellAmount) · p[buy] / p[numeraire],
 * floored — what the trader got beyond its limit.
 */
export function fillSurplus(
  sellAmount: bigint,
  buyAmount: bigint,
  sold: bigint,
  bought: bigint,
  fee: bigint,
  pBuy: bigint,
  pNum: bigint,
): bigint {
  if (sold === 0n && bought === 0n) return 0n
  return floorDiv((bought * sellAmount - (sold + fee) * buyAmount) * pBuy, sellAmount * pNum)
}

/** The numeraire's price, or (numeraire not traded) the smallest traded price. */
export function numerairePrice(numeraire: string, prices: Record<string, bigint>): bigint {
  const p = prices[numeraire]
  if (p !== undefined) return p
  let m = 0n
  for (const k of Object.keys(prices).sort(compareStr)) if (m === 0n || prices[k] < m) m = prices[k]
  return m === 0n ? 1n : m
}

/**
 * Each order's last surplus term and what it was computed from, for the multi-asset price search, which
 * values hundreds of price vectors in which most fills recur (a pure memo: the same objective without it).
 */
interface SurplusMemo {
  sold: bigint[]
  bought: bigint[]
  fee: bigint[]
  pBuy: bigint[]
  pNum: bigint[]
  term: bigint[]
}

function surplusMemoOf(n: number): SurplusMemo {
  const none = () => new Array<bigint>(n).fill(-1n)
  return { sold: none(), bought: none(), fee: none(), pBuy: none(), pNum: none(), term: none() }
}

function objectiveOf(P: Prepared, prices: readonly bigint[], a: Amounts, memo?: SurplusMemo): bigint {
  const priced: Record<string, bigint> = {}
  P.assets.forEach((k, i) => {
    if (prices[i] > 0n) priced[k] = prices[i]
  })
  const pNum = numerairePrice(P.numeraire, priced)
  const orders = P.orders
  const n = orders.length
  let s = 0n
  for (let i = 0; i < n; i++) {
    const sold = a.sold[i]
    if (sold === 0n) continue
    const pBuy = prices[P.buy[i]]
    if (memo === undefined) {
      const o = orders[i]
      s += fillSurplus(o.sellAmount, o.buyAmount, sold, a.bought[i], a.fee[i], pBuy, pNum)
      continue
    }
    if (
      memo.sold[i] !== sold ||
      memo.bought[i] !== a.bought[i] ||
      memo.fee[i] !== a.fee[i] ||
      memo.pBuy[i] !== pBuy ||
      memo.pNum[i] !== pNum
    ) {
      const o = orders[i]
      memo.term[i] = fillSurplus(o.sellAmount, o.buyAmount, sold, a.bought[i], a.fee[i], pBuy, pNum)
      memo.sold[i] = sold
      memo.bought[i] = a.bought[i]
      memo.fee[i] = a.fee[i]
      memo.pBuy[i] = pBuy
      memo.pNum[i] = pNum
    }
    s += memo.term[i]
  }
  return s
}

/**
 * The objective as the output reports it: untraded assets unpriced, so the numeraire's stand-in is the
 * smallest traded price when the numeraire does not trade (the search's objective keeps its price).
 */
function tradedObjective(P: Prepared, prices: readonly bigint[], a: Amounts): bigint {
  const traded = new Array<boolean>(P.assets.length).fill(false)
  for (let i = 0; i < P.size; i++) {
    if (a.sold[i] > 0n) {
      traded[P.sell[i]] = true
      traded[P.buy[i]] = true
    }
  }
  return objectiveOf(
    P,
    prices.map((p, k) => (traded[k] ? p : 0n)),
    a,
  )
}

/**
 * `maxFillsPerBatch` rule: when more orders would fill, keep the ones whose sold value
 * (sold · p[sell]) is largest, ties by ascending id, and clear again among those only.
 */
function applyMaxFills(
  P: Prepared,
  prices: readonly bigint[],
  a: Amounts,
  max: number | undefined,
  optimize: boolean,
): Amounts {
  if (max === undefined) return a
  const filled: number[] = []
  for (let i = 0; i < P.orders.length; i++) if (a.sold[i] > 0n) filled.push(i)
  if (filled.length <= max) return a
  const value = (i: number) => a.sold[i] * prices[P.sell[i]]
  filled.sort((x, y) => {
    const vx = value(x)
    const vy = value(y)
    return vx > vy ? -1 : vx < vy ? 1 : x - y
  })
  const active = new Array<boolean>(P.orders.length).fill(false)
  for (const i of filled.slice(0, Math.max(0, max))) active[i] = true
  return fillAtPrices(P, prices, active, optimize)
}

/**
 * Prices and amounts (no payload, no hash), from the orders as objects or as an `OrderTable` (the same
 * result).
 */
export function solveBatch(input: ClearBatchInput | ClearTableInput): Solution {
  const P = prepare(input)
  let prices: bigint[]
  let amounts: Amounts
  const treeRoots: number[] = []
  let multi = false
  const max = input.params.maxFillsPerBatch
  if (fastPairApplies(P)) {
    const r = solvePairFast(P, input.params.previousPrices)
    prices = r.prices
    const a = r.amounts
    // Columns stand as they are unless maxFillsPerBatch cuts them (a pair's fills trade both assets).
    if (isFillColumns(a) && (max === undefined || a.filled <= max)) {
      let cached: Amounts | undefined
      return {
        prepared: P,
        prices: a.filled > 0 ? prices : prices.map(() => 0n),
        get amounts(): Amounts {
          if (cached === undefined) cached = amountsOf(a)
          return cached
        },
        columns: a,
        filled: a.filled,
      }
    }
    // A marginal order at exactly its limit may have traded all or nothing (rule 2): a hair inside it.
    ;({ prices, amounts } = pairPricesInside(P, prices, amountsOf(a)))
  } else if (
    (prices = initialPrices(P, input.params.previousPrices, treeRoots)).filter((p) => p > 0n).length >= 3
  ) {
    // Roots of the price trees (their scale) stay put: the numeraire, else the first asset of each component.
    multi = true
    const roots = new Set<number>(treeRoots)
    const num = P.assets.indexOf(P.numeraire)
    if (num >= 0 && prices[num] > 0n) roots.add(num)
    const memo = surplusMemoOf(P.orders.length)
    const objective = (p: readonly bigint[], a: Amounts) => objectiveOf(P, p, a, memo)
    // Orders exactly at their limits trade all or nothing (rule 2): the search runs from these prices and
    // from the same tree with every pair's ratio a hair inside such limits (inside.ts); the better end
    // stands (ties: the first).
    const moved = initialPrices(P, input.params.previousPrices, undefined, true)
    const here = improvePrices(P, prices, objective, roots)
    ;({ prices, amounts } = here)
    if (moved.some((p, a) => p !== prices[a])) {
      const there = improvePrices(P, moved, objective, roots)
      if (tradedObjective(P, there.prices, there.amounts) > tradedObjective(P, here.prices, here.amounts)) {
        ;({ prices, amounts } = there)
      }
    }
  } else ({ prices, amounts } = pairPricesInside(P, prices, fillAtPrices(P, prices)))
  amounts = applyMaxFills(P, prices, amounts, max, multi)
  // Only traded assets keep a price.
  const traded = new Array<boolean>(P.assets.length).fill(false)
  let filled = 0
  for (let i = 0; i < P.size; i++) {
    if (amounts.sold[i] > 0n) {
      traded[P.sell[i]] = true
      traded[P.buy[i]] = true
      filled++
    }
  }
  return { prepared: P, prices: prices.map((p, a) => (traded[a] ? p : 0n)), amounts, filled }
}

/**
 * Penalties per DESIGN.md "Bond": an order its trader cannot fund at all, or garbage — only one whose
 * signed envelope of this very batch is at hand (`evidence`), since the contract charges nothing else.
 */
function penaltiesOf(input: ClearBatchInput, P: Prepared): Penalty[] {
  const isResource = isResourceOf(input)
  const byId = new Map(input.orders.map((o) => [o.id, o]))
  const height = input.params.height ?? 0n
  const out: Penalty[] = []
  for (const d of P.dropped) {
    const o = byId.get(d.id)
    if (o === undefined) continue
    const evidence = o.evidence
    if (evidence === undefined || evidence.batch !== height) continue
    let penalise = d.reason === 'BAD_ORDER'
    if (d.reason === 'INSUFFICIENT_BALANCE' && !isResource(o.sellAsset)) {
      const bal = balanceOf(input, o.trader, o.sellAsset)
      penalise = bal === 0n || (!o.partiallyFillable && o.sellAmount > bal)
    }
    if (penalise)
      out.push({ trader: o.trader.toLowerCase() as Address, orderId: orderIdOfKey(o.id), evidence })
  }
  return out
}

/**
 * Clears one batch: uniform prices, fills, leases and the settlement payload with its hash. An
 * `OrderTable` gives the same output as its object form (`objectInputOf`), which the output is built from.
 */
export function clearBatch(input0: ClearBatchInput | ClearTableInput): ClearBatchOutput {
  const { prepared: P, prices, amounts } = solveBatch(input0)
  const input = 'table' in input0 ? objectInputOf(input0) : input0
  const isResource = isResourceOf(input)
  const priceOf: Record<string, bigint> = {}
  P.assets.forEach((k, a) => {
    if (prices[a] > 0n) priceOf[k] = prices[a]
  })
  const fills: OrderFill[] = P.orders.map((o, i) => ({
    id: o.id,
    trader: o.trader,
    sellAsset: o.sellAsset,
    buyAsset: o.buyAsset,
    sold: amounts.sold[i],
    bought: amounts.bought[i],
    fee: amounts.fee[i],
  }))
  const dust: Record<string, bigint> = {}
  const fees: Record<string, bigint> = {}
  for (const k of Object.keys(priceOf).sort(compareStr)) dust[k] = 0n
  for (const f of fills) {
    if (f.sold === 0n) continue
    dust[f.sellAsset] += f.sold
    dust[f.buyAsset] -= f.bought
    if (f.fee > 0n) fees[f.sellAsset] = (fees[f.sellAsset] ?? 0n) + f.fee
  }
  const leases = leasesOf(fills, priceOf, isResource)
  const result = clearingResultOf(input, priceOf, fills, leases, penaltiesOf(input, P))
  return {
    prices: priceOf,
    fills,
    dropped: P.dropped,
    balanceChanges: balanceChangesOf(fills, isResource),
    leases,
    objective: objectiveOf(P, prices, amounts),
    dust,
    fees,
    result,
    resultHash: resultHashOf(result),
  }
}
