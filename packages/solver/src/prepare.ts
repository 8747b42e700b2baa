import { AllotError, BPS, feeOf } from '@allot/protocol'
import { compareStr, maxPriceFor } from './ratio.js'
import type { ClearBatchInput, DroppedOrder, SolverOrder } from './types.js'

const MAX_AMOUNT = (1n << 255n) - 1n

/**
 * The solver's view of a batch after funding checks: assets indexed in ascending key order, the
 * orders that may trade (ascending id) and, per order, the most it may sell (`maxSold`, fee on top
 * included in its debit) — the balance rule of DESIGN.md step 4 made concrete.
 */
export interface Prepared {
  feeBps: bigint
  assets: string[]
  assetIndex: Map<string, number>
  isResource: boolean[]
  numeraire: string
  orders: SolverOrder[]
  sell: Int32Array
  buy: Int32Array
  /** Largest `sold` with `sold + fee(sold)` within the order's debit allowance. */
  maxSold: bigint[]
  /** Per asset: its price must stay below this (ratio.ts `maxPriceFor`, from its orders' largest amount). */
  maxPrice: bigint[]
  /** 1 for a buy-kind order (read in hot loops instead of the order object). */
  buyKind: Uint8Array
  /** Float approximations of the amounts, for sorting hints only. */
  sellF: Float64Array
  buyF: Float64Array
  /** Rank of each order's id (ascending) — orders are kept in id order, so rank = index. */
  dropped: DroppedOrder[]
}

/** Largest s with s + ceil(s·feeBps/10⁴) ≤ limit. */
export function maxSoldFor(limit: bigint, feeBps: bigint): bigint {
  if (limit <= 0n) return 0n
  let s = (limit * BPS) / (BPS + feeBps)
  while (s + 1n + feeOf(s + 1n, feeBps) <= limit) s++
  while (s > 0n && s + feeOf(s, feeBps) > limit) s--
  return s
}

export function isResourceOf(input: ClearBatchInput): (a: string) => boolean {
  const r = input.params.resourceAssets
  if (r === undefined) return () => false
  if (typeof r === 'function') return r
  return (a) => r.has(a)
}

export function feeBpsOf(input: ClearBatchInput): bigint {
  const f = BigInt(input.params.feeBps ?? 0)
  if (f < 0n || f >= BPS) throw new AllotError('SOLVER_INPUT_BAD_FEE', `feeBps out of range: ${f}`)
  return f
}

function badOrder(o: SolverOrder): boolean {
  return (
    o.sellAmount <= 0n ||
    o.buyAmount <= 0n ||
    o.sellAmount > MAX_AMOUNT ||
    o.buyAmount > MAX_AMOUNT ||
    o.sellAsset === o.buyAsset ||
    (o.kind !== 'sell' && o.kind !== 'buy')
  )
}

/**
 * Funding rule (documented in README.md): per (trader, sell asset) the available balance B is shared.
 * If the orders' sell amounts fit in B, each may use its sell amount. Otherwise fill-or-kill orders,
 * in ascending id, reserve their full sell amount while it fits (else they are dropped), and the rest
 * is split among the partially fillable ones pro rata to their sell amounts (floor); a partially
 * fillable order left with nothing is dropped. Resource sell orders are not balance-limited.
 */
