import { AllotError } from '@allot/protocol'
import { type ClearBatchParams, clearBatch } from '@allot/solver'
import type { History, HistoryBatch, HistoryHeader, HistoryOrder } from './history.js'

/**
 * `allot simulate`: an agent-based market, seeded and deterministic (docs/backtest.md "The simulator").
 * A reference price path per asset (geometric Brownian motion, or a given series), and populations of
 * traders who place limit orders into each batch from what they know:
 * - noise traders: a random side, a limit scattered around the last public reference;
 * - market makers: a bid and an ask around the last public reference, skewed by and capped at their
 *   inventory limit (inventory moves with their fills, cleared by the validators' solver as generated);
 * - informed traders: they see the reference at the batch's close and trade toward it;
 * - resource providers offering compute hours up to their free capacity (hours leased stay busy for a
 *   few batches), and resource buyers who need a whole job of hours (fill-or-kill) below a budget.
 * The output is a history (history.ts) with the generating run's result in each batch.
 */
export interface SimulationParams {
  seed: number
  batches: number
  intervalMs: number
  numeraire: string
  /** Risky assets: start price (numeraire per unit) and volatility per √batch. */
  assets: { name: string; start: number; vol: number }[]
  /** Pairwise correlation of the assets' shocks. */
  correlation: number
  /** A given path instead of GBM: row k holds every asset's reference at the close of batch k − 1 (row 0: start). */
  path?: Record<string, number>[]
  noise: { traders: number; ordersPerBatch: number; sizeValue: number; width: number }
  makers: { traders: number; halfSpread: number; sizeValue: number; maxInventoryValue: number }
  informed: { traders: number; threshold: number; sizeValue: number }
  resource?: {
    name: string
    start: number
    vol: number
    providers: number
    /** Hours each provider has. */
    capacity: number
    /** Batches a leased hour stays busy. */
    leaseBatches: number
    buyers: number
    /** A buyer's job: 1 … maxHours hours. */
    maxHours: number
  }
  /** Decimals of the token assets (resource hours are whole units). */
  decimals: number
}

export const DEFAULT_SIMULATION: SimulationParams = {
  seed: 1,
  batches: 200,
  intervalMs: 1000,
  numeraire: 'USD',
  assets: [
    { name: 'ETH', start: 3000, vol: 0.002 },
    { name: 'BTC', start: 60000, vol: 0.0015 },
  ],
  correlation: 0.6,
  noise: { traders: 40, ordersPerBatch: 20, sizeValue: 2000, width: 0.004 },
  makers: { traders: 3, halfSpread: 0.001, sizeValue: 20000, maxInventoryValue: 100000 },
  informed: { traders: 2, threshold: 0.0015, sizeValue: 10000 },
  resource: {
    name: 'cpu.vcore-hour',
    start: 0.05,
    vol: 0.002,
    providers: 3,
    capacity: 400,
    leaseBatches: 5,
    buyers: 6,
    maxHours: 48,
  },
  decimals: 6,
}

/** mulberry32: a small, fast, seeded PRNG (2³² states): plenty for a simulation, and the same on every platform. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normals by Box–Muller from a uniform source. */
export function normals(u: () => number): () => number {
  let spare: number | undefined
  return () => {
    if (spare !== undefined) {
      const s = spare
      spare = undefined
      return s
    }
    const r = Math.sqrt(-2 * Math.log(1 - u()))
    const th = 2 * Math.PI * u()
    spare = r * Math.sin(th)
    return r * Math.cos(th)
  }
}

/** Cholesky factor of the n×n matrix with 1 on the diagonal and ρ elsewhere. */
function cholesky(n: number, rho: number): number[][] {
  const a = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : rho)))
  const l = Array.from({ length: n }, () => new Array<number>(n).fill(0))
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i][j]
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k]
      if (i === j) {
        if (s <= 0)
          throw new AllotError(
            'BACKTEST_BAD_CORRELATION',
            `correlation ${rho} is not positive definite for ${n} assets`,
          )
        l[i][j] = Math.sqrt(s)
      } else l[i][j] = s / l[j][j]
    }
  return l
}

