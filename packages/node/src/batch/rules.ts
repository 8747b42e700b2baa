import {
  type AssetId,
  type Hex,
  MAX_ORDER_AMOUNT,
  type NetworkDomain,
  type Order,
  recoverOrderSigner,
} from '@allot/protocol'
import type { OpenedOrder } from './unseal.js'

export { MAX_ORDER_AMOUNT }

/**
 * What only the plaintext can show (DESIGN.md "A batch, step by step", step 1): checked by every node
 * after unsealing, identically. The first failing rule names the order's `rejected` code.
 */
export function innerOrderError(
  o: OpenedOrder,
  height: bigint,
  domain: NetworkDomain,
  assets: ReadonlySet<AssetId>,
): { code: string; message: string } | null {
  const order: Order = o.signed.order
  if (order.trader.toLowerCase() !== o.envelope.trader.toLowerCase()) {
    return {
      code: 'ORDER_TRADER_MISMATCH',
      message: 'the inner order names another trader than its envelope',
    }
  }
  if (order.firstBatch !== height || o.envelope.batch !== height) {
    return {
      code: 'ORDER_BAD_BATCH',
      message: `the inner order is for batch ${order.firstBatch}, sealed for ${height}`,
    }
  }
  if (order.lastBatch < order.firstBatch)
    return { code: 'ORDER_BAD_BATCH', message: 'lastBatch before firstBatch' }
  if (order.sellAmount <= 0n || order.buyAmount <= 0n)
    return { code: 'ORDER_BAD_AMOUNT', message: 'amounts must be > 0' }
  // Past it the contract's limit arithmetic overflows (a Panic): the certified batch would not settle.
  if (order.sellAmount > MAX_ORDER_AMOUNT || order.buyAmount > MAX_ORDER_AMOUNT)
    return { code: 'ORDER_BAD_AMOUNT', message: `amounts must be at most ${MAX_ORDER_AMOUNT} (2¹¹² − 1)` }
  if (order.sellAsset === order.buyAsset)
    return { code: 'ORDER_BAD_ASSET', message: 'sells and buys the same asset' }
  if (!assets.has(order.sellAsset) || !assets.has(order.buyAsset)) {
    return { code: 'ORDER_UNKNOWN_ASSET', message: 'an asset the network does not know' }
  }
  // Unsealing checked it already (openSealedOrder, native recovery): no second, slower recovery.
  if (o.signatureChecked) return null
  try {
    if (recoverOrderSigner(domain, order, o.signed.signature) !== order.trader.toLowerCase()) {
      return { code: 'ORDER_BAD_SIGNATURE', message: 'the inner order is not signed by its trader' }
    }
  } catch {
    return { code: 'ORDER_BAD_SIGNATURE', message: 'the inner order signature does not recover' }
  }
  return null
}

/**
 * What is left of an order after cumulative fills: sold + fee always counts against sellAmount (the
 * contract caps both kinds there), and for buy kind bought counts against buyAmount too.
 */
export function remainderOf(
  order: Order,
  sold: bigint,
  bought: bigint,
  fee: bigint,
): { sell: bigint; buy: bigint } {
  const sell = order.sellAmount - sold - fee
  if (order.kind === 'sell') return { sell: sell > 0n ? sell : 0n, buy: 0n }
  const buy = order.buyAmount - bought
  return { sell: sell > 0n ? sell : 0n, buy: buy > 0n ? buy : 0n }
}

export function isExhausted(order: Order, sold: bigint, bought: bigint, fee: bigint): boolean {
  const r = remainderOf(order, sold, bought, fee)
  return order.kind === 'sell' ? r.sell === 0n : r.buy === 0n || r.sell === 0n
}

export type { Hex }
