import { BPS, feeOf } from '@allot/protocol'
import type { Prepared } from './prepare.js'
import { ceilDiv, compareRatio, type RatioKeys, sortByRatio } from './ratio.js'

/** Amounts of every prepared order at one price vector (zeros where an order does not trade). */
export interface Amounts {
  sold: bigint[]
  bought: bigint[]
  fee: bigint[]
}

/** Limit with fee, exactly as the settlement contract checks it (`priceRespectsLimit`). */
export function eligible(P: Prepared, i: number, prices: readonly bigint[]): boolean {
  const pS = prices[P.sell[i]]
  const pB = prices[P.buy[i]]
  if (pS <= 0n || pB <= 0n || P.maxSold[i] === 0n) return false
  const o = P.orders[i]
  return o.sellAmount * pS * BPS >= o.buyAmount * pB * (BPS + P.feeBps)
}

/**
 * Fills at fixed prices (README "Fills at given prices"). In value units (amount · price) a fill
 * sells and buys the same value, so fills are a circulation on the graph whose nodes are assets and
 * whose arcs are the eligible orders (capacity: what the order may sell, in value). We route
 * (1) every pair's two-way trade, then (2) any remaining cycle (rings) by its bottleneck, until
 * the residual graph is acyclic; each arc's flow then goes to its orders by price priority with
 * the marginal group pro rata. Amounts are rounded as the contract requires (never creating an
 * asset) and any rounding deficit is repaired by cutting buyers of the short asset.
 * `active[i] = false` keeps order i out.
 */
