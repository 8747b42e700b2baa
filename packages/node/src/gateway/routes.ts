import {
  AllotError,
  type ApiRequest,
  type ApiResponse,
  type BatchView,
  decodeApiResponse,
  encodeApiRequest,
  type Hex,
} from '@allot/protocol'
import type { BatchBook } from '../batch/index.js'
import type { Genesis } from '../config/index.js'
import type { RequestContext, ResponseFrames } from '../network/index.js'
import type { NodeStorage } from '../storage/index.js'
import { GATEWAY_DEFAULTS } from './options.js'

/** What the gateway reads from the node it serves (run.ts fills it). */
export interface GatewayDeps {
  /** The node's `/allot/api/1` handler (`AllotNode.apiHandler`): every operation of the p2p API goes through it. */
  api(req: Uint8Array, ctx: RequestContext): Promise<ResponseFrames>
  storage: NodeStorage
  genesis: Genesis
  /** The height consensus works on, the last certified and the last settled batch (`RunningNode.progress`). */
  progress(): { height: bigint; finalized: bigint; settled: bigint }
  /** Connected peers' ids. */
  peers(): string[]
  selfPeerId: string
  /** This node's validator address, if it is one. */
  validator?: Hex
  /** The book a processed height was cleared on (validators run the batch pipeline; others have none). */
  book?(height: bigint): Promise<BatchBook | undefined>
  /** Per validator (lowercase address): the last height whose result attestation reached this node. */
  attested?(): ReadonlyMap<string, bigint>
}

export interface RouteContext {
  params: Record<string, string>
  query: URLSearchParams
  body: unknown
  client: string
  signal: AbortSignal
}

export interface Route {
  method: 'GET' | 'POST'
  /** OpenAPI path template: `{name}` segments are parameters. */
  path: string
  operationId: string
  summary: string
  /** Request body schema name (POST). */
  body?: string
  /** Response schema name (200). */
  response: string
  /** Largest request body accepted; default GATEWAY_DEFAULTS.maxBodyBytes. */
  maxBodyBytes?: number
  query?: { name: string; schema: Record<string, unknown> }[]
  handle(d: GatewayDeps, c: RouteContext): Promise<unknown>
}

/**
 * One request of the p2p API through the node's own handler: encoded with the wire codec (which refuses
 * malformed fields with `WIRE_MALFORMED`, as it would on the wire), answered by the same code the libp2p
 * protocol runs, decoded back. An `error` answer is thrown with its code.
 */
export async function callApi(
  d: Pick<GatewayDeps, 'api'>,
  req: ApiRequest | Uint8Array,
  c: Pick<RouteContext, 'client' | 'signal'>,
): Promise<ApiResponse> {
  const bytes = req instanceof Uint8Array ? req : encodeApiRequest(req)
  const frames = await d.api(bytes, { peer: `http:${c.client}`, signal: c.signal })
  if (!(frames instanceof Uint8Array))
    throw new AllotError('API_INTERNAL', 'a stream where one answer was due')
  const r = decodeApiResponse(frames)
  if (r.kind === 'error') throw new AllotError(r.code, r.message)
  return r
}

function expect<K extends ApiResponse['kind']>(r: ApiResponse, kind: K): Extract<ApiResponse, { kind: K }> {
  if (r.kind !== kind) throw new AllotError('API_INTERNAL', `answer ${r.kind}, expected ${kind}`)
  return r as Extract<ApiResponse, { kind: K }>
}

/** 0x-hex bytes of a JSON field, or `WIRE_MALFORMED`. */
export function hexToBytes(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(v))
    throw new AllotError('WIRE_MALFORMED', `${what} must be 0x-prefixed hex bytes`)
  return Buffer.from(v.slice(2), 'hex')
}

export function heightParam(v: string | null | undefined, what = 'height'): bigint {
  if (v == null || !/^[0-9]{1,20}$/.test(v) || BigInt(v) >= 1n << 64n)
    throw new AllotError('WIRE_MALFORMED', `${what} must be a decimal integer below 2^64`)
  return BigInt(v)
}

function field(body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new AllotError('WIRE_MALFORMED', 'the body must be a JSON object')
  return (body as Record<string, unknown>)[name]
}

/** A batch view and the solver's objective at its height (the explorer's list). */
async function explorerBatch(
  d: GatewayDeps,
  v: BatchView,
): Promise<BatchView & { objective: bigint | null }> {
  const book = await d.book?.(v.height)
  return { ...v, objective: book ? book.objective : null }
}

/** How many recent certificates a validator must appear in to count as in the quorum. */
const QUORUM_WINDOW = 8

