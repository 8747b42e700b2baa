import { BPS } from '@allot/protocol'
import { type Amounts, fillAtPrices } from './fill.js'
import type { Prepared } from './prepare.js'
import { ceilDiv } from './ratio.js'

/** Step sizes of the price search, as fractions 1/2^k. */
const COARSE = [2n, 4n]
const FINE = [6n, 8n, 11n]
/** Breakpoints tried per side of the current price (per asset and pass). */
const NEAR = 3

/**
 * Local search on the multi-asset price vector (README "Many assets", step 5), every candidate
 * evaluated exactly (max-surplus fills at those prices, `fillAtPrices(…, optimize)`, and the surplus
 * objective); a move is kept when it strictly improves the objective.
 * 1. Coarse coordinate moves p[a] ← p[a] · (1 ± 2⁻ᵏ), k = 2, 4, for every non-root priced asset in
 *    ascending order, repeated per k while one improves.
 * 2. Breakpoint moves: for each such asset a, the prices of a at which one of its orders sits exactly
 *    at its limit given the other prices (the vertices of the limit arrangement next to the current
 *    vector), the NEAR nearest below and above the current price; the best strictly improving one is
 *    taken; passes repeat while one improves.
 * 3. Fine coordinate moves, k = 6, 8, 11 (the optimum may lie between breakpoints: surplus is a ratio
 *    of prices there).
 * The number of evaluations is a fixed function of the batch size, never of time, so every validator
 * walks the same path.
 */
export function improvePrices(
  P: Prepared,
  start: bigint[],
  objective: (prices: readonly bigint[], a: Amounts) => bigint,
  roots: ReadonlySet<number>,
): { prices: bigint[]; amounts: Amounts } {
  let prices = start
  let amounts = fillAtPrices(P, prices, undefined, true)
  let best = objective(prices, amounts)
  const n = P.orders.length
  // ~100k order-evaluations in all; none above 4,000 orders (the largest real batch must clear in ≤ 1 s).
  const budget = n > 4_000 ? 0 : Math.min(400, Math.floor(100_000 / (n + 1)))
  let evals = 0
  const movable: number[] = []
  for (let a = 0; a < P.assets.length; a++) if (prices[a] > 0n && !roots.has(a)) movable.push(a)
  if (movable.length === 0) return { prices, amounts }
  // A vector met again (about one evaluation in ten) is not filled again: its objective is known, and it
  // cannot be taken (every vector evaluated so far has an objective ≤ best: a move is taken only when
  // it is the best of its round). It still counts against the budget, so the path does not change.
  // Only objectives are kept (the fills of a vector that is not taken are dropped at once).
  const seen = new VectorMemo()
  seen.set(prices, best)
  const evaluate = (next: bigint[]): { prices: bigint[]; amounts: Amounts | null; obj: bigint } => {
    evals++
    const known = seen.get(next)
    if (known !== undefined) return { prices: next, amounts: null, obj: known }
    const am = fillAtPrices(P, next, undefined, true)
    const obj = objective(next, am)
    seen.set(next, obj)
    return { prices: next, amounts: am, obj }
  }
  /** Takes an evaluated vector as the current one (fills it again if it was met before: never, see above). */
  const take = (r: { prices: bigint[]; amounts: Amounts | null; obj: bigint }) => {
    prices = r.prices
    amounts = r.amounts ?? fillAtPrices(P, r.prices, undefined, true)
    best = r.obj
  }
  const tryPrices = (next: bigint[]): boolean => {
    const r = evaluate(next)
    if (r.obj <= best) return false
    take(r)
    return true
  }
  // Orders per asset (either side), ascending index.
  const touching: number[][] = Array.from({ length: P.assets.length }, () => [])
  for (let i = 0; i < n; i++) {
    if (P.maxSold[i] === 0n) continue
    touching[P.sell[i]].push(i)
    touching[P.buy[i]].push(i)
  }
  const fb = BPS + P.feeBps
  const breakpoints = () => {
    for (let improved = true; improved && evals < budget; ) {
      improved = false
      for (const a of movable) {
        if (evals >= budget) break
        const cands: bigint[] = []
        for (const i of touching[a]) {
          const o = P.orders[i]
          const other = P.sell[i] === a ? P.buy[i] : P.sell[i]
          const pO = prices[other]
          if (pO <= 0n) continue
          // Limit: sellAmount·p[sell]·10⁴ ≥ buyAmount·p[buy]·(10⁴+f); the price of a where it holds with equality
          // (rounded to the side where it still holds).
          const c =
            P.sell[i] === a
              ? ceilDiv(o.buyAmount * fb * pO, o.sellAmount * BPS)
              : (o.sellAmount * BPS * pO) / (o.buyAmount * fb)
          if (c > 0n && c < P.maxPrice[a] >> 1n && c !== prices[a]) cands.push(c)
        }
        cands.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
        // The nearest NEAR distinct breakpoints below and above the current price.
        let at = 0
        while (at < cands.length && cands[at] < prices[a]) at++
        const near: bigint[] = []
        for (let k = at - 1; k >= 0 && near.length < NEAR; k--)
          if (k === at - 1 || cands[k] !== cands[k + 1]) near.push(cands[k])
        const below = near.length
        for (let k = at; k < cands.length && near.length < below + NEAR; k++)
          if (k === at || cands[k] !== cands[k - 1]) near.push(cands[k])
        let win: { prices: bigint[]; amounts: Amounts | null; obj: bigint } | null = null
        for (let k = 0; k < near.length && evals < budget; k++) {
          const next = [...prices]
          next[a] = near[k]
          const r = evaluate(next)
          if (r.obj > (win === null ? best : win.obj)) win = r
        }
        if (win !== null) {
          take(win)
          improved = true
        }
      }
    }
  }
  const coordinate = (steps: readonly bigint[]) => {
    for (const k of steps) {
      let improved = true
      while (improved && evals < budget) {
        improved = false
        for (const a of movable) {
          for (const dir of [1n, -1n]) {
            if (evals >= budget) break
            const d = prices[a] >> k
            if (d === 0n) continue
            const next = [...prices]
            next[a] = prices[a] + dir * d
            if (next[a] <= 0n || next[a] >= P.maxPrice[a] >> 1n) continue
            if (tryPrices(next)) improved = true
          }
        }
      }
    }
  }
  // 1. Coarse coordinate moves, 2. breakpoint moves, 3. fine coordinate moves.
  coordinate(COARSE)
  breakpoints()
  coordinate(FINE)
  return { prices, amounts }
}

