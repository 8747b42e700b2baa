import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { clearBatch, parseBatchFile } from '@allot/solver'
import { describe, expect, it } from 'vitest'
import { historyOfBatchFiles, parseHistory, runBacktest, serializeHistory } from '../../src/index.js'

// The real batches the solver's tests use (with their README and licence there).
const dir = join(import.meta.dirname, '..', '..', '..', 'solver', 'testdata', 'gp-v1')
const names = ['batch-d.json', 'batch-5342282.json']
const files = names.map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }))

describe('Gnosis Protocol v1 batches as a history', () => {
  it('reads each file as one batch, in file order, with its balances', () => {
    const h = historyOfBatchFiles(files)
    expect(h.header.source).toBe('gp-v1')
    expect(h.batches.map((b) => b.orders.length)).toEqual([243, 497])
    expect(h.batches[1].t).toBe(2 * 300_000)
    for (const b of h.batches) {
      const ts = b.orders.map((o) => o.t)
      expect([...ts].sort((x, y) => x - y)).toEqual(ts)
      expect(Object.keys(b.balances ?? {}).length).toBeGreaterThan(100)
    }
    expect(serializeHistory(parseHistory(serializeHistory(h)))).toBe(serializeHistory(h))
  })

  it('replays through the validators’ solver: surplus at the batch’s own prices is the solver’s objective', async () => {
    const h = historyOfBatchFiles(files)
    const [run] = await runBacktest(h, [{ name: 'as recorded' }], { threads: 1 })
    for (const [i, f] of files.entries()) {
      const out = clearBatch(parseBatchFile(f.text))
      const fills = out.fills.filter((x) => x.sold > 0n).length
      const m = run.batches[i].batch
      expect(m.filledOrders).toBe(fills)
      // the objective sums ⌊surplus⌋ per fill, in numeraire base units (~10¹⁸ here): the floors are
      // below one unit per fill, far inside the float sum's own 10⁻⁹
      expect(Number(out.objective)).toBeGreaterThan(0)
      expect(Math.abs(m.surplus / Number(out.objective) - 1)).toBeLessThan(1e-9)
      expect(run.batches[i].continuous.orders).toBe(m.orders)
    }
  })
})
