import {
  type Address,
  AllotError,
  decodeSealedOrder,
  type Height,
  type Hex,
  type OrderStatus,
  type OrderStatusName,
  type SealedOrder,
  uninitializedBytes,
} from '@allot/protocol'
import { type BatchOp, hexKey, type NodeStorage } from '../storage/index.js'
import { TraderIndex } from './trader-index.js'

/** What the mempool keeps of an order in memory: the envelope's bytes and the fields intake indexes. */
export interface MempoolEntry {
  id: Hex
  trader: Address
  batch: Height
  /** Last batch the order may fill in (its target batch for sealed orders; `lastBatch` for plain ones). */
  expiresAfter: Height
  nonce: bigint
  /** Taken by this node's API (never evicted for room). */
  local: boolean
  receivedAt: number
  bytes: Uint8Array
}

export interface MempoolOptions {
  /** Most orders held; past it, the furthest-expiring foreign orders are evicted first. */
  maxOrders?: number
  onSizeChange?: (size: number) => void
  /** Told of each order once it is on disk (benchmarks, consensus hooks). */
  onAdded?: (entry: MempoolEntry) => void
}

/**
 * Valid orders waiting for their batch, durable in level (0x Mesh's lessons: written before it is
 * acknowledged or gossiped, survives a restart, pruned when expired, cancelled or included, bounded
 * with local orders never evicted for room).
 */
export class Mempool {
  private readonly byId = new Map<Hex, MempoolEntry>()
  /** Statuses of orders removed whose record is not on disk yet (`remove`). */
  private readonly finalizing = new Map<Hex, OrderStatus>()
  private readonly byTrader = new TraderIndex()
  /** Foreign orders by expiry, for eviction. */
  private readonly foreignByExpiry = new Map<Height, Set<Hex>>()
  private sortedIds: Hex[] | null = null
  private readonly maxOrders: number
  private pendingOps: BatchOp[] = []
  private scheduled: Promise<void> | null = null
  private readonly writing = new Set<Promise<void>>()
  /** The highest batch whose decision `markDecided` has processed (undefined: the node follows none). */
  private decidedThrough: Height | undefined

  constructor(
    private readonly storage: NodeStorage,
    private readonly opts: MempoolOptions = {},
  ) {
    this.maxOrders = opts.maxOrders ?? 200_000
  }

  /** Loads the stored mempool (after a restart). */
  async load(): Promise<number> {
    for await (const [id, stored] of this.storage.orders.entries()) {
      const bytes = hexToBytes(stored.envelope)
      let order: SealedOrder
      try {
        order = decodeSealedOrder(bytes)
      } catch {
        await this.storage.orders.del(id)
        continue
      }
      this.index(entryOf(id, order, bytes, stored.local, Number(stored.receivedAt)))
    }
    this.changed()
    return this.byId.size
  }

  get size(): number {
    return this.byId.size
  }
  has(id: Hex): boolean {
    return this.byId.has(id)
  }
  get(id: Hex): MempoolEntry | undefined {
    return this.byId.get(id)
  }
  order(id: Hex): SealedOrder | undefined {
    const e = this.byId.get(id)
    return e && decodeSealedOrder(e.bytes)
  }
  nonceOwner(trader: Address, nonce: bigint): Hex | undefined {
    return this.byTrader.nonceOwner(trader, nonce)
  }
  countFor(trader: Address, batch: Height): number {
    return this.byTrader.count(trader, batch)
  }

  /** Valid orders that may fill in batch h (targeting h, or resting remainders still within lastBatch). */
  ordersForBatch(h: Height): MempoolEntry[] {
    const out: MempoolEntry[] = []
    for (const e of this.byId.values()) if (e.batch <= h && h <= e.expiresAfter) out.push(e)
    return out
  }

