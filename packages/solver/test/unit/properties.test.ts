import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clearBatch, verifyResult } from '../../src/index.js'
import type { ClearBatchInput, ClearBatchOutput, SolverOrder } from '../../src/types.js'
import { randomMultiAsset, traderOf } from '../reference/instances.js'

const ASSETS = ['TKA', 'TKB', 'TKC', 'TKD']

const orderArb = fc.record({
  t: fc.integer({ min: 1, max: 6 }),
  x: fc.integer({ min: 0, max: 3 }),
  dy: fc.integer({ min: 1, max: 3 }),
  sellAmount: fc.bigInt({ min: 1n, max: 10n ** 6n }),
  buyAmount: fc.bigInt({ min: 1n, max: 10n ** 6n }),
  buy: fc.boolean(),
  fok: fc.boolean(),
})

const batchArb = fc
  .record({
    orders: fc.array(orderArb, { minLength: 1, maxLength: 24 }),
    balances: fc.array(fc.bigInt({ min: 0n, max: 2n * 10n ** 6n }), { minLength: 24, maxLength: 24 }),
    fee: fc.constantFrom(0, 0, 30),
    maxFills: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
  })
  .map(({ orders, balances, fee, maxFills }): ClearBatchInput => {
    const list: SolverOrder[] = orders.map((o, k) => ({
      id: `o${String(k).padStart(3, '0')}`,
      trader: traderOf(o.t),
      sellAsset: ASSETS[o.x],
      buyAsset: ASSETS[(o.x + o.dy) % 4],
      sellAmount: o.sellAmount,
      buyAmount: o.buyAmount,
      kind: o.buy ? 'buy' : 'sell',
      partiallyFillable: !o.fok,
    }))
    const bal: Record<string, Record<string, bigint>> = {}
    let k = 0
    for (let t = 1; t <= 6; t++) {
      bal[traderOf(t)] = {}
      for (const a of ASSETS) bal[traderOf(t)][a] = balances[k++ % balances.length]
    }
    return {
      orders: list,
      balances: bal,
      params: { numeraire: 'TKA', feeBps: fee, maxFillsPerBatch: maxFills },
    }
  })

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

const bytesOf = (o: ClearBatchOutput) => o.resultHash

describe('solver properties', () => {
  it('every result passes the independent verifier (limits, rounding, balances, conservation, uniform prices)', () => {
    fc.assert(
      fc.property(batchArb, (input) => {
        const out = clearBatch(input)
        verifyResult(input, out)
        // Conservation stated directly as well: per asset, bought ≤ sold.
        const net = new Map<string, bigint>()
        for (const f of out.fills) {
          net.set(f.sellAsset, (net.get(f.sellAsset) ?? 0n) + f.sold)
          net.set(f.buyAsset, (net.get(f.buyAsset) ?? 0n) - f.bought)
        }
        for (const v of net.values()) expect(v >= 0n).toBe(true)
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('is deterministic: the same orders in any order give the same bytes', () => {
    fc.assert(
      fc.property(batchArb, fc.integer({ min: 1, max: 1 << 30 }), (input, seed) => {
        const a = clearBatch(input)
        const b = clearBatch({ ...input, orders: shuffled(input.orders, seed) })
        expect(bytesOf(b)).toBe(bytesOf(a))
        expect(b.fills).toEqual(a.fills)
      }),
      { seed: 7, numRuns: 150 },
    )
  })

  it('multi-asset random batches with rings verify', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const input = randomMultiAsset(seed, 6, 60)
      verifyResult(input, clearBatch(input))
    }
  })
})

describe('verifyResult rejects tampering', () => {
  const input = randomMultiAsset(3, 5, 80)
  const base = clearBatch(input)
  const clone = (): ClearBatchOutput => structuredClone(base)
  const filled = base.fills.findIndex((f) => f.sold > 0n)

  it('accepts the untouched result', () => {
    expect(filled).toBeGreaterThanOrEqual(0)
    expect(() => verifyResult(input, clone())).not.toThrow()
  })

  const cases: [string, (o: ClearBatchOutput) => void][] = [
    [
      'a price changed',
      (o) => {
        const a = Object.keys(o.prices)[0]
        o.prices[a] += 1n
      },
    ],
    [
      'a payload price changed',
      (o) => {
        o.result.prices[0] += 1n
      },
    ],
    [
      'a fill beyond its limit',
      (o) => {
        // Push one order's buy price up until its limit breaks, keeping its own rounding consistent.
        const f = o.fills[filled]
        o.prices[f.buyAsset] *= 1000n
      },
    ],
    [
      'a token created (bought increased)',
      (o) => {
        o.fills[filled].bought += 1n
      },
    ],
    [
      'a fill above its sell amount',
      (o) => {
        o.fills[filled].sold *= 10n ** 9n
      },
    ],
    [
      'an order silently left out',
      (o) => {
        o.fills.splice(filled, 1)
      },
    ],
    [
      'the result hash',
      (o) => {
        o.resultHash = `0x${'11'.repeat(32)}`
      },
    ],
    [
      'the objective',
      (o) => {
        o.objective += 1n
      },
    ],
    [
      'a balance change',
      (o) => {
        o.balanceChanges[0].delta += 1n
      },
    ],
  ]
  for (const [name, tamper] of cases) {
    it(`rejects ${name}`, () => {
      const o = clone()
      tamper(o)
      expect(() => verifyResult(input, o)).toThrow(/SOLVER_INVALID_RESULT/)
    })
  }
})