export function fillAtPrices(
  P: Prepared,
  prices: readonly bigint[],
  active?: ArrayLike<boolean>,
  /** Then raise the surplus of the routing to its maximum at these prices (README step 3b). */
  optimize = false,
): Amounts {
  const n = P.orders.length
  const A = P.assets.length
  const u: bigint[] = new Array(n).fill(0n)
  const cap: bigint[] = new Array(n).fill(0n)
  const elig: number[] = []
  // Priority: slack = sellAmount·pS / (buyAmount·pB), best first. Floats decide only where they
  // provably agree with the exact comparison (ratio.ts); exact products are formed on near-ties.
  const approx = new Float64Array(n)
  const pF = prices.map((p) => Number(p))
  const limitF = 1 + Number(P.feeBps) / 1e4
  for (let i = 0; i < n; i++) {
    if (active !== undefined && !active[i]) continue
    const pS = prices[P.sell[i]]
    const pB = prices[P.buy[i]]
    if (pS <= 0n || pB <= 0n || P.maxSold[i] === 0n) continue
    const slack = (P.sellF[i] * pF[P.sell[i]]) / (P.buyF[i] * pF[P.buy[i]])
    approx[i] = slack
    if (slack < limitF * (1 - 2 ** -40)) continue
    if (slack <= limitF * (1 + 2 ** -40) && !eligible(P, i, prices)) continue
    const o = P.orders[i]
    let c = P.maxSold[i] * pS
    if (o.kind === 'buy') {
      const want = o.buyAmount * pB
      if (want < c) c = want
      else if (!o.partiallyFillable && want > c) c = 0n // cannot be funded in full at these prices
    }
    if (c <= 0n) continue
    cap[i] = c
    elig.push(i)
  }
  const num = (i: number) => P.orders[i].sellAmount * prices[P.sell[i]]
  const den = (i: number) => P.orders[i].buyAmount * prices[P.buy[i]]
  const keys: RatioKeys = { num, den, approx, rank: (i) => i }
  const byPriority = sortByRatio(keys, elig) // ascending slack: worst first
  const fok = (i: number) => !P.orders[i].partiallyFillable
  const exact: RatioKeys = { num, den, approx, rank: () => 0 }
  // Arcs sell → buy, orders best slack first; capacity = sum of caps (value units).
  const arcOrders = new Map<number, number[]>()
  for (let k = byPriority.length - 1; k >= 0; k--) {
    const i = byPriority[k]
    const key = P.sell[i] * A + P.buy[i]
    let l = arcOrders.get(key)
    if (l === undefined) arcOrders.set(key, (l = []))
    l.push(i)
  }
  const out_ = new Uint8Array(n) // fill-or-kill orders taken out of the circulation
  let short = true
  for (let round = 0; short && round <= n; round++) {
    short = false
    const arcKeys = [...arcOrders.keys()].sort((x, y) => x - y)
    const resid = new Map<number, bigint>()
    const flow = new Map<number, bigint>()
    for (const key of arcKeys) {
      let c = 0n
      for (const i of arcOrders.get(key) as number[]) if (!out_[i]) c += cap[i]
      resid.set(key, c)
      flow.set(key, 0n)
    }
    const push = (cycle: number[], x: bigint) => {
      for (const key of cycle) {
        resid.set(key, (resid.get(key) as bigint) - x)
        flow.set(key, (flow.get(key) as bigint) + x)
      }
    }
    // 1. Pairs: a ↔ b trades directly first.
    for (const key of arcKeys) {
      const a = Math.floor(key / A)
      const b = key % A
      if (a > b) continue
      const back = b * A + a
      if (!resid.has(back)) continue
      const x = bigMinOf(resid.get(key) as bigint, resid.get(back) as bigint)
      if (x > 0n) push([key, back], x)
    }
    // 2. Rings: any cycle left in the residual graph carries its bottleneck (each push empties an arc).
    const outArcs: number[][] = Array.from({ length: A }, () => [])
    for (const key of arcKeys) outArcs[Math.floor(key / A)].push(key)
    for (let guard = 0; guard <= arcKeys.length; guard++) {
      const cycle = findCycle(A, outArcs, resid)
      if (cycle === null) break
      let x = resid.get(cycle[0]) as bigint
      for (const key of cycle) x = bigMinOf(x, resid.get(key) as bigint)
      push(cycle, x)
    }
    if (optimize) maximiseSurplus(P, prices, A, arcKeys, arcOrders, cap, out_, flow)
    // 3. Each arc's flow goes to its orders best slack first; the marginal group of equal slack
    //    shares pro rata (floor, remainder units by ascending id); a fill-or-kill order fills whole
    //    (ascending id) only while the partially fillable ones cannot take the flow alone.
    for (const key of arcKeys) {
      const list = arcOrders.get(key) as number[]
      let f = flow.get(key) as bigint
      for (const i of list) u[i] = 0n
      const planned = f
      let g = 0
      while (f > 0n && g < list.length) {
        let h = g + 1
        while (h < list.length && compareRatio(exact, list[g], list[h]) === 0) h++
        let total = 0n
        for (let k = g; k < h; k++) if (!out_[list[k]]) total += cap[list[k]]
        if (total <= f) {
          for (let k = g; k < h; k++) if (!out_[list[k]]) u[list[k]] = cap[list[k]]
          f -= total
        } else {
          const members = list
            .slice(g, h)
            .filter((i) => !out_[i])
            .sort((x, y) => x - y)
          let partial = 0n
          for (const i of members) if (!fok(i)) partial += cap[i]
          for (const i of members) {
            if (fok(i) && partial < f && cap[i] <= f - partial) {
              u[i] = cap[i]
              f -= cap[i]
            }
          }
          if (partial > 0n && f > 0n) {
            const give = bigMinOf(f, partial)
            let given = 0n
            for (const i of members) {
              if (fok(i)) continue
              u[i] = (cap[i] * give) / partial
              given += u[i]
            }
            let rest = give - given
            for (let k = 0; rest > 0n; k = (k + 1) % members.length) {
              const i = members[k]
              if (!fok(i) && u[i] < cap[i]) {
                u[i] += 1n
                rest -= 1n
              }
            }
          }
          // A fill-or-kill order left out where partially fillable ones could not take the rest: the
          // arc delivers less than its flow, so the circulation is recomputed without it.
          if (f > (partial > 0n ? bigMinOf(f, partial) : 0n)) {
            for (const i of members) if (fok(i) && u[i] === 0n) out_[i] = 1
            short = true
          }
          f = 0n
        }
        g = h
      }
      if (f > 0n && planned > 0n) short = true
    }
  }
  return roundAndRepair(P, prices, u, cap, byPriority)
}

