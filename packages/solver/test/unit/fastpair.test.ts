import { describe, expect, it } from 'vitest'
import { fastPairApplies, solvePairFast, solvePairWide } from '../../src/fastpair.js'
import { fillAtPrices } from '../../src/fill.js'
import { clearBatch, objectInputOf, orderTableOf, solveBatch, verifyResult } from '../../src/index.js'
import { amountsOf } from '../../src/pair.js'
import { cmpProducts, mulRatioInto, ratioLimbs } from '../../src/pairnarrow.js'
import { prepare } from '../../src/prepare.js'
import { initialPrices } from '../../src/prices.js'
import type { ClearBatchInput, SolverOrder } from '../../src/types.js'
import { randomPair, rng, traderOf } from '../reference/instances.js'

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
      expect(amountsOf(fast.amounts)).toEqual(general)
      if (traded) expect(fast.prices).toEqual(prices)
      verifyResult(input, clearBatch(input))
    })
  }
})

/** The narrow fast path trades, at the general path's prices, with its fills (`fillAtPrices`). */
function narrowEqualsGeneral(input: ClearBatchInput): void {
  const P = prepare(input)
  expect(fastPairApplies(P)).toBe(true)
  expect(P.narrow).toBe(true)
  const fast = solvePairFast(P, input.params.previousPrices)
  const prices = initialPrices(P, input.params.previousPrices)
  const general = fillAtPrices(P, prices)
  expect(general.sold.some((s) => s > 0n)).toBe(true)
  expect(amountsOf(fast.amounts)).toEqual(general)
  expect(fast.prices).toEqual(prices)
}

