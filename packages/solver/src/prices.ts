import { BPS } from '@allot/protocol'
import { insideRatio } from './inside.js'
import { choosePairPrice, type Ratio } from './pair.js'
import type { Prepared } from './prepare.js'
import { bitLength, capPrices, excessBits, gcd, type RatioKeys, sortByRatio } from './ratio.js'

/** Fixed-point scale of the root asset of a tree of three or more assets. */
export const ROOT_PRICE = 1n << 96n
/** Smallest root scale when a wide component must shrink to fit under the price cap. */
const MIN_ROOT = 1n << 48n

interface Edge {
  base: number
  quote: number
  ratio: Ratio
  crossing: boolean
  count: number
}

/**
 * Multi-asset price vector (README "Many assets"): each pair of assets with orders gets a ratio —
 * its single-pair clearing price when both sides cross, else the median limit of its orders — and a
 * maximum spanning forest over the pairs (crossing pairs first, then more orders, then lower pair
 * key) fixes the prices: ratios along a tree never contradict each other, and every order, on a
 * tree edge or not (rings included), may then trade at the resulting uniform prices.
 */
export function initialPrices(
  P: Prepared,
  previous?: Record<string, bigint>,
  /** Receives the root of every component of three or more assets (the search keeps them fixed). */
  rootsOut?: number[],
  /** Every pair's ratio a hair inside the limits of the orders exactly at it (inside.ts `insideRatio`). */
  inside = false,
): bigint[] {
  const A = P.assets.length
  const byPair = new Map<number, number[]>()
  for (let i = 0; i < P.orders.length; i++) {
    if (P.maxSold[i] === 0n) continue
    const a = Math.min(P.sell[i], P.buy[i])
    const b = Math.max(P.sell[i], P.buy[i])
    const k = a * A + b
    let l = byPair.get(k)
    if (l === undefined) byPair.set(k, (l = []))
    l.push(i)
  }
  const num = P.assets.indexOf(P.numeraire)
  const edges: Edge[] = []
  for (const k of [...byPair.keys()].sort((x, y) => x - y)) {
    const list = byPair.get(k) as number[]
    const a = Math.floor(k / A)
    const b = k % A
    const base = b === num ? a : a === num ? b : a
    const quote = base === a ? b : a
    let prev: Ratio | undefined
    const pb = previous?.[P.assets[base]]
    const pq = previous?.[P.assets[quote]]
    if (pb !== undefined && pq !== undefined && pb > 0n && pq > 0n) prev = { num: pb, den: pq }
    const r = choosePairPrice(P, list, base, quote, prev)
    const at = (x: Ratio) => (inside ? insideRatio(P, list, base, x) : x)
    if (r !== null) edges.push({ base, quote, ratio: at(r), crossing: true, count: list.length })
    else
      edges.push({ base, quote, ratio: at(medianLimit(P, list, base)), crossing: false, count: list.length })
  }
  edges.sort((x, y) => {
    if (x.crossing !== y.crossing) return x.crossing ? -1 : 1
    if (x.count !== y.count) return y.count - x.count
    return x.base * A + x.quote - (y.base * A + y.quote)
  })
  const parent = Array.from({ length: A }, (_, i) => i)
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]]
      x = parent[x]
    }
    return x
  }
  const adj: { to: number; edge: Edge }[][] = Array.from({ length: A }, () => [])
  for (const e of edges) {
    const x = find(e.base)
    const y = find(e.quote)
    if (x === y) continue
    parent[x] = y
    adj[e.base].push({ to: e.quote, edge: e })
    adj[e.quote].push({ to: e.base, edge: e })
  }
  const prices = new Array<bigint>(A).fill(0n)
  const seen = new Array<boolean>(A).fill(false)
  const roots: number[] = []
  if (num >= 0) roots.push(num)
  for (let a = 0; a < A; a++) roots.push(a)
  for (const root of roots) {
    if (seen[root]) continue
    // Component members, breadth first in ascending neighbour order.
    const comp: number[] = [root]
    seen[root] = true
    for (let h = 0; h < comp.length; h++) {
      for (const { to } of adj[comp[h]]) {
        if (!seen[to]) {
          seen[to] = true
          comp.push(to)
        }
      }
    }
    if (comp.length === 1) continue
    if (comp.length === 2) {
      const e = adj[root][0].edge
      ;[prices[e.base], prices[e.quote]] = capPrices(
        [e.ratio.num, e.ratio.den],
        [P.maxPrice[e.base], P.maxPrice[e.quote]],
      )
      continue
    }
    rootsOut?.push(root)
    // Below the batch's price cap (ratio.ts `maxPriceFor`), with 16 bits of headroom for the local
    // search's upward moves: if the walk from p[root] = 2⁹⁶ exceeds it, walk again from a root smaller
    // by the excess, but not below 2⁴⁸ (precision of the cheap assets); assets still at or above the
    // cap do not trade (price 0), as an outlier price would cost every other asset its precision.
    const caps = comp.map((a) => (P.maxPrice[a] >> 16n > 1n ? P.maxPrice[a] >> 16n : P.maxPrice[a]))
    // Exact first: the tree's ratios as rationals from p[root] = 1, brought to integers on their least
    // common denominator and scaled up by a power of two to about 2⁹⁶ (so every ratio along the tree,
    // and any order matched exactly at it, holds exactly); if that does not fit under the caps, the
    // fixed-point walk below (floor per step).
    const exact = exactTreePrices(comp, adj, caps)
    if (exact !== null) {
      comp.forEach((a, k) => {
        prices[a] = exact[k]
      })
      continue
    }
    let rootPrice = ROOT_PRICE
    for (;;) {
      for (const a of comp) prices[a] = 0n
      prices[root] = rootPrice
      for (let h = 0; h < comp.length; h++) {
        const x = comp[h]
        for (const { to, edge } of adj[x]) {
          if (prices[to] !== 0n) continue
          // p[base] / p[quote] = num / den.
          if (to === edge.base) prices[to] = max1((prices[x] * edge.ratio.num) / edge.ratio.den)
          else prices[to] = max1((prices[x] * edge.ratio.den) / edge.ratio.num)
        }
      }
      const shift = BigInt(
        excessBits(
          comp.map((a) => prices[a]),
          caps,
        ),
      )
      if (shift === 0n || rootPrice <= MIN_ROOT) break
      rootPrice = rootPrice >> shift > MIN_ROOT ? rootPrice >> shift : MIN_ROOT
    }
    comp.forEach((a, k) => {
      if (prices[a] >= caps[k]) prices[a] = 0n
    })
  }
  return prices
}

