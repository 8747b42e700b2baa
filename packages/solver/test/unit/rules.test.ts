import { AllotError, type PenaltyEvidence, resultHashOf } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { clearBatch, verifyResult } from '../../src/index.js'
import type { ClearBatchInput, SolverOrder } from '../../src/types.js'
import { traderOf } from '../reference/instances.js'

function order(
  id: string,
  t: number,
  sell: string,
  buy: string,
  sellAmount: bigint,
  buyAmount: bigint,
  extra: Partial<SolverOrder> = {},
): SolverOrder {
  return {
    id,
    trader: traderOf(t),
    sellAsset: sell,
    buyAsset: buy,
    sellAmount,
    buyAmount,
    kind: 'sell',
    partiallyFillable: true,
    ...extra,
  }
}

function rich(orders: SolverOrder[]): Record<string, Record<string, bigint>> {
  const b: Record<string, Record<string, bigint>> = {}
  for (const o of orders) b[o.trader] = { ...(b[o.trader] ?? {}), [o.sellAsset]: 10n ** 30n }
  return b
}

/** Stand-in envelope fields of batch h (the solver only carries them; the contract checks them). */
function evidence(batch: bigint): PenaltyEvidence {
  return {
    batch,
    payloadHash: `0x${'ab'.repeat(32)}`,
    nonce: 1n,
    signature: { v: 27, r: `0x${'11'.repeat(32)}`, s: `0x${'22'.repeat(32)}` },
  }
}

function run(
  orders: SolverOrder[],
  params: Partial<ClearBatchInput['params']> = {},
  balances = rich(orders),
) {
  const input: ClearBatchInput = { orders, balances, params: { numeraire: 'TKB', ...params } }
  const out = clearBatch(input)
  verifyResult(input, out)
  return { input, out, fill: (id: string) => out.fills.find((f) => f.id === id) }
}

describe('single pair', () => {
  it('clears at the volume-maximising limit price and respects every limit', () => {
    const { out, fill } = run([
      order('a', 1, 'TKA', 'TKB', 1000n, 900n), // sells A at ≥ 0.9
      order('b', 2, 'TKB', 'TKA', 500n, 450n), // buys A at ≤ 1.111
    ])
    // V(0.9) = min(1000, 500/0.9) = 555 > V(1.111) = 450: the price choice takes a's limit 0.9.
    // Exactly there a keeps its signed ratio only at multiples of 10 A (555 A would buy ⌊499.5⌋ = 499 B,
    // 499·1000 < 555·900): 550. A hair inside, 0.9·(1 + 2⁻⁹), 554 A buy 499 B and keep it (README rule 2),
    // so that price stands: more volume, every limit kept.
    expect(out.prices.TKA * 5120n).toBe(out.prices.TKB * 4617n)
    expect(fill('a')).toMatchObject({ sold: 554n, bought: 499n })
    expect(fill('b')).toMatchObject({ sold: 500n, bought: 554n })
    expect(out.dust).toEqual({ TKA: 0n, TKB: 1n })
  })

  it('does not trade when limits do not cross', () => {
    const { out } = run([order('a', 1, 'TKA', 'TKB', 100n, 200n), order('b', 2, 'TKB', 'TKA', 100n, 100n)])
    expect(out.prices).toEqual({})
    expect(out.fills.every((f) => f.sold === 0n)).toBe(true)
    expect(out.result.fills).toEqual([])
  })

  it('rations the long side by price priority, pro rata at the margin, remainder by id', () => {
    const { out, fill } = run([
      order('s1', 1, 'TKA', 'TKB', 100n, 100n), // A at ≥ 1
      order('b1', 2, 'TKB', 'TKA', 60n, 50n), // ≤ 1.2: better
      order('b3', 3, 'TKB', 'TKA', 60n, 60n), // ≤ 1: marginal
      order('b2', 4, 'TKB', 'TKA', 60n, 60n), // ≤ 1: marginal
    ])
    expect(out.prices.TKA).toBe(out.prices.TKB)
    expect(fill('s1')?.sold).toBe(100n)
    expect(fill('b1')?.sold).toBe(60n)
    // 40 left for two equal marginal orders: 20 each.
    expect(fill('b2')?.sold).toBe(20n)
    expect(fill('b3')?.sold).toBe(20n)
  })

  it('breaks a volume tie by least imbalance, then nearest the previous price', () => {
    // Seller of 10 A at ≥ 1, buyer of 10 A (buy kind) at ≤ 2: every price in [1, 2] trades 10 A, no imbalance.
    const orders = [
      order('s', 1, 'TKA', 'TKB', 10n, 10n),
      order('b', 2, 'TKB', 'TKA', 20n, 10n, { kind: 'buy' }),
    ]
    const low = run(orders).out
    expect(low.prices.TKA).toBe(low.prices.TKB) // no previous price: the lower candidate
    const near = run(orders, { previousPrices: { TKA: 3n, TKB: 2n } }).out
    expect(near.prices.TKA * 2n).toBe(near.prices.TKB * 3n) // 1.5 is a candidate and trades as much
  })

  it('fills fill-or-kill orders entirely or not at all', () => {
    const { fill } = run([
      order('s', 1, 'TKA', 'TKB', 100n, 100n),
      order('k', 2, 'TKB', 'TKA', 150n, 150n, { partiallyFillable: false }), // cannot fill whole
      order('p', 3, 'TKB', 'TKA', 80n, 80n),
    ])
    expect(fill('k')?.sold).toBe(0n)
    expect(fill('p')?.sold).toBe(80n)
  })

  it('fills buy-kind orders up to their buyAmount with sold = ceil(bought·p[buy]/p[sell])', () => {
    const { fill, out } = run([
      order('s', 1, 'TKA', 'TKB', 100n, 100n),
      order('b', 2, 'TKB', 'TKA', 300n, 30n, { kind: 'buy' }),
    ])
    const b = fill('b')
    expect(b?.bought).toBe(30n)
    expect(b?.sold).toBe((30n * out.prices.TKA + out.prices.TKB - 1n) / out.prices.TKB)
  })
})

