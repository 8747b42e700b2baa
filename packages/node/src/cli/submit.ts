import { readFileSync } from 'node:fs'
import { AllotError, type AssetInfo, addressOf, type NodeInfo, type PrivateKey } from '@allot/protocol'
import type { AllotClient, OrderSpec, PlaceOutcome } from '../api/index.js'
import { formatUnits, parseAmountLeg, toBaseUnits } from './amounts.js'

/**
 * `allot order submit` (docs/cli.md "Orders"): one order from flags, or many from `--in orders.json`;
 * amounts in the asset's decimals unless raw; without `--batch`, the first batch the order can reach with
 * the node's margin; followed until its batch is decided and sealed again if it missed it, unless
 * `--no-retry`.
 */
export interface SubmitFlags {
  node: string
  key: string
  sell?: string[]
  buy?: string[]
  in?: string
  raw?: boolean
  kind: string
  partial?: boolean
  batch?: string
  validBatches: string
  retry: boolean
  quiet?: boolean
  json?: boolean
}

/** An order as `--in` holds it: the flags' words as fields. */
interface FileOrder {
  sell: string
  buy: string
  kind?: string
  partial?: boolean
  batch?: string | number
  validBatches?: string | number
}

export function findAsset(info: NodeInfo, ref: string): AssetInfo {
  const lower = ref.toLowerCase()
  const a = info.assets.find(
    (x) => x.symbol.toLowerCase() === lower || x.ref.toLowerCase() === lower || x.assetId === lower,
  )
  if (!a)
    throw new AllotError('ORDER_UNKNOWN_ASSET', `asset ${ref} is not known to network ${info.networkId}`)
  return a
}

/** `--batch`: a height, or `+N` (N batches after the first one the order can reach). */
export function parseBatchFlag(v: string | number | undefined): Pick<OrderSpec, 'batch' | 'batchOffset'> {
  if (v === undefined) return {}
  const t = String(v).trim()
  const rel = /^\+([0-9]{1,7})$/.exec(t)
  if (rel) return { batchOffset: Number(rel[1]) }
  if (/^[0-9]{1,19}$/.test(t)) return { batch: BigInt(t) }
  throw new AllotError('ORDER_BAD_BATCH', `--batch must be a height or +N, got ${t}`)
}

export function validBatchesOf(v: string | number | undefined): number {
  const t = String(v ?? '1')
  if (!/^[0-9]{1,7}$/.test(t) || Number(t) < 1)
    throw new AllotError('ORDER_BAD_BATCH', `--valid-batches must be a whole number ≥ 1, got ${t}`)
  return Number(t)
}

/** Words of a leg → the spec's asset and base units, with the asset's decimals from `info`. */
export function legOf(
  info: NodeInfo,
  words: string | readonly string[],
  flag: string,
  raw: boolean,
): { asset: AssetInfo; amount: bigint } {
  const leg = parseAmountLeg(words, flag)
  const asset = findAsset(info, leg.asset)
  return { asset, amount: toBaseUnits(leg.text, asset.decimals, raw || leg.raw, `${flag} amount`) }
}

export function specOf(info: NodeInfo, o: FileOrder | SubmitFlags, raw: boolean): OrderSpec {
  if (o.sell === undefined || o.buy === undefined)
    throw new AllotError('CLI_MISSING_FLAG', 'an order needs --sell and --buy (or --in <orders.json>)')
  const sell = legOf(info, o.sell, '--sell', raw)
  const buy = legOf(info, o.buy, '--buy', raw)
  const kind = o.kind ?? 'sell'
  if (kind !== 'sell' && kind !== 'buy') throw new AllotError('CLI_BAD_FLAG', '--kind must be sell or buy')
  return {
    sell: sell.asset.symbol,
    sellAmount: sell.amount,
    buy: buy.asset.symbol,
    buyAmount: buy.amount,
    kind,
    partiallyFillable: o.partial === true,
    validBatches: validBatchesOf(o.validBatches),
    ...parseBatchFlag(o.batch),
  }
}

/** The orders of an `--in` file: a JSON array of orders, or `{ "orders": [...] }`. */
export function readOrderFile(path: string): FileOrder[] {
  let doc: unknown
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new AllotError('CLI_BAD_INPUT', `${path}: ${(e as Error).message}`)
  }
  const list = Array.isArray(doc) ? doc : (doc as { orders?: unknown })?.orders
  if (!Array.isArray(list) || list.length === 0)
    throw new AllotError(
      'CLI_BAD_INPUT',
      `${path} must hold a non-empty JSON array of orders (or { "orders": [...] })`,
    )
  return list.map((o, i) => {
    if (typeof o !== 'object' || o === null || typeof o.sell !== 'string' || typeof o.buy !== 'string')
      throw new AllotError('CLI_BAD_INPUT', `${path}: order ${i} needs "sell" and "buy" strings ("100 TKA")`)
    return o as FileOrder
  })
}

function legText(info: NodeInfo, asset: string, units: bigint): string {
  const a = findAsset(info, asset)
  return `${formatUnits(units, a.decimals)} ${a.symbol}`
}

export interface SubmitDeps {
  client: AllotClient
  key: PrivateKey
  out: (s: string) => void
}