const round = (x: number) => Number(x.toPrecision(10))

/**
 * Reference paths: row 0 the start, row k the close of batch k − 1. GBM with zero drift,
 * S ← S·exp(σZ − σ²/2), the shocks Z correlated by ρ; a resource follows its own independent path.
 */
export function referencePaths(p: SimulationParams, normal: () => number): Record<string, number>[] {
  if (p.path) {
    if (p.path.length < p.batches + 1)
      throw new AllotError(
        'BACKTEST_SHORT_PATH',
        `the price series has ${p.path.length} rows, ${p.batches + 1} needed`,
      )
    return p.path.slice(0, p.batches + 1).map((row) => ({ ...row, [p.numeraire]: 1 }))
  }
  const l = cholesky(p.assets.length, p.correlation)
  const rows: Record<string, number>[] = []
  let cur = p.assets.map((a) => a.start)
  let res = p.resource?.start
  for (let k = 0; k <= p.batches; k++) {
    const row: Record<string, number> = { [p.numeraire]: 1 }
    p.assets.forEach((a, i) => {
      row[a.name] = round(cur[i])
    })
    if (p.resource && res !== undefined) row[p.resource.name] = round(res)
    rows.push(row)
    const z = p.assets.map(() => normal())
    cur = cur.map((s, i) => {
      const sigma = p.assets[i].vol
      let e = 0
      for (let j = 0; j <= i; j++) e += l[i][j] * z[j]
      return s * Math.exp(sigma * e - (sigma * sigma) / 2)
    })
    if (p.resource && res !== undefined) res *= Math.exp(p.resource.vol * normal() - p.resource.vol ** 2 / 2)
  }
  return rows
}

/** A price CSV (e.g. an oracle's series): a header of asset names, one row per step; a first column t/time/step/date is skipped. */
export function parsePriceCsv(text: string): Record<string, number>[] {
  const lines = text.split(/\r?\n/).filter((s) => s.trim().length > 0)
  if (lines.length < 2) throw new AllotError('BACKTEST_BAD_CSV', 'a header and at least one row are needed')
  const head = lines[0].split(',').map((s) => s.trim())
  const skip = /^(t|time|step|date|timestamp)$/i.test(head[0]) ? 1 : 0
  return lines.slice(1).map((line, r) => {
    const cells = line.split(',')
    const row: Record<string, number> = {}
    for (let c = skip; c < head.length; c++) {
      const x = Number(cells[c])
      if (!Number.isFinite(x) || x <= 0)
        throw new AllotError(
          'BACKTEST_BAD_CSV',
          `row ${r + 2}, column ${head[c]}: expected a positive number`,
        )
      row[head[c]] = x
    }
    return row
  })
}

export const addressOf = (i: number) => `0x${(i + 1).toString(16).padStart(40, '0')}` as `0x${string}`

/** The traders of a simulation, by population, with their addresses. */
export function populationOf(p: SimulationParams) {
  let next = 0
  const take = (n: number) => Array.from({ length: n }, () => addressOf(next++))
  return {
    noise: take(p.noise.traders),
    makers: take(p.makers.traders),
    informed: take(p.informed.traders),
    providers: take(p.resource?.providers ?? 0),
    buyers: take(p.resource?.buyers ?? 0),
  }
}

const units = (x: number, decimals: number) => {
  const v = BigInt(Math.round(x * 10 ** decimals))
  return v > 0n ? v : 1n
}

/** What the agents know at a batch's open and what they hold. */
export interface AgentState {
  /** Maker inventory per maker and asset, in whole units (positive: long). */
  inventory: Map<string, Record<string, number>>
  /** Per provider: hours leased and the batch they free up. */
  busy: Map<string, { hours: number; until: number }[]>
}

