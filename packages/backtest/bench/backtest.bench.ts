/**
 * `pnpm bench backtest`: replay throughput (issue 23, goal ≥ 100 batches of 1,000 orders per second on
 * this machine), beside its floor: the validators' solver alone on the same batches, one after another
 * (Σ clearBatch time), and what that allows on the worker threads used. Two markets from the simulator:
 * one pair (ETH/USD: the solver's single-pair path) and two assets with the compute-hour market
 * (the multi-asset path with its local search).
 */
import '@allot/protocol/polyfill'
import { availableParallelism } from 'node:os'
import { clearBatch } from '@allot/solver'
import {
  DEFAULT_SIMULATION,
  type History,
  runBacktest,
  type SimulationParams,
  simulate,
  windowsOf,
} from '../src/index.js'

function market(name: string, p: SimulationParams): { name: string; history: History } {
  const t = performance.now()
  const history = simulate(p)
  const orders = history.batches.reduce((s, b) => s + b.orders.length, 0)
  console.log(
    `${name}: simulated ${history.batches.length} batches, ${orders} orders in ${(performance.now() - t).toFixed(0)} ms`,
  )
  return { name, history }
}

const threads = availableParallelism()
const onePair = market('one pair', {
  ...DEFAULT_SIMULATION,
  seed: 11,
  batches: 100,
  assets: [{ name: 'ETH', start: 3000, vol: 0.004 }],
  resource: undefined,
  noise: { ...DEFAULT_SIMULATION.noise, traders: 400, ordersPerBatch: 990 },
  makers: { ...DEFAULT_SIMULATION.makers, traders: 3 },
  informed: { ...DEFAULT_SIMULATION.informed, traders: 4 },
})
const multi = market('two assets + compute hours', {
  ...DEFAULT_SIMULATION,
  seed: 12,
  batches: 20,
  noise: { ...DEFAULT_SIMULATION.noise, traders: 400, ordersPerBatch: 970 },
})

for (const { name, history } of [onePair, multi]) {
  const config = { name: 'as recorded' }
  const windows = windowsOf(history.header, history.batches, config)
  // The floor: the solver alone, sequentially, on the same inputs as the replay gives it (best of 2).
  let floorMs = Number.POSITIVE_INFINITY
  for (let rep = 0; rep < 2; rep++) {
    let ms = 0
    for (const w of windows) {
      const balances: Record<string, Record<string, bigint>> = {}
      for (const o of w.orders) {
        balances[o.trader] ??= {}
        balances[o.trader][o.sellAsset] = (balances[o.trader][o.sellAsset] ?? 0n) + o.sellAmount
      }
      const t = performance.now()
      clearBatch({
        orders: w.orders,
        balances,
        params: {
          numeraire: history.header.numeraire,
          feeBps: 0,
          height: BigInt(w.height),
          ...(history.header.resourceAssets
            ? { resourceAssets: new Set(history.header.resourceAssets) }
            : {}),
        },
      })
      ms += performance.now() - t
    }
    floorMs = Math.min(floorMs, ms)
  }
  const orders = windows.reduce((s, w) => s + w.orders.length, 0) / windows.length
  const [one] = await runBacktest(history, [config], { threads: 1 })
  // Twice on one pool: the first pass also warms each worker's JIT (the 1-thread run above is warm already).
  const [cold, par] = await runBacktest(history, [config, { ...config, name: 'again' }], { threads })
  const rate = (ms: number) => (windows.length / ms) * 1000
  console.log(
    `${name}: ${windows.length} batches of ${orders.toFixed(0)} orders — replay on ${threads} threads ${par.wallMs.toFixed(0)} ms = ${rate(par.wallMs).toFixed(1)} batches/s (goal ≥ 100/s; cold workers ${rate(cold.wallMs).toFixed(1)}/s); ` +
      `1 thread ${one.wallMs.toFixed(0)} ms = ${rate(one.wallMs).toFixed(1)}/s (of which solver ${one.solveMs.toFixed(0)} ms, continuous book and metrics the rest) | ` +
      `floor: clearBatch alone ${(floorMs / windows.length).toFixed(1)} ms/batch × ${windows.length} = ${floorMs.toFixed(0)} ms → ≤ ${rate(floorMs).toFixed(1)}/s on 1 thread, ≤ ${rate(floorMs / threads).toFixed(1)}/s on ${threads}`,
  )
}
