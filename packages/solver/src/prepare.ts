import { AllotError, BPS, feeOf } from '@allot/protocol'
import { compareStr, maxPriceFor } from './ratio.js'
import type { ClearBatchInput, ClearTableInput, DroppedOrder, OrderTable, SolverOrder } from './types.js'

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
  /** The orders as objects (built on first use from an `OrderTable`: the single-pair path never asks). */
  orders: SolverOrder[]
  /** Number of prepared orders (`orders.length`). */
  size: number
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
  /** Orders dropped by funding or as malformed, ascending id. */
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

export function isResourceOf(input: { params: ClearBatchInput['params'] }): (a: string) => boolean {
  const r = input.params.resourceAssets
  if (r === undefined) return () => false
  if (typeof r === 'function') return r
  return (a) => r.has(a)
}

export function feeBpsOf(input: { params: ClearBatchInput['params'] }): bigint {
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
 * What funding and the columns are built from, in id order: the object form or an `OrderTable`, read
 * through one shape. Provisional asset ids index `keys`; bad orders are marked in `drop` (1); the
 * orders that need funding are `members[0..K)` with a hash of (trader, sell asset) each.
 */
interface Source {
  m: number
  keys: readonly string[]
  resource: readonly boolean[]
  sellP: AssetIds
  buyP: AssetIds
  /** The amounts where below 2⁶⁴ (every one when `narrow`). */
  sell64: BigUint64Array
  buy64: BigUint64Array
  narrow: boolean
  buyKind: Uint8Array
  allSellPartial: boolean
  drop: Uint8Array
  hashes: Uint32Array
  members: Int32Array
  K: number
  /** Same trader (any case). */
  sameTrader: (i: number, j: number) => boolean
  /** The trader as a string key (any case → one key), for long runs of equal hashes. */
  traderKey: (i: number) => string
  sellAmount: (i: number) => bigint
  buyAmount: (i: number) => bigint
  partial: (i: number) => boolean
  /** Available balance of order i's trader in its sell asset. */
  balance: (i: number) => bigint
  /** sellAmount(i) ≤ balance(i). */
  covered: (i: number) => boolean
  id: (i: number) => string
  /** The orders at positions `kept` (all when null) as objects. */
  orders: (kept: Int32Array | null, n: number) => SolverOrder[]
}

/**
 * Funding rule (documented in README.md): per (trader, sell asset) the available balance B is shared.
 * If the orders' sell amounts fit in B, each may use its sell amount. Otherwise fill-or-kill orders,
 * in ascending id, reserve their full sell amount while it fits (else they are dropped), and the rest
 * is split among the partially fillable ones pro rata to their sell amounts (floor); a partially
 * fillable order left with nothing is dropped. Resource sell orders are not balance-limited.
 *
 * One pass over the order objects reads everything later stages need into columns (assets, float and
 * 64-bit amounts); when nothing is dropped the input array itself is the prepared order list. An
 * `OrderTable` is read as it is (its columns become the prepared ones when its ids ascend and nothing
 * is dropped), and its orders become objects only if a later stage asks for them.
 */
export function prepare(input: ClearBatchInput | ClearTableInput): Prepared {
  const feeBps = feeBpsOf(input)
  const isResource = isResourceOf(input)
  const src = 'table' in input ? tableSource(input.table, isResource) : objectSource(input, isResource)
  return fund(src, feeBps, isResource, input.params.numeraire)
}

function objectSource(input: ClearBatchInput, isResource: (a: string) => boolean): Source {
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
  const sell64 = new BigUint64Array(m)
  const buy64 = new BigUint64Array(m)
  const buyKind = new Uint8Array(m)
  let narrow = true
  // Group orders by (trader, sell asset): a hash per order, the (hash, index) pairs radix-sorted (sequential
  // passes: a hash table or a Map of 10⁶ string keys is dominated by cache misses), then orders of equal
  // hash compared.
  const hashes = new Uint32Array(m)
  const members = new Int32Array(m)
  let K = 0
  let allSellPartial = true
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
      sell64[i] = s
      buy64[i] = b
    } else narrow = false
    if (o.kind === 'buy') buyKind[i] = 1
    if (o.kind !== 'sell' || !o.partiallyFillable) allSellPartial = false
    if (resource[x]) continue
    hashes[K] = (hashTail(o.trader) ^ Math.imul(x + 1, 0x9e3779b1)) >>> 8
    members[K++] = i
  }
  const B = input.balances
  const balance = (i: number): bigint => {
    const o = sorted[i]
    const rec = B[o.trader] ?? B[o.trader.toLowerCase()]
    const v = rec === undefined ? undefined : rec[o.sellAsset]
    return v === undefined ? 0n : v
  }
  return {
    m,
    keys,
    resource,
    sellP,
    buyP,
    sell64,
    buy64,
    narrow,
    buyKind,
    allSellPartial,
    drop,
    hashes,
    members,
    K,
    sameTrader: (i, j) => sameTrader(sorted[i].trader, sorted[j].trader),
    traderKey: (i) => sorted[i].trader.toLowerCase(),
    sellAmount: (i) => sorted[i].sellAmount,
    buyAmount: (i) => sorted[i].buyAmount,
    partial: (i) => sorted[i].partiallyFillable,
    balance,
    covered: (i) => sorted[i].sellAmount <= balance(i),
    id: (i) => sorted[i].id,
    orders: (kept, n) =>
      kept === null ? (sorted as SolverOrder[]) : Array.from(kept.subarray(0, n), (i) => sorted[i]),
  }
}

