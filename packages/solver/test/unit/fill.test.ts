import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fillAtPrices, surplusGain, surplusGainExact } from '../../src/fill.js'
import { prepare } from '../../src/prepare.js'
import { initialPrices } from '../../src/prices.js'
import type { ClearBatchInput } from '../../src/types.js'
import { randomMultiAsset, rng, traderOf } from '../reference/instances.js'

/** Two orders, TKA → TKB and back, with the given amounts (balances ample). */
function pairOf(s: bigint, b: bigint, feeBps: number): ClearBatchInput {
  return {
    orders: [
      {
        id: 'a',
        trader: traderOf(1),
        sellAsset: 'TKA',
        buyAsset: 'TKB',
        sellAmount: s,
        buyAmount: b,
        kind: 'sell',
        partiallyFillable: true,
      },
      {
        id: 'b',
        trader: traderOf(2),
        sellAsset: 'TKB',
        buyAsset: 'TKA',
        sellAmount: b,
        buyAmount: s,
        kind: 'sell',
        partiallyFillable: true,
      },
    ],
    balances: { [traderOf(1)]: { TKA: s }, [traderOf(2)]: { TKB: b } },
    params: { numeraire: 'TKB', feeBps },
  }
}

describe('fills at fixed prices', () => {
  it('a surplus gain from floats is the bigint one, near-integer quotients included', () => {
    const check = (s: bigint, b: bigint, fee: number, pA: bigint, pB: bigint, bits: number) => {
      const P = prepare(pairOf(s, b, fee))
      const prices = P.assets.map((k) => (k === 'TKA' ? pA : pB))
      const pF = prices.map(Number)
      for (let i = 0; i < 2; i++)
        expect(surplusGain(P, prices, pF, i, bits)).toBe(surplusGainExact(P, prices, i, bits))
    }
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 1n << 128n }),
        fc.bigInt({ min: 1n, max: 1n << 128n }),
        fc.constantFrom(0, 0, 5, 30, 100),
        fc.bigInt({ min: 1n, max: 1n << 110n }),
        fc.bigInt({ min: 1n, max: 1n << 110n }),
        fc.integer({ min: 20, max: 49 }),
        check,
      ),
      { numRuns: 2000 },
    )
    // y = e·2^g/d an exact integer (and one unit of price either side): p[TKA] = b·2^t·c, p[TKB] = s·c.
    const r = rng(42)
    for (let k = 0; k < 400; k++) {
      const s = BigInt(1 + Math.floor(r() * 1e6))
      const b = BigInt(1 + Math.floor(r() * 1e6))
      const c = BigInt(1 + Math.floor(r() * 1e9)) << BigInt(Math.floor(r() * 60))
      const t = BigInt(Math.floor(r() * 6))
      for (const d of [-1n, 0n, 1n]) check(s, b, 0, (b << t) * c + d, s * c, 20 + (k % 30))
    }
  })

  it('fills kept per arc from earlier price vectors are the fills computed afresh', () => {
    for (let seed = 0; seed < 30; seed++) {
      const input = randomMultiAsset(
        300 + seed,
        3 + (seed % 6),
        8 + ((seed * 7) % 50),
        0.05 + (seed % 3) * 0.05,
      )
      if (seed % 3 === 1) input.params.feeBps = 30
      if (seed % 2 === 1) for (const o of input.orders.filter((_, k) => k % 4 === 0)) o.kind = 'buy'
      const warm = prepare(input)
      const base = initialPrices(warm)
      const r = rng(seed)
      for (let t = 0; t < 40; t++) {
        // One price moved at a time, as the search does, sometimes back to an earlier vector.
        const prices = [...base]
        const a = Math.floor(r() * prices.length)
        if (prices[a] > 0n && r() < 0.8)
          prices[a] += (prices[a] * BigInt(Math.floor((r() - 0.5) * 400))) / 1000n
        const optimize = t % 5 !== 0
        const again = fillAtPrices(warm, prices, undefined, optimize)
        const fresh = fillAtPrices(prepare(input), prices, undefined, optimize)
        expect(again).toEqual(fresh)
      }
    }
  })
})
