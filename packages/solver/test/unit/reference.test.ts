import { describe, expect, it } from 'vitest'
import { fillAtPrices } from '../../src/fill.js'
import { clearBatch, fillSurplus, verifyResult } from '../../src/index.js'
import { prepare } from '../../src/prepare.js'
import { initialPrices } from '../../src/prices.js'
import type { ClearBatchInput, SolverOrder } from '../../src/types.js'
import { hiddenPrices, randomMultiAsset, randomPair, rng } from '../reference/instances.js'
import { getHighs, solveMip, tradedValue } from '../reference/mip.js'
import {
  fixedPriceLp,
  fixedPriceSurplus,
  solverSurplus,
  surplusModel,
  surplusReference,
} from '../reference/surplus.js'

type Q = [bigint, bigint] // num / den, den > 0

const cmpQ = (a: Q, b: Q) => {
  const l = a[0] * b[1]
  const r = b[0] * a[1]
  return l < r ? -1 : l > r ? 1 : 0
}
const addQ = (a: Q, b: Q): Q => [a[0] * b[1] + b[0] * a[1], a[1] * b[1]]

/**
 * Brute-force single-pair volume, written from the rule and nothing else: at price r (TKB per TKA),
 * base supply S(r) = Σ eligible TKA sellers (sell kind: sellAmount; buy kind: buyAmount / r),
 * base demand D(r) = Σ eligible TKA buyers (sell kind: sellAmount / r; buy kind: buyAmount).
 */
function volumeAt(input: ClearBatchInput, r: Q): Q {
  let S: Q = [0n, 1n]
  let D: Q = [0n, 1n]
  for (const o of input.orders) {
    if (o.sellAsset === 'TKA') {
      if (cmpQ(r, [o.buyAmount, o.sellAmount]) < 0) continue
      S = addQ(S, o.kind === 'sell' ? [o.sellAmount, 1n] : [o.buyAmount * r[1], r[0]])
    } else {
      if (cmpQ(r, [o.sellAmount, o.buyAmount]) > 0) continue
      D = addQ(D, o.kind === 'sell' ? [o.sellAmount * r[1], r[0]] : [o.buyAmount, 1n])
    }
  }
  return cmpQ(S, D) < 0 ? S : D
}

/**
 * Brute-force single-pair volume that keeps the signed ratio (README rule 2), on integer amounts: at
 * integer prices (pA, pB) each order's largest fill whose rounded amounts (`bought` floored, buy kind's
 * `sold` ceiled) keep `bought · sellAmount ≥ sold · buyAmount` within its cap (balance, amounts; fill-or-kill:
 * whole or nothing), in base units; the volume is the smaller side's sum. Orders are scanned one unit at a
 * time (amounts ≤ 100 here). It bounds what a price can execute from above up to how well the long side's
 * allowed amounts can meet the short side's (exactly at a limit an order keeps its ratio only at multiples
 * of `s / gcd(s, b)`), which the test's allowance of one unit per order absorbs.
 */
function ruleVolumeAt(input: ClearBatchInput, [pA, pB]: Q): bigint {
  let S = 0n
  let D = 0n
  for (const o of input.orders) {
    const bal = input.balances[o.trader]?.[o.sellAsset] ?? 0n
    const sellsBase = o.sellAsset === 'TKA'
    const pX = sellsBase ? pA : pB
    const pY = sellsBase ? pB : pA
    let most = 0n
    if (o.kind === 'sell') {
      for (let s = o.sellAmount < bal ? o.sellAmount : bal; s > 0n; s--) {
        const b = (s * pX) / pY
        if (b > 0n && b * o.sellAmount >= s * o.buyAmount) {
          most = sellsBase ? s : b
          break
        }
        if (!o.partiallyFillable) break
      }
    } else {
      for (let b = o.buyAmount; b > 0n; b--) {
        const s = (b * pY + pX - 1n) / pX
        if (s <= bal && b * o.sellAmount >= s * o.buyAmount) {
          most = sellsBase ? s : b
          break
        }
        if (!o.partiallyFillable) break
      }
    }
    if (sellsBase) S += most
    else D += most
  }
  return S < D ? S : D
}

