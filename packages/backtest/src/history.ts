import type { OrderKind } from '@allot/protocol'
import { AllotError, isAddress } from '@allot/protocol'

/**
 * A recorded or simulated market history (docs/backtest.md "History format"): JSON Lines, one header
 * line then one line per batch, amounts as decimal strings. The same format comes out of
 * `allot batch export`, `allot simulate` and the GP v1 reader, and goes into `allot backtest`.
 */
export interface HistoryHeader {
  type: 'header'
  version: 1
  /** Where it came from: 'simulate', 'gp-v1', 'export'. */
  source: string
  /** The asset prices and surplus are valued in. */
  numeraire: string
  /** Every asset key the batches use, with its decimals (amounts are in base units, 10^-decimals). */
  assets: Record<string, { decimals: number }>
  /** Resource classes (not escrowed; fills become leases). */
  resourceAssets?: string[]
  /** The nominal batch interval of the recording, ms. */
  intervalMs: number
  /** Free-form: the generator's parameters, the node and range of an export. */
  meta?: Record<string, unknown>
}

export interface HistoryOrder {
  id: string
  trader: `0x${string}`
  sellAsset: string
  buyAsset: string
  sellAmount: bigint
  buyAmount: bigint
  kind: OrderKind
  partiallyFillable: boolean
  /** Arrival time, ms since the history's start: the continuous engine takes orders in this order. */
  t: number
  /** The agent class that placed it (simulated histories): 'noise', 'maker', 'informed', 'buyer', 'provider'. */
  agent?: string
}

/** What the mechanism that recorded the batch did (an export or a simulation): kept, not replayed. */
export interface RecordedResult {
  prices: Record<string, bigint>
  fills: { id: string; sold: bigint; bought: bigint; fee: bigint }[]
  /** Chain references of an exported batch. */
  chainRef?: string
  resultHash?: string
  txHash?: string
}

export interface HistoryBatch {
  type: 'batch'
  height: number
  /** The batch's closing time, ms since the history's start. */
  t: number
  /** Reference price of each asset in numeraire units per whole unit, at the close (absent: unknown). */
  reference?: Record<string, number>
  /**
   * The numeraire this batch was cleared in when it is not the header's (each GP v1 file names its own):
   * the solver's prices and tie-breaks follow it.
   */
  numeraire?: string
  orders: HistoryOrder[]
  /** Available balances per trader and asset; absent: every order is funded (simulated markets). */
  balances?: Record<string, Record<string, bigint>>
  result?: RecordedResult
}

export interface History {
  header: HistoryHeader
  batches: HistoryBatch[]
}

function bad(line: number, why: string): never {
  throw new AllotError('BACKTEST_HISTORY_BAD_LINE', `line ${line}: ${why}`, { line })
}

const DECIMAL = /^(0|[1-9][0-9]{0,77})$/

function amount(v: unknown, line: number, field: string): bigint {
  if (typeof v !== 'string' || !DECIMAL.test(v)) bad(line, `${field}: expected a decimal integer string`)
  return BigInt(v)
}

function amounts(v: unknown, line: number, field: string): Record<string, bigint> {
  if (typeof v !== 'object' || v === null) bad(line, `${field}: expected an object`)
  const out: Record<string, bigint> = {}
  for (const [k, x] of Object.entries(v)) out[k] = amount(x, line, `${field}.${k}`)
  return out
}

function parseOrder(o: Record<string, unknown>, line: number, k: number): HistoryOrder {
  const f = `orders[${k}]`
  if (typeof o.id !== 'string' || o.id.length === 0) bad(line, `${f}.id: expected a string`)
  if (typeof o.trader !== 'string' || !isAddress(o.trader)) bad(line, `${f}.trader: expected an address`)
  if (typeof o.sellAsset !== 'string' || typeof o.buyAsset !== 'string' || o.sellAsset === o.buyAsset)
    bad(line, `${f}: expected two different asset keys`)
  if (o.kind !== 'sell' && o.kind !== 'buy') bad(line, `${f}.kind: expected "sell" or "buy"`)
  if (typeof o.partiallyFillable !== 'boolean') bad(line, `${f}.partiallyFillable: expected a boolean`)
  if (typeof o.t !== 'number' || !Number.isFinite(o.t)) bad(line, `${f}.t: expected a number`)
  const sellAmount = amount(o.sellAmount, line, `${f}.sellAmount`)
  const buyAmount = amount(o.buyAmount, line, `${f}.buyAmount`)
  if (sellAmount === 0n || buyAmount === 0n) bad(line, `${f}: amounts must be positive`)
  const order: HistoryOrder = {
    id: o.id,
    trader: o.trader.toLowerCase() as `0x${string}`,
    sellAsset: o.sellAsset,
    buyAsset: o.buyAsset,
    sellAmount,
    buyAmount,
    kind: o.kind,
    partiallyFillable: o.partiallyFillable,
    t: o.t,
  }
  if (typeof o.agent === 'string') order.agent = o.agent
  return order
}

