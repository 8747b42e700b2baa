import {
  AllotError,
  API_LIMITS,
  type ApiRequest,
  type ApiResponse,
  type BatchView,
  type ClearingSettings,
  decodeApiRequest,
  type ExportedBatch,
  encode,
  encodeApiResponse,
  exportedBatchCodec,
  type Height,
  type Hex,
  type NodeInfo,
  type OrderCancel,
  type OrderStatus,
  SUBMITTED_MANY_TAG,
  type SubmitOutcome,
  submitOutcomeCodec,
  uninitializedBytes,
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
  /** The processed heights `batchExport` serves: the batch pipeline of a validator; none elsewhere. */
  batchExport?(): BatchExportSource | undefined
}

/** What `batchExport` reads (the batch pipeline implements it). */
export interface BatchExportSource {
  readonly lastProcessed: Height
  exportAt(height: Height): Promise<ExportedBatch | undefined>
  clearingSettings(): ClearingSettings
}

export function errorResponse(code: string, message: string): Uint8Array {
  return encodeApiResponse({ kind: 'error', code, message: message.slice(0, 1000) })
}

/** The order's status: pending while in the mempool, else its stored final status. */
export async function orderStatusOf(d: Pick<ApiDeps, 'mempool' | 'storage'>, id: Hex): Promise<OrderStatus> {
  const e = d.mempool.get(id)
  if (e) return { orderId: id, status: 'pending', batch: e.batch, filled: null, txHash: null, error: null }
  const s = d.mempool.finalStatus(id) ?? (await d.storage.orderStatus.get(id))
  if (!s) throw new AllotError('ORDER_NOT_FOUND', `no order ${id} here`)
  return s
}

/** The `/allot/api/1` request handler (DESIGN.md "Wire"): every failure is a coded error frame. */
export function createApiHandler(
  d: ApiDeps,
): (req: Uint8Array, ctx: RequestContext) => Promise<ResponseFrames> {
  return async (bytes, ctx) => {
    // A submit request is its union tag (0) and then the envelope: intake decodes the envelope (or
    // reads a sealed one in place) with the same strict codec, so it refuses exactly what decoding
    // the request would, with the same codes. Every other request is decoded here.
    let req: ApiRequest | undefined
    if (bytes[0] !== 0) {
      try {
        req = decodeApiRequest(bytes)
      } catch (e) {
        if (e instanceof AllotError) return errorResponse(e.code, e.message)
        throw e
      }
    }
    try {
      if (req === undefined || req.kind === 'submit')
        return encodeApiResponse(await submitOne(d, bytes.subarray(1)))
      if (req.kind === 'watchBatches') return watchBatches(d.storage, ctx.signal)
      if (req.kind === 'submitMany') return encodeSubmittedMany(await submitMany(d, req.orders))
      return encodeApiResponse(await answer(d, req))
    } catch (e) {
      if (e instanceof AllotError) return errorResponse(e.code, e.message.replace(`${e.code}: `, ''))
      return errorResponse('API_INTERNAL', (e as Error).message)
    }
  }
}

/** One envelope through intake (on disk once this resolves), then gossiped. */
async function submitOne(
  d: Pick<ApiDeps, 'intake' | 'publishOrder'>,
  envelope: Uint8Array,
): Promise<Extract<SubmitOutcome, { kind: 'submitted' }>> {
  const a = await d.intake.submit(envelope, true)
  d.publishOrder(a.bytes)
  return { kind: 'submitted', orderId: a.orderId, targetBatch: a.batch }
}

async function answer(
  d: ApiDeps,
  req: Exclude<ApiRequest, { kind: 'watchBatches' | 'submit' | 'submitMany' }>,
): Promise<ApiResponse> {
  switch (req.kind) {
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
    case 'batchExport':
      return exportBatches(d.batchExport?.(), req.from, req.to)
  }
}

/** Room left in a response frame for a `batchExport` page's batches (its other fields are small). */
const EXPORT_PAGE_BYTES = API_LIMITS.maxResponseBytes - 1024

/**
 * A page of `batchExport`: consecutive processed heights from `from`, at most `maxExportBatches` and
 * as many as fit in one response frame; `next` is the height to ask for next (null: `to` is in).
 */
