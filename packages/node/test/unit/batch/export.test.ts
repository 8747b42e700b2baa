import { parseHistory, serializeHistory } from '@allot/backtest'
import {
  type Address,
  assetIdOf,
  type ClearingSettings,
  decode,
  type ExportedBatch,
  encode,
  exportedBatchCodec,
  type Hex,
  type NodeInfo,
} from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { type BatchExportSource, exportBatches } from '../../../src/api/server.js'
import { type BatchBook, exportedBatchOf, exportHeader, historyBatchOf } from '../../../src/batch/index.js'

const USD = assetIdOf('USD') as Hex
const ETH = assetIdOf('ETH') as Hex
const CPU = assetIdOf('cpu.vcore-hour') as Hex
const alice = '0x00000000000000000000000000000000000000a1' as Address
const bob = '0x00000000000000000000000000000000000000b2' as Address
const id = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex
const settings: ClearingSettings = { feeBps: 10, maxFillsPerBatch: 500, batchIntervalMs: 1000 }

const info = {
  peerId: '12D3KooWexport',
  networkId: 'export-test',
  chainId: 31337n,
  settlement: '0x5e77000000000000000000000000000000000001',
  assets: [
    { symbol: 'USD', kind: 'token', ref: '0xaa', assetId: USD, decimals: 6 },
    { symbol: 'ETH', kind: 'token', ref: '0xbb', assetId: ETH, decimals: 18 },
    { symbol: 'CPU', kind: 'resource', ref: 'cpu.vcore-hour', assetId: CPU, decimals: 0 },
  ],
} as unknown as NodeInfo

const book: BatchBook = {
  objective: 1234n,
  numeraire: USD,
  orders: [
    {
      orderId: id(1),
      trader: alice,
      sellAsset: ETH,
      buyAsset: USD,
      sellAmount: 10n ** 18n,
      buyAmount: 3000_000000n,
      kind: 'sell',
      partial: true,
      resting: false,
    },
    {
      orderId: id(2),
      trader: bob,
      sellAsset: USD,
      buyAsset: ETH,
      sellAmount: 3100_000000n,
      buyAmount: 10n ** 18n,
      kind: 'buy',
      partial: false,
      resting: true,
    },
    // A remainder its fees used up: the solver drops it, the history leaves it out.
    {
      orderId: id(3),
      trader: bob,
      sellAsset: USD,
      buyAsset: ETH,
      sellAmount: 0n,
      buyAmount: 0n,
      kind: 'sell',
      partial: true,
      resting: true,
    },
  ],
}
const record = {
  result: {
    assets: [USD, ETH],
    prices: [10n ** 18n, 3050n * 10n ** 6n],
  },
  resultHash: id(0xabc),
  fills: [
    {
      orderId: id(1),
      trader: alice,
      sellAsset: ETH,
      buyAsset: USD,
      sold: 10n ** 18n,
      bought: 3050_000000n,
      fee: 0n,
    },
    {
      orderId: id(2),
      trader: bob,
      sellAsset: USD,
      buyAsset: ETH,
      sold: 3050_000000n,
      bought: 10n ** 18n,
      fee: 3_050000n,
    },
  ],
} as unknown as Parameters<typeof exportedBatchOf>[2]

function exported(height: bigint, settled: boolean): ExportedBatch {
  return exportedBatchOf(
    { height, timestamp: 1_700_000_000_000n + height * 1000n, chainRef: 40n + height },
    book,
    record,
    settled ? { settlement: { txHash: id(0xfeed), status: 'settled' } } : { settlement: null },
    settled
      ? [
          { trader: alice, asset: ETH, amount: 5n * 10n ** 18n },
          { trader: bob, asset: USD, amount: 2000_000000n },
        ]
      : undefined,
  )
}

