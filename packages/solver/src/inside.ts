import { BPS } from '@allot/protocol'
import { type Amounts, fillAtPrices } from './fill.js'
import type { Prepared } from './prepare.js'
import { bitLength, capPrices, gcd } from './ratio.js'

/**
 * Prices a hair inside a marginal limit (README rule 2, "Signed ratio"). Exactly at its limit an
 * order keeps `bought·s ≥ (sold + fee)·b` only at multiples of its period (`s / gcd(s, b)` without a
 * fee): with coprime amounts only whole, so a marginal partially fillable order there trades all or
 * nothing. A price better than its limit by a relative `h` gives a fill that buys `β` about `h·β` units
 * of slack against the rounding (`bought` floored, the fee ceiled: about two units), so it trades about
 * its share again, at the cost of moving every other order's rate by `h`.
 */

/** Relative hairs tried, as `2⁻ᵏ` with `2ᵏ ≈ m / 2ᵗ`, `m` the marginal orders' smaller amount. */
const HAIRS = [-2, 0, 2, 4]

/** Limits tried on each side inside the given price, nearest first. */
const NEAR_LIMITS = 2

/** Is order i exactly at its limit (fee included) at these prices? */
export function atLimit(P: Prepared, i: number, prices: readonly bigint[]): boolean {
  const pS = prices[P.sell[i]]
  const pB = prices[P.buy[i]]
  if (pS <= 0n || pB <= 0n || P.maxSold[i] === 0n) return false
  const o = P.orders[i]
  return o.sellAmount * pS * BPS === o.buyAmount * pB * (BPS + P.feeBps)
}

/** The exponents k of the hairs `2⁻ᵏ` tried for marginal orders whose smaller amount is at least m. */
export function hairExponents(m: bigint): number[] {
  const L = bitLength(m)
  const out: number[] = []
  for (const t of HAIRS) {
    const k = L - 1 - t
    if (k >= 2 && !out.includes(k)) out.push(k)
  }
  return out
}

/**
 * Single pair (two priced assets): when an order at exactly its limit is filled less than whole (with a
 * fee, a fill-or-kill one's whole fill need not keep its ratio there either), the prices moved a hair
 * inside its limit (`p[sell]·(2ᵏ + 1)`, `p[buy]·2ᵏ`, for the hairs of `hairExponents`) and the nearest
 * `NEAR_LIMITS` limits on that side; of those and the given prices, the one that trades the most base
 * volume (base: the non-numeraire asset, else the first; `Σ sold` by its sellers plus `Σ bought` by its
 * buyers; ties: the earlier, the given prices first). Every candidate is filled by `fillAtPrices`, so
 * rounding and the signed ratio hold.
 */
