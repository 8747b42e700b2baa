import { BPS, feeOf } from '@allot/protocol'
import { maxSoldFor } from './prepare.js'
import { ceilDiv, gcd } from './ratio.js'

/**
 * The signed-ratio rule (README rule 2, docs/settlement.md): a fill never gives its trader a worse
 * executed ratio than it signed, fee included — `bought · sellAmount ≥ (sold + fee) · buyAmount`. The
 * limit at the price level (`sellAmount·p[X]·10⁴ ≥ buyAmount·p[Y]·(10⁴+f)`) does not imply it: `bought`
 * is floored, `sold` (buy kind) and the fee are ceiled, so an order whose limit is within a rounding unit
 * of the clearing price can come out a unit short.
 */
export function keepsSignedRatio(
  sellAmount: bigint,
  buyAmount: bigint,
  sold: bigint,
  bought: bigint,
  fee: bigint,
): boolean {
  return bought * sellAmount >= (sold + fee) * buyAmount
}

/**
 * How far below a target a fill is searched, one unit of `bought` at a time, before the exact fallback
 * below. The rule fails only when `bought · slack` is within about two units (slack: the order's margin
 * over the price per unit bought), so most fills that fail it keep it a unit or two lower.
 */
const SCAN = 64

/** Least common multiple of positive a, b. */
function lcm(a: bigint, b: bigint): bigint {
  return (a / gcd(a, b)) * b
}

/**
 * Sell kind at prices (pS, pB): the largest `sold ≤ s0` (near it) whose uniform-price fill
 * `bought = ⌊sold·pS/pB⌋` keeps the signed ratio, as `[sold, bought]`; `[0n, 0n]` when none does.
 * Requires the limit at the price level. Scans `bought` downward from `⌊s0·pS/pB⌋` (for each, the most
 * `sold` that still buys no more than that and whose debit `sold + fee` fits `bought·sellAmount/buyAmount`);
 * past `SCAN` steps it takes the largest multiple of `q = lcm(pB/gcd(pB, pS), 10⁴/gcd(10⁴, f))` below
 * `s0`: there `sold·pS/pB` and the fee are exact, so the ratio is the price-level limit, which holds.
 */
export function sellFillKeepingRatio(
  sellAmount: bigint,
  buyAmount: bigint,
  pS: bigint,
  pB: bigint,
  feeBps: bigint,
  s0: bigint,
): [bigint, bigint] {
  if (s0 <= 0n) return [0n, 0n]
  const b0 = (s0 * pS) / pB
  if (b0 > 0n && keepsSignedRatio(sellAmount, buyAmount, s0, b0, feeOf(s0, feeBps))) return [s0, b0]
  for (let beta = b0, k = 0; beta > 0n && k < SCAN; beta--, k++) {
    // The most sold that buys at most beta, and whose debit fits beta's share of the signed ratio.
    let s = ceilDiv((beta + 1n) * pB, pS) - 1n
    if (s > s0) s = s0
    const debitCap = maxSoldFor((beta * sellAmount) / buyAmount, feeBps)
    if (s > debitCap) s = debitCap
    if (s <= 0n) continue
    const b = (s * pS) / pB
    if (b > 0n && keepsSignedRatio(sellAmount, buyAmount, s, b, feeOf(s, feeBps))) return [s, b]
  }
  const q = lcm(pB / gcd(pB, pS), BPS / gcd(BPS, feeBps === 0n ? BPS : feeBps))
  const s = (s0 / q) * q
  if (s === 0n) return [0n, 0n]
  const b = (s * pS) / pB
  return b > 0n && keepsSignedRatio(sellAmount, buyAmount, s, b, feeOf(s, feeBps)) ? [s, b] : [0n, 0n]
}

/**
 * Buy kind at prices (pS, pB): the largest `bought ≤ b0` (near it) whose uniform-price fill
 * `sold = ⌈bought·pB/pS⌉` keeps the signed ratio and `sold ≤ maxSold`, as `[sold, bought]`; `[0n, 0n]`
 * when none does. Scans `bought` downward; past `SCAN` steps, the largest multiple below `b0` of the
 * period at which `bought·pB/pS` and the fee are exact (there the ratio is the price-level limit).
 */
export function buyFillKeepingRatio(
  sellAmount: bigint,
  buyAmount: bigint,
  pS: bigint,
  pB: bigint,
  feeBps: bigint,
  b0: bigint,
  maxSold: bigint,
): [bigint, bigint] {
  for (let b = b0, k = 0; b > 0n && k < SCAN; b--, k++) {
    const s = ceilDiv(b * pB, pS)
    if (s <= maxSold && keepsSignedRatio(sellAmount, buyAmount, s, b, feeOf(s, feeBps))) return [s, b]
  }
  if (b0 <= 0n) return [0n, 0n]
  // bought a multiple of pS/g makes sold = bought·pB/pS exact; sold a multiple of 10⁴/gcd(10⁴, f) the fee.
  const g = gcd(pS, pB)
  const feePeriod = BPS / gcd(BPS, feeBps === 0n ? BPS : feeBps)
  const perUnit = pB / g // sold per multiple of pS/g bought
  const q = (pS / g) * (feePeriod / gcd(feePeriod, perUnit))
  let cap = b0
  const byBalance = (maxSold * pS) / pB
  if (byBalance < cap) cap = byBalance
  const b = (cap / q) * q
  if (b === 0n) return [0n, 0n]
  const s = ceilDiv(b * pB, pS)
  return s <= maxSold && keepsSignedRatio(sellAmount, buyAmount, s, b, feeOf(s, feeBps)) ? [s, b] : [0n, 0n]
}
