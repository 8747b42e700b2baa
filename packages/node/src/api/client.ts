import { randomBytes } from 'node:crypto'
import {
  type Address,
  AllotError,
  API_LIMITS,
  API_PROTOCOL,
  type ApiRequest,
  type ApiResponse,
  type AssetInfo,
  addressOf,
  type BalanceView,
  type BatchView,
  type ClearingSettings,
  cancelDigest,
  decodeApiResponse,
  type ExportedBatch,
  encodeApiRequest,
  encodeSealedOrder,
  type Height,
  type Hex,
  isAllotError,
  LIMITS,
  MAX_ORDER_AMOUNT,
  type NetworkDomain,
  type NodeInfo,
  type Order,
  type OrderKind,
  type OrderStatus,
  orderDigest,
  type PrivateKey,
  payloadHashOf,
  type SealedOrder,
  type Signature,
  SUBMIT_MANY_TAG,
  SUBMITTED_MANY_TAG,
  type SubmitOutcome,
  sealedOrderDigest,
  sealOrder,
  signDigest,
  signOrder,
  toHex,
  uninitializedBytes,
} from '@allot/protocol'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
// reqresp alone, not network/index.js: the client (and @allot/node/client) must not load gossipsub.
import { RequestSession, requestStream } from '../network/reqresp.js'
import { type OrderSigner, type SignerInput, signAndSeal, signerFrom } from './signer.js'

export interface ClientOptions {
  /** Deadline of each request (default 10 s). */
  deadlineMs?: number
  /** Same as `deadlineMs`. */
  timeoutMs?: number
}

export interface OrderSpec {
  /** Asset symbol, token address or resource class known to the network. */
  sell: string
  sellAmount: bigint
  buy: string
  buyAmount: bigint
  kind?: OrderKind
  partiallyFillable?: boolean
  /**
   * Target batch; default the first one this order can still reach with the node's stated margin
   * (`firstReachableBatch`), never one about to close.
   */
  batch?: Height
  /** Without `batch`: this many batches after the first reachable one (`--batch +N`). */
  batchOffset?: number
  /** How many batches in all the remainder may rest (default 1: one-shot). */
  validBatches?: number
  nonce?: bigint
  app?: Hex
}

/** What `submitOrder` answers: the node's acknowledgement and the order's EIP-712 digest. */
export interface SubmittedOrder {
  orderId: Hex
  targetBatch: Height
  status: 'pending'
  /** The signed `Order`'s EIP-712 digest: what `invalidateOrder` takes to cancel the order on chain. */
  orderDigest: Hex
}

/** What `placeOrder` answers: the order as it stands once its batch is decided, and every envelope sealed for it. */
export interface PlacedOrder extends Omit<SubmittedOrder, 'status'> {
  /** The order's status once its batch was decided (`included`, or later: `filled`, …), or why not. */
  status: OrderStatus
  /** Each envelope sealed for the order, in order; the last is the order's. Earlier ones missed their batch. */
  attempts: { orderId: Hex; targetBatch: Height; status: OrderStatus }[]
}

export interface PlaceOptions {
  /** How many times an order that missed its batch (ORDER_MISSED_BATCH) is sealed again (default 3; 0: never). */
  retries?: number
  /** Status poll interval while its batch is being decided (default a quarter of the batch interval, within 100–1,000 ms). */
  pollMs?: number
  /** Told of each envelope the node acknowledged, before its batch is decided (`placeOrder`). */
  onSubmitted?: (s: SubmittedOrder) => void
}

/** One order's outcome in `placeOrders`: where it stands once its batch was decided, or the refusal. */
export type PlaceOutcome =
  | { kind: 'placed'; orderId: Hex; targetBatch: Height; status: OrderStatus; attempts: number }
  | { kind: 'error'; code: string; message: string }

const MAX_IN_FLIGHT = 64
/**
 * How many times an order without a named batch that the node refused as ORDER_TARGET_CLOSED is sealed
 * again. Each retry aims one batch further than the last (`laterSpec`): a client slow enough to miss the
 * margin once (a loaded machine: sealing, its own queue of requests) is likely as slow the next time.
 */
