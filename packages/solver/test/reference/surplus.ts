import { BPS } from '@allot/protocol'
import { type Prepared, prepare } from '../../src/prepare.js'
import type { ClearBatchInput, ClearBatchOutput } from '../../src/types.js'

/**
 * Like-for-like quality reference (tests and benchmarks only): the solver's own objective, trader
 * surplus in numeraire units (README rule 8), maximised over price vectors and fills, on small
 * instances. Reals (floats), no rounding; the same funding rule as the solver (`prepare`: the most each
 * order may sell), limits with the fee as the contract checks them, fill-or-kill whole or nothing.
 *
 * At a FIXED price vector p (numeraire = 1) the best fills are exact (up to float tolerance): in value
 * units vᵢ = soldᵢ·p[sell], every fill sells and buys the same value, so fills are a circulation on the
 * graph of assets, 0 ≤ vᵢ ≤ uᵢ (uᵢ = maxSoldᵢ·p[sell], buy kind also ≤ buyAmount·p[buy]), and order i's
 * surplus is wᵢ·vᵢ with wᵢ = 1 − buyAmount·(10⁴+fee)·p[buy] / (sellAmount·10⁴·p[sell]) (eligible iff
 * wᵢ ≥ 0). Maximising Σ wᵢvᵢ is a max-weight circulation: solved by cancelling positive cycles of the
 * residual graph (Bellman–Ford) until none is left — optimal for a linear program of this kind. Each
 * eligible fill-or-kill order is either left out or forced to vᵢ = uᵢ (a bonus weight on it, checked
 * saturated afterwards); all 2^k choices are tried. `fixedPriceSurplus` is checked against HiGHS.
 *
 * Price vectors: surplus is not concave in prices (between breakpoints it is a ratio of prices; e.g. a
 * pair whose buyers are short peaks at the geometric mean of two limits, not at a limit), so no finite
 * candidate set is known to be exhaustive. The reference evaluates
 *   1. every VERTEX of the arrangement of limit hyperplanes: every spanning tree of the asset graph
 *      with, on each tree edge, the limit ratio of one of that pair's orders (prices then follow from
 *      the numeraire along the tree) — all of them (`vertices` counts the distinct ones), and
 *   2. a pattern search from the best `refineFrom` vertices: multiplicative moves p[a]·(1 ± 2⁻ᵏ),
 *      k = 1…24, per non-numeraire asset, kept when the exact fixed-price value rises.
 * The result is the best value seen: a LOWER bound on the true optimum (exact at every price vector it
 * looks at; the true optimum may lie elsewhere), independent of the solver (it never sees the
 * solver's prices). The solver beating it would show that bound is loose (reported, not hidden).
 */
export interface SurplusModel {
  P: Prepared
  /** Asset indices (prepared order) and the numeraire's index (the root; price 1). */
  root: number
  /** Per order: limit factor λᵢ = buyAmount·(10⁴+fee) / (sellAmount·10⁴), cap data. */
  lambda: Float64Array
  maxSold: Float64Array
  buyAmt: Float64Array
  buyKind: Uint8Array
  fok: Uint8Array
}

export function surplusModel(input: ClearBatchInput): SurplusModel {
  const P = prepare(input)
  const n = P.orders.length
  const fb = Number(BPS + P.feeBps) / Number(BPS)
  const lambda = new Float64Array(n)
  const maxSold = new Float64Array(n)
  const buyAmt = new Float64Array(n)
  const buyKind = new Uint8Array(n)
  const fok = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const o = P.orders[i]
    lambda[i] = (Number(o.buyAmount) * fb) / Number(o.sellAmount)
    maxSold[i] = Number(P.maxSold[i])
    buyAmt[i] = Number(o.buyAmount)
    buyKind[i] = o.kind === 'buy' ? 1 : 0
    fok[i] = o.partiallyFillable ? 0 : 1
  }
  const num = P.assets.indexOf(P.numeraire)
  return { P, root: Math.max(num, 0), lambda, maxSold, buyAmt, buyKind, fok }
}

const EPS_W = 1e-12

/**
 * Best surplus (numeraire units) at fixed prices p (p[root] need not be 1: values are divided by it).
 * Returns the value and the fills in value units.
 */
