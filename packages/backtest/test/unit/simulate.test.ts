import { describe, expect, it } from 'vitest'
import {
  DEFAULT_SIMULATION,
  freeCapacity,
  informedOrder,
  makerQuotes,
  normals,
  parseHistory,
  parsePriceCsv,
  prng,
  referencePaths,
  type SimulationParams,
  serializeHistory,
  simulate,
} from '../../src/index.js'

const small: SimulationParams = { ...DEFAULT_SIMULATION, batches: 12, seed: 7 }

describe('simulate', () => {
  it('is deterministic: the same seed gives the same bytes, another seed other bytes', () => {
    const a = serializeHistory(simulate(small))
    const b = serializeHistory(simulate(small))
    expect(a).toBe(b)
    expect(serializeHistory(simulate({ ...small, seed: 8 }))).not.toBe(a)
    // and it reads back as the same history
    expect(serializeHistory(parseHistory(a))).toBe(a)
  })

  it('writes every population, each order inside its batch window, with the generating run’s result', () => {
    const h = simulate(small)
    expect(h.batches).toHaveLength(12)
    const agents = new Set(h.batches.flatMap((b) => b.orders.map((o) => o.agent)))
    expect([...agents].sort()).toEqual(['buyer', 'informed', 'maker', 'noise', 'provider'])
    for (const b of h.batches) {
      for (const o of b.orders) {
        expect(o.t).toBeGreaterThanOrEqual(b.t - small.intervalMs)
        expect(o.t).toBeLessThanOrEqual(b.t)
      }
      expect(b.result?.fills.length).toBeGreaterThan(0)
      expect(b.reference?.USD).toBe(1)
    }
    // resource buyers need their whole job: fill-or-kill; everyone else partially fillable
    for (const o of h.batches.flatMap((b) => b.orders)) expect(o.partiallyFillable).toBe(o.agent !== 'buyer')
  })

  it('market makers quote around the reference, skew with inventory and stop at their limit', () => {
    const m = { halfSpread: 0.01, sizeValue: 1000, maxInventoryValue: 5000 }
    // flat: bid 99, ask 101, 10 units each
    expect(makerQuotes(100, 0, m)).toEqual({ bid: { price: 99, units: 10 }, ask: { price: 101, units: 10 } })
    // long 25 of 50 units: both quotes 0.5 % lower
    const long = makerQuotes(100, 25, m)
    expect(long.bid?.price).toBeCloseTo(98.5)
    expect(long.ask?.price).toBeCloseTo(100.5)
    // 45 long: only 5 more units may be bought; at the limit no bid at all
    expect(makerQuotes(100, 45, m).bid?.units).toBeCloseTo(5)
    expect(makerQuotes(100, 50, m).bid).toBeUndefined()
    expect(makerQuotes(100, -50, m).ask).toBeUndefined()
  })

  it('informed traders trade toward the next reference, beyond their threshold only', () => {
    const inf = { threshold: 0.01, sizeValue: 1000 }
    expect(informedOrder(100, 100.5, inf)).toBeUndefined()
    const up = informedOrder(100, 103, inf)
    expect(up?.side).toBe('buy')
    expect(up?.price).toBeCloseTo(103 * 0.995)
    expect(up?.units).toBeCloseTo(10)
    const down = informedOrder(100, 97, inf)
    expect(down?.side).toBe('sell')
    expect(down?.price).toBeCloseTo(97 * 1.005)
  })

  it('resource providers offer only their free capacity', () => {
    const busy = [
      { hours: 100, until: 5 },
      { hours: 50, until: 3 },
    ]
    expect(freeCapacity(400, busy, 2)).toBe(250)
    expect(freeCapacity(400, busy, 3)).toBe(300)
    expect(freeCapacity(400, busy, 5)).toBe(400)
    const h = simulate({ ...small, batches: 20 })
    const provider = h.batches[0].orders.find((o) => o.agent === 'provider')
    if (!provider) throw new Error('no provider order')
    for (const b of h.batches)
      for (const o of b.orders.filter((x) => x.trader === provider.trader))
        expect(o.sellAmount).toBeLessThanOrEqual(400n)
  })

  it('moves prices by GBM with the given correlation, or follows a given series', () => {
    const p: SimulationParams = { ...small, batches: 4000, resource: undefined, correlation: 0.9 }
    const rows = referencePaths(p, normals(prng(3)))
    const r = (a: string) => rows.slice(1).map((row, k) => Math.log(row[a] / rows[k][a]))
    const x = r('ETH')
    const y = r('BTC')
    const mean = (v: number[]) => v.reduce((s, z) => s + z, 0) / v.length
    const mx = mean(x)
    const my = mean(y)
    let sxy = 0
    let sxx = 0
    let syy = 0
    for (let k = 0; k < x.length; k++) {
      sxy += (x[k] - mx) * (y[k] - my)
      sxx += (x[k] - mx) ** 2
      syy += (y[k] - my) ** 2
    }
    expect(sxy / Math.sqrt(sxx * syy)).toBeGreaterThan(0.85)
    expect(Math.sqrt(sxx / x.length)).toBeCloseTo(0.002, 3)
    const path = parsePriceCsv('step,ETH,BTC\n0,3000,60000\n1,3010,60100\n2,2990,59900\n')
    const given = referencePaths({ ...small, batches: 2, path, resource: undefined }, normals(prng(1)))
    expect(given.map((row) => row.ETH)).toEqual([3000, 3010, 2990])
    expect(given[0].USD).toBe(1)
  })
})
