/**
 * Single pair, 10k / 100k / 1M orders: clearBatch's solving part (decoded in-memory orders → prices
 * and fills, `solveBatch`) beside its ceiling, sorting the same number of Float64 keys
 * (Float64Array.prototype.sort), measured in the same run. Goal: 1M orders ≤ 3× that sort.
 * Building the settlement payload and hashing it is reported on its own line.
 */
import '@allot/protocol/polyfill'
import { keccakReady } from '@allot/protocol'
import { clearBatch, solveBatch } from '../src/index.js'
import type { ClearBatchInput, SolverOrder } from '../src/types.js'
import { rng, traderOf } from '../test/reference/instances.js'

// Hash as a node does (WebAssembly keccak): the result hash is part of clearBatch.
await keccakReady()

function instance(n: number, seed: number): ClearBatchInput {
  const r = rng(seed)
  const orders: SolverOrder[] = new Array(n)
  const balances: Record<string, Record<string, bigint>> = {}
  for (let k = 0; k < n; k++) {
    const sellsBase = r() < 0.5
    const sell = BigInt(1 + Math.floor(r() * 1e6)) * 10n ** 12n
    const limit = 0.8 + 0.4 * r()
    const buy = BigInt(Math.max(1, Math.round((sellsBase ? limit : 1 / limit) * 1e6))) * (sell / 10n ** 6n)
    const trader = traderOf(k + 1)
    const sellAsset = sellsBase ? 'TKA' : 'TKB'
    orders[k] = {
      id: `o${String(k).padStart(8, '0')}`,
      trader,
      sellAsset,
      buyAsset: sellsBase ? 'TKB' : 'TKA',
      sellAmount: sell,
      buyAmount: buy,
      kind: 'sell',
      partiallyFillable: true,
    }
    balances[trader] = { [sellAsset]: sell }
  }
  return { orders, balances, params: { numeraire: 'TKB' } }
}

function sortCeiling(n: number, seed: number): number {
  const r = rng(seed)
  const keys = new Float64Array(n)
  for (let k = 0; k < n; k++) keys[k] = 0.8 + 0.4 * r()
  const t = performance.now()
  keys.sort()
  return performance.now() - t
}

function best<T>(runs: number, f: () => T): { ms: number; value: T } {
  let ms = Number.POSITIVE_INFINITY
  let value: T | undefined
  for (let k = 0; k < runs; k++) {
    const t = performance.now()
    value = f()
    ms = Math.min(ms, performance.now() - t)
  }
  return { ms, value: value as T }
}

solveBatch(instance(5_000, 1)) // warm-up: JIT, so the first size is not charged for compilation
for (const n of [10_000, 100_000, 1_000_000]) {
  const input = instance(n, n)
  const runs = n >= 1_000_000 ? 1 : 2
  const solve = best(runs, () => solveBatch(input))
  const ceiling = best(runs, () => sortCeiling(n, n + 1)).value
  const filled = solve.value.amounts.sold.filter((s) => s > 0n).length
  console.log(
    `single pair ${String(n).padStart(9)} orders: solve ${solve.ms.toFixed(1).padStart(8)} ms | ceiling Float64Array.sort ${ceiling.toFixed(1).padStart(7)} ms | ratio ${(solve.ms / ceiling).toFixed(2)}× (goal ≤ 3×) | ${filled} fills`,
  )
  if (n <= 100_000) {
    // Payload (one Order per fill, ABI encoding) and keccak: on its own line; skipped at 1M (a
    // settlement never carries 10⁶ fills: maxFillsPerBatch bounds it).
    const t = performance.now()
    clearBatch(input)
    console.log(
      `  payload + resultHash (clearBatch − solve): ${(performance.now() - t - solve.ms).toFixed(1)} ms`,
    )
  }
}