const TARGET_CLOSED_RETRIES = 3
/** How long `submitOrder` trusts the node's last info (open batch, assets) before asking again. */
const INFO_FRESH_MS = 100
const MAX_SESSIONS = 4
const ZERO32: Hex = `0x${'0'.repeat(64)}`

/**
 * The TypeScript client of a node's p2p API (`/allot/api/1`). It dials the node's API multiaddr
 * from a libp2p host that listens nowhere. Every refusal is an AllotError with the node's code.
 */
export class AllotClient {
  private infoCache: NodeInfo | undefined
  /** When the cached info was asked for (its `openBatchClosesInMs` counts from about then). */
  private infoAt = 0
  /** The last `info` round trip: the client's estimate of one request's time to the node and back. */
  private rttMs = 0
  /**
   * How long orders took lately from being built to the node's answer (sealing, the batch key, the client's
   * own queue, the submit): on a loaded machine far more than a round trip, and the client aims that much
   * further (`infoAgeMs`). It rises at once and falls slowly.
   */
  private lagMs = 0
  /** Batch public keys never change: one request per height (the last few kept). */
  private readonly keys = new Map<bigint, Promise<Hex>>()
  // libp2p caps outbound streams per protocol and connection (64): queue beyond that many in flight.
  private inflight = 0
  private readonly waiting: (() => void)[] = []

  private constructor(
    readonly host: Libp2p,
    readonly target: Multiaddr,
    private readonly deadlineMs: number,
  ) {}

  static async connect(apiAddr: string, o: ClientOptions = {}): Promise<AllotClient> {
    let target: Multiaddr
    try {
      target = multiaddr(apiAddr)
    } catch (e) {
      throw new AllotError('API_BAD_REQUEST', `not a multiaddr: ${apiAddr} (${(e as Error).message})`)
    }
    if (!target.getPeerId())
      throw new AllotError('API_BAD_REQUEST', `the node address must end in /p2p/<peer id>: ${apiAddr}`)
    const host = await createLibp2p({
      addresses: { listen: [] },
      transports: [tcp() as never],
      connectionEncrypters: [noise() as never],
      streamMuxers: [yamux() as never],
    })
    return new AllotClient(host, target, o.deadlineMs ?? o.timeoutMs ?? 10_000)
  }

  async close(): Promise<void> {
    for (const s of this.sessions.splice(0)) s.close()
    await this.host.stop()
  }

  // A few long-lived streams carry all requests (pipelined); a new one opens when the others are busy.
  private readonly sessions: RequestSession[] = []
  private opening: Promise<RequestSession> | null = null
  private async session(): Promise<RequestSession> {
    for (let i = this.sessions.length - 1; i >= 0; i--)
      if (this.sessions[i].closed) this.sessions.splice(i, 1)
    let best: RequestSession | undefined
    for (const s of this.sessions) if (!best || s.pending < best.pending) best = s
    if (best && (best.pending < 16 || this.sessions.length >= MAX_SESSIONS)) return best
    if (!this.opening) {
      this.opening = RequestSession.open(this.host, this.target, API_PROTOCOL, {
        deadlineMs: this.deadlineMs,
        maxResponseBytes: API_LIMITS.maxResponseBytes,
      })
        .then((s) => {
          this.sessions.push(s)
          return s
        })
        .finally(() => {
          this.opening = null
        })
    }
    return this.opening
  }

  /** Sends a raw request; returns the response or throws the node's coded error. */
  async call(req: ApiRequest): Promise<ApiResponse> {
    const res = decodeApiResponse(await this.send(encodeApiRequest(req)))
    if (res.kind === 'error') throw new AllotError(res.code, res.message)
    return res
  }

