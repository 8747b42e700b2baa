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
  /** Asset index of each order's sell and buy asset (bytes when there are at most 255 assets). */
  sell: AssetIds
  buy: AssetIds
  /** Largest `sold` with `sold + fee(sold)` within the order's debit allowance. */
  maxSold: bigint[]
  /** Per asset: its price must stay below this (ratio.ts `maxPriceFor`, from its orders' largest amount). */
  maxPrice: bigint[]
  /** 1 for a buy-kind order (read in hot loops instead of the order object). */
  buyKind: Uint8Array
  /** Float approximations of the amounts, for sorting hints only (built on first use). */
  sellF: Float64Array
  buyF: Float64Array
  /** Every sellAmount and buyAmount is below 2⁶⁴; then `sell64` / `buy64` hold them (else unspecified). */
  narrow: boolean
  sell64: BigUint64Array
  buy64: BigUint64Array
  /** Every order is sell-kind and partially fillable. */
  allSellPartial: boolean
  /** Every order's debit allowance is its sellAmount (none reduced by its balance). */
  fullAllowance: boolean
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
 *
 * One pass over the order objects reads everything later stages need into columns (assets, float and
 * 64-bit amounts); when nothing is dropped the input array itself is the prepared order list.
 */
export function prepare(input: ClearBatchInput): Prepared {
  const feeBps = feeBpsOf(input)
  const isResource = isResourceOf(input)
  let sorted: readonly SolverOrder[] = input.orders
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1].id >= sorted[i].id) {
      sorted = [...input.orders].sort((x, y) => compareStr(x.id, y.id))
      for (let k = 1; k < sorted.length; k++) {
        if (sorted[k].id === sorted[k - 1].id) {
          throw new AllotError('SOLVER_INPUT_DUPLICATE_ID', `order id appears twice: ${sorted[k].id}`)
        }
      }
      break
    }
  }
  const m = sorted.length
  // Debit allowances that differ from the sell amount (none in the common case: no array is built).
  let allowance: bigint[] | null = null
  const setAllowance = (i: number, a: bigint) => {
    if (allowance === null) allowance = sorted.map((o) => o.sellAmount)
    allowance[i] = a
  }
  const drop = new Uint8Array(m) // 1 bad, 2 unfunded
  // Per order, in input (id) order: provisional asset ids (first seen), amounts as floats and, when
  // below 2⁶⁴, as 64-bit words.
  const keys: string[] = []
  const keyIds = new Map<string, number>()
  const resource: boolean[] = []
  let cacheK0 = ''
  let cacheI0 = -1
  let cacheK1 = ''
  let cacheI1 = -1
  const idOf = (k: string): number => {
    if (k === cacheK0) return cacheI0
    if (k === cacheK1) return cacheI1
    let id = keyIds.get(k)
    if (id === undefined) {
      id = keys.length
      keys.push(k)
      keyIds.set(k, id)
      resource.push(isResource(k))
    }
    cacheK1 = cacheK0
    cacheI1 = cacheI0
    cacheK0 = k
    cacheI0 = id
    return id
  }
  // Asset ids as bytes while there are at most 255 assets (widened when a 256th appears).
  let sellP: AssetIds = new Uint8Array(m)
  let buyP: AssetIds = new Uint8Array(m)
  const sell640 = new BigUint64Array(m)
  const buy640 = new BigUint64Array(m)
  const buyKind0 = new Uint8Array(m)
  let narrow = true
  // Group orders by (trader, sell asset): a hash per order, the (hash, index) pairs radix-sorted (sequential
  // passes: a hash table or a Map of 10⁶ string keys is dominated by cache misses), then orders of equal
  // hash compared. `next` chains a group's members in id order (only when some group has two).
  const hashes = new Uint32Array(m)
  const members = new Int32Array(m)
  let K = 0
  let allSellPartial = true
  let fullAllowance = true
  for (let i = 0; i < m; i++) {
    const o = sorted[i]
    const s = o.sellAmount
    const b = o.buyAmount
    if (badOrder(o)) {
      drop[i] = 1
      continue
    }
    const x = idOf(o.sellAsset)
    const y = idOf(o.buyAsset)
    if ((x > 255 || y > 255) && sellP instanceof Uint8Array) {
      sellP = Int32Array.from(sellP)
      buyP = Int32Array.from(buyP)
    }
    sellP[i] = x
    buyP[i] = y
    if (s < TWO64 && b < TWO64) {
      sell640[i] = s
      buy640[i] = b
    } else narrow = false
    if (o.kind === 'buy') buyKind0[i] = 1
    if (o.kind !== 'sell' || !o.partiallyFillable) allSellPartial = false
    if (resource[x]) continue
    hashes[K] = hashTail(o.trader) ^ Math.imul(x + 1, 0x9e3779b1)
    members[K++] = i
  }
  radixSortPairs(hashes.subarray(0, K), members.subarray(0, K))
  // Group leaders (each group's first order); the funding pass visits them in index order (sequential
  // reads of the order objects).
  const lead = new Uint8Array(m)
  const runLeaders: number[] = [] // leaders within one run of equal hashes
  let next: Int32Array | null = null
  let last: Int32Array | null = null
  for (let p = 0; p < K; ) {
    let q = p + 1
    while (q < K && hashes[q] === hashes[p]) q++
    if (q === p + 1) {
      lead[members[p++]] = 1
      continue
    }
    // Equal hashes, ascending index (the sort is stable): same group when same trader and sell asset.
    if (next === null || last === null) {
      next = new Int32Array(m).fill(-1)
      last = new Int32Array(m)
    }
    runLeaders.length = 0
    const byKey = q - p > 32 ? new Map<string, number>() : null
    for (let r = p; r < q; r++) {
      const i = members[r]
      let l = -1
      if (byKey !== null) l = byKey.get(`${sellP[i]}|${sorted[i].trader.toLowerCase()}`) ?? -1
      else {
        for (let t = 0; t < runLeaders.length; t++) {
          const j = runLeaders[t]
          if (sellP[j] === sellP[i] && sameTrader(sorted[j].trader, sorted[i].trader)) {
            l = j
            break
          }
        }
      }
      if (l < 0) {
        runLeaders.push(i)
        lead[i] = 1
        last[i] = i
        byKey?.set(`${sellP[i]}|${sorted[i].trader.toLowerCase()}`, i)
      } else {
        next[last[l]] = i
        last[l] = i
      }
    }
    p = q
  }
  const B = input.balances
  for (let l = 0; l < m; l++) {
    if (lead[l] === 0) continue
    const o0 = sorted[l]
    const rec = B[o0.trader] ?? B[o0.trader.toLowerCase()]
    const v = rec === undefined ? undefined : rec[o0.sellAsset]
    const bal = v === undefined ? 0n : v
    if (next === null || next[l] < 0) {
      // One order: it may use min(sellAmount, balance); fill-or-kill needs all of it.
      if (o0.sellAmount <= bal) continue // allowance already its sellAmount
      if (!o0.partiallyFillable || bal === 0n) drop[l] = 2
      else {
        setAllowance(l, bal)
        fullAllowance = false
      }
      continue
    }
    const g: number[] = []
    for (let j = l; j >= 0; j = next[j]) g.push(j)
    let need = 0n
    for (const j of g) need += sorted[j].sellAmount
    if (need <= bal) continue // every allowance already its sellAmount
    fullAllowance = false
    let rest = bal
    for (const j of g) {
      const o = sorted[j]
      if (o.partiallyFillable) continue
      if (o.sellAmount <= rest) {
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
      else setAllowance(j, a < o.sellAmount ? a : o.sellAmount)
    }
  }
  // Kept orders (all of them, in the common case: the columns are used as they are).
  const dropped: DroppedOrder[] = []
  let kept: Int32Array | null = null
  let n = m
  for (let i = 0; i < m; i++) {
    if (drop[i] !== 0) {
      if (kept === null) {
        kept = new Int32Array(m)
        for (let k = 0; k < i; k++) kept[k] = k
        n = i
      }
      dropped.push({ id: sorted[i].id, reason: drop[i] === 1 ? 'BAD_ORDER' : 'INSUFFICIENT_BALANCE' })
    } else if (kept !== null) kept[n++] = i
  }
  let orders: SolverOrder[]
  let allowed = allowance as bigint[] | null
  let sell = sellP
  let buy = buyP
  let sell64 = sell640
  let buy64 = buy640
  let buyKind = buyKind0
  if (kept === null) {
    orders = sorted as SolverOrder[]
  } else {
    const K = kept.subarray(0, n)
    orders = Array.from(K, (i) => sorted[i])
    const a0 = allowance as bigint[] | null
    allowed = a0 === null ? null : Array.from(K, (i) => a0[i])
    const pick = <T extends { [k: number]: number | bigint }>(col: T, out: T): T => {
      for (let k = 0; k < n; k++) out[k] = col[K[k]]
      return out
    }
    sell = pick(sellP, sellP instanceof Uint8Array ? new Uint8Array(n) : new Int32Array(n))
    buy = pick(buyP, buyP instanceof Uint8Array ? new Uint8Array(n) : new Int32Array(n))
    sell64 = pick(sell640, new BigUint64Array(n))
    buy64 = pick(buy640, new BigUint64Array(n))
    buyKind = pick(buyKind0, new Uint8Array(n))
    narrow = true
    allSellPartial = true
    for (let k = 0; k < n; k++) {
      const o = orders[k]
      if (o.sellAmount >= TWO64 || o.buyAmount >= TWO64) narrow = false
      if (o.kind !== 'sell' || !o.partiallyFillable) allSellPartial = false
    }
  }
  // Assets of the kept orders, ascending key; provisional ids mapped to their rank.
  const used = new Uint8Array(keys.length)
  for (let i = 0; i < n; i++) {
    used[sell[i]] = 1
    used[buy[i]] = 1
  }
  const assets = keys.filter((_, k) => used[k] === 1).sort(compareStr)
  const assetIndex = new Map<string, number>()
  for (let i = 0; i < assets.length; i++) assetIndex.set(assets[i], i)
  const remap = new Int32Array(keys.length)
  let identity = true
  for (let k = 0; k < keys.length; k++) {
    remap[k] = used[k] === 1 ? (assetIndex.get(keys[k]) as number) : -1
    if (remap[k] !== k) identity = false
  }
  if (!identity) {
    if (sell === sellP) {
      sell = new Int32Array(n)
      buy = new Int32Array(n)
    }
    for (let i = 0; i < n; i++) {
      sell[i] = remap[sellP[kept === null ? i : kept[i]]]
      buy[i] = remap[buyP[kept === null ? i : kept[i]]]
    }
  }
  // maxSold is built on first use (the single-pair fast path reads the sell amounts instead).
  let maxSold: bigint[] | undefined
  const maxSoldOf = (): bigint[] => {
    const a = allowed ?? orders.map((o) => o.sellAmount)
    return feeBps === 0n ? a : a.map((x) => maxSoldFor(x, feeBps))
  }
  // Float amounts (hints only), built on first use. From the words when they hold the amounts:
  // hi·2³² is exact, so hi·2³² + lo is Number(amount), correctly rounded.
  const floatsOf = (w: BigUint64Array, amount: (o: SolverOrder) => bigint): Float64Array => {
    const f = new Float64Array(n)
    if (narrow) {
      const w32 = new Uint32Array(w.buffer, w.byteOffset, 2 * n)
      for (let i = 0; i < n; i++) f[i] = w32[2 * i + W_HI] * 4294967296 + w32[2 * i + W_LO]
    } else for (let i = 0; i < n; i++) f[i] = Number(amount(orders[i]))
    return f
  }
  let sellF: Float64Array | undefined
  let buyF: Float64Array | undefined
  const sellFOf = (): Float64Array => {
    if (sellF === undefined) sellF = floatsOf(sell64, (o) => o.sellAmount)
    return sellF
  }
  const buyFOf = (): Float64Array => {
    if (buyF === undefined) buyF = floatsOf(buy64, (o) => o.buyAmount)
    return buyF
  }
  const maxF = new Float64Array(assets.length)
  if (narrow) {
    const s32 = new Uint32Array(sell64.buffer, sell64.byteOffset, 2 * n)
    const b32 = new Uint32Array(buy64.buffer, buy64.byteOffset, 2 * n)
    for (let i = 0; i < n; i++) {
      const fs = s32[2 * i + W_HI] * 4294967296 + s32[2 * i + W_LO]
      const fb = b32[2 * i + W_HI] * 4294967296 + b32[2 * i + W_LO]
      if (fs > maxF[sell[i]]) maxF[sell[i]] = fs
      if (fb > maxF[buy[i]]) maxF[buy[i]] = fb
    }
  } else {
    const sf = sellFOf()
    const bf = buyFOf()
    for (let i = 0; i < n; i++) {
      if (sf[i] > maxF[sell[i]]) maxF[sell[i]] = sf[i]
      if (bf[i] > maxF[buy[i]]) maxF[buy[i]] = bf[i]
    }
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
    get maxSold(): bigint[] {
      if (maxSold === undefined) maxSold = maxSoldOf()
      return maxSold
    },
    maxPrice,
    buyKind,
    get sellF(): Float64Array {
      return sellFOf()
    },
    get buyF(): Float64Array {
      return buyFOf()
    },
    narrow,
    allSellPartial,
    fullAllowance,
    sell64,
    buy64,
    dropped,
  }
}

