// The signed-ratio rule (README rule 2, docs/settlement.md): every fill keeps
// bought · sellAmount ≥ (sold + fee) · buyAmount, which the contract checks per fill (RatioViolated).
// Batches here are built to hit it: 0-decimal amounts (a unit is, say, an hour of compute), fees, and
// limits that sit exactly on each other, so the uniform price is exactly some order's limit.
import { feeOf } from '@allot/protocol'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clearBatch, verifyResult } from '../../src/index.js'
import { buyFillKeepingRatio, keepsSignedRatio, sellFillKeepingRatio } from '../../src/signed-ratio.js'
import type { ClearBatchInput, SolverOrder } from '../../src/types.js'
import { traderOf } from '../reference/instances.js'

const ASSETS = ['CPU', 'TKA', 'TKB']

/** A limit s/b, and orders of that exact limit or its reciprocal (so limits meet), small amounts. */
const orderArb = fc.record({
  t: fc.integer({ min: 1, max: 5 }),
  x: fc.integer({ min: 0, max: 2 }),
  dy: fc.integer({ min: 1, max: 2 }),
  scale: fc.bigInt({ min: 1n, max: 40n }),
  buy: fc.boolean(),
  fok: fc.boolean(),
  /** 0: the batch's base ratio, 1: its reciprocal (meets it exactly), 2: free amounts. */
  shape: fc.integer({ min: 0, max: 2 }),
  free: fc.tuple(fc.bigInt({ min: 1n, max: 300n }), fc.bigInt({ min: 1n, max: 300n })),
})

const batchArb = fc
  .record({
    base: fc.tuple(fc.bigInt({ min: 1n, max: 13n }), fc.bigInt({ min: 1n, max: 13n })),
    orders: fc.array(orderArb, { minLength: 2, maxLength: 16 }),
    fee: fc.constantFrom(0, 10, 30, 250),
  })
  .map(({ base, orders, fee }): ClearBatchInput => {
    const list: SolverOrder[] = orders.map((o, k) => {
      const [s, b] = o.shape === 0 ? base : o.shape === 1 ? [base[1], base[0]] : o.free
      return {
        id: `o${String(k).padStart(3, '0')}`,
        trader: traderOf(o.t),
        sellAsset: ASSETS[o.x],
        buyAsset: ASSETS[(o.x + (o.shape === 2 ? o.dy : 1)) % 3],
        sellAmount: s * o.scale,
        buyAmount: b * o.scale,
        kind: o.buy ? 'buy' : 'sell',
        partiallyFillable: !o.fok,
      }
    })
    const balances: Record<string, Record<string, bigint>> = {}
    for (let t = 1; t <= 5; t++) balances[traderOf(t)] = { CPU: 10_000n, TKA: 10_000n, TKB: 10_000n }
    return { orders: list, balances, params: { numeraire: 'TKA', feeBps: fee } }
  })