  /** Sends an encoded request frame over a pipelined session; returns the answer frame. */
  private async send(bytes: Uint8Array): Promise<Uint8Array> {
    while (this.inflight >= MAX_IN_FLIGHT) await new Promise<void>((r) => this.waiting.push(r))
    this.inflight++
    try {
      const session = await this.session()
      return await session.request(bytes, this.deadlineMs)
    } finally {
      this.inflight--
      this.waiting.shift()?.()
    }
  }

  private async expect<K extends ApiResponse['kind']>(
    req: ApiRequest,
    kind: K,
  ): Promise<Extract<ApiResponse, { kind: K }>> {
    const res = await this.call(req)
    if (res.kind !== kind)
      throw new AllotError('WIRE_MALFORMED', `expected a ${kind} answer, got ${res.kind}`)
    return res as Extract<ApiResponse, { kind: K }>
  }

  async info(): Promise<NodeInfo> {
    const asked = Date.now()
    const r = await this.expect({ kind: 'info' }, 'info')
    this.infoCache = r.info
    this.infoAt = asked
    this.rttMs = Date.now() - asked
    return r.info
  }

  /**
   * How much of the cached info's `openBatchClosesInMs` is used up by the time an order built now reaches
   * the node: the time since it was asked, plus two round trips (the batch key, then the submit) or, when
   * more, what orders took lately from being built to the node's answer.
   */
  private infoAgeMs(): number {
    return Date.now() - this.infoAt + Math.max(2 * this.rttMs, this.lagMs)
  }

  private noteLag(ms: number): void {
    this.lagMs = Math.max(ms, Math.round(0.7 * this.lagMs + 0.3 * ms))
  }

  /**
   * The node's info as of at most INFO_FRESH_MS ago: a client submitting many orders asks once per burst,
   * not once per order. A batch that closed in between is caught by the node (ORDER_TARGET_CLOSED), and
   * the retry asks afresh.
   */
  private async recentInfo(fresh: boolean): Promise<NodeInfo> {
    if (!fresh && this.infoCache && Date.now() - this.infoAt < INFO_FRESH_MS) return this.infoCache
    return this.info()
  }

  async domain(): Promise<NetworkDomain> {
    const info = this.infoCache ?? (await this.info())
    return { chainId: info.chainId, verifyingContract: info.settlement }
  }

  /** Submits a signed envelope as is. */
  async submit(order: SealedOrder): Promise<{ orderId: Hex; targetBatch: Height; status: 'pending' }> {
    const r = await this.expect({ kind: 'submit', order }, 'submitted')
    return { orderId: r.orderId, targetBatch: r.targetBatch, status: 'pending' }
  }

  /**
   * Submits signed envelopes (or their encoded bytes) as they are, in `submitMany` requests of at
   * most `API_LIMITS.maxSubmitManyOrders` orders and `maxRequestBytes` bytes, sent together
   * (pipelined). One outcome per order, in order: `submitted` (on disk at the node, gossiped) or
   * `error` with the node's code. An order that cannot be encoded, or whose request failed as a whole
   * (`API_TIMEOUT`, `API_UNAVAILABLE`: its fate is then unknown — ask `status`), fails only its outcome.
   */
  async submitMany(orders: readonly (SealedOrder | Uint8Array)[]): Promise<SubmitOutcome[]> {
    const out: SubmitOutcome[] = new Array(orders.length)
    const sent: Promise<void>[] = []
    let chunk: Uint8Array[] = []
    let slots: number[] = []
    let size = 0
    const flush = () => {
      if (chunk.length === 0) return
      const at = slots
      sent.push(
        this.send(submitManyFrame(chunk, size)).then(
          (frame) => {
            const results = decodeSubmittedMany(frame)
            if (results.length !== at.length)
              throw new AllotError('WIRE_MALFORMED', `${results.length} outcomes for ${at.length} orders`)
            for (let k = 0; k < at.length; k++) out[at[k]] = results[k]
          },
          (e) => {
            const err = e instanceof AllotError ? e : new AllotError('API_INTERNAL', String(e))
            for (const k of at) out[k] = outcomeOf(err)
          },
        ),
      )
      chunk = []
      slots = []
      size = 0
    }
    for (let i = 0; i < orders.length; i++) {
      const o = orders[i]
      let bytes: Uint8Array
      try {
        bytes = o instanceof Uint8Array ? o : encodeSealedOrder(o)
        if (bytes.length > LIMITS.maxSealedOrderBytes)
          throw new AllotError(
            'WIRE_TOO_LARGE',
            `order of ${bytes.length} bytes, at most ${LIMITS.maxSealedOrderBytes}`,
          )
      } catch (e) {
        out[i] = outcomeOf(e instanceof AllotError ? e : new AllotError('WIRE_MALFORMED', String(e)))
        continue
      }
      // The request: tag (1), list length (4), then a length (4) before each envelope.
      if (
        chunk.length >= API_LIMITS.maxSubmitManyOrders ||
        5 + size + 4 + bytes.length > API_LIMITS.maxRequestBytes
      )
        flush()
      chunk.push(bytes)
      slots.push(i)
      size += 4 + bytes.length
    }
    flush()
    await Promise.all(sent)
    return out
  }