/**
 * An `OrderTable` as a source: its columns as they are when its ids ascend (else a copy in id order),
 * traders grouped by a hash of their 20 bytes, amounts read as 32-bit words where they are 64-bit columns.
 */
function tableSource(table0: OrderTable, isResource: (a: string) => boolean): Source {
  const t = tableInIdOrder(table0)
  const m = t.length
  const keys = t.assets
  const resource = keys.map(isResource)
  const drop = new Uint8Array(m)
  const A = keys.length
  const sellP: AssetIds =
    A <= 256 && t.sellAsset instanceof Uint8Array ? t.sellAsset : Int32Array.from(t.sellAsset)
  const buyP: AssetIds =
    A <= 256 && t.buyAsset instanceof Uint8Array ? t.buyAsset : Int32Array.from(t.buyAsset)
  const col64 = (c: BigUint64Array | readonly bigint[]): { w: BigUint64Array; narrow: boolean } => {
    if (c instanceof BigUint64Array) return { w: c, narrow: true }
    const w = new BigUint64Array(m)
    let narrow = true
    for (let i = 0; i < m; i++) {
      if (c[i] < TWO64 && c[i] >= 0n) w[i] = c[i]
      else narrow = false
    }
    return { w, narrow }
  }
  const s = col64(t.sellAmount)
  const b = col64(t.buyAmount)
  const sellAmount = bigintsOf(t.sellAmount)
  const buyAmount = bigintsOf(t.buyAmount)
  const balance = bigintsOf(t.sellBalance)
  const s32 = new Uint32Array(s.w.buffer, s.w.byteOffset, 2 * m)
  const b32 = new Uint32Array(b.w.buffer, b.w.byteOffset, 2 * m)
  const kind = t.kind
  const pf = t.partiallyFillable
  const tr = t.trader
  const trv = new DataView(tr.buffer, tr.byteOffset, tr.byteLength)
  const hashes = new Uint32Array(m)
  const members = new Int32Array(m)
  let K = 0
  let allSellPartial = true
  for (let i = 0; i < m; i++) {
    const x = sellP[i]
    const y = buyP[i]
    if (x >= A || y >= A || kind[i] > 1) {
      throw new AllotError('SOLVER_INPUT_BAD_FIELD', `order table row ${i}: asset index or kind out of range`)
    }
    // badOrder: zero amounts, one asset on both sides (amounts above 2²⁵⁵ only in bigint columns).
    const zero =
      (s.narrow ? s32[2 * i] === 0 && s32[2 * i + 1] === 0 : sellAmount(i) <= 0n) ||
      (b.narrow ? b32[2 * i] === 0 && b32[2 * i + 1] === 0 : buyAmount(i) <= 0n)
    if (
      zero ||
      x === y ||
      (!s.narrow && sellAmount(i) > MAX_AMOUNT) ||
      (!b.narrow && buyAmount(i) > MAX_AMOUNT)
    ) {
      drop[i] = 1
      continue
    }
    if (kind[i] !== 0 || pf[i] === 0) allSellPartial = false
    if (resource[x]) continue
    // A hash of the address's last 8 bytes (its low 64 bits; runs of equal hashes compare all 20).
    let h = Math.imul(trv.getUint32(20 * i + 12, true) ^ 0x811c9dc5, 0x85ebca6b)
    h = Math.imul(h ^ (h >>> 13) ^ trv.getUint32(20 * i + 16, true), 0xc2b2ae35)
    h ^= h >>> 16
    hashes[K] = (h ^ Math.imul(x + 1, 0x9e3779b1)) >>> 8
    members[K++] = i
  }
  const sameTrader = (i: number, j: number): boolean => {
    for (let k = 0; k < 20; k++) if (tr[20 * i + k] !== tr[20 * j + k]) return false
    return true
  }
  const bal64 = t.sellBalance instanceof BigUint64Array ? t.sellBalance : null
  const l32 = bal64 === null ? null : new Uint32Array(bal64.buffer, bal64.byteOffset, 2 * m)
  // sellAmount ≤ balance on the words (hi, then lo) when both are 64-bit columns.
  const covered = (i: number): boolean => {
    if (l32 === null || !s.narrow) return sellAmount(i) <= balance(i)
    const sh = s32[2 * i + W_HI]
    const lh = l32[2 * i + W_HI]
    return sh < lh || (sh === lh && s32[2 * i + W_LO] <= l32[2 * i + W_LO])
  }
  return {
    m,
    keys,
    resource,
    sellP,
    buyP,
    sell64: s.w,
    buy64: b.w,
    narrow: s.narrow && b.narrow,
    buyKind: kind,
    allSellPartial,
    drop,
    hashes,
    members,
    K,
    sameTrader,
    traderKey: (i) => hexOf(tr, 20 * i, 20),
    sellAmount,
    buyAmount,
    partial: (i) => pf[i] !== 0,
    balance,
    covered,
    id: (i) => hexOf(t.id, 32 * i, 32),
    orders: (kept, n) => Array.from({ length: n }, (_, k) => tableOrder(t, kept === null ? k : kept[k])),
  }
}

