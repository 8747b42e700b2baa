import { describe, expect, it } from 'vitest'
import {
  arbitrageLeft,
  evaluateWindow,
  type History,
  type HistoryOrder,
  runBacktest,
  windowsOf,
} from '../../src/index.js'

const trader = (i: number) => `0x${i.toString(16).padStart(40, '0')}` as `0x${string}`
function order(i: number, sell: string, s: bigint, buy: string, b: bigint, t: number): HistoryOrder {
  return {
    id: `o${i}`,
    trader: trader(i),
    sellAsset: sell,
    buyAsset: buy,
    sellAmount: s,
    buyAmount: b,
    kind: 'sell',
    partiallyFillable: true,
    t,
  }
}

/**
 * Two batches, amounts in whole units (decimals 0), reference X = 11 USD then 13 USD.
 * Batch 1: A sells 10 X for ≥ 100 USD (limit 10), B sells 120 USD for ≥ 10 X (limit 12).
 * The solver: volume 10 X at any price in [10, 12], the least imbalance |10 − 120/r| at r = 12.
 * The continuous engine: A rests, B takes it at A's price 10.
 */
const tiny: History = {
  header: {
    type: 'header',
    version: 1,
    source: 'test',
    numeraire: 'USD',
    assets: { USD: { decimals: 0 }, X: { decimals: 0 } },
    intervalMs: 1000,
  },
  batches: [
    {
      type: 'batch',
      height: 1,
      t: 1000,
      reference: { USD: 1, X: 11 },
      orders: [order(1, 'X', 10n, 'USD', 100n, 100), order(2, 'USD', 120n, 'X', 10n, 200)],
    },
    {
      type: 'batch',
      height: 2,
      t: 2000,
      reference: { USD: 1, X: 13 },
      orders: [order(3, 'X', 1n, 'USD', 20n, 1500)],
    },
  ],
}