  /**
   * `submitOrder` for many orders of one trader: each is checked, built, signed and sealed as
   * `submitOrder` does (the node's info and batch key asked once), then all go in `submitMany`
   * requests. One outcome per spec, in order; a spec the client refuses fails only its outcome. Orders
   * without a named batch that meet a batch closing meanwhile are sealed again (`laterSpec`).
   */
  async submitOrders(specs: readonly OrderSpec[], key: PrivateKey): Promise<SubmitOutcome[]> {
    const out: SubmitOutcome[] = new Array(specs.length)
    let todo = specs.map((_, i) => i)
    for (let attempt = 0; todo.length > 0; attempt++) {
      const info = await this.recentInfo(attempt > 0)
      const envelopes: SealedOrder[] = []
      const at: number[] = []
      const built = Date.now()
      for (const i of todo) {
        try {
          envelopes.push(await this.seal(info, laterSpec(specs[i], attempt), key))
          at.push(i)
        } catch (e) {
          out[i] = outcomeOf(e instanceof AllotError ? e : new AllotError('API_INTERNAL', String(e)))
        }
      }
      const results = await this.submitMany(envelopes)
      this.noteLag(Date.now() - built)
      todo = []
      for (let k = 0; k < at.length; k++) {
        const r = results[k]
        out[at[k]] = r
        if (
          r.kind === 'error' &&
          r.code === 'ORDER_TARGET_CLOSED' &&
          specs[at[k]].batch === undefined &&
          attempt < TARGET_CLOSED_RETRIES
        )
          todo.push(at[k])
      }
    }
    return out
  }

