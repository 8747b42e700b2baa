import { AllotError, isAddress } from '@allot/protocol'
import type { ClearBatchInput, ClearBatchOutput, SolverOrder } from './types.js'

/**
 * The `allot solve` batch file (CLI.md "Offline solving"): JSON, amounts as decimal strings.
 * ```
 * { "numeraire": "TKB", "previousPrices"?: { "TKA": "…" }, "maxFillsPerBatch"?: 100, "feeBps"?: 0,
 *   "resourceAssets"?: ["cpu.vcore-hour"],
 *   "orders": [{ "id", "trader": "0x…", "sellAsset", "buyAsset", "sellAmount", "buyAmount",
 *                "kind": "sell"|"buy", "partiallyFillable": bool }],
 *   "balances": { "0x…": { "TKA": "5000" } } }
 * ```
 */
export interface BatchFile {
  numeraire: string
  previousPrices?: Record<string, string>
  maxFillsPerBatch?: number
  feeBps?: number
  resourceAssets?: string[]
  orders: {
    id: string
    trader: string
    sellAsset: string
    buyAsset: string
    sellAmount: string
    buyAmount: string
    kind: 'sell' | 'buy'
    partiallyFillable: boolean
  }[]
  balances: Record<string, Record<string, string>>
}

function bad(field: string, why: string): never {
  throw new AllotError('SOLVER_INPUT_BAD_FIELD', `${field}: ${why}`, { field })
}

const DECIMAL = /^(0|[1-9][0-9]{0,77})$/

function amount(v: unknown, field: string): bigint {
  if (typeof v !== 'string' || !DECIMAL.test(v)) bad(field, 'expected a non-negative decimal integer string')
  const x = BigInt(v)
  if (x >= 1n << 256n) bad(field, 'exceeds uint256')
  return x
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 200) bad(field, 'expected a non-empty string')
  return v
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field, 'expected an object')
  return v as Record<string, unknown>
}

/** Parses and validates a batch file; every error is `SOLVER_INPUT_*` naming the bad field. */
export function parseBatchFile(text: string): ClearBatchInput {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (e) {
    throw new AllotError('SOLVER_INPUT_BAD_JSON', `not JSON: ${(e as Error).message}`)
  }
  const root = obj(raw, '(root)')
  const numeraire = str(root.numeraire, 'numeraire')
  if (!Array.isArray(root.orders)) bad('orders', 'expected an array')
  const orders: SolverOrder[] = root.orders.map((x: unknown, k: number) => {
    const f = `orders[${k}]`
    const o = obj(x, f)
    const trader = str(o.trader, `${f}.trader`)
    if (!isAddress(trader)) bad(`${f}.trader`, 'expected a 0x address')
    if (o.kind !== 'sell' && o.kind !== 'buy') bad(`${f}.kind`, 'expected "sell" or "buy"')
    if (typeof o.partiallyFillable !== 'boolean') bad(`${f}.partiallyFillable`, 'expected a boolean')
    const sellAsset = str(o.sellAsset, `${f}.sellAsset`)
    const buyAsset = str(o.buyAsset, `${f}.buyAsset`)
    if (sellAsset === buyAsset) bad(`${f}.buyAsset`, 'same asset as sellAsset')
    const sellAmount = amount(o.sellAmount, `${f}.sellAmount`)
    const buyAmount = amount(o.buyAmount, `${f}.buyAmount`)
    if (sellAmount === 0n) bad(`${f}.sellAmount`, 'must be positive')
    if (buyAmount === 0n) bad(`${f}.buyAmount`, 'must be positive')
    return {
      id: str(o.id, `${f}.id`),
      trader: trader.toLowerCase() as `0x${string}`,
      sellAsset,
      buyAsset,
      sellAmount,
      buyAmount,
      kind: o.kind,
      partiallyFillable: o.partiallyFillable,
    }
  })
  const ids = new Set<string>()
  orders.forEach((o, k) => {
    if (ids.has(o.id)) bad(`orders[${k}].id`, `duplicate id ${o.id}`)
    ids.add(o.id)
  })
  const balances: Record<string, Record<string, bigint>> = {}
  for (const [t, v] of Object.entries(obj(root.balances ?? {}, 'balances'))) {
    if (!isAddress(t)) bad(`balances.${t}`, 'expected a 0x address key')
    const per: Record<string, bigint> = {}
    for (const [a, x] of Object.entries(obj(v, `balances.${t}`))) per[a] = amount(x, `balances.${t}.${a}`)
    balances[t.toLowerCase()] = { ...(balances[t.toLowerCase()] ?? {}), ...per }
  }
  const params: ClearBatchInput['params'] = { numeraire }
  if (root.previousPrices !== undefined) {
    const pp: Record<string, bigint> = {}
    for (const [a, x] of Object.entries(obj(root.previousPrices, 'previousPrices')))
      pp[a] = amount(x, `previousPrices.${a}`)
    params.previousPrices = pp
  }
  if (root.maxFillsPerBatch !== undefined) {
    const m = root.maxFillsPerBatch
    if (typeof m !== 'number' || !Number.isSafeInteger(m) || m < 0)
      bad('maxFillsPerBatch', 'expected a non-negative integer')
    params.maxFillsPerBatch = m
  }
  if (root.feeBps !== undefined) {
    const f = root.feeBps
    if (typeof f !== 'number' || !Number.isSafeInteger(f) || f < 0 || f >= 10_000)
      bad('feeBps', 'expected an integer in [0, 10000)')
    params.feeBps = f
  }
  if (root.resourceAssets !== undefined) {
    if (!Array.isArray(root.resourceAssets)) bad('resourceAssets', 'expected an array of asset names')
    params.resourceAssets = new Set(
      root.resourceAssets.map((a: unknown, k: number) => str(a, `resourceAssets[${k}]`)),
    )
  }
  return { orders, balances, params }
}

/** The `allot solve --json` document (CLI.md): decimal strings for every amount. */
export function formatSolveOutput(out: ClearBatchOutput): Record<string, unknown> {
  const prices: Record<string, string> = {}
  for (const k of Object.keys(out.prices).sort()) prices[k] = out.prices[k].toString()
  return {
    prices,
    fills: out.fills.map((f) => ({
      id: f.id,
      sold: f.sold.toString(),
      bought: f.bought.toString(),
      ...(f.fee > 0n ? { fee: f.fee.toString() } : {}),
    })),
    dropped: out.dropped,
    objective: out.objective.toString(),
    resultHash: out.resultHash,
  }
}