/** A column's entry i as a bigint. */
function bigintsOf(c: BigUint64Array | readonly bigint[]): (i: number) => bigint {
  return (i) => c[i]
}

const HEX_CHARS = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0))
const hexBuf = new Uint16Array(2 + 2 * 32)
hexBuf[0] = 0x30 // '0'
hexBuf[1] = 0x78 // 'x'

/**
 * Lowercase 0x-hex of `len` (≤ 32) bytes of `bytes` from `at`, as one flat string (built from its
 * character codes: a string grown by `+=` is a rope, and 10⁵ ropes used as keys cost seconds).
 */
export function hexOf(bytes: Uint8Array, at: number, len: number): `0x${string}` {
  for (let k = 0; k < len; k++) {
    const b = bytes[at + k]
    hexBuf[2 + 2 * k] = HEX_CHARS[b >>> 4]
    hexBuf[3 + 2 * k] = HEX_CHARS[b & 15]
  }
  return String.fromCharCode.apply(
    null,
    hexBuf.subarray(0, 2 + 2 * len) as unknown as number[],
  ) as `0x${string}`
}

/** Row i of a table as the object form's order. */
export function tableOrder(t: OrderTable, i: number): SolverOrder {
  const o: SolverOrder = {
    id: hexOf(t.id, 32 * i, 32),
    trader: hexOf(t.trader, 20 * i, 20),
    sellAsset: t.assets[t.sellAsset[i]],
    buyAsset: t.assets[t.buyAsset[i]],
    sellAmount: BigInt(t.sellAmount[i]),
    buyAmount: BigInt(t.buyAmount[i]),
    kind: t.kind[i] === 1 ? 'buy' : 'sell',
    partiallyFillable: t.partiallyFillable[i] !== 0,
  }
  const signed = t.signed?.[i]
  if (signed !== undefined) o.signed = signed
  return o
}