  /**
   * Checks an order against the network (known assets, amounts > 0), builds it, signs it and
   * submits it. On a sealing network (info.sealing) the signed order is sealed to the target
   * batch's key PK_h (fetched with batchKey); otherwise the envelope carries it plain (docs/node.md).
   */
  async submitOrder(spec: OrderSpec, key: PrivateKey | SignerInput): Promise<SubmittedOrder> {
    // Without a named batch the order targets the first open one; should that close while the order is
    // built and sealed (a busy client, a short interval), it is sealed again for the next open batch.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.sealAndSubmit(laterSpec(spec, attempt), key, attempt > 0)
      } catch (e) {
        if (
          spec.batch !== undefined ||
          attempt >= TARGET_CLOSED_RETRIES ||
          !isAllotError(e, 'ORDER_TARGET_CLOSED')
        )
          throw e
      }
    }
  }

  private async sealAndSubmit(
    spec: OrderSpec,
    key: PrivateKey | SignerInput,
    fresh: boolean,
  ): Promise<SubmittedOrder> {
    const info = await this.recentInfo(fresh)
    // A raw key signs here (the fast path); anything else through its signer (a wallet: api/signer.ts).
    const raw = key instanceof Uint8Array ? key : undefined
    const signer = raw ? undefined : signerFrom(key)
    const built = Date.now()
    const order = buildOrder(
      info,
      spec,
      raw ? addressOf(raw) : (signer as OrderSigner).address,
      this.infoAgeMs(),
    )
    let r: Awaited<ReturnType<AllotClient['submit']>>
    try {
      const sealed = raw
        ? await this.sealBuilt(info, order, raw)
        : await signAndSeal(info, order, signer as OrderSigner, (h) => this.batchKey(h))
      r = await this.submit(sealed)
    } finally {
      this.noteLag(Date.now() - built)
    }
    const digest = toHex(orderDigest({ chainId: info.chainId, verifyingContract: info.settlement }, order))
    return { ...r, orderDigest: digest }
  }

  /** Builds, signs and (on a sealing network) seals an order to its batch's key PK_h. */
  private async seal(info: NodeInfo, spec: OrderSpec, key: PrivateKey): Promise<SealedOrder> {
    return this.sealBuilt(info, buildOrder(info, spec, addressOf(key), this.infoAgeMs()), key)
  }

  private async sealBuilt(info: NodeInfo, order: Order, key: PrivateKey): Promise<SealedOrder> {
    const domain = { chainId: info.chainId, verifyingContract: info.settlement }
    if (!info.sealing) return sealPlain(domain, order, key)
    const pk = await this.batchKey(order.firstBatch)
    const signedOrder = { order, signature: signOrder(domain, order, key) }
    return sealOrder({ domain, signedOrder, batchPublicKey: pk, traderKey: key, nonce: order.nonce })
  }

  /**
   * Submits an order and follows it until its batch is decided. An order its batch was decided without
   * (status `expired`, ORDER_MISSED_BATCH: it reached the proposer too late) is sealed again, with a new
   * nonce, for the first batch it can still reach, up to `retries` times. Answers the order as it stands
   * then; a status other than `included` or later says why not (the last attempt's).
   */
  async placeOrder(
    spec: OrderSpec,
    key: PrivateKey | SignerInput,
    o: PlaceOptions = {},
  ): Promise<PlacedOrder> {
    const retries = o.retries ?? 3
    const attempts: PlacedOrder['attempts'] = []
    for (let attempt = 0; ; attempt++) {
      const next =
        attempt === 0 ? spec : { ...spec, batch: undefined, batchOffset: undefined, nonce: undefined }
      const sub = await this.submitOrder(next, key)
      o.onSubmitted?.(sub)
      const status = await this.untilDecided(sub.orderId, o.pollMs)
      attempts.push({ orderId: sub.orderId, targetBatch: sub.targetBatch, status })
      if (status.status === 'expired' && status.error?.code === 'ORDER_MISSED_BATCH' && attempt < retries)
        continue
      return {
        orderId: sub.orderId,
        targetBatch: sub.targetBatch,
        orderDigest: sub.orderDigest,
        status,
        attempts,
      }
    }
  }

  /**
   * `placeOrder` for many orders of one trader: all submitted together (`submitOrders`), each followed until
   * its batch is decided, those that missed it sealed again together, up to `retries` rounds. One outcome per
   * spec, in order: a refusal, or the order as it stands (`attempts`: envelopes sealed for it).
   */
  async placeOrders(
    specs: readonly OrderSpec[],
    key: PrivateKey,
    o: PlaceOptions = {},
  ): Promise<PlaceOutcome[]> {
    const retries = o.retries ?? 3
    const out: PlaceOutcome[] = new Array(specs.length)
    let todo = specs.map((_, i) => i)
    for (let round = 0; todo.length > 0; round++) {
      const batchSpecs = todo.map((i) =>
        round === 0 ? specs[i] : { ...specs[i], batch: undefined, batchOffset: undefined, nonce: undefined },
      )
      const results = await this.submitOrders(batchSpecs, key)
      const again: number[] = []
      await Promise.all(
        results.map(async (r, k) => {
          const i = todo[k]
          if (r.kind === 'error') {
            out[i] = r
            return
          }
          const status = await this.untilDecided(r.orderId, o.pollMs)
          out[i] = {
            kind: 'placed',
            orderId: r.orderId,
            targetBatch: r.targetBatch,
            status,
            attempts: round + 1,
          }
          if (status.status === 'expired' && status.error?.code === 'ORDER_MISSED_BATCH' && round < retries)
            again.push(i)
        }),
      )
      todo = again.sort((x, y) => x - y)
    }
    return out
  }

  /** Polls an order's status here until it is no longer `pending` (its batch decided, or it ended). */
  async untilDecided(orderId: Hex, pollMs?: number): Promise<OrderStatus> {
    const every =
      pollMs ?? Math.min(1000, Math.max(100, Math.floor((this.infoCache?.batchIntervalMs ?? 1000) / 4)))
    for (;;) {
      const s = await this.status(orderId)
      if (s.status !== 'pending') return s
      await new Promise((r) => setTimeout(r, every))
    }
  }

  async cancel(orderId: Hex, key: PrivateKey | SignerInput): Promise<{ orderId: Hex }> {
    const domain = await this.domain()
    let trader: Address
    let signature: Signature
    if (key instanceof Uint8Array) {
      trader = addressOf(key)
      signature = signDigest(cancelDigest(domain, { trader, orderId }), key)
    } else {
      const signer = signerFrom(key)
      trader = signer.address
      signature = await signer.signTypedData(domain, 'OrderCancel', { trader, orderId })
    }
    const r = await this.expect({ kind: 'cancel', cancel: { trader, orderId, signature } }, 'cancelled')
    return { orderId: r.orderId }
  }

  async status(orderId: Hex): Promise<OrderStatus> {
    return (await this.expect({ kind: 'status', orderId }, 'status')).status
  }

  async batch(height: Height | 'latest'): Promise<BatchView> {
    return (await this.expect({ kind: 'batch', height: height === 'latest' ? null : height }, 'batch')).batch
  }

  /** One page of processed heights from `from` (at most `to`); `next` null once `to` is in. */
  async batchExportPage(
    from: Height,
    to: Height,
  ): Promise<{ settings: ClearingSettings; batches: ExportedBatch[]; next: Height | null }> {
    const r = await this.expect({ kind: 'batchExport', from, to }, 'batchExport')
    return { settings: r.settings, batches: r.batches, next: r.next }
  }

  /** Every processed height `from`…`to`, page by page, with the network's clearing settings. */
  async *batchExport(
    from: Height,
    to: Height,
  ): AsyncGenerator<{ settings: ClearingSettings; batch: ExportedBatch }> {
    for (let at: Height | null = from; at !== null; ) {
      const page = await this.batchExportPage(at, to)
      for (const batch of page.batches) yield { settings: page.settings, batch }
      if (page.next !== null && page.next <= at)
        throw new AllotError('WIRE_MALFORMED', `batchExport page from ${at} did not move on`)
      at = page.next
    }
  }

  async balances(address: Address): Promise<BalanceView> {
    return (await this.expect({ kind: 'balances', address: address.toLowerCase() as Address }, 'balances'))
      .balances
  }

  async batchKey(height: Height): Promise<Hex> {
    let k = this.keys.get(height)
    if (!k) {
      k = this.expect({ kind: 'batchKey', height }, 'batchKey').then((r) => r.publicKey)
      k.catch(() => this.keys.delete(height))
      this.keys.set(height, k)
      if (this.keys.size > 64) this.keys.delete(this.keys.keys().next().value as bigint)
    }
    return k
  }

  /** Finalized batches as the node records them, until `signal` aborts. */
  async *watchBatches(signal?: AbortSignal): AsyncGenerator<BatchView> {
    const frames = requestStream(
      this.host,
      this.target,
      API_PROTOCOL,
      encodeApiRequest({ kind: 'watchBatches' }),
      {
        deadlineMs: this.deadlineMs,
        maxResponseBytes: API_LIMITS.maxResponseBytes,
        signal,
      },
    )
    for await (const f of frames) {
      const res = decodeApiResponse(f)
      if (res.kind === 'error') throw new AllotError(res.code, res.message)
      if (res.kind === 'batch') yield res.batch
    }
  }
}

