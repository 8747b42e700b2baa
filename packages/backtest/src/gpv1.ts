import { parseBatchFile } from '@allot/solver'
import type { History, HistoryBatch } from './history.js'

/**
 * The Gnosis Protocol v1 batches (packages/solver/testdata/gp-v1, in the `allot solve` format) read as a
 * history: one recorded batch per file, in the order given, 5 minutes apart (v1's batch interval).
 * What they lack: arrival times (orders arrive in file order, spread evenly over the batch), a
 * reference price (price errors are not measured; surplus is valued at the batch's own clearing prices)
 * and decimals (amounts stay in base units). The first file's numeraire is the header's; a file naming another keeps its own (`numeraire` on its batch).
 */
export function historyOfBatchFiles(files: { name: string; text: string }[], intervalMs = 300_000): History {
  const batches: HistoryBatch[] = []
  const assets: Record<string, { decimals: number }> = {}
  let numeraire = ''
  files.forEach(({ text }, i) => {
    const input = parseBatchFile(text)
    numeraire ||= input.params.numeraire
    const own = input.params.numeraire
    assets[own] ??= { decimals: 0 }
    const n = input.orders.length
    const t0 = i * intervalMs
    batches.push({
      type: 'batch',
      height: i + 1,
      t: t0 + intervalMs,
      ...(own !== numeraire ? { numeraire: own } : {}),
      orders: input.orders.map((o, k) => {
        assets[o.sellAsset] = { decimals: 0 }
        assets[o.buyAsset] = { decimals: 0 }
        return {
          id: `${files[i].name}:${o.id}`,
          trader: o.trader,
          sellAsset: o.sellAsset,
          buyAsset: o.buyAsset,
          sellAmount: o.sellAmount,
          buyAmount: o.buyAmount,
          kind: o.kind,
          partiallyFillable: o.partiallyFillable,
          t: t0 + Math.floor((k * intervalMs) / Math.max(1, n)),
        }
      }),
      balances: input.balances as Record<string, Record<string, bigint>>,
    })
  })
  assets[numeraire] ??= { decimals: 0 }
  return {
    header: {
      type: 'header',
      version: 1,
      source: 'gp-v1',
      numeraire,
      assets: Object.fromEntries(Object.entries(assets).sort(([a], [b]) => (a < b ? -1 : 1))),
      intervalMs,
      meta: { files: files.map((f) => f.name) },
    },
    batches,
  }
}