/** Parses a JSONL history; every error is `BACKTEST_HISTORY_BAD_LINE` naming the line and field. */
export function parseHistory(text: string): History {
  const lines = text.split('\n')
  let header: HistoryHeader | undefined
  const batches: HistoryBatch[] = []
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim()
    if (s.length === 0) continue
    let raw: Record<string, unknown>
    try {
      raw = JSON.parse(s)
    } catch (e) {
      bad(i + 1, `not JSON: ${(e as Error).message}`)
    }
    if (!header) {
      if (raw.type !== 'header' || raw.version !== 1)
        bad(i + 1, 'expected the header { "type": "header", "version": 1 }')
      if (typeof raw.numeraire !== 'string') bad(i + 1, 'numeraire: expected a string')
      if (typeof raw.assets !== 'object' || raw.assets === null) bad(i + 1, 'assets: expected an object')
      header = raw as unknown as HistoryHeader
      continue
    }
    if (raw.type !== 'batch') bad(i + 1, 'expected { "type": "batch" }')
    if (!Number.isSafeInteger(raw.height) || typeof raw.t !== 'number')
      bad(i + 1, 'height, t: expected numbers')
    if (!Array.isArray(raw.orders)) bad(i + 1, 'orders: expected an array')
    const batch: HistoryBatch = {
      type: 'batch',
      height: raw.height as number,
      t: raw.t,
      orders: raw.orders.map((o: Record<string, unknown>, k: number) => parseOrder(o, i + 1, k)),
    }
    if (raw.reference !== undefined) batch.reference = raw.reference as Record<string, number>
    if (raw.numeraire !== undefined) {
      if (typeof raw.numeraire !== 'string' || raw.numeraire === '')
        bad(i + 1, 'numeraire: expected a string')
      batch.numeraire = raw.numeraire
    }
    if (raw.balances !== undefined) {
      const b: Record<string, Record<string, bigint>> = {}
      for (const [trader, per] of Object.entries(raw.balances as Record<string, unknown>))
        b[trader.toLowerCase()] = amounts(per, i + 1, `balances.${trader}`)
      batch.balances = b
    }
    if (raw.result !== undefined) {
      const r = raw.result as Record<string, unknown>
      const result: RecordedResult = {
        prices: amounts(r.prices, i + 1, 'result.prices'),
        fills: ((r.fills as Record<string, unknown>[]) ?? []).map((f, k) => ({
          id: String(f.id),
          sold: amount(f.sold, i + 1, `result.fills[${k}].sold`),
          bought: amount(f.bought, i + 1, `result.fills[${k}].bought`),
          fee: amount(f.fee ?? '0', i + 1, `result.fills[${k}].fee`),
        })),
      }
      for (const k of ['chainRef', 'resultHash', 'txHash'] as const)
        if (typeof r[k] === 'string') result[k] = r[k] as string
      batch.result = result
    }
    batches.push(batch)
  }
  if (!header) throw new AllotError('BACKTEST_HISTORY_EMPTY', 'no header line')
  return { header, batches }
}

const asJson = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)

/** One JSONL line per record; the same history always gives the same bytes (keys in a fixed order). */
export function historyHeaderLine(header: HistoryHeader): string {
  return JSON.stringify(header, asJson)
}

export function historyBatchLine(b: HistoryBatch): string {
  const doc: Record<string, unknown> = { type: 'batch', height: b.height, t: b.t }
  if (b.reference) doc.reference = b.reference
  if (b.numeraire) doc.numeraire = b.numeraire
  doc.orders = b.orders.map((o) => {
    const x: Record<string, unknown> = {
      id: o.id,
      trader: o.trader,
      sellAsset: o.sellAsset,
      buyAsset: o.buyAsset,
      sellAmount: o.sellAmount,
      buyAmount: o.buyAmount,
      kind: o.kind,
      partiallyFillable: o.partiallyFillable,
      t: o.t,
    }
    if (o.agent !== undefined) x.agent = o.agent
    return x
  })
  if (b.balances) doc.balances = b.balances
  if (b.result) doc.result = b.result
  return JSON.stringify(doc, asJson)
}

export function serializeHistory(h: History): string {
  return `${[historyHeaderLine(h.header), ...h.batches.map(historyBatchLine)].join('\n')}\n`
}
