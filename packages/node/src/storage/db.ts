import { EventEmitter } from 'node:events'
import {
  type BatchCertificate,
  type BatchContent,
  type BatchView,
  batchCertificateCodec,
  batchContentCodec,
  batchViewCodec,
  bool,
  bytes,
  type Codec,
  decode,
  encode,
  LIMITS,
  type OrderStatus,
  orderStatusCodec,
  struct,
  u64,
} from '@allot/protocol'
import { Level } from 'level'
import { IdFilter } from './id-filter.js'

// A bucket's type, named through `level`'s own declarations: the emitted .d.ts cannot name
// abstract-level's AbstractSublevel, a package @allot/node does not depend on directly.
declare const levelOfBuckets: Level<string, Uint8Array>
type Sub = ReturnType<typeof levelOfBuckets.sublevel<string, Uint8Array>>

function openBucket(db: Level<string, Uint8Array>, name: string): Sub {
  return db.sublevel<string, Uint8Array>(name, { valueEncoding: 'view' })
}

/** How a repository turns its keys into level keys that sort like the keys do. */
export interface KeyCodec<K> {
  encode(k: K): string
  decode(s: string): K
}

/** Hex ids as level keys (0x-less lowercase, so they sort by bytes). */
export const hexKey: KeyCodec<`0x${string}`> = {
  encode: (k) => k.slice(2).toLowerCase(),
  decode: (s) => `0x${s}`,
}

/** Heights as fixed-width hex so level's lexicographic order is numeric order. */
export const heightKey: KeyCodec<bigint> = {
  encode: (k) => k.toString(16).padStart(16, '0'),
  decode: (s) => BigInt(`0x${s}`),
}

export const stringKey: KeyCodec<string> = { encode: (k) => k, decode: (s) => s }

/** A typed bucket over one level database (STYLE.md: repositories per bucket, never raw keys). */
export class Repository<K, V> {
  /** `onPut`: told of each key as it is put or a put is prepared (`putOp`), before the write lands. */
  constructor(
    readonly db: Sub,
    private readonly key: KeyCodec<K>,
    private readonly value: Codec<V>,
    private readonly onPut?: (k: K) => void,
  ) {}

  async get(k: K): Promise<V | undefined> {
    const raw = await this.db.get(this.key.encode(k))
    return raw === undefined ? undefined : decode(this.value, raw)
  }
  async getMany(ks: K[]): Promise<(V | undefined)[]> {
    const raws = await this.db.getMany(ks.map((k) => this.key.encode(k)))
    return raws.map((r) => (r === undefined ? undefined : decode(this.value, r)))
  }
  async put(k: K, v: V): Promise<void> {
    this.onPut?.(k)
    await this.db.put(this.key.encode(k), encode(this.value, v))
  }
  async del(k: K): Promise<void> {
    await this.db.del(this.key.encode(k))
  }
  putOp(k: K, v: V): BatchOp {
    this.onPut?.(k)
    return { type: 'put', sublevel: this.db, key: this.key.encode(k), value: encode(this.value, v) }
  }
  delOp(k: K): BatchOp {
    return { type: 'del', sublevel: this.db, key: this.key.encode(k) }
  }
  async *entries(
    opts: { gt?: K; gte?: K; lte?: K; limit?: number; reverse?: boolean } = {},
  ): AsyncGenerator<[K, V]> {
    const o: Record<string, unknown> = {}
    if (opts.gt !== undefined) o.gt = this.key.encode(opts.gt)
    if (opts.gte !== undefined) o.gte = this.key.encode(opts.gte)
    if (opts.lte !== undefined) o.lte = this.key.encode(opts.lte)
    if (opts.limit !== undefined) o.limit = opts.limit
    if (opts.reverse) o.reverse = true
    for await (const [k, v] of this.db.iterator(o as { limit?: number }))
      yield [this.key.decode(k), decode(this.value, v)]
  }
  async last(): Promise<[K, V] | undefined> {
    for await (const e of this.entries({ reverse: true, limit: 1 })) return e
    return undefined
  }
}

export type BatchOp =
  | { type: 'put'; sublevel: Sub; key: string; value: Uint8Array }
  | { type: 'del'; sublevel: Sub; key: string }