describe('single pair is exactly optimal (brute force)', () => {
  for (let seed = 1; seed <= 40; seed++) {
    it(`instance ${seed}`, () => {
      const input = randomPair(seed, 3 + (seed % 8), { buyKind: seed % 2 === 0 })
      const out = clearBatch(input)
      verifyResult(input, out)
      // Grid: every a/b with 1 ≤ a, b ≤ 40, every limit, and midpoints of consecutive limits.
      const grid: Q[] = []
      for (let a = 1n; a <= 40n; a++) for (let b = 1n; b <= 40n; b++) grid.push([a, b])
      const limits: Q[] = input.orders.map((o) =>
        o.sellAsset === 'TKA' ? [o.buyAmount, o.sellAmount] : [o.sellAmount, o.buyAmount],
      )
      limits.sort(cmpQ)
      grid.push(...limits)
      for (let k = 1; k < limits.length; k++)
        grid.push([
          limits[k - 1][0] * limits[k][1] + limits[k][0] * limits[k - 1][1],
          2n * limits[k - 1][1] * limits[k][1],
        ])
      let best: Q = [0n, 1n]
      for (const r of grid) {
        const v = volumeAt(input, r)
        if (cmpQ(v, best) > 0) best = v
      }
      // The price choice (README "Single pair: exact"), before any move inside a marginal limit: its
      // volume at the price level is the brute force's maximum.
      const P = prepare(input)
      const exact = initialPrices(P, input.params.previousPrices)
      if (best[0] === 0n) {
        expect(out.prices).toEqual({})
        return
      }
      const iA = P.assets.indexOf('TKA')
      expect(cmpQ(volumeAt(input, [exact[iA], exact[1 - iA]]), best)).toBe(0)
      // What is executed. The price-level maximum ignores the signed ratio (rule 2), which an order at
      // exactly its limit keeps only at multiples of its period, so the bound is restated with the rule:
      // the brute force `ruleVolumeAt` over a finer grid (every a/b ≤ 60), every limit, and every limit
      // moved by 2⁻ᵏ (k = 1..8) either way; executed ≥ that less one unit per order. Without the rule
      // (before issue 19's last item) the bound was the price-level maximum `best`; executed never exceeds it.
      const ruleGrid: Q[] = []
      for (let a = 1n; a <= 60n; a++) for (let b = 1n; b <= 60n; b++) ruleGrid.push([a, b])
      for (const l of limits) {
        ruleGrid.push(l)
        for (let k = 1n; k <= 8n; k++) {
          ruleGrid.push([l[0] * ((1n << k) + 1n), l[1] << k])
          ruleGrid.push([l[0] * ((1n << k) - 1n), l[1] << k])
        }
      }
      let ruleBest = 0n
      for (const r of ruleGrid) {
        const v = ruleVolumeAt(input, r)
        if (v > ruleBest) ruleBest = v
      }
      const executed = out.fills.filter((f) => f.sellAsset === 'TKA').reduce((s, f) => s + f.sold, 0n)
      const n = BigInt(input.orders.length)
      expect(executed + n).toBeGreaterThanOrEqual(ruleBest)
      expect(cmpQ([executed, 1n], addQ(best, [n, 1n]))).toBeLessThanOrEqual(0)
    })
  }
})

/**
 * The fixed-price step of the surplus reference (cycle cancelling) equals HiGHS on the same problem
 * (an LP, a MIP with fill-or-kill orders) at the vertices and at perturbed price vectors.
 */
describe('surplus reference: fixed-price fills equal HiGHS', () => {
  for (const [seed, assets, orders] of [
    [21, 3, 10],
    [22, 4, 14],
    [23, 5, 18],
  ] as const) {
    it(`instance ${seed}: ${assets} assets, ${orders} orders`, async () => {
      const input = randomMultiAsset(seed, assets, orders, 0.05)
      const M = surplusModel(input)
      const highs = await getHighs()
      const r = rng(seed)
      const hidden = hiddenPrices(seed, assets)
      let traded = 0
      for (let k = 0; k < 12; k++) {
        const p = M.P.assets.map(
          (a) => hidden[a] * (a === input.params.numeraire ? 1 : 1 + 0.06 * (2 * r() - 1)),
        )
        const mine = fixedPriceSurplus(M, p).value
        const sol = highs.solve(fixedPriceLp(M, p), { output_flag: false, mip_rel_gap: 1e-9 })
        expect(sol.Status).toBe('Optimal')
        expect(Math.abs(mine - sol.ObjectiveValue)).toBeLessThanOrEqual(
          1e-6 * Math.max(1, sol.ObjectiveValue),
        )
        if (mine > 0) traded++
      }
      expect(traded).toBeGreaterThan(0)
    }, 30_000)
  }
})