export function fixedPriceSurplus(M: SurplusModel, p: ArrayLike<number>): { value: number; v: Float64Array } {
  const { P } = M
  const n = P.orders.length
  const A = P.assets.length
  const w = new Float64Array(n)
  const u = new Float64Array(n)
  const arcs: number[] = []
  const fokArcs: number[] = []
  for (let i = 0; i < n; i++) {
    const pS = p[P.sell[i]]
    const pB = p[P.buy[i]]
    if (!(pS > 0 && pB > 0)) continue
    const wi = 1 - (M.lambda[i] * pB) / pS
    if (wi < -EPS_W) continue
    let cap = M.maxSold[i] * pS
    if (M.buyKind[i] === 1) {
      const want = M.buyAmt[i] * pB
      if (want < cap) cap = want
      else if (M.fok[i] === 1 && want > cap * (1 + 1e-12)) continue
    }
    if (!(cap > 0)) continue
    w[i] = Math.max(wi, 0)
    u[i] = cap
    arcs.push(i)
    if (M.fok[i] === 1) fokArcs.push(i)
  }
  const pNum = p[M.root]
  let best = 0
  let bestV: Float64Array = new Float64Array(n)
  const k = fokArcs.length
  if (k > 12) throw new Error(`surplus reference: ${k} eligible fill-or-kill orders (2^k choices)`)
  const BONUS = 4 * A + 10
  for (let mask = 0; mask < 1 << k; mask++) {
    const ww = new Float64Array(n)
    const use: number[] = []
    for (const i of arcs) {
      const f = fokArcs.indexOf(i)
      if (f >= 0 && !(mask & (1 << f))) continue
      ww[i] = f >= 0 ? w[i] + BONUS : w[i]
      use.push(i)
    }
    const v = maxWeightCirculation(P, A, use, ww, u)
    let ok = true
    let val = 0
    for (const i of use) {
      if (M.fok[i] === 1 && v[i] < u[i] * (1 - 1e-9)) ok = false
      val += w[i] * v[i]
    }
    if (ok && val > best) {
      best = val
      bestV = v
    }
  }
  return { value: best / pNum, v: bestV }
}

/** Cycle cancelling: push flow around positive-weight residual cycles until none is left. */
function maxWeightCirculation(
  P: Prepared,
  A: number,
  use: readonly number[],
  w: Float64Array,
  u: Float64Array,
): Float64Array {
  const v = new Float64Array(P.orders.length)
  // Residual arcs: 2k = forward (residual u − v, gain w), 2k+1 = backward (residual v, gain −w).
  const m = use.length
  const from = new Int32Array(2 * m)
  const to = new Int32Array(2 * m)
  for (let k = 0; k < m; k++) {
    const i = use[k]
    from[2 * k] = P.sell[i]
    to[2 * k] = P.buy[i]
    from[2 * k + 1] = P.buy[i]
    to[2 * k + 1] = P.sell[i]
  }
  const resid = (e: number) => {
    const i = use[e >> 1]
    return e & 1 ? v[i] : u[i] - v[i]
  }
  const gain = (e: number) => (e & 1 ? -w[use[e >> 1]] : w[use[e >> 1]])
  const dist = new Float64Array(A)
  const pred = new Int32Array(A)
  for (let iter = 0; iter < 100_000; iter++) {
    // Longest-path Bellman–Ford from a virtual source joined to every node (positive cycle detection).
    dist.fill(0)
    pred.fill(-1)
    let last = -1
    for (let round = 0; round < A; round++) {
      last = -1
      for (let e = 0; e < 2 * m; e++) {
        const r = resid(e)
        if (r <= 1e-9 * (u[use[e >> 1]] + 1)) continue
        const d = dist[from[e]] + gain(e)
        if (d > dist[to[e]] + 1e-13) {
          dist[to[e]] = d
          pred[to[e]] = e
          last = to[e]
        }
      }
      if (last < 0) break
    }
    if (last < 0) return v
    // A node relaxed in round A lies on or behind a positive cycle: walk back A steps, then collect it.
    let x = last
    for (let s = 0; s < A; s++) {
      if (pred[x] < 0) return v
      x = from[pred[x]]
    }
    const cycle: number[] = []
    let y = x
    do {
      const e = pred[y]
      if (e < 0) return v
      cycle.push(e)
      y = from[e]
    } while (y !== x && cycle.length <= A)
    let push = Number.POSITIVE_INFINITY
    let g = 0
    for (const e of cycle) {
      const r = resid(e)
      if (r < push) push = r
      g += gain(e)
    }
    if (!(g > 1e-13) || !(push > 0)) return v
    for (const e of cycle) {
      const i = use[e >> 1]
      if (e & 1) v[i] -= push
      else v[i] += push
      if (v[i] < 0) v[i] = 0
      if (v[i] > u[i]) v[i] = u[i]
    }
  }
  return v
}