  /** Order ids ascending after `after`, for sync inventories. */
  idsAfter(after: Hex | null, limit: number): { ids: Hex[]; more: boolean } {
    if (!this.sortedIds) this.sortedIds = [...this.byId.keys()].sort()
    const all = this.sortedIds
    let lo = 0
    if (after !== null) {
      let hi = all.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (all[mid] <= after) lo = mid + 1
        else hi = mid
      }
    }
    return { ids: all.slice(lo, lo + limit), more: lo + limit < all.length }
  }

  /**
   * Persists then indexes a validated order. Resolves once it is on disk (the caller acknowledges
   * and gossips only then). Throws ORDER_MEMPOOL_FULL when no foreign order can make room.
   */
  async add(added: MempoolEntry): Promise<void> {
    const [refused] = await this.addMany([added])
    if (refused) throw refused
  }

  /**
   * `add` for several orders at once, in one level batch: one refusal or null per entry, in order,
   * once the stored ones are on disk. A failed write refuses all of them (API_INTERNAL).
   */
  async addMany(added: readonly MempoolEntry[]): Promise<(AllotError | null)[]> {
    const out = new Array<AllotError | null>(added.length).fill(null)
    const ops: BatchOp[] = []
    const stored: MempoolEntry[] = []
    // after the puts: a victim may be an order stored earlier in this same batch
    const evictions: BatchOp[] = []
    let size = 0
    for (let i = 0; i < added.length; i++) {
      // The envelope is kept as a copy in Node's shared 8 kB Buffer pool: ~17 envelopes per allocation
      // instead of one small ArrayBuffer each (100k sealed orders: RSS 305 → 279 MB), and never a view
      // that would keep a whole request frame or gossip bundle alive.
      const entry = { ...added[i], bytes: Buffer.from(added[i].bytes) }
      let evicted: MempoolEntry[]
      try {
        evicted = this.makeRoom(entry)
      } catch (e) {
        out[i] = e as AllotError
        continue
      }
      size += storedOrderSize(entry.bytes)
      for (const e of evicted) evictions.push(this.storage.orders.delOp(e.id))
      this.index(entry)
      stored.push(entry)
    }
    if (stored.length === 0) return out
    // The stored values, one allocation for the batch and gone once it is written. Not from the Buffer
    // pool: a pool slab shared with the envelopes kept above would stay alive for them, holding dead
    // values (100k orders: RSS 320 MB against 273 MB).
    const values = uninitializedBytes(size)
    let at = 0
    for (const entry of stored) {
      const end = writeStoredOrder(values, at, entry.bytes, entry.local, entry.receivedAt)
      ops.push({
        type: 'put',
        sublevel: this.storage.orders.db,
        key: hexKey.encode(entry.id),
        value: values.subarray(at, end),
      })
      at = end
    }
    ops.push(...evictions)
    this.changed()
    try {
      await this.persist(ops)
    } catch (e) {
      for (const entry of stored) this.unindex(entry)
      this.changed()
      const failed = new AllotError('API_INTERNAL', `mempool write failed: ${(e as Error).message}`)
      return out.map((r) => r ?? failed)
    }
    if (this.opts.onAdded) for (const entry of stored) this.opts.onAdded(entry)
    return out
  }

  /**
   * Removes orders with a final status (cancelled, expired, included...), recording it. Until that record
   * is on disk, `finalStatus` answers for them: an order is never in neither place (a status query would
   * say ORDER_NOT_FOUND, and a replay would find it unknown).
   */
  async remove(ids: Hex[], status: OrderStatusName, extra: Partial<OrderStatus> = {}): Promise<number> {
    const ops: BatchOp[] = []
    const written: [Hex, OrderStatus][] = []
    for (const id of ids) {
      const e = this.byId.get(id)
      if (e) this.unindex(e)
      const s: OrderStatus = {
        orderId: id,
        status,
        batch: e?.batch ?? null,
        filled: null,
        txHash: null,
        error: null,
        ...extra,
      }
      this.finalizing.set(id, s)
      written.push([id, s])
      ops.push(this.storage.orders.delOp(id))
      ops.push(this.storage.orderStatus.putOp(id, s))
    }
    this.changed()
    try {
      await this.persist(ops)
    } finally {
      for (const [id, s] of written) if (this.finalizing.get(id) === s) this.finalizing.delete(id)
    }
    return ids.length
  }

  /**
   * Orders an earlier decided batch included, still here after a restart: out of the mempool, with
   * `included` recorded only where no final status is on disk yet (the batch pipeline's own, `filled` and
   * the rest, stands).
   */
  private async forgetDecided(ids: Hex[]): Promise<void> {
    const stored = await this.storage.orderStatus.getMany(ids)
    const fresh: Hex[] = []
    const ops: BatchOp[] = []
    ids.forEach((id, k) => {
      const s = stored[k]
      if (s === undefined || s.status === 'pending') fresh.push(id)
      else {
        const e = this.byId.get(id)
        if (e) this.unindex(e)
        ops.push(this.storage.orders.delOp(id))
      }
    })
    if (ops.length > 0) {
      this.changed()
      await this.persist(ops)
    }
    for (const id of fresh) {
      const b = this.byId.get(id)?.batch
      if (b !== undefined) await this.markIncluded([id], b)
    }
  }

  /** The final status of an order just removed here whose record is still being written. */
  finalStatus(id: Hex): OrderStatus | undefined {
    return this.finalizing.get(id)
  }

  async markIncluded(ids: Hex[], height: Height): Promise<void> {
    await this.remove(ids, 'included', { batch: height })
  }

  /**
   * Batch `height` was decided with `included`: those orders are included, and every other order held for
   * that batch or an earlier one can no longer be (a proposal takes an envelope only at its own batch), so it
   * ends `expired` at once with the reason, ORDER_MISSED_BATCH, rather than waiting to be pruned as
   * ORDER_EXPIRED: a client learns within a batch that it must seal the order again for a later one.
   */
  async markDecided(included: readonly Hex[], height: Height): Promise<{ missed: Hex[] }> {
    if (this.decidedThrough === undefined || height > this.decidedThrough) this.decidedThrough = height
    const inBatch = new Set(included)
    let missed: Hex[] = []
    for (const e of this.byId.values()) if (e.batch <= height && !inBatch.has(e.id)) missed.push(e.id)
    // An order its own, earlier batch did include: that decision was made before a restart, the node
    // died before this was told it, and a decision is not told twice. Its batch's processing writes its
    // status (`filled`, …), maybe already has: it only leaves the mempool here (found by the devnet crash
    // drill, where such an order ended `expired` over its `filled`).
    const earlier = new Map<Height, Hex[]>()
    for (const id of missed) {
      const b = this.byId.get(id)?.batch
      if (b !== undefined && b < height) earlier.set(b, [...(earlier.get(b) ?? []), id])
    }
    if (earlier.size > 0) {
      const decidedEarlier = new Set<Hex>()
      for (const [b, ids] of earlier) {
        const content = await this.storage.batches.get(b).catch(() => undefined)
        if (!content) continue
        const named = new Set(content.orderIds)
        for (const id of ids) if (named.has(id)) decidedEarlier.add(id)
      }
      if (decidedEarlier.size > 0) {
        missed = missed.filter((id) => !decidedEarlier.has(id))
        await this.forgetDecided([...decidedEarlier])
      }
    }
    await Promise.all([
      this.markIncluded([...included], height),
      missed.length > 0
        ? this.remove(missed, 'expired', {
            error: {
              code: 'ORDER_MISSED_BATCH',
              message: `batch ${height} was decided without it: it reached the proposer too late (or the batch was full)`,
            },
          })
        : undefined,
    ])
    return { missed }
  }

  /**
   * Prunes orders whose last batch is below `beforeBatch` as expired. Once the node follows decisions
   * (`markDecided`), never past the last decision it has processed: consensus moves the schedule's height
   * on at once but hands decisions over in turn, and on a loaded node the prune timer ran ahead of them —
   * it expired orders (ORDER_EXPIRED) that the decision then found included, or missed (found by the
   * devnet bench: 62 of 800 orders).
   */
  async pruneExpired(beforeBatch: Height): Promise<number> {
    if (this.decidedThrough !== undefined && beforeBatch > this.decidedThrough + 1n)
      beforeBatch = this.decidedThrough + 1n
    const ids: Hex[] = []
    for (const e of this.byId.values()) if (e.expiresAfter < beforeBatch) ids.push(e.id)
    // The status says why (an acknowledged order ends with a reason): found by the devnet's rolling
    // restart, where an order a validator took just before it was killed outlived its batch.
    if (ids.length > 0)
      await this.remove(ids, 'expired', {
        error: {
          code: 'ORDER_EXPIRED',
          message: `no decided batch up to its last batch included it (it was pruned before batch ${beforeBatch})`,
        },
      })
    return ids.length
  }

  /** Waits for every write queued so far. */
  async flush(): Promise<void> {
    await this.persist([])
    await Promise.all(this.writing)
  }

  // Writes queued in one macrotask go to level as one batch: intake throughput without giving up
  // "on disk before acknowledged".
  private persist(ops: BatchOp[]): Promise<void> {
    this.pendingOps.push(...ops)
    if (!this.scheduled) {
      this.scheduled = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          const batch = this.pendingOps
          this.pendingOps = []
          this.scheduled = null
          const w = this.storage.write(batch)
          this.writing.add(w)
          w.then(resolve, reject).finally(() => this.writing.delete(w))
        })
      })
    }
    return this.scheduled
  }

  private makeRoom(incoming: MempoolEntry): MempoolEntry[] {
    if (this.byId.size < this.maxOrders) return []
    let worst: Height | null = null
    for (const [h, set] of this.foreignByExpiry) if (set.size > 0 && (worst === null || h > worst)) worst = h
    if (worst === null || (!incoming.local && incoming.expiresAfter >= worst)) {
      throw new AllotError('ORDER_MEMPOOL_FULL', `mempool holds ${this.byId.size} orders`)
    }
    const set = this.foreignByExpiry.get(worst) as Set<Hex>
    const victim = this.byId.get(set.values().next().value as Hex) as MempoolEntry
    this.unindex(victim)
    return [victim]
  }

  private index(e: MempoolEntry): void {
    this.byId.set(e.id, e)
    this.byTrader.add(e.trader, e.nonce, e.batch, e.id)
    if (!e.local) {
      let set = this.foreignByExpiry.get(e.expiresAfter)
      if (!set) this.foreignByExpiry.set(e.expiresAfter, (set = new Set()))
      set.add(e.id)
    }
    this.sortedIds = null
  }

  private unindex(e: MempoolEntry): void {
    if (!this.byId.delete(e.id)) return
    this.byTrader.remove(e.trader, e.nonce, e.batch, e.id)
    const set = this.foreignByExpiry.get(e.expiresAfter)
    if (set) {
      set.delete(e.id)
      if (set.size === 0) this.foreignByExpiry.delete(e.expiresAfter)
    }
    this.sortedIds = null
  }

  private changed(): void {
    this.opts.onSizeChange?.(this.byId.size)
  }
}

