import * as highsModule from 'highs'
import type { ClearBatchInput } from '../../src/types.js'

/**
 * Exact reference (tests and benchmarks only): the multi-token uniform-price batch auction as a
 * mixed-integer program in the spirit of Walther 2018. Variables: a price p_a per asset (numeraire
 * fixed at 1), per order its traded value v_i (numeraire units) and a binary z_i (order trades).
 *   v_i ≤ cap_i · p_sell                     (what it may sell, cap = min(sellAmount, balance))
 *   v_i ≤ M · z_i
 *   sellAmount·p_sell − buyAmount·p_buy ≥ −L · (1 − z_i)     (limit, when it trades)
 *   v_i ≥ cap_i·p_sell − M·(1 − z_i)        (fill-or-kill: whole when it trades)
 *   Σ_{sell = a} v_i = Σ_{buy = a} v_i      (conservation, per asset)
 * Objective: maximise the traded value Σ v_i — linear, unlike trader surplus, which is a ratio of
 * prices; the solver is compared on the same measure. Sell-kind orders, one order per (trader, asset).
 */
export interface MipResult {
  status: string
  /** Max traded value in numeraire units (real). */
  value: number
  prices: Record<string, number>
  ms: number
}

/** The part of highs-js used here (its default export's typing does not survive NodeNext interop). */
interface HighsLike {
  solve(
    lp: string,
    options?: Record<string, unknown>,
  ): { Status: string; ObjectiveValue: number; Columns: Record<string, { Primal?: number }> }
}
const loadHighs = ((highsModule as unknown as { default?: unknown }).default ??
  highsModule) as () => Promise<HighsLike>
let highsP: Promise<HighsLike> | undefined

/** The HiGHS instance (loaded once). */
export function getHighs(): Promise<HighsLike> {
  highsP ??= loadHighs()
  return highsP
}

export async function solveMip(
  input: ClearBatchInput,
  opts: {
    pMin?: number
    pMax?: number
    timeLimit?: number
    /** Per-asset price bounds [lo, hi] (numeraire units) replacing [pMin, pMax]. */
    bounds?: Record<string, [number, number]>
  } = {},
): Promise<MipResult> {
  const highs = await getHighs()
  const pMin = opts.pMin ?? 0.05
  const pMax = opts.pMax ?? 20
  const assets = [...new Set(input.orders.flatMap((o) => [o.sellAsset, o.buyAsset]))].sort()
  const pv = new Map(assets.map((a, k) => [a, `p${k}`]))
  const rows: string[] = []
  const cons = new Map<string, string[]>()
  const bin: string[] = []
  const obj: string[] = []
  input.orders.forEach((o, k) => {
    if (o.kind !== 'sell') throw new Error('mip reference: sell-kind orders only')
    const bal = input.balances[o.trader]?.[o.sellAsset] ?? 0n
    const cap = Number(o.sellAmount < bal ? o.sellAmount : bal)
    if (cap <= 0) return
    const v = `v${k}`
    const z = `z${k}`
    const pX = pv.get(o.sellAsset)
    const pY = pv.get(o.buyAsset)
    const sA = Number(o.sellAmount)
    const bA = Number(o.buyAmount)
    const hiX = opts.bounds?.[o.sellAsset]?.[1] ?? pMax
    const hiY = opts.bounds?.[o.buyAsset]?.[1] ?? pMax
    const M = cap * hiX
    const L = bA * hiY
    rows.push(` c${k}: ${v} - ${cap} ${pX} <= 0`)
    rows.push(` m${k}: ${v} - ${M} ${z} <= 0`)
    rows.push(` l${k}: ${sA} ${pX} - ${bA} ${pY} - ${L} ${z} >= -${L}`)
    if (!o.partiallyFillable) rows.push(` f${k}: ${v} - ${cap} ${pX} - ${M} ${z} >= -${M}`)
    obj.push(v)
    bin.push(z)
    const add = (a: string, term: string) => {
      let l = cons.get(a)
      if (l === undefined) cons.set(a, (l = []))
      l.push(term)
    }
    add(o.sellAsset, `+ ${v}`)
    add(o.buyAsset, `- ${v}`)
  })
  for (const [a, terms] of [...cons].sort()) rows.push(` b_${pv.get(a)}: ${terms.join(' ')} = 0`)
  const num = input.params.numeraire
  const bounds = assets.map((a) => {
    if (a === num) return ` ${pv.get(a)} = 1`
    const [lo, hi] = opts.bounds?.[a] ?? [pMin, pMax]
    return ` ${lo} <= ${pv.get(a)} <= ${hi}`
  })
  const lp = [
    'Maximize',
    ` obj: ${obj.length > 0 ? obj.join(' + ') : '0 p0'}`,
    'Subject To',
    ...rows,
    'Bounds',
    ...bounds,
    'Binary',
    ` ${bin.join(' ')}`,
    'End',
  ].join('\n')
  const t = performance.now()
  const sol = highs.solve(lp, { output_flag: false, time_limit: opts.timeLimit ?? 60, mip_rel_gap: 1e-6 })
  const ms = performance.now() - t
  const prices: Record<string, number> = {}
  if (sol.Status === 'Optimal')
    for (const a of assets) prices[a] = sol.Columns[pv.get(a) as string]?.Primal ?? Number.NaN
  return { status: sol.Status, value: sol.Status === 'Optimal' ? sol.ObjectiveValue : Number.NaN, prices, ms }
}

/** The solver's traded value in numeraire units: Σ sold · p[sell] / p[numeraire]. */
export function tradedValue(
  input: ClearBatchInput,
  prices: Record<string, bigint>,
  fills: { id: string; sold: bigint }[],
): number {
  const byId = new Map(input.orders.map((o) => [o.id, o]))
  const pNum = prices[input.params.numeraire]
  if (pNum === undefined) {
    // No trade touches the numeraire: value against the MIP's convention is not defined; report raw ratio to p of asset.
    return fills.some((f) => f.sold > 0n) ? Number.NaN : 0 // not comparable: reported as such
  }
  let v = 0
  for (const f of fills) {
    if (f.sold === 0n) continue
    const o = byId.get(f.id)
    if (o === undefined) continue
    v += (Number(f.sold) * Number(prices[o.sellAsset])) / Number(pNum)
  }
  return v
}