export interface SurplusReference {
  /** Best surplus found (numeraire units, reals). */
  value: number
  /** Its prices, numeraire = 1. */
  prices: Record<string, number>
  /** Distinct vertices evaluated, and fixed-price evaluations in all. */
  vertices: number
  evals: number
  ms: number
  /** True when the vertex enumeration was cut at `maxVertices` (the value is then weaker). */
  truncated: boolean
}

/** The reference (see the file comment). Throws when the asset graph is not connected. */
export function surplusReference(
  input: ClearBatchInput,
  opts: { refineFrom?: number; maxVertices?: number } = {},
): SurplusReference {
  const t0 = performance.now()
  const M = surplusModel(input)
  const { P } = M
  const A = P.assets.length
  const n = P.orders.length
  // Per pair (a < b): the limit ratios p[a]/p[b] of its orders (deduplicated).
  const pairRatios = new Map<number, number[]>()
  for (let i = 0; i < n; i++) {
    const a = P.sell[i]
    const b = P.buy[i]
    // At its limit: p[sell]/p[buy] = λᵢ.
    const lo = Math.min(a, b)
    const hi = Math.max(a, b)
    const r = a === lo ? M.lambda[i] : 1 / M.lambda[i]
    const key = lo * A + hi
    const l = pairRatios.get(key) ?? []
    if (!l.some((x) => Math.abs(x - r) <= 1e-15 * r)) l.push(r)
    pairRatios.set(key, l)
  }
  const edges = [...pairRatios.keys()].sort((x, y) => x - y)
  const seen = new Set<string>()
  const scored: { value: number; p: Float64Array }[] = []
  let evals = 0
  let truncated = false
  const maxVertices = opts.maxVertices ?? 2_000_000
  const evalAt = (p: Float64Array) => {
    evals++
    return fixedPriceSurplus(M, p).value
  }
  // Spanning trees: choose A − 1 edges that join all assets (union–find), then every ratio per edge.
  const chosen: number[] = []
  const parent = Array.from({ length: A }, (_, i) => i)
  const find = (x: number): number => (parent[x] === x ? x : find(parent[x]))
  const visitTree = () => {
    const adj: { to: number; key: number }[][] = Array.from({ length: A }, () => [])
    for (const key of chosen) {
      const a = Math.floor(key / A)
      const b = key % A
      adj[a].push({ to: b, key })
      adj[b].push({ to: a, key })
    }
    const choice = new Array<number>(chosen.length).fill(0)
    const idx = new Map(chosen.map((k, j) => [k, j]))
    for (;;) {
      if (seen.size >= maxVertices) {
        truncated = true
        return
      }
      const p = new Float64Array(A)
      p[M.root] = 1
      const stack = [M.root]
      while (stack.length > 0) {
        const x = stack.pop() as number
        for (const { to, key } of adj[x]) {
          if (p[to] !== 0) continue
          const r = (pairRatios.get(key) as number[])[choice[idx.get(key) as number]] // p[lo]/p[hi]
          p[to] = Math.floor(key / A) === x ? p[x] / r : p[x] * r
          stack.push(to)
        }
      }
      const sig = Array.from(p, (x) => x.toPrecision(12)).join(',')
      if (!seen.has(sig)) {
        seen.add(sig)
        scored.push({ value: evalAt(p), p })
      }
      let j = 0
      while (j < chosen.length) {
        choice[j]++
        if (choice[j] < (pairRatios.get(chosen[j]) as number[]).length) break
        choice[j] = 0
        j++
      }
      if (j === chosen.length) return
    }
  }
  const rec = (e: number) => {
    if (truncated) return
    if (chosen.length === A - 1) {
      visitTree()
      return
    }
    if (edges.length - e < A - 1 - chosen.length) return
    const key = edges[e]
    const a = find(Math.floor(key / A))
    const b = find(key % A)
    if (a !== b) {
      parent[a] = b
      chosen.push(key)
      rec(e + 1)
      chosen.pop()
      parent[a] = a
    }
    rec(e + 1)
  }
  rec(0)
  if (scored.length === 0) throw new Error('surplus reference: the asset graph is not connected')
  scored.sort((x, y) => y.value - x.value)
  let best = scored[0]
  // Pattern search from the best vertices.
  for (const start of scored.slice(0, opts.refineFrom ?? 10)) {
    let p = Float64Array.from(start.p)
    let val = start.value
    for (let k = 1; k <= 24; k++) {
      const f = 2 ** -k
      let improved = true
      for (let pass = 0; improved && pass < 50; pass++) {
        improved = false
        for (let a = 0; a < A; a++) {
          if (a === M.root) continue
          for (const dir of [1, -1]) {
            const q = Float64Array.from(p)
            q[a] = p[a] * (1 + dir * f)
            const x = evalAt(q)
            if (x > val * (1 + 1e-12)) {
              val = x
              p = q
              improved = true
            }
          }
        }
      }
    }
    if (val > best.value) best = { value: val, p }
  }
  const prices: Record<string, number> = {}
  P.assets.forEach((a, k) => {
    prices[a] = best.p[k]
  })
  return { value: best.value, prices, vertices: seen.size, evals, ms: performance.now() - t0, truncated }
}

