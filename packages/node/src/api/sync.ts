import {
  AllotError,
  API_LIMITS,
  type BatchCertificate,
  batchCertificateCodec,
  batchContentCodec,
  decode,
  encode,
  type Hex,
  isAllotError,
  keccak256Hex,
  SYNC_PROTOCOL,
  type SyncRequest,
  type SyncResponse,
  syncRequestCodec,
  syncResponseCodec,
  toHex,
} from '@allot/protocol'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Mempool, OrderIntake } from '../mempool/index.js'
import { request } from '../network/index.js'
import type { NodeStorage } from '../storage/index.js'

export const SYNC_MAX_REQUEST_BYTES = 64 * 1024
export const SYNC_MAX_RESPONSE_BYTES = 8 * 1024 * 1024

export function syncErrorFrame(code: string, message: string): Uint8Array {
  return encode(syncResponseCodec, { kind: 'error', code, message: message.slice(0, 1000) })
}

export interface SyncServerOptions {
  /** Requests per peer per second (a token bucket; over it: API_RATE_LIMITED). */
  perPeerPerSecond?: number
  /**
   * Answer bytes per peer per second (a token bucket that may hold one largest answer; over it:
   * API_RATE_LIMITED). A 64-byte request can draw an 8 MiB answer: without it, 50 requests a second drew
   * 400 MiB/s from one peer. Default 4 MiB/s.
   */
  perPeerBytesPerSecond?: number
  /** Clock (ms), for tests. */
  now?: () => number
  /** Envelopes of orders already decided into a batch (no longer in the mempool), for peers catching up. */
  decidedOrder?: (id: Hex) => Promise<Uint8Array | undefined>
}

/** `/allot/sync/1` (DESIGN.md "Wire"): orders by id, an id inventory, decided batches by height range. */
export function createSyncHandler(mempool: Mempool, storage: NodeStorage, o: SyncServerOptions = {}) {
  const rate = o.perPeerPerSecond ?? 50
  const byteRate = o.perPeerBytesPerSecond ?? 4 * 1024 * 1024
  const byteCap = Math.max(byteRate, SYNC_MAX_RESPONSE_BYTES)
  const clock = o.now ?? Date.now
  const buckets = new Map<string, { tokens: number; bytes: number; at: number }>()
  return async (bytes: Uint8Array, ctx: { peer: string }): Promise<Uint8Array> => {
    const now = clock()
    let b = buckets.get(ctx.peer)
    if (!b) {
      // A peer we keep no bucket for starts full. Past 4,096 peers only buckets that have refilled are
      // forgotten (forgetting one loses nothing); if none has, the newcomer waits. A flood of fresh peer
      // ids used to clear every bucket, a greedy peer's spent budget included.
      if (buckets.size >= 4096) {
        const full = Math.max(byteCap / byteRate, 1) * 1000
        for (const [k, x] of buckets) if (now - x.at >= full) buckets.delete(k)
        if (buckets.size >= 4096) return syncErrorFrame('API_RATE_LIMITED', 'too many sync peers at once')
      }
      b = { tokens: rate, bytes: byteCap, at: now }
    }
    const dt = (now - b.at) / 1000
    b.tokens = Math.min(rate, b.tokens + dt * rate)
    b.bytes = Math.min(byteCap, b.bytes + dt * byteRate)
    b.at = now
    buckets.set(ctx.peer, b)
    if (b.tokens < 1) return syncErrorFrame('API_RATE_LIMITED', 'too many sync requests')
    if (b.bytes <= 0) return syncErrorFrame('API_RATE_LIMITED', 'too many sync bytes asked')
    b.tokens -= 1
    let req: SyncRequest
    try {
      req = decode(syncRequestCodec, bytes, SYNC_MAX_REQUEST_BYTES)
    } catch (e) {
      if (e instanceof AllotError) return syncErrorFrame(e.code, e.message)
      throw e
    }
    const res = await answerSync(mempool, storage, req, o.decidedOrder)
    const out = encode(syncResponseCodec, res, SYNC_MAX_RESPONSE_BYTES)
    b.bytes -= out.length
    return out
  }
}