describe('the signed ratio after rounding', () => {
  it('holds for every fill of every result; conservation holds; fill-or-kill is whole or nothing (property)', () => {
    let filled = 0
    let atLimit = 0
    fc.assert(
      fc.property(batchArb, (input) => {
        const out = clearBatch(input)
        verifyResult(input, out) // refuses RatioViolated, among every other rule
        const byId = new Map(input.orders.map((o) => [o.id, o]))
        const net = new Map<string, bigint>()
        const feeBps = BigInt(input.params.feeBps ?? 0)
        for (const f of out.fills) {
          if (f.sold === 0n) continue
          filled++
          const o = byId.get(f.id)!
          expect(f.bought > 0n).toBe(true)
          expect(f.bought * o.sellAmount >= (f.sold + f.fee) * o.buyAmount).toBe(true)
          const pS = out.prices[o.sellAsset]
          const pB = out.prices[o.buyAsset]
          if (o.sellAmount * pS * 10_000n === o.buyAmount * pB * (10_000n + feeBps)) atLimit++
          if (!o.partiallyFillable) {
            if (o.kind === 'buy') expect(f.bought).toBe(o.buyAmount)
            else expect(f.sold + 1n + feeOf(f.sold + 1n, feeBps) > o.sellAmount).toBe(true)
          }
          net.set(o.sellAsset, (net.get(o.sellAsset) ?? 0n) + f.sold)
          net.set(o.buyAsset, (net.get(o.buyAsset) ?? 0n) - f.bought)
        }
        for (const v of net.values()) expect(v >= 0n).toBe(true)
      }),
      { numRuns: 400, seed: 19 },
    )
    // The generator reaches what the rule is about: fills, and fills of orders exactly at the price.
    expect(filled).toBeGreaterThan(200)
    expect(atLimit).toBeGreaterThan(20)
  })

  it('a marginal 0-decimal order trades slightly less rather than a unit below its ratio', () => {
    // "Sell 10 CPU-hours for at least 9 TKA" against "buy 7 CPU-hours for at most 100 TKA": the volume
    // price is the seller's limit, 0.9 TKA per hour, where 7 hours would buy ⌊6.3⌋ = 6 TKA < 7·0.9 — one
    // unit of rounding is an hour of compute. Whatever the clearing, no fill may come out below its ratio.
    const t1 = traderOf(1)
    const t2 = traderOf(2)
    const input: ClearBatchInput = {
      orders: [
        {
          id: 'a',
          trader: t1,
          sellAsset: 'CPU',
          buyAsset: 'TKA',
          sellAmount: 10n,
          buyAmount: 9n,
          kind: 'sell',
          partiallyFillable: true,
        },
        {
          id: 'b',
          trader: t2,
          sellAsset: 'TKA',
          buyAsset: 'CPU',
          sellAmount: 100n,
          buyAmount: 7n,
          kind: 'buy',
          partiallyFillable: true,
        },
      ],
      balances: { [t1]: { CPU: 10n }, [t2]: { TKA: 100n } },
      params: { numeraire: 'TKA' },
    }
    const out = clearBatch(input)
    verifyResult(input, out)
    for (const f of out.fills) {
      if (f.sold === 0n) continue
      const o = input.orders.find((x) => x.id === f.id)!
      expect(keepsSignedRatio(o.sellAmount, o.buyAmount, f.sold, f.bought, f.fee)).toBe(true)
    }
  })

  it('a marginal order whose amounts are coprime trades about its share a hair inside its limit (inside.ts)', () => {
    // "Sell 1000 CPU-hours for at least 999 TKA" against "sell 600 TKA for at least 1 hour": the volume price
    // is the seller's limit 0.999, where its ratio holds only at multiples of 1000 hours (gcd(1000, 999) = 1),
    // so it would trade nothing there; a hair inside, about 600 hours.
    const t1 = traderOf(1)
    const t2 = traderOf(2)
    const input: ClearBatchInput = {
      orders: [
        {
          id: 'a',
          trader: t1,
          sellAsset: 'CPU',
          buyAsset: 'TKA',
          sellAmount: 1000n,
          buyAmount: 999n,
          kind: 'sell',
          partiallyFillable: true,
        },
        {
          id: 'b',
          trader: t2,
          sellAsset: 'TKA',
          buyAsset: 'CPU',
          sellAmount: 600n,
          buyAmount: 1n,
          kind: 'sell',
          partiallyFillable: true,
        },
      ],
      balances: { [t1]: { CPU: 1000n }, [t2]: { TKA: 600n } },
      params: { numeraire: 'TKA' },
    }
    const out = clearBatch(input)
    verifyResult(input, out)
    const a = out.fills.find((f) => f.id === 'a')!
    // Strictly inside a's limit, and a trades within 1% of the 600.6 hours the exact price would ask of it.
    expect(1000n * out.prices.CPU > 999n * out.prices.TKA).toBe(true)
    expect(a.sold).toBeGreaterThanOrEqual(594n)
    expect(keepsSignedRatio(1000n, 999n, a.sold, a.bought, a.fee)).toBe(true)
  })

  it('verifyResult refuses a fill a unit below its signed ratio (RatioViolated), so no validator certifies it', () => {
    const t1 = traderOf(1)
    const t2 = traderOf(2)
    const input: ClearBatchInput = {
      orders: [
        {
          id: 'a',
          trader: t1,
          sellAsset: 'TKA',
          buyAsset: 'TKB',
          sellAmount: 1000n,
          buyAmount: 900n,
          kind: 'sell',
          partiallyFillable: true,
        },
        {
          id: 'b',
          trader: t2,
          sellAsset: 'TKB',
          buyAsset: 'TKA',
          sellAmount: 500n,
          buyAmount: 450n,
          kind: 'sell',
          partiallyFillable: true,
        },
      ],
      balances: { [t1]: { TKA: 5000n }, [t2]: { TKB: 5000n } },
      params: { numeraire: 'TKB' },
    }
    const out = clearBatch(input)
    verifyResult(input, out)
    // What the solver gave before the rule: a sells 555 A at its limit 0.9 for ⌊499.5⌋ = 499 B.
    const bad = {
      ...out,
      fills: out.fills.map((f) =>
        f.id === 'a' ? { ...f, sold: 555n, bought: 499n } : { ...f, sold: 500n, bought: 555n },
      ),
    }
    let caught: unknown
    try {
      verifyResult(input, bad)
    } catch (e) {
      caught = e
    }
    expect(caught).toMatchObject({
      code: 'SOLVER_INVALID_RESULT',
      details: { rule: 'RatioViolated', fill: 'a' },
    })
  })

  it('sellFillKeepingRatio / buyFillKeepingRatio: valid, at most the target, the largest when the scan covers it', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 60n }),
        fc.bigInt({ min: 1n, max: 60n }),
        fc.bigInt({ min: 1n, max: 50n }),
        fc.bigInt({ min: 1n, max: 50n }),
        fc.constantFrom(0n, 10n, 30n, 2500n),
        fc.bigInt({ min: 1n, max: 60n }),
        (sellAmount, buyAmount, pS, pB, feeBps, target) => {
          // Only prices that respect the limit (the functions' precondition).
          if (sellAmount * pS * 10_000n < buyAmount * pB * (10_000n + feeBps)) return
          const keeps = (s: bigint, b: bigint) =>
            b > 0n && keepsSignedRatio(sellAmount, buyAmount, s, b, feeOf(s, feeBps))
          const [s, b] = sellFillKeepingRatio(sellAmount, buyAmount, pS, pB, feeBps, target)
          expect(s <= target).toBe(true)
          if (s > 0n) expect(b === (s * pS) / pB && keeps(s, b)).toBe(true)
          if ((target * pS) / pB <= 64n)
            for (let x = s + 1n; x <= target; x++) expect(keeps(x, (x * pS) / pB)).toBe(false)
          const maxSold = sellAmount
          const [s2, b2] = buyFillKeepingRatio(sellAmount, buyAmount, pS, pB, feeBps, target, maxSold)
          expect(b2 <= target).toBe(true)
          if (b2 > 0n) {
            expect(s2).toBe((b2 * pB + pS - 1n) / pS)
            expect(s2 <= maxSold && keeps(s2, b2)).toBe(true)
          }
          if (target <= 64n)
            for (let y = b2 + 1n; y <= target; y++) {
              const sy = (y * pB + pS - 1n) / pS
              expect(sy <= maxSold && keeps(sy, y)).toBe(false)
            }
        },
      ),
      { numRuns: 2000, seed: 19 },
    )
  })
})