/**
 * The solver's surplus in numeraire units recomputed from its fills and prices (floats), or NaN when
 * the numeraire does not trade (the solver then values in its smallest traded price: not comparable).
 */
export function solverSurplus(input: ClearBatchInput, out: ClearBatchOutput): number {
  const pNum = out.prices[input.params.numeraire]
  if (pNum === undefined) return out.fills.some((f) => f.sold > 0n) ? Number.NaN : 0
  return Number(out.objective)
}

/**
 * The same fixed-price problem as a MIP for HiGHS (LP format), to check `fixedPriceSurplus`: value
 * variables vᵢ ∈ [0, uᵢ], fill-or-kill vᵢ = uᵢ·zᵢ (zᵢ binary), conservation per asset, maximise Σ wᵢvᵢ.
 */
export function fixedPriceLp(M: SurplusModel, p: ArrayLike<number>): string {
  const { P } = M
  const rows: string[] = []
  const obj: string[] = []
  const bounds: string[] = []
  const bin: string[] = []
  const cons = new Map<number, string[]>()
  const fmt = (x: number) => x.toPrecision(17)
  for (let i = 0; i < P.orders.length; i++) {
    const pS = p[P.sell[i]]
    const pB = p[P.buy[i]]
    if (!(pS > 0 && pB > 0)) continue
    const w = 1 - (M.lambda[i] * pB) / pS
    if (w < -EPS_W) continue
    let cap = M.maxSold[i] * pS
    if (M.buyKind[i] === 1) {
      const want = M.buyAmt[i] * pB
      if (want < cap) cap = want
      else if (M.fok[i] === 1 && want > cap * (1 + 1e-12)) continue
    }
    obj.push(`${fmt(Math.max(0, w) / p[M.root])} v${i}`)
    if (M.fok[i] === 1) {
      rows.push(` f${i}: v${i} - ${fmt(cap)} z${i} = 0`)
      bin.push(`z${i}`)
    }
    bounds.push(` 0 <= v${i} <= ${fmt(cap)}`)
    for (const [a, sign] of [
      [P.sell[i], '+'],
      [P.buy[i], '-'],
    ] as const) {
      const l = cons.get(a) ?? []
      l.push(`${sign} v${i}`)
      cons.set(a, l)
    }
  }
  for (const [a, terms] of [...cons].sort((x, y) => x[0] - y[0])) rows.push(` b${a}: ${terms.join(' ')} = 0`)
  return [
    'Maximize',
    ` obj: ${obj.length > 0 ? obj.join(' + ') : '0 v0'}`,
    'Subject To',
    ...(rows.length > 0 ? rows : [' c0: v0 = 0']),
    'Bounds',
    ...bounds,
    ...(bin.length > 0 ? ['Binary', ` ${bin.join(' ')}`] : []),
    'End',
  ].join('\n')
}

/** The best fills at the solver's own prices (diagnostic: how much of a gap is the fill routine's). */
export function surplusAtPrices(input: ClearBatchInput, prices: Record<string, bigint>): number {
  const M = surplusModel(input)
  const pNum = prices[input.params.numeraire]
  if (pNum === undefined) return Number.NaN
  const p = M.P.assets.map((a) => (prices[a] === undefined ? 0 : Number(prices[a]) / Number(pNum)))
  return fixedPriceSurplus(M, p).value
}
