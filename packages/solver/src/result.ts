import {
  type Address,
  type AssetId,
  assetIdOf,
  type ClearingResult,
  type Fill,
  type Hex,
  isBytes32,
  keccak256Hex,
  type Lease,
  type Order,
  type Penalty,
  resultHashOf,
  type SignedOrder,
} from '@allot/protocol'
import { compareStr, floorDiv } from './ratio.js'
import type { BalanceChange, ClearBatchInput, OrderFill, SolverOrder } from './types.js'

const ZERO32 = `0x${'0'.repeat(64)}` as Hex
/** The signature placed on orders that reach the solver unsigned (offline solving). */
export const ZERO_SIGNATURE = { r: ZERO32, s: ZERO32, v: 27 } as const

const enc = new TextEncoder()

/** The bytes32 asset id of a solver asset key (already an id in the node, a free symbol offline). */
export function assetIdOfKey(key: string): AssetId {
  let id = assetIds.get(key)
  if (id === undefined) {
    id = isBytes32(key) ? (key.toLowerCase() as AssetId) : assetIdOf(key)
    if (assetIds.size > 10_000) assetIds.clear()
    assetIds.set(key, id)
  }
  return id
}

/** Asset keys repeat on every fill; their ids (a keccak each for free symbols) are cached. */
const assetIds = new Map<string, AssetId>()

/** The bytes32 order id of a solver order id (the sealed order id in the node, keccak of the text offline). */
export function orderIdOfKey(id: string): Hex {
  return isBytes32(id) ? (id.toLowerCase() as Hex) : keccak256Hex(enc.encode(id))
}

export function signedOrderOf(o: SolverOrder, height: bigint): SignedOrder {
  if (o.signed !== undefined) return o.signed
  const order: Order = {
    trader: o.trader.toLowerCase() as Address,
    sellAsset: assetIdOfKey(o.sellAsset),
    buyAsset: assetIdOfKey(o.buyAsset),
    sellAmount: o.sellAmount,
    buyAmount: o.buyAmount,
    kind: o.kind,
    partiallyFillable: o.partiallyFillable,
    firstBatch: height,
    lastBatch: height,
    nonce: 0n,
    app: ZERO32,
  }
  return { order, signature: { ...ZERO_SIGNATURE } }
}

/** Per-(account, asset) net change of token balances: −(sold + fee) in the sell asset, +bought in the buy asset. */
export function balanceChangesOf(
  fills: readonly OrderFill[],
  isResource: (a: string) => boolean,
): BalanceChange[] {
  const m = new Map<string, BalanceChange>()
  const add = (account: Address, asset: string, d: bigint) => {
    if (d === 0n || isResource(asset)) return
    const acc = account.toLowerCase() as Address
    const k = `${acc}\u0000${asset}`
    const c = m.get(k)
    if (c === undefined) m.set(k, { account: acc, asset, delta: d })
    else c.delta += d
  }
  for (const f of fills) {
    add(f.trader, f.sellAsset, -(f.sold + f.fee))
    add(f.trader, f.buyAsset, f.bought)
  }
  return [...m.values()]
    .filter((c) => c.delta !== 0n)
    .sort((a, b) => compareStr(a.account, b.account) || compareStr(a.asset, b.asset))
}

/**
 * Leases (README "Resources"): per resource class, providers (fills selling it) and consumers (fills
 * buying it), each in ascending order id, are paired front to front; a lease carries the quantity
 * and what the consumer paid for it, floor(quantity · p[resource] / p[quote]) in its sell asset.
 */
export function leasesOf(
  fills: readonly OrderFill[],
  prices: Record<string, bigint>,
  isResource: (a: string) => boolean,
): Lease[] {
  const leases: Lease[] = []
  const resources = [...new Set(fills.flatMap((f) => [f.sellAsset, f.buyAsset]).filter(isResource))].sort(
    compareStr,
  )
  for (const r of resources) {
    const providers = fills.filter((f) => f.sellAsset === r && f.sold > 0n)
    const consumers = fills.filter((f) => f.buyAsset === r && f.bought > 0n)
    let p = 0
    let left = providers.length > 0 ? providers[0].sold : 0n
    for (const c of consumers) {
      let want = c.bought
      while (want > 0n && p < providers.length) {
        const q = want < left ? want : left
        if (q > 0n) {
          leases.push({
            provider: providers[p].trader.toLowerCase() as Address,
            consumer: c.trader.toLowerCase() as Address,
            resource: assetIdOfKey(r),
            quantity: q,
            quoteAsset: assetIdOfKey(c.sellAsset),
            payment: floorDiv(q * prices[r], prices[c.sellAsset]),
          })
        }
        want -= q
        left -= q
        if (left === 0n) {
          p++
          left = p < providers.length ? providers[p].sold : 0n
        }
      }
    }
  }
  return leases
}

export interface ResultFields {
  height: bigint
  prevHeight: bigint
  chainRef: bigint
  batchHash: Hex
}

export function resultFieldsOf(input: ClearBatchInput): ResultFields {
  const p = input.params
  return {
    height: p.height ?? 0n,
    prevHeight: p.prevHeight ?? 0n,
    chainRef: p.chainRef ?? 0n,
    batchHash: p.batchHash ?? ZERO32,
  }
}

/** The protocol `ClearingResult` (the settlement payload) of a clearing. */
export function clearingResultOf(
  input: ClearBatchInput,
  prices: Record<string, bigint>,
  fills: readonly OrderFill[],
  leases: Lease[],
  penalties: Penalty[],
): ClearingResult {
  const f = resultFieldsOf(input)
  const byId = new Map<string, SolverOrder>()
  for (const o of input.orders) byId.set(o.id, o)
  const assets = Object.keys(prices)
    .map((k) => ({ id: assetIdOfKey(k), price: prices[k] }))
    .sort((a, b) => compareStr(a.id, b.id))
  const out: Fill[] = []
  for (const x of fills) {
    if (x.sold === 0n && x.bought === 0n) continue
    const o = byId.get(x.id) as SolverOrder
    out.push({
      order: signedOrderOf(o, f.height),
      orderId: orderIdOfKey(x.id),
      sold: x.sold,
      bought: x.bought,
      fee: x.fee,
    })
  }
  out.sort((a, b) => compareStr(a.orderId, b.orderId))
  return {
    ...f,
    assets: assets.map((a) => a.id),
    prices: assets.map((a) => a.price),
    fills: out,
    leases,
    penalties: [...penalties].sort((a, b) => compareStr(a.orderId, b.orderId)),
  }
}

export { resultHashOf }
