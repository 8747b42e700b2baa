import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { AllotError } from '@allot/protocol'
import {
  evaluateWindow,
  type MechanismConfig,
  type Window,
  type WindowResult,
  windowsOf,
} from './evaluate.js'
import type { History } from './history.js'
import type { TraderOutcomes } from './metrics.js'

export interface Totals {
  batches: number
  orders: number
  filledOrders: number
  fillRate: number
  valueFillRate: number
  volume: number
  surplus: number
  fees: number
  /** Mean over batches of the mean |price error| (batches with a reference only). */
  meanAbsPriceError: number
  /** Per asset: mean |price error| over the batches that priced it (compare assets, not means over different sets). */
  priceErrorByAsset: Record<string, number>
  meanSpread: number
  /** Batches left with a crossed pair or a profitable cycle, and Σ of the cycle value estimates. */
  batchesWithArbitrage: number
  crossedPairs: number
  arbitrageValue: number
}

export interface ConfigRun {
  config: MechanismConfig
  batches: WindowResult[]
  totals: { batch: Totals; continuous: Totals }
  /** Per trader over the whole run: [surplus, markout, value sold]. */
  traders: { batch: TraderOutcomes; continuous: TraderOutcomes }
  /** The agent class of each trader (simulated histories). */
  agents: Record<string, string>
  /** Wall time of the replay, and the solver's own time summed over the batches, ms. */
  wallMs: number
  solveMs: number
  threads: number
}

export interface ReplayOptions {
  /** Worker threads (default: the machine's cores); 1 replays on the calling thread. */
  threads?: number
  /** Windows per message to a worker. */
  chunk?: number
}

/** Replays a history under each configuration; the figures do not depend on the thread count. */
export async function runBacktest(
  history: History,
  configs: readonly MechanismConfig[],
  opts: ReplayOptions = {},
): Promise<ConfigRun[]> {
  const threads = Math.max(1, opts.threads ?? availableParallelism())
  const agents: Record<string, string> = {}
  for (const b of history.batches) for (const o of b.orders) if (o.agent) agents[o.trader] = o.agent
  const pool = threads > 1 ? await startPool(threads) : undefined
  try {
    const runs: ConfigRun[] = []
    for (const config of configs) {
      const windows = windowsOf(history.header, history.batches, config)
      const started = performance.now()
      const results = pool
        ? await pool.run(windows, history, config, opts.chunk ?? 4)
        : windows.map((w) => evaluateWindow(w, history.header, config))
      const wallMs = performance.now() - started
      runs.push(summarise(config, results, agents, wallMs, threads))
    }
    return runs
  } finally {
    await pool?.close()
  }
}

export function summarise(
  config: MechanismConfig,
  results: WindowResult[],
  agents: Record<string, string>,
  wallMs: number,
  threads: number,
): ConfigRun {
  const traders = { batch: {} as TraderOutcomes, continuous: {} as TraderOutcomes }
  for (const r of results)
    for (const side of ['batch', 'continuous'] as const)
      for (const [t, [s, m, v]] of Object.entries(r.traders[side])) {
        const acc = traders[side][t] ?? [0, 0, 0]
        acc[0] += s
        acc[1] += m
        acc[2] += v
        traders[side][t] = acc
      }
  const total = (side: 'batch' | 'continuous'): Totals => {
    const t: Totals = {
      batches: results.length,
      orders: 0,
      filledOrders: 0,
      fillRate: 0,
      valueFillRate: 0,
      volume: 0,
      surplus: 0,
      fees: 0,
      meanAbsPriceError: 0,
      priceErrorByAsset: {},
      meanSpread: 0,
      batchesWithArbitrage: 0,
      crossedPairs: 0,
      arbitrageValue: 0,
    }
    let priced = 0
    let vfr = 0
    const byAsset = new Map<string, [number, number]>()
    for (const r of results) {
      const m = r[side]
      t.orders += m.orders
      t.filledOrders += m.filledOrders
      t.volume += m.volume
      t.surplus += m.surplus
      t.fees += m.fees
      vfr += m.valueFillRate
      t.meanSpread += m.spread
      if (Object.keys(m.priceError).length > 0) {
        t.meanAbsPriceError += m.meanAbsPriceError
        priced++
        for (const [a, e] of Object.entries(m.priceError)) {
          const acc = byAsset.get(a) ?? [0, 0]
          acc[0] += Math.abs(e)
          acc[1]++
          byAsset.set(a, acc)
        }
      }
      if (m.arbitrage.crossedPairs > 0 || m.arbitrage.cycle.length > 0) t.batchesWithArbitrage++
      t.crossedPairs += m.arbitrage.crossedPairs
      t.arbitrageValue += m.arbitrage.value
    }
    t.fillRate = t.orders ? t.filledOrders / t.orders : 0
    t.valueFillRate = results.length ? vfr / results.length : 0
    t.meanAbsPriceError = priced ? t.meanAbsPriceError / priced : 0
    t.meanSpread = results.length ? t.meanSpread / results.length : 0
    for (const a of [...byAsset.keys()].sort()) {
      const [sum, n] = byAsset.get(a) as [number, number]
      t.priceErrorByAsset[a] = sum / n
    }
    return t
  }
  const solveMs = results.reduce((s, r) => s + r.solveMs, 0)
  return {
    config,
    batches: results,
    totals: { batch: total('batch'), continuous: total('continuous') },
    traders,
    agents,
    wallMs,
    solveMs,
    threads,
  }
}

interface Pool {
  run(windows: Window[], history: History, config: MechanismConfig, chunk: number): Promise<WindowResult[]>
  close(): Promise<void>
}

async function startPool(threads: number): Promise<Pool> {
  const url = new URL('./replay-worker.mjs', import.meta.url)
  const workers = await Promise.all(
    Array.from({ length: threads }, async () => {
      const w = new Worker(url)
      await new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve())
        w.once('error', reject)
      })
      return w
    }),
  )
  return {
    async run(windows, history, config, chunk) {
      const results: WindowResult[] = new Array(windows.length)
      let next = 0
      let id = 0
      // Each worker takes the next chunk as soon as it is done with one: batches differ in cost.
      await Promise.all(
        workers.map(async (w) => {
          while (next < windows.length) {
            const from = next
            next += chunk
            const part = windows.slice(from, from + chunk)
            const myId = ++id
            const reply = await new Promise<{
              results?: WindowResult[]
              error?: { message: string; code?: string }
            }>((resolve, reject) => {
              const onMessage = (m: { id: number }) => {
                if (m.id !== myId) return
                w.off('message', onMessage)
                w.off('error', reject)
                resolve(m as never)
              }
              w.on('message', onMessage)
              w.once('error', reject)
              w.postMessage({ id: myId, windows: part, header: history.header, config })
            })
            if (reply.error)
              throw new AllotError(reply.error.code ?? 'BACKTEST_WORKER_FAILED', reply.error.message)
            for (const [k, r] of (reply.results as WindowResult[]).entries()) results[from + k] = r
          }
        }),
      )
      return results
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()))
    },
  }
}