/** One market maker's quotes in one asset: sizes capped so a full fill keeps inventory within the limit. */
export function makerQuotes(
  ref: number,
  inventory: number,
  m: Pick<SimulationParams['makers'], 'halfSpread' | 'sizeValue' | 'maxInventoryValue'>,
): { bid?: { price: number; units: number }; ask?: { price: number; units: number } } {
  const maxUnits = m.maxInventoryValue / ref
  const size = m.sizeValue / ref
  // Skew both quotes against the inventory: long makers quote lower to sell, short ones higher.
  const skew = (inventory / maxUnits) * m.halfSpread
  const out: { bid?: { price: number; units: number }; ask?: { price: number; units: number } } = {}
  const bidUnits = Math.min(size, maxUnits - inventory)
  const askUnits = Math.min(size, maxUnits + inventory)
  if (bidUnits > 0) out.bid = { price: ref * (1 - m.halfSpread - skew), units: bidUnits }
  if (askUnits > 0) out.ask = { price: ref * (1 + m.halfSpread - skew), units: askUnits }
  return out
}

/** An informed trader's order in one asset, or none when the move is inside its threshold. */
export function informedOrder(
  now: number,
  next: number,
  inf: Pick<SimulationParams['informed'], 'threshold' | 'sizeValue'>,
): { side: 'buy' | 'sell'; price: number; units: number } | undefined {
  const move = next / now - 1
  if (Math.abs(move) <= inf.threshold) return undefined
  // Trade toward the coming price, keeping half the threshold as its margin.
  const side = move > 0 ? 'buy' : 'sell'
  const price = side === 'buy' ? next * (1 - inf.threshold / 2) : next * (1 + inf.threshold / 2)
  return { side, price, units: inf.sizeValue / now }
}

/** The hours a provider can still offer at batch k. */
export function freeCapacity(capacity: number, busy: { hours: number; until: number }[], k: number): number {
  return capacity - busy.filter((b) => b.until > k).reduce((s, b) => s + b.hours, 0)
}