/**
 * `encodeApiRequest({ kind: 'submitMany', orders })` in one allocation (`size`: the orders' bytes
 * plus 4 per order): the tag, the count, then each envelope after its u32 length. A unit test
 * compares it with the codec.
 */
export function submitManyFrame(orders: readonly Uint8Array[], size?: number): Uint8Array {
  if (orders.length > API_LIMITS.maxSubmitManyOrders)
    throw new AllotError(
      'WIRE_TOO_LARGE',
      `list of ${orders.length}, at most ${API_LIMITS.maxSubmitManyOrders}`,
    )
  let n = size ?? 0
  if (size === undefined) for (const o of orders) n += 4 + o.length
  const out = uninitializedBytes(5 + n)
  const view = new DataView(out.buffer)
  out[0] = SUBMIT_MANY_TAG
  view.setUint32(1, orders.length)
  let at = 5
  for (const o of orders) {
    if (o.length > LIMITS.maxSealedOrderBytes)
      throw new AllotError('WIRE_TOO_LARGE', `${o.length} bytes, at most ${LIMITS.maxSealedOrderBytes}`)
    view.setUint32(at, o.length)
    out.set(o, at + 4)
    at += 4 + o.length
  }
  if (at !== out.length) throw new AllotError('WIRE_MALFORMED', 'submitMany frame size mismatch')
  if (out.length > API_LIMITS.maxRequestBytes)
    throw new AllotError(
      'WIRE_TOO_LARGE',
      `request of ${out.length} bytes, at most ${API_LIMITS.maxRequestBytes}`,
    )
  return out
}