describe('single-pair fast path on ≥ 2,048 orders per side (the bucket sort) equals the general path', () => {
  // Seeds 31–32: three round limits (buckets of many orders, equal and unequal floats) and a spread of
  // limits (buckets of a few); seed 33 all spread.
  for (const seed of [31, 32, 33]) {
    it(`instance ${seed}, 6,000 orders`, () => {
      narrowEqualsGeneral(seed === 33 ? randomPair(seed, 6000) : instance(seed, 6000))
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

describe('exact 64-bit limb arithmetic of the narrow fast path', () => {
  it('cmpProducts on equal products of different factors, and one unit apart', () => {
    const r = rng(98)
    const words = (x: bigint): [number, number] => [Number(x & 0xffffffffn), Number(x >> 32n)]
    const rand = (bits: number) => {
      let x = 0n
      for (let k = 0; k < bits; k += 16) x = (x << 16n) | BigInt(Math.floor(r() * 65536))
      return (x & ((1n << BigInt(bits)) - 1n)) | 1n
    }
    for (let k = 0; k < 20000; k++) {
      // a·b = c·d with a = x·y, b = z, c = x·z, d = y (every value below 2⁶⁴).
      const bx = 1 + Math.floor(r() * 40)
      const by = 1 + Math.floor(r() * (63 - bx))
      const x = rand(bx)
      const y = rand(by)
      const z = rand(1 + Math.floor(r() * (64 - bx)))
      const [a, b, c, d] = [x * y, z, x * z, y]
      for (const dd of [d - 1n, d, d + 1n]) {
        if (dd <= 0n || dd >= 1n << 64n) continue
        const l = a * b
        const rr = c * dd
        const want = l < rr ? -1 : l > rr ? 1 : 0
        expect(cmpProducts(...words(a), ...words(b), ...words(c), ...words(dd)) as number).toBe(want)
        expect(cmpProducts(...words(c), ...words(dd), ...words(a), ...words(b)) as number).toBe(-want || 0)
      }
    }
  })

  it('cmpProducts equals the bigint comparison of a·b and c·d', () => {
    const r = rng(99)
    const word = () => Math.floor(r() * 2 ** 32)
    const special = [0, 1, 2 ** 22 - 1, 2 ** 22, 2 ** 32 - 1, 2 ** 31]
    const pick = () => (r() < 0.3 ? special[Math.floor(r() * special.length)] : word())
    for (let k = 0; k < 20000; k++) {
      const w = Array.from({ length: 8 }, pick)
      if (k % 3 === 0) {
        // Equal or adjacent products.
        w[4] = w[2]
        w[5] = w[3]
        w[6] = w[0]
        w[7] = w[1]
        if (k % 2 === 0) w[6] = (w[6] + 1) % 2 ** 32
      }
      const big = (lo: number, hi: number) => (BigInt(hi) << 32n) + BigInt(lo)
      const l = big(w[0], w[1]) * big(w[2], w[3])
      const rr = big(w[4], w[5]) * big(w[6], w[7])
      expect(cmpProducts(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7])).toBe(l < rr ? -1 : l > rr ? 1 : 0)
    }
  })
})

/**
 * Limits that floats cannot separate (amounts near 2⁶³, ratios differing by one unit), equal limits,
 * amounts on either side of 2⁶⁴ (narrow and wide fast paths), shared balances, fee, both numeraires.
 */
function nearTies(seed: number, n: number, huge: boolean): ClearBatchInput {
  const r = rng(seed)
  const orders: SolverOrder[] = []
  const balances: Record<string, Record<string, bigint>> = {}
  const scale = huge ? 1n << 70n : (1n << 62n) + BigInt(Math.floor(r() * 1e9))
  for (let k = 0; k < n; k++) {
    const sellsBase = r() < 0.5
    const sell = scale + BigInt(Math.floor(r() * 1000))
    // Limits 2⁻⁷, 2⁻⁸ or 2⁻⁹ below 1 (crossing, fee included), equal up to a few units in 2⁶².
    const off = BigInt(Math.floor(r() * 5) - 2)
    const buy = sell - (sell >> BigInt(7 + Math.floor(r() * 3))) + off
    const trader = traderOf(1 + Math.floor(r() * Math.max(1, n / 3)))
    const sellAsset = sellsBase ? 'TKA' : 'TKB'
    orders.push({
      id: `t${String(k).padStart(5, '0')}`,
      trader: k % 7 === 0 ? (trader.toUpperCase().replace('0X', '0x') as typeof trader) : trader,
      sellAsset,
      buyAsset: sellsBase ? 'TKB' : 'TKA',
      sellAmount: sell,
      buyAmount: buy,
      kind: 'sell',
      partiallyFillable: true,
    })
    balances[trader] ??= {}
    balances[trader][sellAsset] =
      (balances[trader][sellAsset] ?? 0n) + (sell * BigInt(50 + Math.floor(r() * 100))) / 100n
  }
  return {
    orders,
    balances,
    params: {
      numeraire: seed % 2 === 0 ? 'TKA' : 'TKB',
      feeBps: seed % 3 === 0 ? 25 : 0,
      previousPrices: seed % 4 === 0 ? { TKA: 1000n, TKB: 1001n } : undefined,
    },
  }
}

describe('fast path on limits floats cannot separate, both sides of 2⁶⁴', () => {
  for (let seed = 1; seed <= 18; seed++) {
    const huge = seed <= 16 && seed % 4 === 1
    // Seeds 17 and 18: ≥ 2,048 orders per side (the bucket sort instead of the comparison sort).
    const n = seed > 16 ? 5000 : 20 + ((seed * 53) % 3000)
    it(`instance ${seed}${huge ? ' (amounts > 2⁶⁴)' : ''}, ${n} orders`, () => {
      const input = nearTies(seed, n, huge)
      const P = prepare(input)
      expect(fastPairApplies(P)).toBe(true)
      expect(P.narrow).toBe(!huge)
      const fast = solvePairFast(P, input.params.previousPrices)
      const wide = solvePairWide(P, input.params.previousPrices)
      const prices = initialPrices(P, input.params.previousPrices)
      const general = fillAtPrices(P, prices)
      expect(amountsOf(fast.amounts)).toEqual(general)
      expect(amountsOf(wide.amounts)).toEqual(general)
      if (general.sold.some((s) => s > 0n)) expect(fast.prices).toEqual(prices)
      verifyResult(input, clearBatch(input))
    })
  }
})

describe('funding (prepare) groups orders by trader (any case) and sell asset', () => {
  /** Straightforward reference of README rule 6 for partially fillable and fill-or-kill orders. */
  function reference(input: ClearBatchInput): { allowance: Map<string, bigint>; dropped: string[] } {
    const sorted = [...input.orders].sort((a, b) => (a.id < b.id ? -1 : 1))
    const groups = new Map<string, SolverOrder[]>()
    for (const o of sorted) {
      const key = `${o.trader.toLowerCase()}|${o.sellAsset}`
      if (!groups.has(key)) groups.set(key, [])
      groups.get(key)?.push(o)
    }
    const allowance = new Map<string, bigint>()
    const dropped: string[] = []
    for (const g of groups.values()) {
      const t = g[0].trader
      const bal = (input.balances[t] ?? input.balances[t.toLowerCase()])?.[g[0].sellAsset] ?? 0n
      const need = g.reduce((a, o) => a + o.sellAmount, 0n)
      if (g.length === 1) {
        const o = g[0]
        if (o.sellAmount <= bal) allowance.set(o.id, o.sellAmount)
        else if (!o.partiallyFillable || bal === 0n) dropped.push(o.id)
        else allowance.set(o.id, bal)
        continue
      }
      if (need <= bal) {
        for (const o of g) allowance.set(o.id, o.sellAmount)
        continue
      }
      let rest = bal
      for (const o of g) {
        if (o.partiallyFillable) continue
        if (o.sellAmount <= rest) {
          allowance.set(o.id, o.sellAmount)
          rest -= o.sellAmount
        } else dropped.push(o.id)
      }
      const pn = g.filter((o) => o.partiallyFillable).reduce((a, o) => a + o.sellAmount, 0n)
      for (const o of g) {
        if (!o.partiallyFillable) continue
        const a = pn === 0n ? 0n : (rest * o.sellAmount) / pn
        if (a === 0n) dropped.push(o.id)
        else allowance.set(o.id, a < o.sellAmount ? a : o.sellAmount)
      }
    }
    return { allowance, dropped: dropped.sort() }
  }
  for (const [name, traders, perTrader] of [
    ['many traders, few orders each', 200, 2],
    ['one trader with 60 orders (a long run of equal hashes)', 1, 60],
    ['three traders, 40 orders each, mixed case', 3, 40],
  ] as const) {
    it(name, () => {
      const r = rng(traders * 1000 + perTrader)
      const orders: SolverOrder[] = []
      const balances: Record<string, Record<string, bigint>> = {}
      let k = 0
      for (let t = 0; t < traders; t++) {
        const trader = `0x${'ab'.repeat(10)}${String(t).padStart(20, '0')}`
        balances[trader] = { TKA: BigInt(Math.floor(r() * 5000)), TKB: BigInt(Math.floor(r() * 5000)) }
        for (let q = 0; q < perTrader; q++) {
          const sellsBase = r() < 0.5
          orders.push({
            id: `f${String(k++).padStart(5, '0')}`,
            trader: (q % 3 === 1
              ? trader.toUpperCase().replace('0X', '0x')
              : trader) as SolverOrder['trader'],
            sellAsset: sellsBase ? 'TKA' : 'TKB',
            buyAsset: sellsBase ? 'TKB' : 'TKA',
            sellAmount: BigInt(1 + Math.floor(r() * 300)),
            buyAmount: BigInt(1 + Math.floor(r() * 300)),
            kind: r() < 0.8 ? 'sell' : 'buy',
            partiallyFillable: r() < 0.7,
          })
        }
      }
      // Shuffled input: prepare sorts by id.
      const input: ClearBatchInput = { orders: [...orders].reverse(), balances, params: { numeraire: 'TKB' } }
      const P = prepare(input)
      const ref = reference(input)
      expect(P.dropped.map((d) => d.id)).toEqual(ref.dropped)
      expect(P.orders.length + P.dropped.length).toBe(orders.length)
      P.orders.forEach((o, i) => {
        expect(P.maxSold[i]).toBe(ref.allowance.get(o.id))
      })
      verifyResult(input, clearBatch(input))
    })
  }
})

describe('fast path on equal limits of large, different amounts (the benchmark generator, few limits)', () => {
  for (let seed = 1; seed <= 8; seed++) {
    // Seeds 7 and 8: ≥ 2,048 orders per side (the bucket sort).
    const n = seed > 6 ? 5000 : 1500
    it(`instance ${seed}, ${n} orders`, () => {
      const r = rng(500 + seed)
      const orders: SolverOrder[] = []
      const balances: Record<string, Record<string, bigint>> = {}
      const limits = [999_895, 1_000_000, 1_000_105, 998_000 + seed]
      for (let k = 0; k < n; k++) {
        const sellsBase = r() < 0.5
        const sell = BigInt(1 + Math.floor(r() * 1e6)) * 10n ** 12n
        const L = BigInt(limits[Math.floor(r() * limits.length)])
        // Sellers ask L/10⁶ per unit, buyers pay 10⁶/L': equal ratios from amounts with different factors.
        const buy = sellsBase ? L * (sell / 10n ** 6n) : (10n ** 12n / L) * (sell / 10n ** 6n)
        const trader = traderOf(1 + (k % 900))
        const sellAsset = sellsBase ? 'TKA' : 'TKB'
        orders.push({
          id: `e${String(k).padStart(5, '0')}`,
          trader,
          sellAsset,
          buyAsset: sellsBase ? 'TKB' : 'TKA',
          sellAmount: sell,
          buyAmount: buy,
          kind: 'sell',
          partiallyFillable: true,
        })
        balances[trader] ??= {}
        balances[trader][sellAsset] = (balances[trader][sellAsset] ?? 0n) + sell
      }
      const input: ClearBatchInput = {
        orders,
        balances,
        params: { numeraire: seed % 2 === 0 ? 'TKA' : 'TKB', feeBps: seed % 3 === 0 ? 10 : 0 },
      }
      narrowEqualsGeneral(input)
    })
  }
})

it('prepare widens asset indices past 255 assets', () => {
  const orders: SolverOrder[] = []
  const balances: Record<string, Record<string, bigint>> = {}
  for (let k = 0; k < 600; k++) {
    const trader = traderOf(k + 1)
    const sellAsset = `A${String(k % 300).padStart(3, '0')}`
    const buyAsset = `A${String((k * 7 + 1) % 300).padStart(3, '0')}`
    if (sellAsset === buyAsset) continue
    orders.push({
      id: `w${String(k).padStart(4, '0')}`,
      trader,
      sellAsset,
      buyAsset,
      sellAmount: 100n,
      buyAmount: 90n,
      kind: 'sell',
      partiallyFillable: true,
    })
    balances[trader] = { [sellAsset]: k % 5 === 0 ? 0n : 100n }
  }
  const P = prepare({ orders, balances, params: { numeraire: 'A000' } })
  expect(P.assets.length).toBeGreaterThan(255)
  P.orders.forEach((o, i) => {
    expect(P.assets[P.sell[i]]).toBe(o.sellAsset)
    expect(P.assets[P.buy[i]]).toBe(o.buyAsset)
  })
})

/**
 * The columnar input (`OrderTable`) against the object form: the same solve (prices and every amount)
 * and the same clearBatch output, byte for byte, whether or not the table's rows are in id order.
 */
describe('an OrderTable clears exactly as its object form', () => {
  /** Ids as bytes32 that sort as the original ids do (the table takes bytes32 ids only). */
  const withHexIds = (input: ClearBatchInput): ClearBatchInput => {
    const rank = new Map([...input.orders].sort((a, b) => (a.id < b.id ? -1 : 1)).map((o, k) => [o.id, k]))
    const hex = (k: number) => `0x${(0x9e3779b97f4a7c15n * BigInt(k + 1)).toString(16).padStart(64, '0')}`
    // Multiples of one constant ascend with k, so the hex ids ascend as the originals.
    return { ...input, orders: input.orders.map((o) => ({ ...o, id: hex(rank.get(o.id) as number) })) }
  }
  const shuffledRows = (input: ClearBatchInput, seed: number): ClearBatchInput => {
    const r = rng(seed)
    const orders = [...input.orders]
    for (let k = orders.length - 1; k > 0; k--) {
      const j = Math.floor(r() * (k + 1))
      ;[orders[k], orders[j]] = [orders[j], orders[k]]
    }
    return { ...input, orders }
  }
  const check = (objects: ClearBatchInput, shuffle: boolean) => {
    const input = withHexIds(objects)
    const tableInput = orderTableOf(shuffle ? shuffledRows(input, 7) : input)
    const fromObjects = solveBatch(input)
    const fromTable = solveBatch(tableInput)
    expect(fromTable.prices).toEqual(fromObjects.prices)
    expect(fromTable.amounts).toEqual(fromObjects.amounts)
    expect(fromTable.filled).toBe(fromObjects.filled)
    expect(fromTable.filled).toBe(fromTable.amounts.sold.filter((x) => x > 0n).length)
    // clearBatch on the table equals clearBatch on its object form (lowercase traders), byte for byte.
    const asObjects = objectInputOf(tableInput)
    const out = clearBatch(tableInput)
    expect(out).toEqual(clearBatch(asObjects))
    verifyResult(asObjects, out)
  }
  for (let seed = 1; seed <= 12; seed++) {
    it(`fast-path instance ${seed}${seed % 3 === 0 ? ', rows shuffled' : ''}`, () => {
      check(instance(seed, 5 + ((seed * 37) % 400)), seed % 3 === 0)
    })
  }
  for (const seed of [1, 4, 5, 6, 17]) {
    const huge = seed % 4 === 1 && seed < 17
    it(`near ties, instance ${seed}${huge ? ' (amounts > 2⁶⁴: bigint columns)' : ''}`, () => {
      const input = nearTies(seed, seed === 17 ? 5000 : 300, huge)
      if (huge) expect(orderTableOf(withHexIds(input)).table.sellAmount).toBeInstanceOf(Array)
      check(input, seed === 6)
    })
  }
  it('fill-or-kill and buy-kind orders, shared balances, bad orders (the general path)', () => {
    const r = rng(77)
    const orders: SolverOrder[] = []
    const balances: Record<string, Record<string, bigint>> = {}
    for (let k = 0; k < 300; k++) {
      const trader = traderOf(1 + (k % 40))
      const sellsBase = r() < 0.5
      const sellAsset = sellsBase ? 'TKA' : 'TKB'
      orders.push({
        id: `g${String(k).padStart(4, '0')}`,
        trader,
        sellAsset,
        buyAsset: k % 97 === 5 ? sellAsset : sellsBase ? 'TKB' : 'TKA',
        sellAmount: k % 89 === 3 ? 0n : BigInt(1 + Math.floor(r() * 300)),
        buyAmount: BigInt(1 + Math.floor(r() * 300)),
        kind: r() < 0.8 ? 'sell' : 'buy',
        partiallyFillable: r() < 0.7,
      })
      balances[trader] ??= { TKA: BigInt(Math.floor(r() * 2000)), TKB: BigInt(Math.floor(r() * 2000)) }
    }
    const input: ClearBatchInput = { orders, balances, params: { numeraire: 'TKB', feeBps: 10 } }
    expect(fastPairApplies(prepare(input))).toBe(false)
    check(input, false)
    check(input, true)
  })
  it('a repeated id is an input error, as in the object form', () => {
    const input = withHexIds(instance(2, 20))
    const t = orderTableOf(input)
    t.table.id.copyWithin(0, 32, 64)
    expect(() => solveBatch(t)).toThrow(/appears twice/)
  })
})

describe('⌊s·P/Q⌋ in 22-bit limbs (whole fills of the narrow path) equals the bigint quotient', () => {
  const words = (x: bigint): [number, number] => [Number(x & 0xffffffffn), Number(x >> 32n)]
  const check = (s: bigint, P: bigint, Q: bigint) => {
    const r = ratioLimbs(P, Q)
    if (r === null) return false
    const out64 = new BigUint64Array(1)
    const got = mulRatioInto(...words(s), r, new Uint32Array(out64.buffer), 0)
    const want = (s * P) / Q
    if (want >= 1n << 64n) expect(got).toBe(-1)
    else if (want === 0n) expect(got).toBe(0)
    else {
      expect(got).toBe(1)
      expect(out64[0]).toBe(want)
    }
    return true
  }
  it('random amounts and ratios, exact multiples, one unit either side of them, Q up to 2⁶⁸', () => {
    const r = rng(4242)
    const rand = (bits: number) => {
      let x = 0n
      for (let k = 0; k < bits; k += 16) x = (x << 16n) | BigInt(Math.floor(r() * 65536))
      return x & ((1n << BigInt(bits)) - 1n)
    }
    let checked = 0
    for (let k = 0; k < 30000; k++) {
      const Q = rand(1 + Math.floor(r() * 68)) + 1n
      const P = rand(1 + Math.floor(r() * 70)) + 1n
      let s = rand(1 + Math.floor(r() * 64))
      if (k % 3 === 0) {
        // s·P a multiple of Q (an integer quotient), or one unit away from one.
        const g = Q / gcdOf(P, Q)
        const m = rand(Math.max(1, 64 - bitsOf(g)))
        s = g * m + BigInt((k % 9) / 3 - 1)
        if (s < 0n || s >= 1n << 64n) continue
      }
      if (check(s, P, Q)) checked++
    }
    expect(checked).toBeGreaterThan(20000)
    // The bench's shape: amounts x·10¹², ratios L/10⁶ (every quotient an integer).
    for (let k = 0; k < 2000; k++) {
      const L = BigInt(800000 + Math.floor(r() * 400000))
      const g = gcdOf(L, 1000000n)
      expect(check(BigInt(1 + Math.floor(r() * 1e6)) * 10n ** 12n, L / g, 1000000n / g)).toBe(true)
      expect(check(BigInt(1 + Math.floor(r() * 1e6)) * 10n ** 12n, 1000000n / g, L / g)).toBe(true)
    }
    expect(ratioLimbs(5n, (1n << 68n) + 1n)).toBeNull()
  })
  const gcdOf = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcdOf(b, a % b))
  const bitsOf = (x: bigint) => x.toString(2).length
})