export function simulate(params: SimulationParams): History {
  const p = params
  const u = prng(p.seed)
  const normal = normals(u)
  const path = referencePaths(p, normal)
  const pop = populationOf(p)
  const num = p.numeraire
  const riskNames = p.path
    ? Object.keys(path[0]).filter((a) => a !== num && a !== p.resource?.name)
    : p.assets.map((a) => a.name)
  const assets: HistoryHeader['assets'] = { [num]: { decimals: p.decimals } }
  for (const a of riskNames) assets[a] = { decimals: p.decimals }
  const resource = p.resource && path[0][p.resource.name] !== undefined ? p.resource : undefined
  if (resource) assets[resource.name] = { decimals: 0 }
  const dec = (a: string) => assets[a].decimals
  const header: HistoryHeader = {
    type: 'header',
    version: 1,
    source: 'simulate',
    numeraire: num,
    assets,
    ...(resource ? { resourceAssets: [resource.name] } : {}),
    intervalMs: p.intervalMs,
    meta: { params: { ...p, path: p.path ? `${p.path.length} rows` : undefined } },
  }
  const state: AgentState = { inventory: new Map(), busy: new Map() }
  for (const m of pop.makers) state.inventory.set(m, Object.fromEntries(riskNames.map((a) => [a, 0])))
  for (const pr of pop.providers) state.busy.set(pr, [])
  const agentOf = new Map<string, string>()
  for (const [cls, list] of Object.entries({
    noise: pop.noise,
    maker: pop.makers,
    informed: pop.informed,
    provider: pop.providers,
    buyer: pop.buyers,
  }))
    for (const a of list) agentOf.set(a, cls)

  const batches: HistoryBatch[] = []
  let prevPrices: Record<string, bigint> | undefined
  for (let k = 0; k < p.batches; k++) {
    const open = path[k]
    const close = path[k + 1]
    const t0 = k * p.intervalMs
    const orders: HistoryOrder[] = []
    let seq = 0
    /** A limit order buying or selling `qty` whole units of `asset` at `price` numeraire per unit. */
    const place = (
      trader: `0x${string}`,
      asset: string,
      side: 'buy' | 'sell',
      qty: number,
      price: number,
      at: number,
      fok = false,
    ) => {
      const a = units(qty, dec(asset))
      const v = units(qty * price, dec(num))
      const id = `b${String(k).padStart(6, '0')}-${String(seq++).padStart(5, '0')}`
      const base = {
        id,
        trader,
        kind: 'sell' as const,
        partiallyFillable: !fok,
        t: Math.round(t0 + at * p.intervalMs),
        agent: agentOf.get(trader) as string,
      }
      orders.push(
        side === 'sell'
          ? { ...base, sellAsset: asset, buyAsset: num, sellAmount: a, buyAmount: v }
          : { ...base, sellAsset: num, buyAsset: asset, sellAmount: v, buyAmount: a },
      )
    }
    // Makers first: they requote at the open from the last public reference.
    for (const m of pop.makers) {
      const inv = state.inventory.get(m) as Record<string, number>
      for (const a of riskNames) {
        const q = makerQuotes(open[a], inv[a], p.makers)
        if (q.bid) place(m, a, 'buy', q.bid.units, q.bid.price, 0.01 * u())
        if (q.ask) place(m, a, 'sell', q.ask.units, q.ask.price, 0.01 * u())
      }
    }
    for (let n = 0; n < p.noise.ordersPerBatch; n++) {
      const trader = pop.noise[Math.floor(u() * pop.noise.length)]
      const a = riskNames[Math.floor(u() * riskNames.length)]
      const side = u() < 0.5 ? 'buy' : 'sell'
      const price = open[a] * Math.exp(p.noise.width * normal())
      const value = p.noise.sizeValue * Math.exp(0.5 * normal() - 0.125)
      place(trader, a, side, value / price, price, u())
    }
    for (const i of pop.informed) {
      for (const a of riskNames) {
        const o = informedOrder(open[a], close[a], p.informed)
        if (o) place(i, a, o.side, o.units, o.price, 0.2 + 0.8 * u())
      }
    }
    if (resource) {
      const r = resource.name
      for (const pr of pop.providers) {
        const free = freeCapacity(
          resource.capacity,
          state.busy.get(pr) as { hours: number; until: number }[],
          k,
        )
        if (free >= 1) place(pr, r, 'sell', Math.floor(free), open[r] * (1 + 0.05 * u()), 0.05 * u())
      }
      for (const b of pop.buyers) {
        if (u() < 0.5) continue
        const hours = 1 + Math.floor(u() * resource.maxHours)
        place(b, r, 'buy', hours, open[r] * (0.9 + 0.3 * u()), u(), true)
      }
    }
    orders.sort((x, y) => x.t - y.t || (x.id < y.id ? -1 : 1))
    // The generating run: the validators' solver, no fee, so makers' inventories and providers' capacity move.
    const params: ClearBatchParams = { numeraire: num, height: BigInt(k + 1) }
    if (resource) params.resourceAssets = new Set([resource.name])
    if (prevPrices) params.previousPrices = prevPrices
    const balances: Record<string, Record<string, bigint>> = {}
    for (const o of orders) {
      balances[o.trader] ??= {}
      balances[o.trader][o.sellAsset] = (balances[o.trader][o.sellAsset] ?? 0n) + o.sellAmount
    }
    const out = clearBatch({ orders, balances, params })
    prevPrices = out.prices
    const byId = new Map(orders.map((o) => [o.id, o]))
    for (const f of out.fills) {
      if (f.sold === 0n) continue
      const o = byId.get(f.id) as HistoryOrder
      const inv = state.inventory.get(o.trader)
      if (inv) {
        if (o.buyAsset in inv) inv[o.buyAsset] += Number(f.bought) / 10 ** dec(o.buyAsset)
        if (o.sellAsset in inv) inv[o.sellAsset] -= Number(f.sold + f.fee) / 10 ** dec(o.sellAsset)
      }
      const busy = state.busy.get(o.trader)
      if (busy && resource && o.sellAsset === resource.name)
        busy.push({ hours: Number(f.sold), until: k + resource.leaseBatches })
    }
    batches.push({
      type: 'batch',
      height: k + 1,
      t: t0 + p.intervalMs,
      reference: close,
      orders,
      result: {
        prices: out.prices,
        fills: out.fills
          .filter((f) => f.sold > 0n)
          .map((f) => ({ id: f.id, sold: f.sold, bought: f.bought, fee: f.fee })),
        resultHash: out.resultHash,
      },
    })
  }
  return { header, batches }
}