async function answerSync(
  mempool: Mempool,
  storage: NodeStorage,
  req: SyncRequest,
  decidedOrder?: (id: Hex) => Promise<Uint8Array | undefined>,
): Promise<SyncResponse> {
  switch (req.kind) {
    case 'ordersById': {
      const orders: Hex[] = []
      for (const id of req.ids) {
        const e = mempool.get(id.toLowerCase() as Hex)
        const bytes = e?.bytes ?? (await decidedOrder?.(id.toLowerCase() as Hex))
        if (bytes) orders.push(toHex(bytes))
      }
      return { kind: 'orders', orders }
    }
    case 'orderIds': {
      const limit = Math.max(1, Math.min(req.limit, API_LIMITS.maxSyncIds))
      const page = mempool.idsAfter(req.after, limit)
      return { kind: 'orderIds', ids: page.ids, more: page.more ? 1 : 0 }
    }
    case 'batches': {
      if (req.to < req.from) return { kind: 'error', code: 'API_BAD_REQUEST', message: 'to < from' }
      const to =
        req.to - req.from >= BigInt(API_LIMITS.maxSyncBatches)
          ? req.from + BigInt(API_LIMITS.maxSyncBatches) - 1n
          : req.to
      const batches: { height: bigint; content: Hex; certificate: Hex | null }[] = []
      for await (const [height, content] of storage.batches.entries({ gte: req.from, lte: to })) {
        const cert = await storage.certificates.get(height)
        batches.push({
          height,
          content: toHex(encode(batchContentCodec, content)),
          certificate: cert ? toHex(encode(batchCertificateCodec, cert)) : null,
        })
      }
      return { kind: 'batches', batches }
    }
  }
}

export interface SyncClientOptions {
  deadlineMs?: number
  pageSize?: number
  /** The orders are fetched because a proposal or a decided batch names them (OrderIntake.submit). */
  referenced?: boolean
}

async function syncRequest(
  host: Libp2p,
  peer: PeerId,
  req: SyncRequest,
  deadlineMs: number,
): Promise<SyncResponse> {
  const raw = await request(
    host,
    peer,
    SYNC_PROTOCOL,
    encode(syncRequestCodec, req, SYNC_MAX_REQUEST_BYTES),
    {
      deadlineMs,
      maxResponseBytes: SYNC_MAX_RESPONSE_BYTES,
    },
  )
  const res = decode(syncResponseCodec, raw, SYNC_MAX_RESPONSE_BYTES)
  if (res.kind === 'error') throw new AllotError(res.code, res.message)
  return res
}

/** The raw envelopes a peer holds for these ids (live or decided); the caller checks each against its id. */
export async function fetchEnvelopes(
  host: Libp2p,
  peer: PeerId,
  ids: Hex[],
  o: SyncClientOptions = {},
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for (let i = 0; i < ids.length; i += API_LIMITS.maxSyncIds) {
    const res = await syncRequest(
      host,
      peer,
      { kind: 'ordersById', ids: ids.slice(i, i + API_LIMITS.maxSyncIds) },
      o.deadlineMs ?? 10_000,
    )
    if (res.kind !== 'orders') throw new AllotError('WIRE_MALFORMED', 'unexpected sync answer')
    for (const h of res.orders) out.push(Buffer.from(h.slice(2), 'hex'))
  }
  return out
}

/** A peer's certificate of a decided height, if it has one (the caller verifies it). */
export async function fetchCertificate(
  host: Libp2p,
  peer: PeerId,
  height: bigint,
  o: SyncClientOptions = {},
): Promise<BatchCertificate | undefined> {
  const res = await syncRequest(
    host,
    peer,
    { kind: 'batches', from: height, to: height },
    o.deadlineMs ?? 10_000,
  )
  if (res.kind !== 'batches') throw new AllotError('WIRE_MALFORMED', 'unexpected sync answer')
  const b = res.batches.find((x) => x.height === height)
  return b?.certificate
    ? decode(batchCertificateCodec, Buffer.from(b.certificate.slice(2), 'hex'))
    : undefined
}