describe('batch export rows', () => {
  it('a book and its record become history rows that round-trip through the backtest reader', () => {
    const wire = [exported(7n, true), exported(8n, false)].map((b) =>
      decode(exportedBatchCodec, encode(exportedBatchCodec, b)),
    )
    const start = wire[0].timestamp - 1000n
    const history = {
      header: exportHeader(info, settings, { from: 7n, to: 8n }, wire[0].numeraire),
      batches: wire.map((b) => historyBatchOf(b, start, settings.batchIntervalMs)),
    }
    const text = serializeHistory(history)
    const back = parseHistory(text)
    expect(back).toEqual(history)
    expect(serializeHistory(back)).toBe(text)

    expect(back.header).toMatchObject({
      source: 'export',
      numeraire: USD,
      intervalMs: 1000,
      resourceAssets: [CPU],
      meta: { feeBps: 10, maxFillsPerBatch: 500, from: '7', to: '8', symbols: { [ETH]: 'ETH' } },
    })
    expect(back.header.assets[ETH]).toEqual({ decimals: 18 })
    const [b7, b8] = back.batches
    expect(b7).toMatchObject({ height: 7, t: 1000 })
    expect(b8.t).toBe(2000)
    // Every order the solver saw, with its limits, arriving at the batch's open; the empty remainder left out.
    expect(b7.orders.map((o) => [o.id, o.kind, o.partiallyFillable, o.sellAmount, o.buyAmount, o.t])).toEqual(
      [
        [id(1), 'sell', true, 10n ** 18n, 3000_000000n, 0],
        [id(2), 'buy', false, 3100_000000n, 10n ** 18n, 0],
      ],
    )
    expect(b7.result).toEqual({
      prices: { [USD]: 10n ** 18n, [ETH]: 3050n * 10n ** 6n },
      fills: [
        { id: id(1), sold: 10n ** 18n, bought: 3050_000000n, fee: 0n },
        { id: id(2), sold: 3050_000000n, bought: 10n ** 18n, fee: 3_050000n },
      ],
      chainRef: '47',
      resultHash: id(0xabc),
      txHash: id(0xfeed),
    })
    expect(b8.result?.txHash).toBeUndefined()
    // The balances the solver was given; none recorded for height 8: the replay funds each order itself.
    expect(b7.balances).toEqual({ [alice]: { [ETH]: 5n * 10n ** 18n }, [bob]: { [USD]: 2000_000000n } })
    expect(b8.balances).toBeUndefined()
  })
})

describe('batchExport pages', () => {
  const source = (last: bigint, missing = new Set<bigint>()): BatchExportSource => ({
    lastProcessed: last,
    exportAt: async (h) => (missing.has(h) || h > last ? undefined : exported(h, false)),
    clearingSettings: () => settings,
  })

  it('pages at most maxExportBatches heights and says where to go on', async () => {
    const p1 = await exportBatches(source(100n), 1n, 40n)
    expect(p1.batches.map((b) => b.height)).toEqual(Array.from({ length: 32 }, (_, i) => BigInt(i + 1)))
    expect(p1.next).toBe(33n)
    expect(p1.settings).toEqual(settings)
    const p2 = await exportBatches(source(100n), 33n, 40n)
    expect(p2.batches.length).toBe(8)
    expect(p2.next).toBeNull()
  })

  it('refuses a bad range, heights not processed, pruned ones, and a node without books, each with its code', async () => {
    await expect(exportBatches(source(10n), 0n, 3n)).rejects.toMatchObject({ code: 'BATCH_EXPORT_BAD_RANGE' })
    await expect(exportBatches(source(10n), 5n, 4n)).rejects.toMatchObject({ code: 'BATCH_EXPORT_BAD_RANGE' })
    await expect(exportBatches(source(10n), 5n, 11n)).rejects.toMatchObject({
      code: 'BATCH_EXPORT_NOT_PROCESSED',
    })
    await expect(exportBatches(source(10n, new Set([3n])), 1n, 5n)).rejects.toMatchObject({
      code: 'BATCH_EXPORT_NOT_PROCESSED',
    })
    await expect(exportBatches(undefined, 1n, 2n)).rejects.toMatchObject({ code: 'BATCH_EXPORT_NO_BOOKS' })
  })
})
