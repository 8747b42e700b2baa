import { type ClearBatchParams, type SolverOrder, solveBatch } from '@allot/solver'
import { runContinuousAuction } from './cda.js'
import type { HistoryBatch, HistoryHeader, HistoryOrder } from './history.js'
import {
  type Fill,
  measureOutcome,
  type OutcomeMetrics,
  type TraderOutcomes,
  type Valuation,
} from './metrics.js'

/** One mechanism to replay a history under (docs/backtest.md "Configurations"). */
export interface MechanismConfig {
  name: string
  /** Re-bucket the orders by arrival time into batches of this length (merging or splitting); absent: as recorded. */
  intervalMs?: number
  feeBps?: number
  /** At most this many orders per batch; the later arrivals wait for the next batch. */
  maxOrdersPerBatch?: number
  /** Fill cap: the solver's maxFillsPerBatch. */
  maxFillsPerBatch?: number
  /** Solver setting: the previous price for the single-pair tie-break — none, or the reference. */
  previousPrices?: 'none' | 'reference'
  /** Solver setting: value prices and surplus in another asset than the history's numeraire. */
  numeraire?: string
}

/** One batch as replayed: its orders under the configuration, the reference at its close and after. */
export interface Window {
  index: number
  /** The recorded height of the first batch it draws from. */
  height: number
  /** Closing time, ms. */
  t: number
  orders: HistoryOrder[]
  reference?: Record<string, number>
  /** The recorded batch's own numeraire, when it has one (`HistoryBatch.numeraire`). */
  numeraire?: string
  nextReference?: Record<string, number>
  balances?: Record<string, Record<string, bigint>>
}

/**
 * The batches a configuration clears: the recorded ones, or the orders re-bucketed by arrival time
 * into `intervalMs` windows; then `maxOrdersPerBatch` carries the latest arrivals over. Orders of a
 * merged batch use the balances each trader had in the earliest recorded batch it appears in.
 */
export function windowsOf(
  header: HistoryHeader,
  batches: readonly HistoryBatch[],
  config: MechanismConfig,
): Window[] {
  let raw: Omit<Window, 'index' | 'nextReference'>[]
  if (config.intervalMs === undefined) {
    raw = batches.map((b) => ({
      height: b.height,
      t: b.t,
      orders: [...b.orders].sort(byArrival),
      ...(b.reference ? { reference: b.reference } : {}),
      ...(b.numeraire ? { numeraire: b.numeraire } : {}),
      ...(b.balances ? { balances: b.balances } : {}),
    }))
  } else {
    const dt = config.intervalMs
    const byWindow = new Map<
      number,
      { orders: HistoryOrder[]; height: number; balances?: Record<string, Record<string, bigint>> }
    >()
    for (const b of batches) {
      for (const o of b.orders) {
        const k = Math.floor(o.t / dt)
        let w = byWindow.get(k)
        if (!w) {
          w = { orders: [], height: b.height }
          byWindow.set(k, w)
        }
        w.orders.push(o)
        if (b.balances) {
          w.balances ??= {}
          const have = w.balances[o.trader]
          if (!have && b.balances[o.trader]) w.balances[o.trader] = b.balances[o.trader]
        }
      }
    }
    const keys = [...byWindow.keys()].sort((a, b) => a - b)
    raw = keys.map((k) => {
      const w = byWindow.get(k) as {
        orders: HistoryOrder[]
        height: number
        balances?: Record<string, Record<string, bigint>>
      }
      const t = (k + 1) * dt
      const reference = referenceAt(batches, t)
      return {
        height: w.height,
        t,
        orders: w.orders.sort(byArrival),
        ...(reference ? { reference } : {}),
        ...(w.balances ? { balances: w.balances } : {}),
      }
    })
  }
  const cap = config.maxOrdersPerBatch
  if (cap !== undefined && cap > 0) {
    const out: typeof raw = []
    let carry: HistoryOrder[] = []
    const step = config.intervalMs ?? header.intervalMs
    for (let i = 0; i < raw.length || carry.length > 0; i++) {
      const w = raw[i] ?? {
        height: (raw.at(-1)?.height ?? 0) + i,
        t: (raw.at(-1)?.t ?? 0) + step * (i - raw.length + 1),
        orders: [],
      }
      if (i >= raw.length) {
        const ref = raw.at(-1)?.reference
        if (ref) w.reference = ref
      }
      const all = carry.concat(w.orders)
      out.push({ ...w, orders: all.slice(0, cap) })
      carry = all.slice(cap)
    }
    raw = out
  }
  return raw.map((w, index) => {
    const next = raw[index + 1]?.reference ?? w.reference
    return { ...w, index, ...(next ? { nextReference: next } : {}) }
  })
}