export function pairPricesInside(
  P: Prepared,
  prices: readonly bigint[],
  amounts: Amounts,
): { prices: bigint[]; amounts: Amounts } {
  const priced: number[] = []
  for (let a = 0; a < prices.length; a++) if (prices[a] > 0n) priced.push(a)
  if (priced.length !== 2) return { prices: [...prices], amounts }
  const base = P.assets[priced[0]] === P.numeraire ? priced[1] : priced[0]
  const quote = base === priced[0] ? priced[1] : priced[0]
  // Per side (selling base, selling quote): the least of min(s, b) over its marginal orders.
  const least: (bigint | null)[] = [null, null]
  for (let i = 0; i < P.size; i++) {
    const o = P.orders[i]
    if (amounts.sold[i] >= P.maxSold[i] || !atLimit(P, i, prices)) continue
    const side = P.sell[i] === base ? 0 : 1
    // biome-ignore lint/complexity/useMathMinMax: bigint operands (Math.min would convert them)
    const m = o.sellAmount < o.buyAmount ? o.sellAmount : o.buyAmount
    const l = least[side]
    if (l === null || m < l) least[side] = m
  }
  if (least[0] === null && least[1] === null) return { prices: [...prices], amounts }
  const volume = (a: Amounts) => {
    let v = 0n
    for (let i = 0; i < P.size; i++) v += P.sell[i] === base ? a.sold[i] : a.bought[i]
    return v
  }
  let best = { prices: [...prices], amounts }
  let bestV = volume(amounts)
  const offer = (next: bigint[]) => {
    // Reduced first: capPrices shifts every price alike, which moves a ratio that needs no shift.
    let g = 0n
    for (const p of next) if (p > 0n) g = gcd(g, p)
    const capped = capPrices(
      next.map((p) => p / g),
      P.maxPrice,
    )
    const am = fillAtPrices(P, capped)
    const v = volume(am)
    if (v > bestV) {
      bestV = v
      best = { prices: capped, amounts: am }
    }
  }
  // The nearest limits inside on each side (the next candidates of the price choice that way): there the
  // marginal orders are strictly inside their limits, and an order at the new limit may fill whole.
  const fb = BPS + P.feeBps
  const rb = prices[base]
  const rq = prices[quote]
  const above: [bigint, bigint][] = []
  const below: [bigint, bigint][] = []
  for (let i = 0; i < P.size; i++) {
    if (P.maxSold[i] === 0n) continue
    const o = P.orders[i]
    // The order's limit as p[base]/p[quote] = n/d.
    const n = P.sell[i] === base ? o.buyAmount * fb : o.sellAmount * BPS
    const d = P.sell[i] === base ? o.sellAmount * BPS : o.buyAmount * fb
    if (least[0] !== null && n * rq > rb * d) above.push([n, d])
    if (least[1] !== null && n * rq < rb * d) below.push([n, d])
  }
  const cmp = (x: [bigint, bigint], y: [bigint, bigint]) => {
    const l = x[0] * y[1]
    const r = y[0] * x[1]
    return l < r ? -1 : l > r ? 1 : 0
  }
  above.sort(cmp)
  below.sort((x, y) => cmp(y, x))
  for (const list of [above, below]) {
    for (let k = 0, taken = 0; k < list.length && taken < NEAR_LIMITS; k++) {
      if (k > 0 && cmp(list[k], list[k - 1]) === 0) continue
      taken++
      const next = prices.map(() => 0n)
      next[base] = list[k][0]
      next[quote] = list[k][1]
      offer(next)
    }
  }
  for (let side = 0; side < 2; side++) {
    const m = least[side]
    if (m === null) continue
    // Inside a base seller's limit is a higher p[base]; inside a base buyer's, a higher p[quote].
    const up = side === 0 ? base : quote
    for (const k of hairExponents(m)) {
      const d = 1n << BigInt(k)
      offer(prices.map((p, a) => (p <= 0n ? p : a === up ? p * (d + 1n) : p * d)))
    }
  }
  return best
}

/**
 * Many assets: a pair's ratio `r = p[base]/p[quote]` (its clearing price or its median limit, prices.ts)
 * moved a hair inside the limits of the pair's orders that sit exactly at it, when they are all on one
 * side (both sides: r is kept, a move would shut out one side). The hair is `2⁻ᵏ` with
 * `2ᵏ ≈ m / 16`, `m` the least of min(s, b) over those orders: room for a fill of a sixteenth of the
 * order or more (`hairExponents`). The price search starts from the better of the exact and the moved
 * vector (clear.ts).
 */
export function insideRatio(
  P: Prepared,
  list: readonly number[],
  base: number,
  r: { num: bigint; den: bigint },
): { num: bigint; den: bigint } {
  const fb = BPS + P.feeBps
  let m: bigint | null = null
  let sides = 0 // bit 1: a base seller at r, bit 2: a base buyer
  for (const i of list) {
    if (P.maxSold[i] === 0n) continue
    const o = P.orders[i]
    const n = P.sell[i] === base ? o.buyAmount * fb : o.sellAmount * BPS
    const d = P.sell[i] === base ? o.sellAmount * BPS : o.buyAmount * fb
    if (n * r.den !== r.num * d) continue
    sides |= P.sell[i] === base ? 1 : 2
    // biome-ignore lint/complexity/useMathMinMax: bigint operands (Math.min would convert them)
    const mi = o.sellAmount < o.buyAmount ? o.sellAmount : o.buyAmount
    if (m === null || mi < m) m = mi
  }
  if (m === null || sides === 3) return r
  const k = bitLength(m) - 5
  if (k < 2) return r
  const d = 1n << BigInt(k)
  const num = r.num * (sides === 1 ? d + 1n : d - 1n)
  const den = r.den * d
  const g = gcd(num, den)
  return { num: num / g, den: den / g }
}