/**
 * The envelopes among `envelopes` whose id (keccak256 of the bytes) was asked for, each once. A peer's
 * answer carrying anything else is not taken: fetched orders skip the intake cut-off (`referenced`), so
 * a peer could otherwise plant orders in some mempools only.
 */
export function onlyAsked(asked: ReadonlySet<string>, envelopes: Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>()
  const out: Uint8Array[] = []
  for (const e of envelopes) {
    const id = keccak256Hex(e)
    if (!asked.has(id) || seen.has(id)) continue
    seen.add(id)
    out.push(e)
  }
  return out
}

/** Fetches the named orders from a peer and feeds them through intake (signatures checked as ever). */
export async function fetchOrders(
  host: Libp2p,
  peer: PeerId,
  ids: Hex[],
  intake: OrderIntake,
  o: SyncClientOptions = {},
): Promise<number> {
  return (await fetchOrdersCounted(host, peer, ids, intake, o)).added
}

/** `fetchOrders`, also telling how many of the asked orders the peer delivered (taken by intake or not). */
async function fetchOrdersCounted(
  host: Libp2p,
  peer: PeerId,
  ids: Hex[],
  intake: OrderIntake,
  o: SyncClientOptions,
): Promise<{ added: number; delivered: number }> {
  let added = 0
  let delivered = 0
  for (let i = 0; i < ids.length; i += API_LIMITS.maxSyncIds) {
    const res = await syncRequest(
      host,
      peer,
      { kind: 'ordersById', ids: ids.slice(i, i + API_LIMITS.maxSyncIds) },
      o.deadlineMs ?? 10_000,
    )
    if (res.kind !== 'orders') throw new AllotError('WIRE_MALFORMED', 'unexpected sync answer')
    const asked = new Set(ids.slice(i, i + API_LIMITS.maxSyncIds).map((id) => id.toLowerCase()))
    const envelopes = onlyAsked(
      asked,
      res.orders.map((h) => Buffer.from(h.slice(2), 'hex')),
    )
    delivered += envelopes.length
    const results = await intake.submitMany(envelopes, false, { referenced: o.referenced })
    for (const r of results) {
      if (r.status === 'fulfilled') added++
      else if (!isAllotError(r.reason)) throw r.reason
    }
  }
  return { added, delivered }
}

/**
 * Catch-up after a restart or a late join: page through a peer's order ids, fetch the ones we lack.
 * Nobody re-broadcasts; we pull. Returns how many orders were added.
 *
 * Paging stops at a peer that does not keep its word (issue 24): a page whose ids do not go on ascending
 * from the last one, or whose listed orders the peer then delivers less than half of. Before, a peer
 * answering `more` forever with ids it never delivered kept every node that connected to it paging, and
 * hashing its unasked answers, for as long as the connection lasted.
 */
export async function catchUpOrders(
  host: Libp2p,
  peer: PeerId,
  mempool: Mempool,
  intake: OrderIntake,
  o: SyncClientOptions = {},
): Promise<number> {
  const pageSize = o.pageSize ?? API_LIMITS.maxSyncIds
  let after: Hex | null = null
  let added = 0
  for (;;) {
    const res = await syncRequest(
      host,
      peer,
      { kind: 'orderIds', after, limit: pageSize },
      o.deadlineMs ?? 10_000,
    )
    if (res.kind !== 'orderIds') throw new AllotError('WIRE_MALFORMED', 'unexpected sync answer')
    let last: Hex | null = after
    for (const id of res.ids) {
      if (last !== null && !(id.toLowerCase() > last))
        throw new AllotError('WIRE_MALFORMED', 'order inventory page is not ascending after the last one')
      last = id.toLowerCase() as Hex
    }
    const missing = res.ids.filter((id) => !mempool.has(id))
    if (missing.length > 0) {
      const got = await fetchOrdersCounted(host, peer, missing, intake, o)
      added += got.added
      if (got.delivered * 2 < missing.length)
        throw new AllotError(
          'SYNC_ORDERS_UNDELIVERED',
          `peer delivered ${got.delivered} of the ${missing.length} orders it listed`,
        )
    }
    if (res.more === 0 || res.ids.length === 0) break
    after = last
  }
  return added
}
