import type { HistoryBatch, HistoryHeader, HistoryOrder } from '@allot/backtest'
import type { BatchContent, BatchView, ClearingSettings, ExportedBatch, Hex, NodeInfo } from '@allot/protocol'
import type { BatchBalances, BatchBook, ProcessedBatch } from './record.js'

/**
 * A processed height as `batchExport` serves it: the book the solver cleared, the result it made of it,
 * the decided content's time and chain block, and the settlement once there is one. Pure.
 */
export function exportedBatchOf(
  content: Pick<BatchContent, 'height' | 'timestamp' | 'chainRef'>,
  book: BatchBook,
  record: Pick<ProcessedBatch, 'result' | 'resultHash' | 'fills'>,
  view?: Pick<BatchView, 'settlement'>,
  balances?: BatchBalances,
): ExportedBatch {
  const r = record.result
  return {
    height: content.height,
    timestamp: content.timestamp,
    chainRef: content.chainRef,
    numeraire: book.numeraire,
    objective: book.objective,
    orders: book.orders,
    prices: r.assets.flatMap((asset, k) => (r.prices[k] > 0n ? [{ asset, price: r.prices[k] }] : [])),
    fills: record.fills.map((f) => ({ orderId: f.orderId, sold: f.sold, bought: f.bought, fee: f.fee })),
    resultHash: record.resultHash,
    settlement: view?.settlement ?? null,
    balances: balances ?? null,
  }
}

/**
 * The history header of an export (docs/backtest.md "History format"). Assets are keyed by their ids,
 * as the validators' solver keyed them (its order of assets, and so its tie-breaks, follow the keys);
 * `meta.symbols` names them.
 */
export function exportHeader(
  info: NodeInfo,
  settings: ClearingSettings,
  range: { from: bigint; to: bigint },
  numeraire: Hex,
): HistoryHeader {
  const assets: Record<string, { decimals: number }> = {}
  const symbols: Record<string, string> = {}
  for (const a of info.assets) {
    assets[a.assetId] = { decimals: a.decimals }
    symbols[a.assetId] = a.symbol
  }
  const resources = info.assets.filter((a) => a.kind === 'resource').map((a) => a.assetId as string)
  return {
    type: 'header',
    version: 1,
    source: 'export',
    numeraire,
    assets,
    ...(resources.length > 0 ? { resourceAssets: resources } : {}),
    intervalMs: settings.batchIntervalMs,
    meta: {
      networkId: info.networkId,
      chainId: info.chainId.toString(),
      settlement: info.settlement,
      node: info.peerId,
      from: range.from.toString(),
      to: range.to.toString(),
      feeBps: settings.feeBps,
      maxFillsPerBatch: settings.maxFillsPerBatch,
      symbols,
    },
  }
}

/**
 * One exported height as a history batch. Times are ms since `start` (the decided timestamp of the
 * interval before the first exported height): the batch's `t` is its decided timestamp, and every order
 * arrives at the batch's open (`t − intervalMs`; the node keeps no arrival times), ties taken by id.
 * An order left with a zero amount (a remainder its fees used up) is left out: the solver drops it.
 * `balances` are those the solver was given (absent for heights processed before the node kept them:
 * the replay then funds each order by its own sell amount).
 */
export function historyBatchOf(e: ExportedBatch, start: bigint, intervalMs: number): HistoryBatch {
  const t = Number(e.timestamp - start)
  const open = Math.max(0, t - intervalMs)
  const orders: HistoryOrder[] = e.orders
    .filter((o) => o.sellAmount > 0n && o.buyAmount > 0n)
    .map((o) => ({
      id: o.orderId,
      trader: o.trader.toLowerCase() as `0x${string}`,
      sellAsset: o.sellAsset,
      buyAsset: o.buyAsset,
      sellAmount: o.sellAmount,
      buyAmount: o.buyAmount,
      kind: o.kind,
      partiallyFillable: o.partial,
      t: open,
    }))
  const prices: Record<string, bigint> = {}
  for (const p of e.prices) prices[p.asset] = p.price
  let balances: Record<string, Record<string, bigint>> | undefined
  if (e.balances) {
    balances = {}
    for (const b of e.balances) {
      const trader = b.trader.toLowerCase()
      balances[trader] ??= {}
      balances[trader][b.asset] = b.amount
    }
  }
  return {
    type: 'batch',
    height: Number(e.height),
    t,
    orders,
    ...(balances ? { balances } : {}),
    result: {
      prices,
      fills: e.fills.map((f) => ({ id: f.orderId, sold: f.sold, bought: f.bought, fee: f.fee })),
      chainRef: e.chainRef.toString(),
      resultHash: e.resultHash,
      ...(e.settlement ? { txHash: e.settlement.txHash } : {}),
    },
  }
}