/**
 * Step 3b (README "Fills at given prices"): at fixed prices the solver's fills reach the exact best
 * surplus of the reference's fixed-price step (fill-or-kill orders aside: the solver keeps them
 * greedily, the reference enumerates them), up to rounding.
 */
describe('max-surplus fills at fixed prices', () => {
  for (const [seed, assets, orders] of [
    [21, 3, 10],
    [22, 4, 14],
    [23, 5, 18],
    [24, 6, 30],
  ] as const) {
    it(`instance ${seed}: ${assets} assets, ${orders} orders`, () => {
      const input = randomMultiAsset(seed, assets, orders, 0.05)
      for (const o of input.orders as SolverOrder[]) o.partiallyFillable = true
      const M = surplusModel(input)
      const P = prepare(input)
      const r = rng(seed + 1000)
      const hidden = hiddenPrices(seed, assets)
      const num = P.assets.indexOf(input.params.numeraire)
      let traded = 0
      for (let k = 0; k < 12; k++) {
        const prices = P.assets.map((a) =>
          BigInt(
            Math.round(2 ** 40 * hidden[a] * (a === input.params.numeraire ? 1 : 1 + 0.06 * (2 * r() - 1))),
          ),
        )
        const am = fillAtPrices(P, prices, undefined, true)
        let mine = 0n
        for (let i = 0; i < P.orders.length; i++) {
          const o = P.orders[i]
          mine += fillSurplus(
            o.sellAmount,
            o.buyAmount,
            am.sold[i],
            am.bought[i],
            am.fee[i],
            prices[P.buy[i]],
            prices[num],
          )
        }
        const best = fixedPriceSurplus(
          M,
          prices.map((p) => Number(p) / 2 ** 40),
        ).value
        // Rounding: at most about one unit of the buy asset per fill, valued at most ~4 numeraire units.
        expect(Number(mine)).toBeGreaterThanOrEqual(best * (1 - 1e-9) - 4 * orders)
        expect(Number(mine)).toBeLessThanOrEqual(best * (1 + 1e-9) + 1)
        if (best > 0) traded++
      }
      expect(traded).toBeGreaterThan(0)
    })
  }
})

/**
 * Multi-asset quality, like for like (README "Quality"): the solver's surplus (its objective) against
 * the surplus reference (test/reference/surplus.ts: best surplus over every vertex of the limit
 * arrangement and a pattern search from the best ten, fills exact at each price vector). GAP is the
 * documented floor; measured: 99.5% to 100% (see README).
 */
const GAP = 0.99

describe('multi-asset surplus against the like-for-like reference', () => {
  for (const [seed, assets, orders] of [
    [11, 3, 8],
    [13, 4, 12],
    [14, 5, 16],
    [101, 4, 12],
    [102, 6, 24],
  ] as const) {
    it(`instance ${seed}: ${assets} assets, ${orders} orders`, () => {
      const input = randomMultiAsset(seed, assets, orders, 0.05)
      const out = clearBatch(input)
      verifyResult(input, out)
      const ref = surplusReference(input)
      expect(ref.truncated).toBe(false)
      const mine = solverSurplus(input, out)
      expect(ref.value).toBeGreaterThan(0)
      expect(mine).toBeGreaterThanOrEqual(GAP * ref.value)
    }, 60_000)
  }
})

/**
 * The traded-value MIP (HiGHS, Walther 2018 style) stays as an upper bound on what the solver trades:
 * it maximises traded value in numeraire units over every price vector in a box, the solver surplus.
 */
describe('traded value is bounded by the HiGHS MIP', () => {
  it('instance 13: 4 assets, 12 orders', async () => {
    const input = randomMultiAsset(13, 4, 12, 0.05)
    const out = clearBatch(input)
    const mip = await solveMip(input, { timeLimit: 20 })
    expect(mip.status).toBe('Optimal')
    // The MIP works on reals without rounding: it bounds the solver from above.
    expect(tradedValue(input, out.prices, out.fills)).toBeLessThanOrEqual(mip.value * (1 + 1e-9) + 12)
  }, 60_000)
})