/** One order from flags. */
export async function submitOne(o: SubmitFlags, d: SubmitDeps): Promise<void> {
  const info = await d.client.info()
  const spec = specOf(info, o, o.raw === true)
  const desc = `sell ${legText(info, spec.sell, spec.sellAmount)} for at least ${legText(info, spec.buy, spec.buyAmount)}`
  if (!o.retry) {
    const r = await d.client.submitOrder(spec, d.key)
    if (o.json)
      d.out(
        JSON.stringify({
          orderId: r.orderId,
          targetBatch: r.targetBatch.toString(),
          status: r.status,
          orderDigest: r.orderDigest,
        }),
      )
    else if (o.quiet) d.out(r.orderId)
    else d.out(`${r.orderId}  pending  batch ${r.targetBatch}  ${desc}  (${addressOf(d.key)})`)
    return
  }
  const p = await d.client.placeOrder(spec, d.key)
  const missed = p.attempts.slice(0, -1)
  if (o.json) {
    d.out(
      JSON.stringify({
        orderId: p.orderId,
        targetBatch: p.targetBatch.toString(),
        status: p.status.status,
        orderDigest: p.orderDigest,
        ...(p.status.error ? { error: p.status.error } : {}),
        attempts: p.attempts.map((a) => ({
          orderId: a.orderId,
          targetBatch: a.targetBatch.toString(),
          status: a.status.status,
          ...(a.status.error ? { error: a.status.error } : {}),
        })),
      }),
    )
  } else if (o.quiet) d.out(p.orderId)
  else {
    for (const a of missed)
      d.out(
        `${a.orderId}  missed batch ${a.targetBatch} (${a.status.error?.code ?? a.status.status}): sealed again`,
      )
    d.out(`${p.orderId}  ${p.status.status}  batch ${p.targetBatch}  ${desc}  (${addressOf(d.key)})`)
  }
  if (p.status.status === 'expired' || p.status.status === 'rejected' || p.status.status === 'cancelled')
    throw new AllotError(
      p.status.error?.code ?? 'ORDER_EXPIRED',
      `order ${p.orderId} ended ${p.status.status}${p.status.error ? `: ${p.status.error.message}` : ''}`,
    )
}

/** Many orders from `--in`, one outcome each (submitMany). Exit 1 when any was refused or ended unplaced. */
export async function submitFile(o: SubmitFlags, d: SubmitDeps): Promise<void> {
  if (o.sell !== undefined || o.buy !== undefined)
    throw new AllotError('CLI_BAD_FLAG', '--in takes the orders from the file: leave out --sell and --buy')
  const file = readOrderFile(o.in as string)
  const info = await d.client.info()
  const outcomes: (PlaceOutcome | { kind: 'pending'; orderId: string; targetBatch: bigint })[] = new Array(
    file.length,
  )
  const specs: OrderSpec[] = []
  const at: number[] = []
  file.forEach((f, i) => {
    try {
      specs.push(specOf(info, { ...f, kind: f.kind ?? o.kind }, o.raw === true))
      at.push(i)
    } catch (e) {
      const err = e instanceof AllotError ? e : new AllotError('CLI_BAD_INPUT', String(e))
      outcomes[i] = { kind: 'error', code: err.code, message: err.message.replace(`${err.code}: `, '') }
    }
  })
  if (o.retry) {
    const placed = await d.client.placeOrders(specs, d.key)
    placed.forEach((r, k) => {
      outcomes[at[k]] = r
    })
  } else {
    const sent = await d.client.submitOrders(specs, d.key)
    sent.forEach((r, k) => {
      outcomes[at[k]] =
        r.kind === 'submitted' ? { kind: 'pending', orderId: r.orderId, targetBatch: r.targetBatch } : r
    })
  }
  const rows = outcomes.map((r, i) => {
    if (r.kind === 'error') return { index: i, ok: false, code: r.code, message: r.message }
    if (r.kind === 'pending')
      return {
        index: i,
        ok: true,
        orderId: r.orderId,
        targetBatch: r.targetBatch.toString(),
        status: 'pending',
      }
    const ended = ['expired', 'rejected', 'cancelled'].includes(r.status.status)
    return {
      index: i,
      ok: !ended,
      orderId: r.orderId,
      targetBatch: r.targetBatch.toString(),
      status: r.status.status,
      attempts: r.attempts,
      ...(r.status.error ? { code: r.status.error.code, message: r.status.error.message } : {}),
    }
  })
  if (o.json) d.out(JSON.stringify({ orders: rows }))
  else {
    for (const r of rows) {
      const f = file[r.index]
      const what = `${f.sell} → ${f.buy}`
      if ('orderId' in r)
        d.out(
          `${String(r.index).padStart(4)}  ${r.orderId}  ${String(r.status).padEnd(8)}  batch ${r.targetBatch}  ${what}${r.code ? `  ${r.code}` : ''}`,
        )
      else d.out(`${String(r.index).padStart(4)}  refused  ${r.code}: ${r.message}  ${what}`)
    }
    const bad = rows.filter((r) => !r.ok).length
    d.out(`${rows.length - bad} of ${rows.length} orders ${o.retry ? 'in their batches' : 'acknowledged'}`)
  }
  const bad = rows.filter((r) => !r.ok)
  if (bad.length > 0)
    throw new AllotError(
      'ORDER_SOME_REFUSED',
      `${bad.length} of ${rows.length} orders were refused or ended unplaced (see each order's outcome)`,
      // stdout already holds the outcomes, the one JSON document there (CLI.md): the error goes to stderr only
      { stdoutWritten: true },
    )
}