/** Sign of id i − id j (bytes32 columns compare as their lowercase hex strings do): big-endian words. */
function compareIds(id: DataView, i: number, j: number): number {
  for (let k = 0; k < 32; k += 4) {
    const a = id.getUint32(32 * i + k)
    const b = id.getUint32(32 * j + k)
    if (a !== b) return a < b ? -1 : 1
  }
  return 0
}

/**
 * The table itself when its ids ascend strictly; else a copy in ascending id order (the object form
 * sorts likewise); a repeated id is an input error, as in the object form.
 */
function tableInIdOrder(t: OrderTable): OrderTable {
  const m = t.length
  const sizes: [string, number, number][] = [
    ['id', t.id.length, 32 * m],
    ['trader', t.trader.length, 20 * m],
    ['sellAsset', t.sellAsset.length, m],
    ['buyAsset', t.buyAsset.length, m],
    ['sellAmount', t.sellAmount.length, m],
    ['buyAmount', t.buyAmount.length, m],
    ['kind', t.kind.length, m],
    ['partiallyFillable', t.partiallyFillable.length, m],
    ['sellBalance', t.sellBalance.length, m],
  ]
  for (const [name, got, want] of sizes) {
    if (got !== want)
      throw new AllotError('SOLVER_INPUT_BAD_FIELD', `order table ${name}: ${got} entries, want ${want}`)
  }
  if (new Set(t.assets).size !== t.assets.length) {
    throw new AllotError('SOLVER_INPUT_BAD_FIELD', 'order table assets: a key appears twice')
  }
  const ids = new DataView(t.id.buffer, t.id.byteOffset, t.id.byteLength)
  let ascending = true
  for (let i = 1; i < m && ascending; i++) if (compareIds(ids, i - 1, i) >= 0) ascending = false
  if (ascending) return t
  const perm = Int32Array.from({ length: m }, (_, i) => i).sort((i, j) => compareIds(ids, i, j) || i - j)
  for (let k = 1; k < m; k++) {
    if (compareIds(ids, perm[k - 1], perm[k]) === 0) {
      throw new AllotError(
        'SOLVER_INPUT_DUPLICATE_ID',
        `order id appears twice: ${hexOf(t.id, 32 * perm[k], 32)}`,
      )
    }
  }
  const bytes = (c: Uint8Array, w: number): Uint8Array => {
    const out = new Uint8Array(w * m)
    for (let k = 0; k < m; k++) out.set(c.subarray(w * perm[k], w * perm[k] + w), w * k)
    return out
  }
  const gather = <T extends BigUint64Array | Uint8Array | Uint16Array | Uint32Array | readonly bigint[]>(
    c: T,
  ): T => {
    if (Array.isArray(c)) return Array.from(perm, (i) => c[i]) as unknown as T
    const col = c as Exclude<T, readonly bigint[]>
    const out = new (col.constructor as new (n: number) => typeof col)(m)
    for (let k = 0; k < m; k++) out[k] = col[perm[k]]
    return out as T
  }
  const signed = t.signed
  return {
    length: m,
    id: bytes(t.id, 32),
    trader: bytes(t.trader, 20),
    assets: t.assets,
    sellAsset: gather(t.sellAsset),
    buyAsset: gather(t.buyAsset),
    sellAmount: gather(t.sellAmount),
    buyAmount: gather(t.buyAmount),
    kind: gather(t.kind),
    partiallyFillable: gather(t.partiallyFillable),
    sellBalance: gather(t.sellBalance),
    signed: signed === undefined ? undefined : Array.from(perm, (i) => signed[i]),
  }
}