export function prepare(input: ClearBatchInput): Prepared {
  const feeBps = feeBpsOf(input)
  const isResource = isResourceOf(input)
  let sorted: readonly SolverOrder[] = input.orders
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1].id >= sorted[i].id) {
      sorted = [...input.orders].sort((x, y) => compareStr(x.id, y.id))
      break
    }
  }
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].id === sorted[i - 1].id) {
      throw new AllotError('SOLVER_INPUT_DUPLICATE_ID', `order id appears twice: ${sorted[i].id}`)
    }
  }
  const m = sorted.length
  const dropped: DroppedOrder[] = []
  const allowance: bigint[] = new Array(m)
  const drop = new Uint8Array(m) // 1 bad, 2 unfunded
  // Group orders by (trader, sell asset) with an open-addressing table on a string hash: a Map of
  // 10⁶ string keys costs seconds here. `next` chains a group's members in id order.
  let size = 16
  while (size < 2 * m) size *= 2
  const table = new Int32Array(size).fill(-1)
  const next = new Int32Array(m).fill(-1)
  const last = new Int32Array(m).fill(-1)
  const leaders: number[] = []
  for (let i = 0; i < m; i++) {
    const o = sorted[i]
    if (badOrder(o)) {
      drop[i] = 1
      continue
    }
    if (isResource(o.sellAsset)) {
      allowance[i] = o.sellAmount
      continue
    }
    let h = hashStr(o.trader, hashStr(o.sellAsset, 0x811c9dc5)) & (size - 1)
    for (;;) {
      const j = table[h]
      if (j < 0) {
        table[h] = i
        last[i] = i
        leaders.push(i)
        break
      }
      const q = sorted[j]
      if (q.sellAsset === o.sellAsset && sameTrader(q.trader, o.trader)) {
        next[last[j]] = i
        last[j] = i
        break
      }
      h = (h + 1) & (size - 1)
    }
  }
  for (const l of leaders) {
    const o0 = sorted[l]
    const bal = balanceOf(input, o0.trader, o0.sellAsset)
    if (next[l] < 0) {
      // One order: it may use min(sellAmount, balance); fill-or-kill needs all of it.
      if (o0.sellAmount <= bal) allowance[l] = o0.sellAmount
      else if (!o0.partiallyFillable || bal === 0n) drop[l] = 2
      else allowance[l] = bal
      continue
    }
    const g: number[] = []
    for (let j = l; j >= 0; j = next[j]) g.push(j)
    let need = 0n
    for (const j of g) need += sorted[j].sellAmount
    if (need <= bal) {
      for (const j of g) allowance[j] = sorted[j].sellAmount
      continue
    }
    let rest = bal
    for (const j of g) {
      const o = sorted[j]
      if (o.partiallyFillable) continue
      if (o.sellAmount <= rest) {
        allowance[j] = o.sellAmount
        rest -= o.sellAmount
      } else drop[j] = 2
    }
    let partialNeed = 0n
    for (const j of g) if (sorted[j].partiallyFillable) partialNeed += sorted[j].sellAmount
    for (const j of g) {
      const o = sorted[j]
      if (!o.partiallyFillable) continue
      const a = partialNeed === 0n ? 0n : (rest * o.sellAmount) / partialNeed
      if (a === 0n) drop[j] = 2
      else allowance[j] = a < o.sellAmount ? a : o.sellAmount
    }
  }
  const orders: SolverOrder[] = []
  const allowed: bigint[] = []
  for (let i = 0; i < m; i++) {
    if (drop[i] === 1) dropped.push({ id: sorted[i].id, reason: 'BAD_ORDER' })
    else if (drop[i] === 2) dropped.push({ id: sorted[i].id, reason: 'INSUFFICIENT_BALANCE' })
    else {
      orders.push(sorted[i])
      allowed.push(allowance[i])
    }
  }
  const assetSet = new Set<string>()
  for (const o of orders) {
    assetSet.add(o.sellAsset)
    assetSet.add(o.buyAsset)
  }
  const assets = [...assetSet].sort(compareStr)
  const assetIndex = new Map<string, number>()
  for (let i = 0; i < assets.length; i++) assetIndex.set(assets[i], i)
  const n = orders.length
  const sell = new Int32Array(n)
  const buy = new Int32Array(n)
  const maxSold: bigint[] = new Array(n)
  const sellF = new Float64Array(n)
  const buyF = new Float64Array(n)
  const buyKind = new Uint8Array(n)
  const maxF = new Float64Array(assets.length)
  let lastKey = ''
  let lastIdx = -1
  const indexOf = (k: string) => {
    if (k !== lastKey) {
      lastKey = k
      lastIdx = assetIndex.get(k) as number
    }
    return lastIdx
  }
  for (let i = 0; i < n; i++) {
    const o = orders[i]
    sell[i] = indexOf(o.sellAsset)
    buy[i] = indexOf(o.buyAsset)
    maxSold[i] = feeBps === 0n ? allowed[i] : maxSoldFor(allowed[i], feeBps)
    sellF[i] = Number(o.sellAmount)
    buyF[i] = Number(o.buyAmount)
    if (o.kind === 'buy') buyKind[i] = 1
    if (sellF[i] > maxF[sell[i]]) maxF[sell[i]] = sellF[i]
    if (buyF[i] > maxF[buy[i]]) maxF[buy[i]] = buyF[i]
  }
  // Bits of an asset's largest amount (sold or bought), from its float (+1 covers rounding up to 2^k).
  const maxPrice = Array.from(maxF, (f) => maxPriceFor(f < 1 ? 1 : Math.ceil(Math.log2(f)) + 1))
  return {
    feeBps,
    assets,
    assetIndex,
    isResource: assets.map(isResource),
    numeraire: input.params.numeraire,
    orders,
    sell,
    buy,
    maxSold,
    maxPrice,
    buyKind,
    sellF,
    buyF,
    dropped,
  }
}

function hashStr(s: string, seed: number): number {
  let h = seed
  for (let k = 0; k < s.length; k++) h = Math.imul(h ^ (s.charCodeAt(k) | 0x20), 16777619)
  return h >>> 0
}

function sameTrader(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase()
}

export function balanceOf(input: ClearBatchInput, trader: string, asset: string): bigint {
  const b = input.balances[trader] ?? input.balances[trader.toLowerCase()]
  const v = b?.[asset]
  return v === undefined ? 0n : v
}
