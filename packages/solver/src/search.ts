import { type Amounts, fillAtPrices } from './fill.js'
import type { Prepared } from './prepare.js'

/** Step sizes of the price search, as fractions 1/2^k. */
const STEPS = [2n, 4n, 6n, 8n, 11n]

/**
 * Local search on the multi-asset price vector (README "Many assets", step 5): coordinate moves
 * p[a] ← p[a] · (1 ± 2⁻ᵏ) for every non-root priced asset in ascending order, each evaluated exactly
 * (fills at those prices and the surplus objective); a move is kept when it strictly improves the
 * objective. The number of evaluations is a fixed function of the batch size, never of time, so every
 * validator walks the same path.
 */
export function improvePrices(
  P: Prepared,
  start: bigint[],
  objective: (prices: readonly bigint[], a: Amounts) => bigint,
  roots: ReadonlySet<number>,
): { prices: bigint[]; amounts: Amounts } {
  let prices = start
  let amounts = fillAtPrices(P, prices)
  let best = objective(prices, amounts)
  // ~40k order-evaluations in all; none above 4,000 orders (the largest real batch must clear in ≤ 1 s).
  const budget = P.orders.length > 4_000 ? 0 : Math.min(150, Math.floor(40_000 / (P.orders.length + 1)))
  let evals = 0
  const movable: number[] = []
  for (let a = 0; a < P.assets.length; a++) if (prices[a] > 0n && !roots.has(a)) movable.push(a)
  if (movable.length === 0) return { prices, amounts }
  for (const k of STEPS) {
    let improved = true
    while (improved && evals < budget) {
      improved = false
      for (const a of movable) {
        for (const dir of [1n, -1n]) {
          if (evals >= budget) break
          const next = [...prices]
          const d = prices[a] >> k
          if (d === 0n) continue
          next[a] = prices[a] + dir * d
          if (next[a] <= 0n || next[a] >= P.maxPrice[a] >> 1n) continue
          evals++
          const am = fillAtPrices(P, next)
          const obj = objective(next, am)
          if (obj > best) {
            best = obj
            prices = next
            amounts = am
            improved = true
          }
        }
      }
    }
  }
  return { prices, amounts }
}