export const ROUTES: Route[] = [
  {
    method: 'GET',
    path: '/v1/info',
    operationId: 'info',
    summary: "The node's network, open batch, assets and progress (the p2p API's `info`)",
    response: 'NodeInfo',
    handle: async (d, c) => expect(await callApi(d, { kind: 'info' }, c), 'info').info,
  },
  {
    method: 'POST',
    path: '/v1/orders',
    operationId: 'submitOrder',
    summary: 'Submit one sealed order: its envelope, encoded as on the wire, in hex',
    body: 'SubmitRequest',
    response: 'Submitted',
    handle: async (d, c) => {
      const envelope = hexToBytes(field(c.body, 'envelope'), 'envelope')
      // The p2p API's submit frame: tag 0, then the envelope (the handler reads it in place).
      const frame = new Uint8Array(envelope.length + 1)
      frame.set(envelope, 1)
      const r = expect(await callApi(d, frame, c), 'submitted')
      return { orderId: r.orderId, targetBatch: r.targetBatch }
    },
  },
  {
    method: 'POST',
    path: '/v1/orders/many',
    operationId: 'submitOrders',
    summary: 'Submit up to 512 sealed orders at once; one outcome per order, in order',
    body: 'SubmitManyRequest',
    response: 'SubmittedMany',
    maxBodyBytes: GATEWAY_DEFAULTS.maxManyBodyBytes,
    handle: async (d, c) => {
      const list = field(c.body, 'envelopes')
      if (!Array.isArray(list)) throw new AllotError('WIRE_MALFORMED', 'envelopes must be an array')
      const orders = list.map((e, i) => hexToBytes(e, `envelopes[${i}]`))
      return { results: expect(await callApi(d, { kind: 'submitMany', orders }, c), 'submittedMany').results }
    },
  },
  {
    method: 'POST',
    path: '/v1/orders/{orderId}/cancel',
    operationId: 'cancelOrder',
    summary: "Cancel a pending order with its trader's signed cancellation",
    body: 'CancelRequest',
    response: 'Cancelled',
    handle: async (d, c) => {
      const cancel = {
        trader: field(c.body, 'trader'),
        orderId: c.params.orderId,
        signature: field(c.body, 'signature'),
      } as Extract<ApiRequest, { kind: 'cancel' }>['cancel']
      return { orderId: expect(await callApi(d, { kind: 'cancel', cancel }, c), 'cancelled').orderId }
    },
  },
  {
    method: 'GET',
    path: '/v1/orders/{orderId}',
    operationId: 'orderStatus',
    summary: "An order's status",
    response: 'OrderStatus',
    handle: async (d, c) =>
      expect(await callApi(d, { kind: 'status', orderId: c.params.orderId as Hex }, c), 'status').status,
  },
  {
    method: 'GET',
    path: '/v1/orders/{orderId}/life',
    operationId: 'orderLife',
    summary: "An order's life: submitted → sealed → in batch → unsealed → filled → settled",
    response: 'OrderLife',
    handle: (d, c) => orderLife(d, c),
  },
  {
    method: 'GET',
    path: '/v1/batches',
    operationId: 'listBatches',
    summary: 'Finalized batches, newest first, with the solver’s objective',
    response: 'BatchList',
    query: [
      { name: 'before', schema: { type: 'string', pattern: '^[0-9]+$' } },
      { name: 'limit', schema: { type: 'string', pattern: '^[0-9]+$' } },
    ],
    handle: async (d, c) => {
      const limit = Math.min(100, Math.max(1, Number(heightParam(c.query.get('limit') ?? '20', 'limit'))))
      const before = c.query.get('before')
      const batches: BatchView[] = []
      const opts = before === null ? {} : { lte: heightParam(before, 'before') - 1n }
      if (before !== null && heightParam(before, 'before') === 0n) return { batches: [] }
      for await (const [, v] of d.storage.results.entries({ ...opts, reverse: true, limit })) batches.push(v)
      return { batches: await Promise.all(batches.map((v) => explorerBatch(d, v))) }
    },
  },
  {
    method: 'GET',
    path: '/v1/batches/latest',
    operationId: 'latestBatch',
    summary: 'The latest finalized batch',
    response: 'BatchView',
    handle: async (d, c) => expect(await callApi(d, { kind: 'batch', height: null }, c), 'batch').batch,
  },
  {
    method: 'GET',
    path: '/v1/batches/{height}',
    operationId: 'batch',
    summary: 'A finalized batch: uniform prices, fills, certificate signers, settlement',
    response: 'BatchView',
    handle: async (d, c) =>
      expect(await callApi(d, { kind: 'batch', height: heightParam(c.params.height) }, c), 'batch').batch,
  },
  {
    method: 'GET',
    path: '/v1/batches/{height}/book',
    operationId: 'batchBook',
    summary: 'The unsealed orders a batch was cleared on (limits, for supply and demand) and the objective',
    response: 'BatchBook',
    handle: async (d, c) => {
      const h = heightParam(c.params.height)
      const book = await d.book?.(h)
      if (!book) throw new AllotError('BATCH_NOT_FOUND', `no cleared book of batch ${h} on this node`)
      return { height: h, ...book }
    },
  },
  {
    method: 'GET',
    path: '/v1/batches/{height}/key',
    operationId: 'batchKey',
    summary: "The batch's sealing public key (seal orders to it)",
    response: 'BatchKey',
    handle: async (d, c) => {
      const r = expect(
        await callApi(d, { kind: 'batchKey', height: heightParam(c.params.height) }, c),
        'batchKey',
      )
      return { height: r.height, publicKey: r.publicKey }
    },
  },
  {
    method: 'GET',
    path: '/v1/balances/{address}',
    operationId: 'balances',
    summary: "A trader's escrow, available and pending-withdrawal balances per asset",
    response: 'Balances',
    handle: async (d, c) =>
      expect(await callApi(d, { kind: 'balances', address: c.params.address as Hex }, c), 'balances')
        .balances,
  },
  {
    method: 'GET',
    path: '/v1/validators',
    operationId: 'validators',
    summary:
      'Each validator: connected, its height (this node: the one it works on; another: the last it attested here), last certificate it signed, in the recent quorums or not',
    response: 'Validators',
    handle: async (d) => {
      const recent: { height: bigint; signers: Set<string> }[] = []
      const lastSigned = new Map<string, bigint>()
      for await (const [h, cert] of d.storage.certificates.entries({ reverse: true, limit: 256 })) {
        const signers = new Set(cert.signatures.map((s) => s.validator.toLowerCase()))
        if (recent.length < QUORUM_WINDOW) recent.push({ height: h, signers })
        for (const s of signers) if (!lastSigned.has(s)) lastSigned.set(s, h)
      }
      const peers = new Set(d.peers())
      const attested = d.attested?.()
      return {
        validators: d.genesis.validators.map((v) => {
          const a = v.address.toLowerCase()
          const self = d.validator !== undefined && d.validator.toLowerCase() === a
          return {
            address: v.address,
            peerId: v.peerId,
            self,
            up: self || peers.has(v.peerId),
            height: self ? d.progress().height : (attested?.get(a) ?? null),
            lastSigned: lastSigned.get(a) ?? null,
            inQuorum: recent.some((r) => r.signers.has(a)),
          }
        }),
      }
    },
  },
]

