import { AllotError } from '@allot/protocol'
import { tableOrder } from './prepare.js'
import type { ClearBatchInput, ClearTableInput, OrderTable, SolverOrder } from './types.js'

/**
 * The object form of a table input (`clearBatch` builds its output from it, `verifyResult` checks
 * against it): one `SolverOrder` per row, balances `{ [trader]: { [sellAsset]: sellBalance } }`.
 * Rejects a table whose rows of one trader and sell asset disagree on the balance.
 */
export function objectInputOf(input: ClearTableInput): ClearBatchInput {
  const t = input.table
  const orders: SolverOrder[] = new Array(t.length)
  const balances: Record<string, Record<string, bigint>> = {}
  for (let i = 0; i < t.length; i++) {
    const o = tableOrder(t, i)
    orders[i] = o
    const bal = BigInt(t.sellBalance[i])
    balances[o.trader] ??= {}
    const had = balances[o.trader][o.sellAsset]
    if (had !== undefined && had !== bal) {
      throw new AllotError(
        'SOLVER_INPUT_BAD_FIELD',
        `order table row ${i}: sellBalance ${bal} differs from ${had} on another order of ${o.trader}`,
      )
    }
    balances[o.trader][o.sellAsset] = bal
  }
  return { orders, balances, params: input.params }
}

const U64 = (1n << 64n) - 1n
/** A hex digit's value from its char code (the caller has checked it is one). */
const nibble = (c: number): number => (c <= 57 ? c - 48 : (c | 32) - 87)
const HEX32 = /^0x[0-9a-fA-F]{64}$/
const HEX20 = /^0x[0-9a-fA-F]{40}$/

/**
 * An `OrderTable` from the object form, as a decoder would write it (tests and benchmarks build tables
 * with it; the node passes the object form): every id a bytes32 and every trader an address (0x-hex,
 * any case). Amount and balance columns are 64-bit when every value fits, else bigints.
 */
export function orderTableOf(input: ClearBatchInput): ClearTableInput {
  const src = input.orders
  const m = src.length
  const assets: string[] = []
  const assetIds = new Map<string, number>()
  const assetOf = (k: string): number => {
    let a = assetIds.get(k)
    if (a === undefined) {
      a = assets.length
      assets.push(k)
      assetIds.set(k, a)
    }
    return a
  }
  const id = new Uint8Array(32 * m)
  const trader = new Uint8Array(20 * m)
  const sellAsset = new Uint32Array(m)
  const buyAsset = new Uint32Array(m)
  const kind = new Uint8Array(m)
  const partiallyFillable = new Uint8Array(m)
  const sellBig: bigint[] = new Array(m)
  const buyBig: bigint[] = new Array(m)
  const balBig: bigint[] = new Array(m)
  const hexInto = (out: Uint8Array, at: number, hex: string, bytes: number, i: number, field: string) => {
    if (!(bytes === 32 ? HEX32 : HEX20).test(hex)) {
      throw new AllotError(
        'SOLVER_INPUT_BAD_FIELD',
        `orders[${i}].${field} is not ${bytes} bytes of hex: ${hex}`,
      )
    }
    for (let k = 0, c = 2; k < bytes; k++, c += 2)
      out[at + k] = (nibble(hex.charCodeAt(c)) << 4) | nibble(hex.charCodeAt(c + 1))
  }
  for (let i = 0; i < m; i++) {
    const o = src[i]
    hexInto(id, 32 * i, o.id, 32, i, 'id')
    hexInto(trader, 20 * i, o.trader, 20, i, 'trader')
    sellAsset[i] = assetOf(o.sellAsset)
    buyAsset[i] = assetOf(o.buyAsset)
    if (o.kind !== 'sell' && o.kind !== 'buy') {
      throw new AllotError('SOLVER_INPUT_BAD_FIELD', `orders[${i}].kind: ${String(o.kind)}`)
    }
    kind[i] = o.kind === 'buy' ? 1 : 0
    partiallyFillable[i] = o.partiallyFillable ? 1 : 0
    sellBig[i] = o.sellAmount
    buyBig[i] = o.buyAmount
    const b = input.balances[o.trader] ?? input.balances[o.trader.toLowerCase()]
    balBig[i] = b?.[o.sellAsset] ?? 0n
  }
  const column = (c: bigint[]): BigUint64Array | bigint[] =>
    c.every((x) => x >= 0n && x <= U64) ? BigUint64Array.from(c) : c
  const narrowAssets = assets.length <= 256
  const table: OrderTable = {
    length: m,
    id,
    trader,
    assets,
    sellAsset: narrowAssets ? Uint8Array.from(sellAsset) : sellAsset,
    buyAsset: narrowAssets ? Uint8Array.from(buyAsset) : buyAsset,
    sellAmount: column(sellBig),
    buyAmount: column(buyBig),
    kind,
    partiallyFillable,
    sellBalance: column(balBig),
  }
  if (src.some((o) => o.signed !== undefined)) table.signed = src.map((o) => o.signed)
  return { table, params: input.params }
}