/** A mempool order as stored: the encoded envelope, whether this node's API took it, and when. */
export const storedOrderCodec = struct('StoredOrder', {
  envelope: bytes(LIMITS.maxSealedOrderBytes),
  local: bool,
  receivedAt: u64,
})
export interface StoredOrder {
  envelope: `0x${string}`
  local: boolean
  receivedAt: bigint
}

export interface NodeStorageEvents {
  finalized: [BatchView]
}

/**
 * The node's one level database and its buckets. Consensus writes `batches` (decided content),
 * `results` (the cleared batch as `batch show` prints it) and `certificates`; the mempool writes
 * `orders` and `orderStatus`. `recordFinalized` is the hook the API's batch stream listens to.
 */
export class NodeStorage extends EventEmitter<NodeStorageEvents> {
  readonly orders: Repository<`0x${string}`, StoredOrder>
  readonly orderStatus: Repository<`0x${string}`, OrderStatus>
  readonly batches: Repository<bigint, BatchContent>
  readonly results: Repository<bigint, BatchView>
  readonly certificates: Repository<bigint, BatchCertificate>

  private constructor(
    readonly db: Level<string, Uint8Array>,
    /** Every order id with a stored status, as a Bloom filter (`mayHaveStatus`). */
    private readonly statusIds: IdFilter,
  ) {
    super()
    const sub = (name: string) => openBucket(db, name)
    this.orders = new Repository(sub('orders'), hexKey, storedOrderCodec as Codec<StoredOrder>)
    this.orderStatus = new Repository(sub('order-status'), hexKey, orderStatusCodec, (id) =>
      statusIds.add(id),
    )
    this.batches = new Repository(sub('batches'), heightKey, batchContentCodec)
    this.results = new Repository(sub('results'), heightKey, batchViewCodec)
    this.certificates = new Repository(sub('certificates'), heightKey, batchCertificateCodec)
  }

  /** `statusFilterMinBits`: the status filter's least size as a power of two (tests make it small). */
  static async open(path: string, o: { statusFilterMinBits?: number } = {}): Promise<NodeStorage> {
    const db = new Level<string, Uint8Array>(path, { valueEncoding: 'view' })
    await db.open()
    return new NodeStorage(db, await statusIdsOf(openBucket(db, 'order-status'), o.statusFilterMinBits))
  }

  /**
   * False only if no status was ever stored for this order (this run's writes, and what the database
   * held when opened); true means "look it up". Sized when the database opens (16 bits per stored
   * status, at least 2 MiB): past that many new statuses in one run, "maybe" comes more often and more
   * lookups go to level — still exact, only slower; a restart sizes it again.
   */
  mayHaveStatus(id: `0x${string}`): boolean {
    return this.statusIds.mayContain(id)
  }

  /**
   * Applies several repository operations atomically. `sync`: flushed to stable storage (fsync) before
   * it resolves, so it survives a power loss, not only a crash of the process (CometBFT's `WriteSync`).
   */
  async write(ops: BatchOp[], o: { sync?: boolean } = {}): Promise<void> {
    if (ops.length === 0) return
    // biome-ignore lint/suspicious/noExplicitAny: abstract-level's batch op typing does not model sublevels of another encoding
    await this.db.batch(ops as any, { sync: o.sync === true })
  }

  /** Consensus calls this once a batch is decided, solved and certified; API watchers are told. */
  async recordFinalized(view: BatchView): Promise<void> {
    await this.results.put(view.height, view)
    this.emit('finalized', view)
  }

  async latestFinalized(): Promise<BatchView | undefined> {
    return (await this.results.last())?.[1]
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}

/**
 * A bucket's keys (hex ids) in a filter sized for them: one pass into the smallest filter, and a
 * second into a larger one only if they overflow it.
 */
async function statusIdsOf(bucket: Sub, minLog2Bits?: number): Promise<IdFilter> {
  let filter = IdFilter.sizedFor(0, minLog2Bits)
  for await (const k of bucket.keys()) filter.add(k)
  if (filter.added > filter.capacity) {
    const n = filter.added
    filter = IdFilter.sizedFor(n, minLog2Bits)
    for await (const k of bucket.keys()) filter.add(k)
  }
  return filter
}