/**
 * The outcomes of a `submitMany` answer. When every outcome is an acceptance (tag 0, a 32-byte id, a
 * u64 batch) it reads them in place; any other answer (a refusal among them, an error frame,
 * anything malformed) goes through the strict decoder. A node's coded error is thrown. A unit test
 * compares both paths.
 */
export function decodeSubmittedMany(frame: Uint8Array): SubmitOutcome[] {
  if (frame.length >= 5 && frame[0] === SUBMITTED_MANY_TAG) {
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
    const n = view.getUint32(1)
    if (n <= API_LIMITS.maxSubmitManyOrders && frame.length === 5 + 41 * n) {
      const out: SubmitOutcome[] = new Array(n)
      let i = 0
      for (let at = 5; i < n && frame[at] === 0; i++, at += 41) {
        out[i] = {
          kind: 'submitted',
          orderId: `0x${Buffer.from(frame.buffer, frame.byteOffset + at + 1, 32).toString('hex')}` as Hex,
          targetBatch: view.getBigUint64(at + 33),
        }
      }
      if (i === n) return out
    }
  }
  const res = decodeApiResponse(frame)
  if (res.kind === 'error') throw new AllotError(res.code, res.message)
  if (res.kind !== 'submittedMany')
    throw new AllotError('WIRE_MALFORMED', `expected a submittedMany answer, got ${res.kind}`)
  return res.results
}

function outcomeOf(e: AllotError): SubmitOutcome {
  return { kind: 'error', code: e.code, message: e.message.replace(`${e.code}: `, '') }
}

function assetOf(info: NodeInfo, ref: string): AssetInfo {
  const lower = ref.toLowerCase()
  const a = info.assets.find(
    (x) =>
      x.symbol === ref ||
      x.symbol.toLowerCase() === lower ||
      x.ref.toLowerCase() === lower ||
      x.assetId === lower,
  )
  if (!a)
    throw new AllotError('ORDER_UNKNOWN_ASSET', `asset ${ref} is not known to network ${info.networkId}`)
  return a
}

/** The spec of an order's `attempt`-th try: without a named batch, `attempt` batches further each time. */
function laterSpec(spec: OrderSpec, attempt: number): OrderSpec {
  if (attempt === 0 || spec.batch !== undefined) return spec
  return { ...spec, batchOffset: (spec.batchOffset ?? 0) + attempt }
}