/** Amounts from value units, then repair of rounding deficits (cutting the short asset's buyers, worst first). */
function roundAndRepair(
  P: Prepared,
  prices: readonly bigint[],
  u: readonly bigint[],
  cap: readonly bigint[],
  byPriority: Uint32Array,
): Amounts {
  const n = P.orders.length
  const sold: bigint[] = new Array(n).fill(0n)
  const bought: bigint[] = new Array(n).fill(0n)
  for (const i of byPriority) {
    if (u[i] === 0n) continue
    const o = P.orders[i]
    const pS = prices[P.sell[i]]
    const pB = prices[P.buy[i]]
    if (o.kind === 'sell') {
      let s = u[i] / pS
      if (s > P.maxSold[i]) s = P.maxSold[i]
      if (!o.partiallyFillable && u[i] !== cap[i]) s = 0n
      sold[i] = s
      bought[i] = (s * pS) / pB
    } else {
      let b = u[i] / pB
      if (b > o.buyAmount) b = o.buyAmount
      if (!o.partiallyFillable && b !== o.buyAmount) b = 0n
      let s = ceilDiv(b * pB, pS)
      if (s > P.maxSold[i]) {
        b = o.partiallyFillable ? (P.maxSold[i] * pS) / pB : 0n
        s = ceilDiv(b * pB, pS)
      }
      sold[i] = s
      bought[i] = b
    }
    if (sold[i] === 0n || bought[i] === 0n) {
      sold[i] = 0n
      bought[i] = 0n
    }
  }
  repairDeficits(P, prices, sold, bought, byPriority)
  const fee = P.feeBps === 0n ? new Array<bigint>(n).fill(0n) : sold.map((s) => feeOf(s, P.feeBps))
  return { sold, bought, fee }
}

/**
 * Repair of rounding deficits (README "Rounding and repair"): while an asset has Σ bought > Σ sold,
 * cut its buyers, worst slack first. `worstFirst` lists every order that may have a non-zero fill, per
 * buy asset in ascending slack (ties: ascending index); orders outside it must have zero fills.
 */
export function repairDeficits(
  P: Prepared,
  prices: readonly bigint[],
  sold: bigint[],
  bought: bigint[],
  worstFirst: ArrayLike<number>,
): void {
  const setFromBought = (i: number, b: bigint) => {
    const o = P.orders[i]
    const pS = prices[P.sell[i]]
    const pB = prices[P.buy[i]]
    if (b <= 0n) {
      sold[i] = 0n
      bought[i] = 0n
      return
    }
    if (o.kind === 'sell') {
      // Largest sold with floor(sold·pS/pB) ≤ b.
      let s = ((b + 1n) * pB - 1n) / pS
      if (s > P.maxSold[i]) s = P.maxSold[i]
      sold[i] = s
      bought[i] = (s * pS) / pB
    } else {
      sold[i] = ceilDiv(b * pB, pS)
      bought[i] = b
    }
  }
  const A = P.assets.length
  const buyersWorstFirst: number[][] = Array.from({ length: A }, () => [])
  const filled: number[] = []
  for (let k = 0; k < worstFirst.length; k++) {
    const i = worstFirst[k]
    if (sold[i] === 0n) continue
    buyersWorstFirst[P.buy[i]].push(i)
    filled.push(i)
  }
  const limit = 1000 + 10 * A
  for (let pass = 0; ; pass++) {
    const tot = new Array<bigint>(A).fill(0n)
    for (const i of filled) {
      tot[P.sell[i]] += sold[i]
      tot[P.buy[i]] -= bought[i]
    }
    let clean = true
    for (let a = 0; a < A; a++) {
      if (tot[a] >= 0n) continue
      clean = false
      // Cut buyers of a, worst slack first: first those whose own sell asset has the dust to absorb
      // what they stop selling (the cut then goes nowhere else), then any (the deficit moves on).
      for (const absorbOnly of [true, false]) {
        for (const i of buyersWorstFirst[a]) {
          if (tot[a] >= 0n) break
          if (bought[i] === 0n) continue
          const b0 = bought[i]
          const s0 = sold[i]
          const whole = !P.orders[i].partiallyFillable || pass > limit / 2
          setFromBought(i, whole ? 0n : b0 + tot[a])
          const x = P.sell[i]
          if (absorbOnly && tot[x] - (s0 - sold[i]) < 0n) {
            sold[i] = s0
            bought[i] = b0
            continue
          }
          tot[x] -= s0 - sold[i]
          tot[a] += b0 - bought[i]
        }
        if (tot[a] >= 0n) break
      }
    }
    if (clean) break
    if (pass > limit) {
      sold.fill(0n)
      bought.fill(0n)
      break
    }
  }
}

