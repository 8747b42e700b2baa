import {
  AllotError,
  type ApiRequest,
  type ApiResponse,
  type BatchView,
  decodeApiRequest,
  encodeApiResponse,
  encodeSealedOrder,
  type Height,
  type Hex,
  type NodeInfo,
  type OrderCancel,
  type OrderStatus,
} from '@allot/protocol'
import type { BalanceReader, Mempool, OrderIntake } from '../mempool/index.js'
import type { RequestContext, ResponseFrames } from '../network/index.js'
import type { NodeStorage } from '../storage/index.js'

export interface ApiDeps {
  intake: OrderIntake
  mempool: Mempool
  storage: NodeStorage
  balances: BalanceReader
  info(): NodeInfo
  /** Gossips an accepted order (after it is on disk). */
  publishOrder(bytes: Uint8Array): void
  publishCancel(c: OrderCancel): void
  /** The sealing key of a batch, once sealing provides it. */
  batchKey?(height: Height): Promise<Uint8Array | undefined>
}

export function errorResponse(code: string, message: string): Uint8Array {
  return encodeApiResponse({ kind: 'error', code, message: message.slice(0, 1000) })
}

/** The order's status: pending while in the mempool, else its stored final status. */
export async function orderStatusOf(d: Pick<ApiDeps, 'mempool' | 'storage'>, id: Hex): Promise<OrderStatus> {
  const e = d.mempool.get(id)
  if (e) return { orderId: id, status: 'pending', batch: e.batch, filled: null, txHash: null, error: null }
  const s = await d.storage.orderStatus.get(id)
  if (!s) throw new AllotError('ORDER_NOT_FOUND', `no order ${id} here`)
  return s
}

/** The `/allot/api/1` request handler (DESIGN.md "Wire"): every failure is a coded error frame. */
export function createApiHandler(
  d: ApiDeps,
): (req: Uint8Array, ctx: RequestContext) => Promise<ResponseFrames> {
  return async (bytes, ctx) => {
    let req: ApiRequest
    try {
      req = decodeApiRequest(bytes)
    } catch (e) {
      if (e instanceof AllotError) return errorResponse(e.code, e.message)
      throw e
    }
    try {
      if (req.kind === 'watchBatches') return watchBatches(d.storage, ctx.signal)
      return encodeApiResponse(await answer(d, req, bytes))
    } catch (e) {
      if (e instanceof AllotError) return errorResponse(e.code, e.message.replace(`${e.code}: `, ''))
      return errorResponse('API_INTERNAL', (e as Error).message)
    }
  }
}

async function answer(
  d: ApiDeps,
  req: Exclude<ApiRequest, { kind: 'watchBatches' }>,
  raw: Uint8Array,
): Promise<ApiResponse> {
  switch (req.kind) {
    case 'submit': {
      // A submit request is its union tag and then the envelope, and the strict decoder accepted it,
      // so those bytes are the envelope's canonical encoding: no need to encode it again. Copied so
      // the mempool does not keep the network chunk the frame sits in alive.
      const bytes = raw[0] === 0 ? raw.slice(1) : encodeSealedOrder(req.order)
      const a = await d.intake.submit({ order: req.order, bytes }, true)
      d.publishOrder(a.bytes)
      return { kind: 'submitted', orderId: a.orderId, targetBatch: a.batch }
    }
    case 'cancel': {
      const r = await d.intake.cancel(req.cancel)
      d.publishCancel(req.cancel)
      return { kind: 'cancelled', orderId: r.orderId }
    }
    case 'status':
      return { kind: 'status', status: await orderStatusOf(d, req.orderId) }
    case 'batch': {
      const view =
        req.height === null ? await d.storage.latestFinalized() : await d.storage.results.get(req.height)
      if (!view)
        throw new AllotError(
          'BATCH_NOT_FOUND',
          req.height === null ? 'no finalized batch yet' : `no batch ${req.height}`,
        )
      return { kind: 'batch', batch: view }
    }
    case 'balances': {
      const address = req.address.toLowerCase() as Hex
      return { kind: 'balances', balances: { address, balances: await d.balances.balancesOf(address) } }
    }
    case 'info':
      return { kind: 'info', info: d.info() }
    case 'batchKey': {
      const key = d.batchKey ? await d.batchKey(req.height) : undefined
      if (!key) throw new AllotError('BATCH_KEY_UNKNOWN', `no sealing key for batch ${req.height}`)
      return { kind: 'batchKey', height: req.height, publicKey: `0x${Buffer.from(key).toString('hex')}` }
    }
  }
}

/** Server stream of finalized batches, until the client goes or the node stops. */
function watchBatches(storage: NodeStorage, signal: AbortSignal): AsyncIterable<Uint8Array> {
  const queue: BatchView[] = []
  let wake: (() => void) | null = null
  let done = false
  const onBatch = (v: BatchView) => {
    if (queue.length < 1024) queue.push(v)
    wake?.()
  }
  const finish = () => {
    done = true
    storage.off('finalized', onBatch)
    wake?.()
  }
  storage.on('finalized', onBatch)
  signal.addEventListener('abort', finish, { once: true })
  return {
    [Symbol.asyncIterator]() {
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          while (queue.length === 0 && !done) await new Promise<void>((r) => (wake = r))
          wake = null
          const v = queue.shift()
          if (!v) return { done: true, value: undefined }
          return { done: false, value: encodeApiResponse({ kind: 'batch', batch: v }) }
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          finish()
          return { done: true, value: undefined }
        },
      }
    },
  }
}