const FLOAT = new Float64Array(1)
const WORDS = new Uint32Array(FLOAT.buffer)

/**
 * Objectives by price vector: buckets by a hash of the prices, every hit confirmed by
 * comparing the whole vector (so a collision costs time, never a wrong objective).
 */
class VectorMemo {
  private readonly buckets = new Map<number, { prices: readonly bigint[]; obj: bigint }[]>()

  private static hash(prices: readonly bigint[]): number {
    let h = 0
    for (const p of prices) {
      // The low 32 bits (breakpoints differ there) and the float's bits (power-of-two-scaled prices do).
      FLOAT[0] = Number(p)
      h = Math.imul(h ^ Number(BigInt.asUintN(32, p)), 0x9e3779b1)
      h = Math.imul(h ^ WORDS[0], 0x85ebca6b)
      h = Math.imul(h ^ WORDS[1], 0xc2b2ae35) ^ (h >>> 13)
    }
    return h
  }

  get(prices: readonly bigint[]): bigint | undefined {
    const list = this.buckets.get(VectorMemo.hash(prices))
    if (list === undefined) return undefined
    for (const e of list) if (e.prices.every((p, a) => p === prices[a])) return e.obj
    return undefined
  }

  set(prices: readonly bigint[], obj: bigint): void {
    const h = VectorMemo.hash(prices)
    const list = this.buckets.get(h)
    if (list === undefined) this.buckets.set(h, [{ prices, obj }])
    else list.push({ prices, obj })
  }
}
