/**
 * Real batches: the seven Gnosis Protocol v1 mainnet batches (packages/solver/testdata/gp-v1): time of
 * clearBatch (payload and hash included) and objective for each, every result checked by
 * verifyResult. Goal: the largest in ≤ 1 s. Ceiling beside it: sorting as many Float64 keys.
 */
import '@allot/protocol/polyfill'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { clearBatch, parseBatchFile, verifyResult } from '../src/index.js'

const dir = join(import.meta.dirname, '..', 'testdata', 'gp-v1')
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ f, input: parseBatchFile(readFileSync(join(dir, f), 'utf8')) }))
  .sort((a, b) => a.input.orders.length - b.input.orders.length)
for (const { f, input } of files) {
  clearBatch(input) // warm-up
  let ms = Number.POSITIVE_INFINITY
  let out = clearBatch(input)
  for (let k = 0; k < 3; k++) {
    const t = performance.now()
    out = clearBatch(input)
    ms = Math.min(ms, performance.now() - t)
  }
  verifyResult(input, out)
  const keys = new Float64Array(input.orders.length).map((_, k) => Math.sin(k))
  const t = performance.now()
  keys.sort()
  const sortMs = performance.now() - t
  const assets = new Set(input.orders.flatMap((o) => [o.sellAsset, o.buyAsset])).size
  const fills = out.fills.filter((x) => x.sold > 0n).length
  console.log(
    `${f.padEnd(26)} ${String(input.orders.length).padStart(6)} orders ${String(assets).padStart(3)} assets: ${ms.toFixed(1).padStart(7)} ms (goal ≤ 1000 ms; Float64 sort of as many keys ${sortMs.toFixed(2)} ms) | ${fills} fills, ${Object.keys(out.prices).length} priced, ${out.dropped.length} dropped | objective ${out.objective} | verifyResult ok`,
  )
}