/** The order's status plus what the node's stores show of each step of its life. */
async function orderLife(d: GatewayDeps, c: RouteContext): Promise<unknown> {
  const id = c.params.orderId as Hex
  const status = expect(await callApi(d, { kind: 'status', orderId: id }, c), 'status').status
  const batch = status.batch
  const content = batch === null ? undefined : await d.storage.batches.get(batch)
  const inBatch = content?.orderIds.some((o) => o.toLowerCase() === id.toLowerCase()) ?? false
  const book = batch === null ? undefined : await d.book?.(batch)
  const unsealed = book?.orders.some((o) => o.orderId.toLowerCase() === id.toLowerCase()) ?? false
  const view = batch === null ? undefined : await d.storage.results.get(batch)
  const filled = status.filled !== null && (status.filled.sold > 0n || status.filled.bought > 0n)
  const txHash = status.txHash ?? (filled ? (view?.settlement?.txHash ?? null) : null)
  const sealErr = status.error?.code.startsWith('SEAL_') ? status.error.message : null
  return {
    orderId: id,
    status,
    steps: [
      { step: 'submitted', done: true, height: null, detail: null },
      { step: 'sealed', done: d.genesis.sealing.enabled, height: null, detail: null },
      { step: 'in batch', done: inBatch || status.status !== 'pending', height: batch, detail: null },
      { step: 'unsealed', done: unsealed || filled, height: unsealed ? batch : null, detail: sealErr },
      {
        step: 'filled',
        done: filled,
        height: filled ? batch : null,
        detail: filled ? `sold ${status.filled?.sold} bought ${status.filled?.bought}` : null,
      },
      {
        step: 'settled',
        done: txHash !== null,
        height: txHash !== null ? batch : null,
        detail:
          txHash === null ? null : `tx ${txHash}${view?.settlement ? ` (${view.settlement.status})` : ''}`,
      },
    ],
  }
}

/** This node's own health as `/status` shows it. */
export async function statusOf(d: GatewayDeps): Promise<unknown> {
  const p = d.progress()
  const lastCert = (await d.storage.certificates.last())?.[0] ?? 0n
  const finalized = (await d.storage.results.last())?.[0] ?? 0n
  return {
    height: p.height,
    finalized: finalized > p.finalized ? finalized : p.finalized,
    settled: p.settled,
    peers: d.peers().length,
    validator: d.validator ?? null,
    // As `allot devnet status` judges it: this validator certified (its own result matched the quorum's)
    // a batch within RESULT_QUORUM_LAG of the latest certificate it holds.
    inResultQuorum: d.validator !== undefined && lastCert > 0n && finalized + RESULT_QUORUM_LAG >= lastCert,
  }
}

const RESULT_QUORUM_LAG = 3n