/**
 * Gains are integers of at most 2^g with g = 51 − bits(V·m) (V assets on arcs, m arcs): one Bellman–Ford
 * round scans 2m residual edges, so it extends a walk by at most 2m of them, and after V rounds every
 * distance is at most 2·V·m·2^g < 2⁵², an integer exact in a double (integer arithmetic, the same on every machine). Below MIN_GAIN_BITS of
 * resolution the step is skipped.
 */
const MIN_GAIN_BITS = 20

/**
 * Max-surplus circulation at fixed prices (README "Fills at given prices", 3b). Each arc (sell → buy)
 * is a chain of segments, one per order, best slack first, with capacity its cap (value units)
 * and gain ⌊wᵢ·2^g⌋, wᵢ = 1 − buyAmount·(10⁴+f)·p[buy] / (sellAmount·10⁴·p[sell]) — order i's surplus
 * per unit of value, so the surplus of a circulation is about Σ gain·flow / 2^g / p[numeraire]. Gains
 * fall along an arc (concave), so an arc's flow always fills its best segments first (segments
 * [0, head) full, head partly). Starting from the routing of steps 1–2, positive-gain cycles of the
 * residual graph (longest-path Bellman–Ford, ascending arcs) carry their bottleneck until none is left
 * or a fixed bound of pushes is reached: the surplus only rises, and every decision is an exact
 * integer comparison.
 */