/**
 * Integer prices of a tree component (root first, `comp` in walk order) whose ratios along every tree
 * edge hold exactly, scaled to about ROOT_PRICE at the root; null when they would reach a cap.
 */
function exactTreePrices(
  comp: readonly number[],
  adj: readonly { to: number; edge: Edge }[][],
  caps: readonly bigint[],
): bigint[] | null {
  const N = new Map<number, bigint>([[comp[0], 1n]])
  const D = new Map<number, bigint>([[comp[0], 1n]])
  const capBits = caps.reduce((m, c) => Math.max(m, bitLength(c)), 0)
  for (const x of comp) {
    for (const { to, edge } of adj[x]) {
      if (N.has(to)) continue
      // p[base] / p[quote] = num / den.
      let n = N.get(x) as bigint
      let d = D.get(x) as bigint
      if (to === edge.base) {
        n *= edge.ratio.num
        d *= edge.ratio.den
      } else {
        n *= edge.ratio.den
        d *= edge.ratio.num
      }
      const g = gcd(n, d)
      n /= g
      d /= g
      if (bitLength(n) > capBits || bitLength(d) > capBits) return null
      N.set(to, n)
      D.set(to, d)
    }
  }
  let L = 1n
  for (const a of comp) {
    const d = D.get(a) as bigint
    L = (L / gcd(L, d)) * d
    if (bitLength(L) > capBits) return null
  }
  let ps = comp.map((a) => ((N.get(a) as bigint) * L) / (D.get(a) as bigint))
  let g = 0n
  for (const p of ps) g = gcd(g, p)
  ps = ps.map((p) => p / g)
  const up = bitLength(ROOT_PRICE) - bitLength(ps[0])
  if (up > 0) ps = ps.map((p) => p << BigInt(up))
  for (let k = 0; k < ps.length; k++) if (ps[k] >= caps[k]) return null
  return ps
}

function max1(x: bigint): bigint {
  return x > 0n ? x : 1n
}

/** Median (lower) of the orders' limits expressed as p[base]/p[quote], fee included. */
function medianLimit(P: Prepared, list: readonly number[], base: number): Ratio {
  const n = P.orders.length
  const num: bigint[] = new Array(n)
  const den: bigint[] = new Array(n)
  const approx = new Float64Array(n)
  const fb = BPS + P.feeBps
  for (const i of list) {
    const o = P.orders[i]
    if (P.sell[i] === base) {
      num[i] = o.buyAmount * fb
      den[i] = o.sellAmount * BPS
      approx[i] = P.buyF[i] / P.sellF[i]
    } else {
      num[i] = o.sellAmount * BPS
      den[i] = o.buyAmount * fb
      approx[i] = P.sellF[i] / P.buyF[i]
    }
  }
  const keys: RatioKeys = { num: (i) => num[i], den: (i) => den[i], approx, rank: (i) => i }
  const s = sortByRatio(keys, list)
  const m = s[(s.length - 1) >> 1]
  const g = gcd(num[m], den[m])
  return { num: num[m] / g, den: den[m] / g }
}