/** Asset indices per order. */
export type AssetIds = Int32Array | Uint8Array

const TWO64 = 1n << 64n
const W_LO = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1 // low word of a u64 in a u32 view
const W_HI = 1 - W_LO

/** Sorts `keys` ascending, `vals` alongside, stably: LSD radix, three passes of 11 bits. */
function radixSortPairs(keys: Uint32Array, vals: Int32Array): void {
  const n = keys.length
  if (n < 2) return
  let k0: Uint32Array = keys
  let v0: Int32Array = vals
  let k1: Uint32Array = new Uint32Array(n)
  let v1: Int32Array = new Int32Array(n)
  const count = new Int32Array(2049)
  for (let sh = 0; sh < 33; sh += 11) {
    count.fill(0)
    for (let p = 0; p < n; p++) count[((k0[p] >>> sh) & 2047) + 1]++
    for (let d = 0; d < 2048; d++) count[d + 1] += count[d]
    for (let p = 0; p < n; p++) {
      const d = (k0[p] >>> sh) & 2047
      const t = count[d]++
      k1[t] = k0[p]
      v1[t] = v0[p]
    }
    const tk = k0
    k0 = k1
    k1 = tk
    const tv = v0
    v0 = v1
    v1 = tv
  }
  // Three passes: the result is in the scratch arrays.
  keys.set(k0)
  vals.set(v0)
}

/**
 * Hash of a trader key, case-insensitive like `sameTrader`: its length and last 16 characters (an
 * address's low 64 bits; the table compares whole keys, so this only spreads them).
 */
function hashTail(s: string): number {
  let h = 0x811c9dc5 ^ s.length
  for (let k = s.length > 16 ? s.length - 16 : 0; k < s.length; k++) {
    h = Math.imul(h ^ (s.charCodeAt(k) | 0x20), 16777619)
  }
  h ^= h >>> 15
  return Math.imul(h, 0x2c1b3c6d) >>> 0
}

function sameTrader(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase()
}

export function balanceOf(input: ClearBatchInput, trader: string, asset: string): bigint {
  const b = input.balances[trader] ?? input.balances[trader.toLowerCase()]
  const v = b?.[asset]
  return v === undefined ? 0n : v
}