/** The funding rule and the prepared columns, from either source. */
function fund(src: Source, feeBps: bigint, isResource: (a: string) => boolean, numeraire: string): Prepared {
  const { m, keys, sellP, buyP, drop, hashes, members, K } = src
  // Debit allowances that differ from the sell amount (none in the common case: no array is built).
  let allowance: bigint[] | null = null
  const setAllowance = (i: number, a: bigint) => {
    if (allowance === null) allowance = Array.from({ length: m }, (_, k) => src.sellAmount(k))
    allowance[i] = a
  }
  let fullAllowance = true
  radixSortPairs(hashes.subarray(0, K), members.subarray(0, K))
  // Group leaders (each group's first order; 2 when others share its group, listed in `groups` in id
  // order); the funding pass visits them in index order (sequential reads).
  const lead = new Uint8Array(m)
  const groups = new Map<number, number[]>()
  const runLeaders: number[] = [] // leaders within one run of equal hashes
  for (let p = 0; p < K; ) {
    let q = p + 1
    while (q < K && hashes[q] === hashes[p]) q++
    if (q === p + 1) {
      lead[members[p++]] = 1
      continue
    }
    // Equal hashes, ascending index (the sort is stable): same group when same trader and sell asset.
    runLeaders.length = 0
    const byKey = q - p > 32 ? new Map<string, number>() : null
    for (let r = p; r < q; r++) {
      const i = members[r]
      let l = -1
      if (byKey !== null) l = byKey.get(`${sellP[i]}|${src.traderKey(i)}`) ?? -1
      else {
        for (let t = 0; t < runLeaders.length; t++) {
          const j = runLeaders[t]
          if (sellP[j] === sellP[i] && src.sameTrader(j, i)) {
            l = j
            break
          }
        }
      }
      if (l < 0) {
        runLeaders.push(i)
        lead[i] = 1
        byKey?.set(`${sellP[i]}|${src.traderKey(i)}`, i)
      } else {
        lead[l] = 2
        const g = groups.get(l)
        if (g === undefined) groups.set(l, [l, i])
        else g.push(i)
      }
    }
    p = q
  }
  for (let l = 0; l < m; l++) {
    if (lead[l] === 0) continue
    if (lead[l] === 1) {
      // One order: it may use min(sellAmount, balance); fill-or-kill needs all of it.
      if (src.covered(l)) continue // allowance already its sellAmount
      const bal = src.balance(l)
      if (!src.partial(l) || bal === 0n) drop[l] = 2
      else {
        setAllowance(l, bal)
        fullAllowance = false
      }
      continue
    }
    const bal = src.balance(l)
    const g = groups.get(l) as number[]
    let need = 0n
    for (const j of g) need += src.sellAmount(j)
    if (need <= bal) continue // every allowance already its sellAmount
    fullAllowance = false
    let rest = bal
    for (const j of g) {
      if (src.partial(j)) continue
      const s = src.sellAmount(j)
      if (s <= rest) {
        rest -= s
      } else drop[j] = 2
    }
    let partialNeed = 0n
    for (const j of g) if (src.partial(j)) partialNeed += src.sellAmount(j)
    for (const j of g) {
      if (!src.partial(j)) continue
      const s = src.sellAmount(j)
      const a = partialNeed === 0n ? 0n : (rest * s) / partialNeed
      if (a === 0n) drop[j] = 2
      else setAllowance(j, a < s ? a : s)
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
      dropped.push({ id: src.id(i), reason: drop[i] === 1 ? 'BAD_ORDER' : 'INSUFFICIENT_BALANCE' })
    } else if (kept !== null) kept[n++] = i
  }
  let allowed = allowance as bigint[] | null
  let sell = sellP
  let buy = buyP
  let sell64 = src.sell64
  let buy64 = src.buy64
  let buyKind = src.buyKind
  let narrow = src.narrow
  let allSellPartial = src.allSellPartial
  // Original positions of the kept orders (amounts read through the source).
  const at = (k: number): number => (kept === null ? k : kept[k])
  if (kept !== null) {
    const K = kept.subarray(0, n)
    const a0 = allowance as bigint[] | null
    allowed = a0 === null ? null : Array.from(K, (i) => a0[i])
    const pick = <T extends { [k: number]: number | bigint }>(col: T, out: T): T => {
      for (let k = 0; k < n; k++) out[k] = col[K[k]]
      return out
    }
    sell = pick(sellP, sellP instanceof Uint8Array ? new Uint8Array(n) : new Int32Array(n))
    buy = pick(buyP, buyP instanceof Uint8Array ? new Uint8Array(n) : new Int32Array(n))
    sell64 = pick(src.sell64, new BigUint64Array(n))
    buy64 = pick(src.buy64, new BigUint64Array(n))
    buyKind = pick(src.buyKind, new Uint8Array(n))
    narrow = true
    allSellPartial = true
    for (let k = 0; k < n; k++) {
      const i = K[k]
      if (src.sellAmount(i) >= TWO64 || src.buyAmount(i) >= TWO64) narrow = false
      if (buyKind[k] !== 0 || !src.partial(i)) allSellPartial = false
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
      sell[i] = remap[sellP[at(i)]]
      buy[i] = remap[buyP[at(i)]]
    }
  }
  // The orders as objects, on first use (the input array itself for the object form when nothing is dropped).
  let orders: SolverOrder[] | undefined
  const ordersOf = (): SolverOrder[] => {
    if (orders === undefined) orders = src.orders(kept, n)
    return orders
  }
  // maxSold is built on first use (the single-pair fast path reads the sell amounts instead).
  let maxSold: bigint[] | undefined
  const maxSoldOf = (): bigint[] => {
    const a = allowed ?? Array.from({ length: n }, (_, k) => src.sellAmount(at(k)))
    return feeBps === 0n ? a : a.map((x) => maxSoldFor(x, feeBps))
  }
  // Float amounts (hints only), built on first use. From the words when they hold the amounts:
  // hi·2³² is exact, so hi·2³² + lo is Number(amount), correctly rounded.
  const floatsOf = (w: BigUint64Array, amount: (i: number) => bigint): Float64Array => {
    const f = new Float64Array(n)
    if (narrow) {
      const w32 = new Uint32Array(w.buffer, w.byteOffset, 2 * n)
      for (let i = 0; i < n; i++) f[i] = w32[2 * i + W_HI] * 4294967296 + w32[2 * i + W_LO]
    } else for (let i = 0; i < n; i++) f[i] = Number(amount(at(i)))
    return f
  }
  let sellF: Float64Array | undefined
  let buyF: Float64Array | undefined
  const sellFOf = (): Float64Array => {
    if (sellF === undefined) sellF = floatsOf(sell64, src.sellAmount)
    return sellF
  }
  const buyFOf = (): Float64Array => {
    if (buyF === undefined) buyF = floatsOf(buy64, src.buyAmount)
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
    numeraire,
    get orders(): SolverOrder[] {
      return ordersOf()
    },
    size: n,
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

/**
 * Sorts 24-bit `keys` ascending, `vals` alongside, stably: LSD radix, two passes of 12 bits. (The
 * grouping hashes keep 24 bits: orders of equal hash are compared in full anyway, so a shorter hash
 * costs only a few more comparisons, and saves a pass.)
 */
function radixSortPairs(keys: Uint32Array, vals: Int32Array): void {
  const n = keys.length
  if (n < 2) return
  const k1 = new Uint32Array(n)
  const v1 = new Int32Array(n)
  const count = new Int32Array(4097)
  for (let p = 0; p < n; p++) count[(keys[p] & 4095) + 1]++
  for (let d = 0; d < 4096; d++) count[d + 1] += count[d]
  for (let p = 0; p < n; p++) {
    const t = count[keys[p] & 4095]++
    k1[t] = keys[p]
    v1[t] = vals[p]
  }
  count.fill(0)
  for (let p = 0; p < n; p++) count[(k1[p] >>> 12) + 1]++
  for (let d = 0; d < 4096; d++) count[d + 1] += count[d]
  for (let p = 0; p < n; p++) {
    const t = count[k1[p] >>> 12]++
    keys[t] = k1[p]
    vals[t] = v1[p]
  }
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