describe('fill-or-kill orders that match exactly', () => {
  const fok = { partiallyFillable: false }
  const whole = (out: ReturnType<typeof run>['out'], ids: string[]) => {
    for (const id of ids) {
      const o = out.fills.find((f) => f.id === id)
      expect(o?.sold, id).toBeGreaterThan(0n)
    }
  }

  it('fill at the price where both sides balance (single pair)', () => {
    // A: 70 X for ≥ 20 Y (limit 2/7 Y per X); B: 30 Y for ≥ 60 X (limit 1/2). Only r = 3/7 fills both
    // whole; the limits alone (2/7, 1/2) do not, and were the only candidates before.
    for (const [pa, pb] of [
      [false, false],
      [true, false],
      [false, true],
    ]) {
      const { out, fill } = run([
        order('a', 1, 'X', 'Y', 70n, 20n, { partiallyFillable: pa }),
        order('b', 2, 'Y', 'X', 30n, 60n, { partiallyFillable: pb }),
      ])
      expect(fill('a')).toMatchObject({ sold: 70n, bought: 30n })
      expect(fill('b')).toMatchObject({ sold: 30n, bought: 70n })
      expect(out.prices.X * 7n).toBe(out.prices.Y * 3n)
      expect(out.dust).toEqual({ X: 0n, Y: 0n })
    }
  })

  it('fill with limits equal to the exchange (100 X ↔ 200 Y), balances exactly funded, either kind', () => {
    const balances: Record<string, Record<string, bigint>> = {
      [traderOf(1)]: { X: 100n },
      [traderOf(2)]: { Y: 200n },
    }
    for (const [ka, kb] of [
      ['sell', 'sell'],
      ['buy', 'sell'],
      ['sell', 'buy'],
      ['buy', 'buy'],
    ] as const) {
      const { fill } = run(
        [
          order('a', 1, 'X', 'Y', 100n, 200n, { ...fok, kind: ka }),
          order('b', 2, 'Y', 'X', 200n, 100n, { ...fok, kind: kb }),
        ],
        {},
        balances,
      )
      expect(fill('a')).toMatchObject({ sold: 100n, bought: 200n })
      expect(fill('b')).toMatchObject({ sold: 200n, bought: 100n })
    }
  })

  it('fill through the general path (three or more assets): the tree prices hold exactly', () => {
    for (const numeraire of ['X', 'Y', 'Z']) {
      const { out, fill } = run(
        [
          order('a', 1, 'X', 'Y', 70n, 20n, fok),
          order('b', 2, 'Y', 'X', 30n, 60n, fok),
          order('c', 3, 'Y', 'Z', 1000n, 900n),
          order('d', 4, 'Z', 'Y', 1000n, 900n),
        ],
        { numeraire },
      )
      expect(fill('a')).toMatchObject({ sold: 70n, bought: 30n })
      expect(fill('b')).toMatchObject({ sold: 30n, bought: 70n })
      expect(out.prices.X * 7n).toBe(out.prices.Y * 3n)
      whole(out, ['c', 'd'])
    }
  })

  it('fill with a fee: whole means sold + fee = sellAmount, and the limit holds with the fee', () => {
    // Limits 0.9 each way cross by more than the 0.3% fee; both sell 9,970 + 30 fee.
    const { input, out, fill } = run(
      [order('a', 1, 'X', 'Y', 10_000n, 9_000n, fok), order('b', 2, 'Y', 'X', 10_000n, 9_000n, fok)],
      { feeBps: 30 },
    )
    for (const id of ['a', 'b']) {
      const f = fill(id)
      expect(f).toMatchObject({ sold: 9_970n, bought: 9_970n, fee: 30n })
      const o = input.orders.find((x) => x.id === id) as SolverOrder
      // The contract's check (priceRespectsLimit): sellAmount·p[sell]·10⁴ ≥ buyAmount·p[buy]·(10⁴ + fee).
      expect(o.sellAmount * out.prices[o.sellAsset] * 10_000n).toBeGreaterThanOrEqual(
        o.buyAmount * out.prices[o.buyAsset] * 10_030n,
      )
    }
    // Limits that match without the fee but not with it: no trade (the contract would reject it).
    const none = run([order('a', 1, 'X', 'Y', 100n, 200n, fok), order('b', 2, 'Y', 'X', 200n, 100n, fok)], {
      feeBps: 30,
    }).out
    expect(none.prices).toEqual({})
  })
})

