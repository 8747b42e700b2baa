import { describe, expect, it } from 'vitest'
import { fastPairApplies, solvePairFast } from '../../src/fastpair.js'
import { fillAtPrices } from '../../src/fill.js'
import { clearBatch, verifyResult } from '../../src/index.js'
import { prepare } from '../../src/prepare.js'
import { initialPrices } from '../../src/prices.js'
import type { ClearBatchInput, SolverOrder } from '../../src/types.js'
import { rng, traderOf } from '../reference/instances.js'

/**
 * Single pair with many equal limits (marginal groups), shared trader balances (pro-rata funding),
 * small amounts (rounding deficits), optional fee and previous prices.
 */
function instance(seed: number, n: number): ClearBatchInput {
  const r = rng(seed)
  const orders: SolverOrder[] = []
  const balances: Record<string, Record<string, bigint>> = {}
  const traders = Math.max(1, Math.floor(n * (0.3 + 0.7 * r())))
  for (let k = 0; k < n; k++) {
    const sellsBase = r() < 0.5
    const sell = BigInt(1 + Math.floor(r() * (seed % 3 === 0 ? 30 : 1e6)))
    const limit = [0.9, 1, 1.1, 0.95 + 0.1 * r()][Math.floor(r() * 4)]
    const buy = BigInt(Math.max(1, Math.round(Number(sell) * (sellsBase ? limit : 1 / limit))))
    const trader = traderOf(1 + Math.floor(r() * traders))
    const sellAsset = sellsBase ? 'TKA' : 'TKB'
    orders.push({
      id: `q${String(k).padStart(5, '0')}`,
      trader,
      sellAsset,
      buyAsset: sellsBase ? 'TKB' : 'TKA',
      sellAmount: sell,
      buyAmount: buy,
      kind: 'sell',
      partiallyFillable: true,
    })
    balances[trader] ??= {}
    balances[trader][sellAsset] =
      (balances[trader][sellAsset] ?? 0n) + (sell * BigInt(Math.floor(r() * 150))) / 100n
  }
  return {
    orders,
    balances,
    params: {
      numeraire: seed % 4 === 1 ? 'TKA' : 'TKB',
      feeBps: seed % 5 === 0 ? 30 : 0,
      previousPrices: seed % 2 === 0 ? { TKA: 1000n + BigInt(seed), TKB: 1000n } : undefined,
    },
  }
}

describe('single-pair fast path equals the general path', () => {
  for (let seed = 1; seed <= 30; seed++) {
    it(`instance ${seed}`, () => {
      const input = instance(seed, 5 + ((seed * 37) % 400))
      const P = prepare(input)
      expect(fastPairApplies(P)).toBe(true)
      const fast = solvePairFast(P, input.params.previousPrices)
      const prices = initialPrices(P, input.params.previousPrices)
      const general = fillAtPrices(P, prices)
      const traded = general.sold.some((s) => s > 0n)
      expect(fast.amounts).toEqual(general)
      if (traded) expect(fast.prices).toEqual(prices)
      verifyResult(input, clearBatch(input))
    })
  }
})

describe('prices stay below the contract bound (amount · price · 10⁴ < 2²⁵⁶ for every order)', () => {
  const big = (seed: number, assets: string[]): ClearBatchInput => {
    const r = rng(seed)
    const orders: SolverOrder[] = []
    const balances: Record<string, Record<string, bigint>> = {}
    for (let k = 0; k < 40; k++) {
      const x = Math.floor(r() * assets.length)
      const y = (x + 1 + Math.floor(r() * (assets.length - 1))) % assets.length
      // Amounts ~2¹²⁶ against ~2⁶⁶: exact limit ratios far above 2¹⁰⁰ (capped prices keep 40 bits).
      const bx = x === 0 ? 1n << 126n : 1n << 66n
      const by = y === 0 ? 1n << 126n : 1n << 66n
      const sell = bx + (bx / 1000n) * BigInt(Math.floor(r() * 50))
      const buy = by - (by / 1000n) * BigInt(Math.floor(r() * 50))
      const trader = traderOf(k + 1)
      orders.push({
        id: `b${String(k).padStart(3, '0')}`,
        trader,
        sellAsset: assets[x],
        buyAsset: assets[y],
        sellAmount: sell,
        buyAmount: buy,
        kind: 'sell',
        partiallyFillable: true,
      })
      balances[trader] = { [assets[x]]: sell }
    }
    return { orders, balances, params: { numeraire: assets[1] } }
  }
  for (const assets of [
    ['TKA', 'TKB'],
    ['TKA', 'TKB', 'TKC'],
  ]) {
    it(`${assets.length} assets`, () => {
      const input = big(7, assets)
      const out = clearBatch(input)
      verifyResult(input, out)
      expect(Object.keys(out.prices).length).toBeGreaterThan(0)
      // The contract's products: amount · price · 10⁴(+fee) < 2²⁵⁶ for every order's assets.
      for (const o of input.orders) {
        for (const [amount, asset] of [
          [o.sellAmount, o.sellAsset],
          [o.buyAmount, o.buyAsset],
        ] as const) {
          const p = out.prices[asset]
          if (p !== undefined) expect(amount * p * (1n << 14n) < 1n << 256n).toBe(true)
        }
      }
    })
  }
})

it('a batch whose orders never cross: no prices, no fills', () => {
  const input = instance(3, 50)
  for (const o of input.orders) if (o.sellAsset === 'TKA') o.buyAmount = o.sellAmount * 3n
  const out = clearBatch(input)
  verifyResult(input, out)
  expect(out.prices).toEqual({})
  expect(out.fills.every((f) => f.sold === 0n)).toBe(true)
})