/**
 * `encode(storedOrderCodec, { envelope, local, receivedAt })` written straight from the envelope's
 * bytes: the codec takes the envelope as hex, and the round trip through a hex string was a third of
 * intake's main-thread time in a burst (cpu profile). Layout: u32 length, the bytes, a bool byte,
 * u64 big-endian; a unit test checks it against the codec.
 */
export function storedOrderBytes(envelope: Uint8Array, local: boolean, receivedAt: number): Uint8Array {
  const out = new Uint8Array(storedOrderSize(envelope))
  writeStoredOrder(out, 0, envelope, local, receivedAt)
  return out
}

function storedOrderSize(envelope: Uint8Array): number {
  return 4 + envelope.length + 1 + 8
}

/** `storedOrderBytes` written into out at `at`; returns the end. */
function writeStoredOrder(
  out: Uint8Array,
  at: number,
  envelope: Uint8Array,
  local: boolean,
  receivedAt: number,
): number {
  const n = envelope.length
  const hi = Math.floor(receivedAt / 0x100000000)
  const lo = receivedAt >>> 0
  out[at] = n >>> 24
  out[at + 1] = (n >>> 16) & 0xff
  out[at + 2] = (n >>> 8) & 0xff
  out[at + 3] = n & 0xff
  out.set(envelope, at + 4)
  at += 4 + n
  out[at] = local ? 1 : 0
  for (let k = 0; k < 4; k++) {
    out[at + 1 + k] = (hi >>> (24 - 8 * k)) & 0xff
    out[at + 5 + k] = (lo >>> (24 - 8 * k)) & 0xff
  }
  return at + 9
}

export function entryOf(
  id: Hex,
  o: SealedOrder,
  bytes: Uint8Array,
  local: boolean,
  receivedAt: number,
): MempoolEntry {
  return {
    id,
    trader: o.trader.toLowerCase() as Address,
    batch: o.batch,
    expiresAfter: o.payload.kind === 'plain' ? o.payload.order.order.lastBatch : o.batch,
    nonce: o.nonce,
    local,
    receivedAt,
    bytes,
  }
}

function hexToBytes(h: Hex): Uint8Array {
  return Buffer.from(h.slice(2), 'hex')
}