export async function exportBatches(
  src: BatchExportSource | undefined,
  from: Height,
  to: Height,
): Promise<Extract<ApiResponse, { kind: 'batchExport' }>> {
  if (from < 1n || to < from)
    throw new AllotError('BATCH_EXPORT_BAD_RANGE', `bad range ${from}…${to}: need 1 ≤ from ≤ to`)
  if (!src)
    throw new AllotError(
      'BATCH_EXPORT_NO_BOOKS',
      'this node processes no batches (not a validator): export from a validator',
    )
  if (to > src.lastProcessed)
    throw new AllotError(
      'BATCH_EXPORT_NOT_PROCESSED',
      `height ${to} is not processed here (last processed: ${src.lastProcessed})`,
      { lastProcessed: src.lastProcessed.toString() },
    )
  const batches: ExportedBatch[] = []
  let bytes = 0
  let h = from
  for (; h <= to && batches.length < API_LIMITS.maxExportBatches; h++) {
    const b = await src.exportAt(h)
    if (!b)
      throw new AllotError(
        'BATCH_EXPORT_NOT_PROCESSED',
        `no record of height ${h} here (pruned once settled, or processed before books were kept)`,
      )
    const size = encode(exportedBatchCodec, b).length
    if (bytes + size > EXPORT_PAGE_BYTES) {
      if (batches.length > 0) break
      throw new AllotError(
        'BATCH_EXPORT_TOO_LARGE',
        `height ${h} takes ${size} bytes, more than one response frame carries`,
      )
    }
    bytes += size
    batches.push(b)
  }
  return { kind: 'batchExport', settings: src.clearingSettings(), batches, next: h <= to ? h : null }
}

/**
 * The envelopes through intake together (`OrderIntake.submitMany`: the same rules as a single
 * `submit`, on disk before an outcome is known, each accepted one published through the same hook);
 * one outcome per order, in order. A refused order fails only its own outcome.
 */
export async function submitMany(
  d: Pick<ApiDeps, 'intake' | 'publishOrder'>,
  orders: Uint8Array[],
): Promise<SubmitOutcome[]> {
  const settled = await d.intake.submitMany(orders, true)
  return settled.map((r): SubmitOutcome => {
    if (r.status === 'fulfilled') {
      d.publishOrder(r.value.bytes)
      return { kind: 'submitted', orderId: r.value.orderId, targetBatch: r.value.batch }
    }
    const e = r.reason
    const code = e instanceof AllotError ? e.code : 'API_INTERNAL'
    const message = (e as Error)?.message ?? String(e)
    return {
      kind: 'error',
      code: code.slice(0, 64),
      message: clip(message.replace(`${code}: `, ''), 256),
    }
  })
}

const U64_MAX = (1n << 64n) - 1n

/**
 * `encodeApiResponse({ kind: 'submittedMany', results })`, with each accepted outcome written as its
 * bytes (tag 0, the id's 32 bytes, the batch as u64) rather than through the codec's hex checks: a
 * unit test compares the two. Refusals go through the codec.
 */
export function encodeSubmittedMany(results: SubmitOutcome[]): Uint8Array {
  if (results.length > API_LIMITS.maxSubmitManyOrders)
    throw new AllotError(
      'WIRE_TOO_LARGE',
      `${results.length} outcomes, at most ${API_LIMITS.maxSubmitManyOrders}`,
    )
  // Accepted outcomes are written straight into the frame (41 bytes each); the rest are encoded first.
  const encoded = results.map((r) =>
    r.kind === 'submitted' && isHexId(r.orderId) && r.targetBatch >= 0n && r.targetBatch <= U64_MAX
      ? undefined
      : encode(submitOutcomeCodec, r),
  )
  let size = 5
  for (const b of encoded) size += b ? b.length : 41
  const bytes = uninitializedBytes(size)
  const out = Buffer.from(bytes.buffer, bytes.byteOffset, size)
  out[0] = SUBMITTED_MANY_TAG
  out.writeUInt32BE(results.length, 1)
  let at = 5
  results.forEach((r, i) => {
    const b = encoded[i]
    if (b) {
      out.set(b, at)
      at += b.length
    } else {
      const { orderId, targetBatch } = r as Extract<SubmitOutcome, { kind: 'submitted' }>
      out[at] = 0
      out.write(orderId.slice(2), at + 1, 32, 'hex')
      out.writeBigUInt64BE(targetBatch, at + 33)
      at += 41
    }
  })
  return bytes
}

/** /^0x[0-9a-fA-F]{64}$/ by character codes (the regular expression was 0.4 µs of every order). */
function isHexId(s: string): boolean {
  if (s.length !== 66 || s.charCodeAt(0) !== 48 || s.charCodeAt(1) !== 120) return false
  for (let i = 2; i < 66; i++) {
    const c = s.charCodeAt(i)
    const l = c | 0x20 // 'A'-'F' → 'a'-'f'
    if (!((c >= 48 && c <= 57) || (l >= 97 && l <= 102))) return false
  }
  return true
}

/** At most `max` bytes of UTF-8 (the outcome's message field). */
function clip(s: string, max: number): string {
  let m = s.length > max ? s.slice(0, max) : s
  while (Buffer.byteLength(m) > max) m = m.slice(0, -1)
  return m
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