describe('balances', () => {
  it('drops orders the trader cannot fund and caps partial ones at the balance', () => {
    const orders = [
      order('s', 1, 'TKA', 'TKB', 100n, 100n),
      order('z', 2, 'TKB', 'TKA', 100n, 100n, { evidence: evidence(0n) }), // trader 2 holds no TKB
      order('k', 3, 'TKB', 'TKA', 100n, 100n, { partiallyFillable: false, evidence: evidence(0n) }), // holds 50: FoK unfundable
      order('p', 4, 'TKB', 'TKA', 100n, 100n), // holds 30
    ]
    const balances: Record<string, Record<string, bigint>> = {
      [traderOf(1)]: { TKA: 100n },
      [traderOf(3)]: { TKB: 50n },
      [traderOf(4)]: { TKB: 30n },
    }
    const { out, fill } = run(orders, {}, balances)
    expect(out.dropped).toEqual([
      { id: 'k', reason: 'INSUFFICIENT_BALANCE' },
      { id: 'z', reason: 'INSUFFICIENT_BALANCE' },
    ])
    expect(fill('p')?.sold).toBe(30n)
    expect(out.result.penalties.map((p) => p.evidence)).toEqual([evidence(0n), evidence(0n)])
  })

  it('penalises an unfundable order only with its signed envelope of this very batch as evidence', () => {
    const orders = [
      order('s', 1, 'TKA', 'TKB', 100n, 100n),
      order('a', 2, 'TKB', 'TKA', 100n, 100n), // no evidence (a resting order of an earlier batch)
      order('b', 3, 'TKB', 'TKA', 100n, 100n, { evidence: evidence(6n) }), // an envelope of another batch
      order('c', 4, 'TKB', 'TKA', 100n, 100n, { evidence: evidence(7n) }),
    ]
    const { out } = run(orders, { height: 7n }, { [traderOf(1)]: { TKA: 100n } })
    expect(out.result.penalties.map((p) => p.trader)).toEqual([traderOf(4)])
  })

  it("shares one balance among a trader's orders selling the same asset", () => {
    const orders = [
      order('x1', 1, 'TKA', 'TKB', 100n, 100n),
      order('x2', 1, 'TKA', 'TKC', 100n, 100n),
      order('y', 2, 'TKB', 'TKA', 1000n, 1000n),
      order('w', 3, 'TKC', 'TKA', 1000n, 1000n),
    ]
    const balances: Record<string, Record<string, bigint>> = {
      [traderOf(1)]: { TKA: 100n },
      [traderOf(2)]: { TKB: 1000n },
      [traderOf(3)]: { TKC: 1000n },
    }
    const { fill } = run(orders, {}, balances)
    const spent = (fill('x1')?.sold ?? 0n) + (fill('x2')?.sold ?? 0n)
    expect(spent).toBeLessThanOrEqual(100n)
    expect(spent).toBeGreaterThan(0n)
  })
})