/**
 * The first batch an order can still reach: the open one if, `elapsedMs` after the node answered `info`,
 * at least the node's `submitMarginMs` is left before it closes for intake; else the first later one that
 * leaves that much, counting one batch interval per batch (the earliest each can close: consensus only
 * ever makes batches later). Never a batch about to close: an order that reaches the node just in time may
 * not reach the proposer in time.
 */
export function firstReachableBatch(info: NodeInfo, elapsedMs = 0): Height {
  const short = elapsedMs + info.submitMarginMs - info.openBatchClosesInMs
  if (short <= 0) return info.openBatch
  return info.openBatch + BigInt(Math.ceil(short / Math.max(1, info.batchIntervalMs)))
}

/**
 * What only the client can check before sealing: known assets, amounts, batches (CLI.md). `elapsedMs`:
 * how long since the node answered `info` (see `firstReachableBatch`).
 */
export function buildOrder(info: NodeInfo, spec: OrderSpec, trader: Address, elapsedMs = 0): Order {
  const sell = assetOf(info, spec.sell)
  const buy = assetOf(info, spec.buy)
  if (sell.assetId === buy.assetId) throw new AllotError('ORDER_BAD_ASSET', 'sell and buy are the same asset')
  const max = MAX_ORDER_AMOUNT
  for (const [name, v] of [
    ['sell', spec.sellAmount],
    ['buy', spec.buyAmount],
  ] as const) {
    if (typeof v !== 'bigint' || v <= 0n || v > max)
      throw new AllotError(
        'ORDER_BAD_AMOUNT',
        `${name} amount must be a positive integer of at most ${MAX_ORDER_AMOUNT} (2¹¹² − 1)`,
      )
  }
  const offset = spec.batchOffset ?? 0
  if (!Number.isInteger(offset) || offset < 0 || offset > 1_000_000)
    throw new AllotError('ORDER_BAD_BATCH', `a batch offset must be a whole number ≥ 0, got ${offset}`)
  if (spec.batch !== undefined && offset !== 0)
    throw new AllotError('ORDER_BAD_BATCH', 'give a batch height or an offset, not both')
  const firstBatch = spec.batch ?? firstReachableBatch(info, elapsedMs) + BigInt(offset)
  if (firstBatch < info.openBatch)
    throw new AllotError(
      'ORDER_TARGET_CLOSED',
      `batch ${firstBatch} is closed; first open is ${info.openBatch}`,
    )
  const valid = spec.validBatches ?? 1
  if (!Number.isInteger(valid) || valid < 1 || valid > 1_000_000)
    throw new AllotError('ORDER_BAD_BATCH', '--valid-batches must be ≥ 1')
  return {
    trader,
    sellAsset: sell.assetId,
    buyAsset: buy.assetId,
    sellAmount: spec.sellAmount,
    buyAmount: spec.buyAmount,
    kind: spec.kind ?? 'sell',
    partiallyFillable: spec.partiallyFillable ?? false,
    firstBatch,
    lastBatch: firstBatch + BigInt(valid - 1),
    nonce: spec.nonce ?? BigInt(`0x${randomBytes(16).toString('hex')}`),
    app: spec.app ?? ZERO32,
  }
}

/** A plain-payload envelope (until sealing lands; tests and devnets): inner order and envelope both signed. */
export function sealPlain(domain: NetworkDomain, order: Order, key: PrivateKey): SealedOrder {
  const payload = { kind: 'plain' as const, order: { order, signature: signOrder(domain, order, key) } }
  const payloadHash = payloadHashOf({ payload })
  const signature = signDigest(
    sealedOrderDigest(domain, {
      trader: order.trader,
      batch: order.firstBatch,
      payloadHash,
      nonce: order.nonce,
    }),
    key,
  )
  return { trader: order.trader, batch: order.firstBatch, nonce: order.nonce, payload, signature }
}
