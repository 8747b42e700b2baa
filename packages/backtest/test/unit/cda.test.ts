import { describe, expect, it } from 'vitest'
import { type HistoryOrder, maxSoldWithFee, runContinuousAuction } from '../../src/index.js'

let n = 0
/** An order selling `s` of `sell` for at least `b` of `buy`, arriving after the previous one. */
function order(
  id: string,
  sell: string,
  s: bigint,
  buy: string,
  b: bigint,
  partiallyFillable = true,
): HistoryOrder {
  return {
    id,
    trader: `0x${(++n).toString(16).padStart(40, '0')}`,
    sellAsset: sell,
    buyAsset: buy,
    sellAmount: s,
    buyAmount: b,
    kind: 'sell',
    partiallyFillable,
    t: n,
  }
}
const fill = (r: ReturnType<typeof runContinuousAuction>, id: string) => {
  const f = r.fills.get(id)
  return f ? [f.sold, f.bought, f.fee] : undefined
}

describe('continuous double auction (hand-computed fills)', () => {
  it('trades at the resting order’s price, rests the rest, and sweeps in price-time order', () => {
    const r = runContinuousAuction(
      [
        order('A', 'X', 10n, 'USD', 100n), // ask 10 X at ≥ 10
        order('B', 'USD', 60n, 'X', 5n), // bid: 60 USD at ≤ 12 → 6 X at 10 (A's price), A rests 4 X
        order('C', 'USD', 66n, 'X', 5n), // bid at ≤ 13.2: 4 X for 40 USD, rests 26 USD
        order('D', 'X', 2n, 'USD', 20n), // ask at ≥ 10 meets C's bid: 2 X at 13.2 → ⌊26.4⌋ = 26 USD
      ],
      { numeraire: 'USD' },
    )
    expect(fill(r, 'A')).toEqual([10n, 100n, 0n])
    expect(fill(r, 'B')).toEqual([60n, 6n, 0n])
    expect(fill(r, 'C')).toEqual([66n, 6n, 0n])
    expect(fill(r, 'D')).toEqual([2n, 26n, 0n])
    expect(r.trades.map((t) => [t.maker, t.taker, t.baseAmount, t.quoteAmount])).toEqual([
      ['A', 'B', 6n, 60n],
      ['A', 'C', 4n, 40n],
      ['C', 'D', 2n, 26n],
    ])
  })

  it('takes the better price first, and the earlier of two equal prices', () => {
    const r = runContinuousAuction(
      [
        order('A1', 'X', 5n, 'USD', 60n), // ask at 12
        order('A2', 'X', 5n, 'USD', 50n), // ask at 10 (better)
        order('A3', 'X', 5n, 'USD', 50n), // ask at 10, later
        order('B', 'USD', 120n, 'X', 10n), // bid at ≤ 12: 5 from A2 at 10, 5 from A3 at 10, then 1 from A1 at 12
      ],
      { numeraire: 'USD' },
    )
    expect(fill(r, 'A2')).toEqual([5n, 50n, 0n])
    expect(fill(r, 'A3')).toEqual([5n, 50n, 0n])
    expect(fill(r, 'A1')).toEqual([1n, 12n, 0n])
    expect(fill(r, 'B')).toEqual([112n, 11n, 0n])
  })

  it('fills a fill-or-kill order whole at arrival or not at all, and never rests it', () => {
    const r = runContinuousAuction(
      [
        order('A', 'X', 3n, 'USD', 30n),
        order('K', 'USD', 100n, 'X', 8n, false), // wants 10 X' worth at ≤ 12.5: only 3 X on the book → killed
        order('L', 'USD', 24n, 'X', 2n, false), // 24 USD at ≤ 12: fills whole, 2 X for 20 USD… not whole: 4 USD left
        order('M', 'USD', 10n, 'X', 1n, false), // 10 USD at ≤ 10: 1 X for 10 USD, whole
        order('S', 'X', 1n, 'USD', 5n), // ask at ≥ 5: K never rested, so nothing to meet
      ],
      { numeraire: 'USD' },
    )
    expect(fill(r, 'K')).toEqual([0n, 0n, 0n])
    expect(fill(r, 'L')).toEqual([0n, 0n, 0n])
    expect(fill(r, 'M')).toEqual([10n, 1n, 0n])
    expect(fill(r, 'A')).toEqual([1n, 10n, 0n])
    expect(fill(r, 'S')).toEqual([0n, 0n, 0n])
  })

  it('charges the fee on top of the sold amount and keeps limits with the fee included', () => {
    // A: 101 X for ≥ 1000 USD with 1% fee → least price 1000·1.01/101 = 10; B: 505 USD for ≥ 40 X → most 505/(40·1.01) = 12.5
    const r = runContinuousAuction([order('A', 'X', 101n, 'USD', 1000n), order('B', 'USD', 505n, 'X', 40n)], {
      numeraire: 'USD',
      feeBps: 100,
    })
    // B can sell 500 (+5 fee); at A's price 10 that is 50 X; A sells 50 X + ⌈0.5⌉ fee
    expect(fill(r, 'A')).toEqual([50n, 500n, 1n])
    expect(fill(r, 'B')).toEqual([500n, 50n, 5n])
    expect(maxSoldWithFee(101n, 100n)).toBe(100n)
    expect(maxSoldWithFee(505n, 100n)).toBe(500n)
    expect(maxSoldWithFee(1n, 100n)).toBe(0n)
  })

  it('keeps each pair its own book, and a trader within its balance', () => {
    const r = runContinuousAuction(
      [
        order('XY', 'X', 10n, 'Y', 10n),
        order('YZ', 'Y', 10n, 'Z', 10n),
        order('ZX', 'Z', 10n, 'X', 10n), // a ring the batch could clear; no pair crosses on its own
      ],
      { numeraire: 'USD' },
    )
    expect(r.trades).toEqual([])
    const t = '0x00000000000000000000000000000000000000aa' as const
    const a: HistoryOrder = { ...order('P', 'X', 10n, 'USD', 10n), trader: t }
    const b = order('Q', 'USD', 100n, 'X', 10n)
    const capped = runContinuousAuction([a, b], {
      numeraire: 'USD',
      balances: { [t]: { X: 4n }, [b.trader]: { USD: 100n } },
    })
    expect(fill(capped, 'P')).toEqual([4n, 4n, 0n])
  })
})