function maximiseSurplus(
  P: Prepared,
  prices: readonly bigint[],
  A: number,
  arcKeys: readonly number[],
  arcOrders: ReadonlyMap<number, number[]>,
  cap: readonly bigint[],
  out_: Uint8Array,
  flow: Map<number, bigint>,
): void {
  const fb = BPS + P.feeBps
  const m = arcKeys.length
  // One segment per order (equal-slack orders have equal gains, so merging them changes nothing; step 3
  // shares an arc's flow pro rata anyway). Arc e: its orders best first; segments [0, head) full,
  // `fill` in segment head. Gains are computed when first needed (most orders never are).
  const lists: number[][] = []
  const head = new Int32Array(m)
  const fill: bigint[] = new Array(m)
  for (let e = 0; e < m; e++) {
    const list = (arcOrders.get(arcKeys[e]) as number[]).filter((i) => !out_[i])
    lists.push(list)
    let f = flow.get(arcKeys[e]) as bigint
    let h = 0
    while (h < list.length && f >= cap[list[h]]) f -= cap[list[h++]]
    head[e] = h
    fill[e] = h < list.length ? f : 0n
  }
  const fromOf = new Int32Array(m)
  const toOf = new Int32Array(m)
  for (let e = 0; e < m; e++) {
    fromOf[e] = Math.floor(arcKeys[e] / A)
    toOf[e] = arcKeys[e] % A
  }
  // Rounds: one per asset that has an arc (the others never relax).
  const onArc = new Uint8Array(A)
  for (let e = 0; e < m; e++) onArc[fromOf[e]] = onArc[toOf[e]] = 1
  let V = 0
  for (let a = 0; a < A; a++) V += onArc[a]
  const gainBits = 51 - (32 - Math.clz32(V * m))
  if (V * m >= 2 ** 31 || gainBits < MIN_GAIN_BITS) return
  const GAIN_BITS = BigInt(gainBits)
  const gainOf = new Map<number, number>()
  const gain = (i: number): number => {
    let g = gainOf.get(i)
    if (g === undefined) {
      const o = P.orders[i]
      const d = o.sellAmount * BPS * prices[P.sell[i]]
      const x = ((d - o.buyAmount * fb * prices[P.buy[i]]) << GAIN_BITS) / d
      g = x > 0n ? Number(x) : 0
      gainOf.set(i, g)
    }
    return g
  }
  // Residual edge 2e: forward on arc e (segment head); 2e + 1: backward (the last segment with flow).
  const NONE = Number.NEGATIVE_INFINITY
  const fwGain = new Float64Array(m)
  const bwGain = new Float64Array(m)
  const bwSeg = (e: number) => (fill[e] > 0n ? head[e] : head[e] - 1)
  const refresh = (e: number) => {
    const h = head[e]
    fwGain[e] = h < lists[e].length ? gain(lists[e][h]) : NONE
    const b = bwSeg(e)
    bwGain[e] = b >= 0 ? -gain(lists[e][b]) : NONE
  }
  for (let e = 0; e < m; e++) refresh(e)
  const dist = new Float64Array(A)
  const pred = new Int32Array(A)
  const tail = (r: number) => ((r & 1) === 0 ? fromOf[r >> 1] : toOf[r >> 1])
  const mark = new Int32Array(A).fill(-1)
  // A cycle of the predecessor graph through the walk back from x, or null. Such a cycle has a positive
  // gain (exact integer relaxations); it is checked again below.
  const cycleFrom = (x: number, stamp: number): number[] | null => {
    let y = x
    for (let s = 0; s <= V; s++) {
      if (mark[y] === stamp) {
        const cycle: number[] = []
        let z = y
        do {
          const r = pred[z]
          cycle.push(r)
          z = tail(r)
        } while (z !== y && cycle.length <= V)
        return z === y ? cycle : null
      }
      mark[y] = stamp
      if (pred[y] < 0) return null
      y = tail(pred[y])
    }
    return null
  }
  const maxPushes = 4 * (m + 10)
  let stamp = 0
  for (let pushes = 0; pushes < maxPushes; pushes++) {
    dist.fill(0)
    pred.fill(-1)
    let cycle: number[] | null = null
    for (let round = 0; round < V && cycle === null; round++) {
      let last = -1
      for (let e = 0; e < m; e++) {
        const a = fromOf[e]
        const b = toOf[e]
        if (fwGain[e] !== NONE && dist[a] + fwGain[e] > dist[b]) {
          dist[b] = dist[a] + fwGain[e]
          pred[b] = 2 * e
          last = b
        }
        if (bwGain[e] !== NONE && dist[b] + bwGain[e] > dist[a]) {
          dist[a] = dist[b] + bwGain[e]
          pred[a] = 2 * e + 1
          last = a
        }
      }
      if (last < 0) break
      cycle = cycleFrom(last, stamp++)
    }
    if (cycle === null) return
    let total = 0
    let push = -1n
    for (const r of cycle) {
      const e = r >> 1
      let room: bigint
      if ((r & 1) === 0) {
        total += fwGain[e]
        room = cap[lists[e][head[e]]] - fill[e]
      } else {
        total += bwGain[e]
        room = fill[e] > 0n ? fill[e] : cap[lists[e][head[e] - 1]]
      }
      if (push < 0n || room < push) push = room
    }
    if (!(total > 0) || push <= 0n) return
    for (const r of cycle) {
      const e = r >> 1
      if ((r & 1) === 0) {
        fill[e] += push
        if (fill[e] === cap[lists[e][head[e]]]) {
          head[e]++
          fill[e] = 0n
        }
        flow.set(arcKeys[e], (flow.get(arcKeys[e]) as bigint) + push)
      } else {
        if (fill[e] === 0n) {
          head[e]--
          fill[e] = cap[lists[e][head[e]]]
        }
        fill[e] -= push
        flow.set(arcKeys[e], (flow.get(arcKeys[e]) as bigint) - push)
      }
      refresh(e)
    }
  }
}

function bigMinOf(a: bigint, b: bigint): bigint {
  return a < b ? a : b
}

/** A cycle of arcs with residual capacity (DFS, ascending assets and arcs), or null. */
function findCycle(A: number, out: number[][], resid: Map<number, bigint>): number[] | null {
  const color = new Uint8Array(A) // 0 new, 1 on the stack, 2 done
  const viaArc = new Int32Array(A).fill(-1)
  for (let s = 0; s < A; s++) {
    if (color[s] !== 0) continue
    const stack: { node: number; next: number }[] = [{ node: s, next: 0 }]
    color[s] = 1
    while (stack.length > 0) {
      const top = stack[stack.length - 1]
      const arcs = out[top.node]
      if (top.next >= arcs.length) {
        color[top.node] = 2
        stack.pop()
        continue
      }
      const key = arcs[top.next++]
      if ((resid.get(key) as bigint) <= 0n) continue
      const to = key % A
      if (color[to] === 1) {
        const cycle = [key]
        let x = top.node
        while (x !== to) {
          const k = viaArc[x]
          cycle.push(k)
          x = Math.floor(k / A)
        }
        return cycle.reverse()
      }
      if (color[to] === 0) {
        color[to] = 1
        viaArc[to] = key
        stack.push({ node: to, next: 0 })
      }
    }
  }
  return null
}
