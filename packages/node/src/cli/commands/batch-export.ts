import { createWriteStream, renameSync, rmSync } from 'node:fs'
import type { Writable } from 'node:stream'
import { historyBatchLine, historyHeaderLine } from '@allot/backtest'
import type { ClearingSettings, ExportedBatch, Height, NodeInfo } from '@allot/protocol'
import type { AllotClient } from '../../api/index.js'
import { exportHeader, historyBatchOf } from '../../batch/index.js'

/**
 * The lines of a history (docs/backtest.md "History format") for the pages of a `batchExport`: the header
 * once the first page names the numeraire and the start, then one line per height.
 */
export async function* exportHistoryLines(
  info: NodeInfo,
  pages: AsyncIterable<{ settings: ClearingSettings; batch: ExportedBatch }>,
  range: { from: Height; to: Height },
): AsyncGenerator<string> {
  let start: bigint | undefined
  for await (const { settings, batch } of pages) {
    if (start === undefined) {
      start = batch.timestamp - BigInt(settings.batchIntervalMs)
      yield historyHeaderLine(exportHeader(info, settings, range, batch.numeraire))
    }
    yield historyBatchLine(historyBatchOf(batch, start, settings.batchIntervalMs))
  }
}

async function write(out: Writable, line: string): Promise<void> {
  if (!out.write(`${line}\n`)) await new Promise((r) => out.once('drain', r))
}

/**
 * `allot batch export`: heights `from`…`to` of the node into `out` (a file written beside and renamed
 * when whole, so an export that fails half-way leaves no history that looks complete), or stdout.
 */
export async function exportBatches(
  c: AllotClient,
  range: { from: Height; to: Height },
  out: string | undefined,
): Promise<number> {
  const info = await c.info()
  const lines = exportHistoryLines(info, c.batchExport(range.from, range.to), range)
  if (out === undefined) {
    let n = 0
    for await (const line of lines) {
      await write(process.stdout, line)
      n++
    }
    return n - 1
  }
  const partial = `${out}.partial`
  const file = createWriteStream(partial)
  let n = 0
  try {
    for await (const line of lines) {
      await write(file, line)
      n++
    }
    await new Promise<void>((resolve, reject) => file.end((e?: Error | null) => (e ? reject(e) : resolve())))
    renameSync(partial, out)
  } catch (e) {
    file.destroy()
    rmSync(partial, { force: true })
    throw e
  }
  return n - 1
}