describe('backtest metrics on a hand-computed history', () => {
  it('batch: uniform price 12, surplus 20 USD to A, markouts at the next reference', () => {
    const [w1] = windowsOf(tiny.header, tiny.batches, { name: 'as recorded' })
    const r = evaluateWindow(w1, tiny.header, { name: 'as recorded' })
    const m = r.batch
    expect(m.prices.X).toBeCloseTo(12)
    expect(m.priceError.X).toBeCloseTo(12 / 11 - 1)
    // A: (120·10 − 10·100)/10 = 20 USD beyond its limit; B: (10·120 − 120·10)/120 = 0
    expect(m.surplus).toBeCloseTo(20)
    expect(r.traders.batch[trader(1)][0]).toBeCloseTo(20)
    expect(r.traders.batch[trader(2)][0]).toBeCloseTo(0)
    // volume: half of (10 X · 11 + 120 USD) = 115; everything offered was sold
    expect(m.volume).toBeCloseTo(115)
    expect(m.fillRate).toBe(1)
    expect(m.valueFillRate).toBeCloseTo(1)
    expect(m.spread).toBeCloseTo(0)
    // markouts at X = 13: A got 120 for 10 X (−10), B paid 120 for 10 X (+10)
    expect(r.traders.batch[trader(1)][1]).toBeCloseTo(-10)
    expect(r.traders.batch[trader(2)][1]).toBeCloseTo(10)
    expect(m.arbitrage).toEqual({ crossedPairs: 0, cycle: [], cycleGain: 0, value: 0 })
  })

  it('continuous: the taker buys at the maker’s 10, B keeps the surplus, 20 USD of B rests unmatched', () => {
    const [w1] = windowsOf(tiny.header, tiny.batches, { name: 'as recorded' })
    const c = evaluateWindow(w1, tiny.header, { name: 'as recorded' }).continuous
    expect(c.prices.X).toBeCloseTo(10)
    expect(c.priceError.X).toBeCloseTo(10 / 11 - 1)
    // B: (10·120 − 100·10)/120 = 5/3 X at 11 USD; A: 0
    expect(c.surplus).toBeCloseTo((5 / 3) * 11)
    // volume: half of (10 X · 11 + 100 USD) = 105; B sold 100 of 120
    expect(c.volume).toBeCloseTo(105)
    expect(c.valueFillRate).toBeCloseTo(210 / 230)
  })

  it('totals add up over batches, the same with one thread or two', async () => {
    const [one] = await runBacktest(tiny, [{ name: 'a' }], { threads: 1 })
    const [two] = await runBacktest(tiny, [{ name: 'a' }], { threads: 2, chunk: 1 })
    expect(one.totals.batch.orders).toBe(3)
    expect(one.totals.batch.filledOrders).toBe(2) // batch 2's lone order has no counterparty
    expect(one.totals.batch.surplus).toBeCloseTo(20)
    expect(one.totals.continuous.surplus).toBeCloseTo((5 / 3) * 11)
    expect(one.agents).toEqual({})
    const strip = (r: typeof one) => r.batches.map((b) => ({ ...b, solveMs: 0 }))
    expect(strip(two)).toEqual(strip(one))
    expect(two.totals).toEqual(one.totals)
  })

  it('merges batches by interval and carries orders over a batch cap', () => {
    const merged = windowsOf(tiny.header, tiny.batches, { name: 'm', intervalMs: 2000 })
    expect(merged.map((w) => w.orders.map((o) => o.id))).toEqual([['o1', 'o2', 'o3']])
    expect(merged[0].reference).toEqual({ USD: 1, X: 13 })
    const split = windowsOf(tiny.header, tiny.batches, { name: 's', intervalMs: 150 })
    expect(split.map((w) => w.orders.map((o) => o.id))).toEqual([['o1'], ['o2'], ['o3']])
    const capped = windowsOf(tiny.header, tiny.batches, { name: 'c', maxOrdersPerBatch: 1 })
    expect(capped.map((w) => w.orders.map((o) => o.id))).toEqual([['o1'], ['o2'], ['o3']])
    expect(capped[1].nextReference).toEqual({ USD: 1, X: 13 })
  })

  it('finds pairs left crossed and profitable cycles among what is left', () => {
    const none = new Map()
    const crossed = arbitrageLeft(
      [order(1, 'X', 10n, 'USD', 100n, 0), order(2, 'USD', 120n, 'X', 10n, 0)],
      none,
      { USD: 1, X: 11 },
      0,
    )
    expect(crossed.crossedPairs).toBe(1)
    // turn USD into X at 10/100 through o1, X into USD at 120/10 through o2: ×1.2
    expect(crossed.cycleGain).toBeCloseTo(0.2)
    expect([...crossed.cycle].sort()).toEqual(['USD', 'X'])
    // bottleneck: min(10 X · 11, 120 USD) = 110 USD, × 0.2
    expect(crossed.value).toBeCloseTo(22)
    // a ring with no crossed pair: X→Y→Z→X each at 1.1 (×1.331)
    const ring = arbitrageLeft(
      [order(1, 'X', 11n, 'Y', 10n, 0), order(2, 'Y', 11n, 'Z', 10n, 0), order(3, 'Z', 11n, 'X', 10n, 0)],
      none,
      { X: 1, Y: 1, Z: 1 },
      0,
    )
    expect(ring.crossedPairs).toBe(0)
    expect(ring.cycle).toHaveLength(3)
    expect(ring.cycleGain).toBeCloseTo(1.1 ** 3 - 1)
    // the same orders filled: nothing left
    const filled = new Map([['o1', { sold: 11n, bought: 10n, fee: 0n }]])
    expect(
      arbitrageLeft(
        [order(1, 'X', 11n, 'Y', 10n, 0), order(2, 'Y', 11n, 'Z', 10n, 0), order(3, 'Z', 11n, 'X', 10n, 0)],
        filled,
        {},
        0,
      ).cycle,
    ).toEqual([])
  })
})