function byArrival(a: HistoryOrder, b: HistoryOrder): number {
  return a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/** The reference of the last recorded batch that closed by t (else the first one). */
function referenceAt(batches: readonly HistoryBatch[], t: number): Record<string, number> | undefined {
  let ref: Record<string, number> | undefined
  for (const b of batches) {
    if (!b.reference) continue
    if (b.t <= t || ref === undefined) ref = b.reference
    if (b.t > t) break
  }
  return ref
}

export interface WindowResult {
  index: number
  height: number
  t: number
  reference?: Record<string, number>
  batch: OutcomeMetrics
  continuous: OutcomeMetrics
  /** Per trader: [surplus, markout, value sold], batch then continuous. */
  traders: { batch: TraderOutcomes; continuous: TraderOutcomes }
  /** Time the solver took on this batch, ms. */
  solveMs: number
  /** Orders the solver dropped (unfunded or malformed). */
  dropped: number
}

/** The numeraire units per base unit of each asset, from a reference price (whole units) and decimals. */
export function valuationOfReference(ref: Record<string, number>, header: HistoryHeader): Valuation {
  const v: Valuation = {}
  for (const [a, p] of Object.entries(ref)) v[a] = p / 10 ** (header.assets[a]?.decimals ?? 0)
  return v
}

/** Valuation from uniform prices: p[a] / p[numeraire] (or the smallest price when the numeraire does not trade). */
export function valuationOfPrices(
  prices: Record<string, bigint>,
  numeraire: string,
  header: HistoryHeader,
): Valuation {
  const vals = Object.values(prices).filter((p) => p > 0n)
  if (vals.length === 0) return {}
  let unit = prices[numeraire]
  if (unit === undefined) {
    unit = vals[0]
    for (const p of vals) if (p < unit) unit = p
  }
  const scale = 10 ** (header.assets[numeraire]?.decimals ?? 0)
  const v: Valuation = {}
  for (const [a, p] of Object.entries(prices)) v[a] = Number(p) / Number(unit) / scale
  return v
}

/** Prices on a common integer scale from a reference (for the solver's previous-price tie-break). */
function pricesOfReference(ref: Record<string, number>, header: HistoryHeader): Record<string, bigint> {
  const top = Math.max(0, ...Object.values(header.assets).map((a) => a.decimals))
  const out: Record<string, bigint> = {}
  for (const [a, p] of Object.entries(ref)) {
    const d = header.assets[a]?.decimals ?? 0
    out[a] = BigInt(Math.max(1, Math.round(p * 1e12))) * 10n ** BigInt(top - d)
  }
  return out
}

/** A window cleared by the validators' solver: uniform prices (positive ones) and every order's fill. */
export interface WindowClearing {
  prices: Record<string, bigint>
  fills: Map<string, Fill>
  /** Orders the solver dropped (unfunded or malformed). */
  dropped: number
  solveMs: number
}

/**
 * Clears one window as the validators do under the configuration (`clearBatch`'s clearing, without the
 * settlement payload and its hash, which a replay does not use). Pure but `solveMs`.
 */
export function clearWindow(w: Window, header: HistoryHeader, config: MechanismConfig): WindowClearing {
  const numeraire = config.numeraire ?? w.numeraire ?? header.numeraire
  // A history order is a solver order with an arrival time (and an agent class) added.
  const orders: readonly SolverOrder[] = w.orders
  const balances = w.balances ?? fundedBalances(w.orders)
  const params: ClearBatchParams = { numeraire, feeBps: config.feeBps ?? 0, height: BigInt(w.height) }
  if (header.resourceAssets?.length) params.resourceAssets = new Set(header.resourceAssets)
  if (config.maxFillsPerBatch !== undefined) params.maxFillsPerBatch = config.maxFillsPerBatch
  if (config.previousPrices === 'reference' && w.reference)
    params.previousPrices = pricesOfReference(w.reference, header)
  const started = performance.now()
  const sol = solveBatch({ orders, balances, params })
  const solveMs = performance.now() - started
  const P = sol.prepared
  const prices: Record<string, bigint> = {}
  P.assets.forEach((a, k) => {
    if (sol.prices[k] > 0n) prices[a] = sol.prices[k]
  })
  const { sold, bought, fee } = sol.amounts
  const fills = new Map<string, Fill>()
  P.orders.forEach((o, i) => {
    fills.set(o.id, { sold: sold[i], bought: bought[i], fee: fee[i] })
  })
  return { prices, fills, dropped: P.dropped.length, solveMs }
}

/**
 * Clears one batch with the validators' solver and runs the continuous engine over the same orders,
 * measuring both alike. Pure: the same window and configuration give the same figures (but `solveMs`).
 */
export function evaluateWindow(w: Window, header: HistoryHeader, config: MechanismConfig): WindowResult {
  const numeraire = config.numeraire ?? header.numeraire
  const feeBps = config.feeBps ?? 0
  const { prices, fills: batchFills, dropped, solveMs } = clearWindow(w, header, config)
  const out = { prices }
  const cda = runContinuousAuction(w.orders, {
    numeraire,
    feeBps,
    ...(w.balances ? { balances: w.balances } : {}),
  })

  const valuation = w.reference
    ? valuationOfReference(w.reference, header)
    : valuationOfPrices(out.prices, numeraire, header)
  const markoutValuation = w.nextReference ? valuationOfReference(w.nextReference, header) : valuation
  const decimals: Record<string, number> = {}
  for (const [a, d] of Object.entries(header.assets)) decimals[a] = d.decimals
  const common = {
    orders: w.orders,
    numeraire,
    decimals,
    valuation,
    markoutValuation,
    feeBps,
    ...(w.reference ? { reference: w.reference } : {}),
    ...(w.balances ? { balances: w.balances } : {}),
  }
  const traders = { batch: {} as TraderOutcomes, continuous: {} as TraderOutcomes }
  const batch = measureOutcome({ ...common, fills: batchFills, uniformPrices: out.prices }, traders.batch)
  const continuous = measureOutcome({ ...common, fills: cda.fills }, traders.continuous)
  return {
    index: w.index,
    height: w.height,
    t: w.t,
    ...(w.reference ? { reference: w.reference } : {}),
    batch,
    continuous,
    traders,
    solveMs,
    dropped,
  }
}

/** Every order funded by its own sell amount: a simulated market's traders hold what they offer. */
function fundedBalances(orders: readonly HistoryOrder[]): Record<string, Record<string, bigint>> {
  const b: Record<string, Record<string, bigint>> = {}
  for (const o of orders) {
    b[o.trader] ??= {}
    b[o.trader][o.sellAsset] = (b[o.trader][o.sellAsset] ?? 0n) + o.sellAmount
  }
  return b
}