describe('many assets', () => {
  it('clears a ring A→B→C→A with one uniform price vector', () => {
    const { out, fill } = run(
      [
        order('r1', 1, 'TKA', 'TKB', 100n, 90n),
        order('r2', 2, 'TKB', 'TKC', 100n, 90n),
        order('r3', 3, 'TKC', 'TKA', 100n, 90n),
      ],
      { numeraire: 'TKA' },
    )
    for (const id of ['r1', 'r2', 'r3']) expect(fill(id)?.sold).toBeGreaterThan(0n)
    expect(Object.keys(out.prices).sort()).toEqual(['TKA', 'TKB', 'TKC'])
  })

  it('never fills more than maxFillsPerBatch, keeping the largest fills', () => {
    const orders = [order('s', 1, 'TKA', 'TKB', 1000n, 1000n)]
    for (let k = 0; k < 6; k++)
      orders.push(order(`b${k}`, 10 + k, 'TKB', 'TKA', BigInt(100 + k * 10), BigInt(100 + k * 10)))
    const { out } = run(orders, { maxFillsPerBatch: 3 })
    const filled = out.fills.filter((f) => f.sold > 0n).map((f) => f.id)
    expect(filled.length).toBeLessThanOrEqual(3)
    expect(filled).toContain('s')
    expect(filled).toContain('b5')
  })

  it('charges the fee on top of sold and keeps the limit with the fee', () => {
    const { out, fill } = run(
      [order('a', 1, 'TKA', 'TKB', 10_000n, 9_000n), order('b', 2, 'TKB', 'TKA', 10_000n, 9_000n)],
      { feeBps: 30 },
    )
    const a = fill('a')
    expect(a?.fee).toBe((a!.sold * 30n + 9_999n) / 10_000n)
    expect(a!.sold + a!.fee).toBeLessThanOrEqual(10_000n)
    expect(out.fees.TKA).toBe(a!.fee)
  })

  it('turns resource fills into leases paid in the quote token', () => {
    const orders = [
      order('offer', 1, 'cpu.vcore-hour', 'TKB', 10n, 50n), // provider: 10 units at ≥ 5 TKB
      order('bid', 2, 'TKB', 'cpu.vcore-hour', 40n, 4n, { kind: 'buy' }), // 4 units, ≤ 10 TKB each
    ]
    const balances = { [traderOf(2)]: { TKB: 1000n } }
    const { out } = run(orders, { resourceAssets: new Set(['cpu.vcore-hour']) }, balances)
    expect(out.leases).toHaveLength(1)
    expect(out.leases[0]).toMatchObject({ provider: traderOf(1), consumer: traderOf(2), quantity: 4n })
    expect(out.balanceChanges.every((c) => c.asset !== 'cpu.vcore-hour')).toBe(true)
  })
})

describe('payload', () => {
  it('is the protocol ClearingResult with its hash, fills ascending by order id, unsigned orders zero-signed', () => {
    const { out } = run([order('a', 1, 'TKA', 'TKB', 1000n, 900n), order('b', 2, 'TKB', 'TKA', 500n, 450n)], {
      height: 7n,
    })
    expect(out.resultHash).toBe(resultHashOf(out.result))
    expect(out.result.height).toBe(7n)
    const ids = out.result.fills.map((f) => f.orderId)
    expect([...ids].sort()).toEqual(ids)
    expect(out.result.fills[0].order.signature.v).toBe(27)
    expect([...out.result.assets].sort()).toEqual(out.result.assets)
  })

  it('rejects duplicate ids with a coded error', () => {
    const o = order('a', 1, 'TKA', 'TKB', 1n, 1n)
    expect(() => clearBatch({ orders: [o, o], balances: {}, params: { numeraire: 'TKB' } })).toThrow(
      AllotError,
    )
  })
})
