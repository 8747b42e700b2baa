import {
  type Address,
  AllotError,
  type AssetId,
  type BatchCertificate,
  type BatchContent,
  type BatchView,
  batchHashOf,
  type ClearingResult,
  type ClearingSettings,
  decodeSealedOrder,
  type ExportedBatch,
  type Hex,
  type NetworkDomain,
  type OrderStatus,
  orderDigest,
  orderIdOf,
  type PenaltyEvidence,
  rawBytes,
  resultHashOf,
  type SignedOrder,
  signedOrderCodec,
  struct,
  toHex,
  u64,
  u256,
} from '@allot/protocol'
import { clearBatch, type SolverOrder } from '@allot/solver'
import type { Logger } from 'pino'
import type { Genesis } from '../config/index.js'
import { type Mempool, payloadHashBytes } from '../mempool/index.js'
import type { BatchMetrics } from '../metrics/index.js'
import { maxPenaltiesFor } from '../settlement/limits.js'
import { type BatchOp, heightKey, hexKey, type NodeStorage, Repository } from '../storage/index.js'
import { exportedBatchOf } from './export.js'
import {
  type BatchBalances,
  type BatchBook,
  batchBalancesCodec,
  batchBookCodec,
  type ProcessedBatch,
  processedBatchCodec,
} from './record.js'
import { innerOrderError, isExhausted } from './rules.js'
import { type BatchOpener, type InvalidOrder, plainOpener } from './unseal.js'

/**
 * The chain as a batch reads it (DESIGN.md step 4): balances at `chainRef`, and which heights the
 * contract had settled by then, so each node adds the effects of decided batches not yet settled
 * there — a view every node computes identically.
 */
export interface ChainView {
  /** Escrow minus pending withdrawals at `chainRef`. */
  available(trader: Address, asset: AssetId, chainRef: bigint): Promise<bigint>
  /** The contract's last settled height as of block `chainRef`. */
  settledHeightAt(chainRef: bigint): Promise<bigint>
  /**
   * The block of the latest withdrawal request at or before `chainRef` that no settled batch has served yet
   * (the contract's last settled chainRef is below it, as of `chainRef`), or null. Such a request is
   * claimable only once a batch with a later chainRef settles (docs/settlement.md "Withdrawals").
   */
  withdrawalAwaitingSettlement?(chainRef: bigint): Promise<bigint | null>
  /**
   * The block at which each order's trader invalidated it on chain (`invalidateOrder`), as of `chainRef`
   * (0n: not invalidated). An order invalidated at or before a batch's chainRef is left out of it.
   */
  invalidatedAt?(orders: { trader: Address; digest: Hex }[], chainRef: bigint): Promise<bigint[]>
  /**
   * Heights the contract voided (`BatchVoided`: certified against a block before the last escape) in
   * blocks `from`…`to`, both included. Their fills never happened: remainders get them back.
   */
  voidedBetween?(from: bigint, to: bigint): Promise<bigint[]>
}

/** Submits certified batches on chain; absent on nodes that do not settle. */
export interface Settler {
  settle(
    result: ClearingResult,
    certificate: BatchCertificate,
    proposer: Address,
  ): Promise<{ txHash: Hex } | null>
  /** Height → the tx that settled or voided it on chain (by anyone), since the last call. */
  settledSince(): Promise<Map<bigint, { txHash: Hex; status: 'settled' | 'voided' }>>
}

export interface BatchPipelineOptions {
  genesis: Genesis
  domain: NetworkDomain
  storage: NodeStorage
  mempool: Mempool
  chain: ChainView
  /**
   * Signs and gossips our result (the consensus service's `attest`); absent on non-validating nodes,
   * which follow certificates. Certificates come back through `certified()`.
   */
  attest?: (height: bigint, resultHash: Hex) => Promise<void>
  opener?: BatchOpener
  settler?: Settler
  logger: Logger
  onAlarm?: (kind: 'result-mismatch', height: bigint) => void
  /** Told when a batch is seen settled on chain. */
  onSettled?: (height: bigint) => void
  /**
   * Catch-up for a node that missed part of a batch's life (a restart): envelopes of decided orders it
   * lacks, and the certificate of a height whose attestations it did not see. Both are checked here
   * (each envelope against its id, the certificate against the validator set) before use.
   */
  peers?: {
    envelopes(ids: Hex[]): Promise<Uint8Array[]>
    certificate(height: bigint): Promise<BatchCertificate | undefined>
  }
  /** Checks a certificate's signatures (consensus `verifyCertificate` with the network's domain). */
  verifyCertificate?: (cert: BatchCertificate) => boolean
  /**
   * The proposer of a decided height (from its stored commit), for heights processed from storage
   * (decided before a restart, processed after): it submits the batch first.
   */
  proposerOf?: (height: bigint) => Promise<Address | undefined>
  /** First wait before a height whose processing failed is tried again (doubling, at most 30 s). */
  retryMs?: number
  /**
   * Fault injection for the crash drill (CometBFT's `libs/fail`): called before and after each of the
   * pipeline's writes; the drill's node kills itself there (run.ts, `ALLOT_FAIL_AT`).
   */
  faultPoint?: (point: FaultPoint, height: bigint, orders: number) => void
  /** Orders, fills, penalties, unseal and solve time, objective (metrics/batch.ts). */
  metrics?: BatchMetrics
}

/** Where a crash can split a batch's life: before and after each write. */
export const FAULT_POINTS = [
  'process:before-write',
  'process:after-write',
  'finalize:before-write',
  'finalize:after-write',
] as const
export type FaultPoint = (typeof FAULT_POINTS)[number]

/** A resting remainder: public since its first batch, it may fill until its lastBatch. */
const restingCodec = struct('RestingOrder', {
  order: signedOrderCodec,
  sold: u256,
  bought: u256,
  fee: u256,
  /** The last height it traded in (its status names it). */
  lastFill: u64,
})
type Resting = { order: SignedOrder; sold: bigint; bought: bigint; fee: bigint; lastFill: bigint }

/**
 * Processed records kept in memory: the balance view of a batch reads those not yet settled at its chainRef,
 * usually a few. A record holds the batch's fills, up to ~300 kB for 1,000 orders, so older ones are read
 * from disk when needed.
 */
const RECENT = 64n
/** Processed records this far below the last height seen settled on chain are deleted. */
const KEEP_SETTLED = 4096n
/** Decided heights this far past the last processed one keep their envelopes in memory. */
const INBOX_AHEAD = 64n
const NO_PROPOSER: Address = '0x0000000000000000000000000000000000000000'

/**
 * The life of a decided batch (DESIGN.md steps 3–6): open its orders, clear it with the solver on the
 * deterministic balance view, sign the result, gather a quorum of matching signatures into the
 * certificate, record fills and statuses, and hand the certified batch to settlement.
 *
 * A batch's result is a pure function of decided data (docs/batch.md "What a batch's result depends
 * on"): its decided content, the records of the heights before it, and the chain at its chainRef. Heights
 * are processed strictly in order, none skipped — a height that fails (an envelope or shares not yet
 * fetched, a chain read) is tried again until it succeeds — and each height's record and the resting
 * remainders it changes land in one atomic write. Certificates only finalize (statuses, the batch view,
 * settlement); they never feed a later result, so when they arrive does not matter.
 */
export class BatchPipeline {
  /** Certificates that arrived before our own result for their height. */
  private readonly early = new Map<bigint, BatchCertificate>()
  /** Records of the last RECENT processed heights (all of them are on disk). */
  private readonly recent = new Map<bigint, ProcessedBatch>()
  /** Decided heights not processed yet, with the envelopes the mempool held at the decision. */
  private readonly inbox = new Map<
    bigint,
    { content: BatchContent; proposer: Address; envelopes: Map<Hex, Uint8Array> }
  >()
  /** Callers of `decided` waiting for their height. */
  private readonly waiters = new Map<bigint, { resolve: () => void; reject: (e: unknown) => void }[]>()
  private target = 0n
  private finalizing: Promise<void> = Promise.resolve()
  /** Heights seen settled or voided on chain before we finalized them. */
  private readonly seenOnChain = new Map<bigint, { txHash: Hex; status: 'settled' | 'voided' }>()
  private running: Promise<void> | undefined
  private readonly resting: Repository<Hex, Resting>
  private readonly decidedOrders: Repository<Hex, Uint8Array>
  private readonly processed: Repository<bigint, ProcessedBatch>
  /** The book each height was cleared on, for readers (the gateway's explorer); pruned with `processed`. */
  private readonly books: Repository<bigint, BatchBook>
  /** The balances each height was cleared with, for `batchExport`; pruned with `processed`. */
  private readonly bookBalances: Repository<bigint, BatchBalances>
  /** The height whose finalization last wrote an order's status (finalizations may come in any order). */
  private readonly statusHeight: Repository<Hex, bigint>
  private readonly assets: Set<AssetId>
  private readonly resources: Set<string>
  private settledPoll: NodeJS.Timeout | undefined
  /** Certificate look-ups and retry pauses pending: cleared on stop, so none runs on a closed store. */
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly wakers = new Set<() => void>()
  private stopped = false
  /** The last height processed (its record written). */
  lastProcessed = 0n
  lastCertified = 0n
  lastSettled = 0n
  /** The last processed height that is sent to the contract: the next result's `prevHeight`. */
  private lastSettlementNeeded = 0n
  /** Processed records at or below it are deleted. */
  private prunedThrough = 0n

  constructor(private readonly o: BatchPipelineOptions) {
    const sub = (name: string) => o.storage.db.sublevel<string, Uint8Array>(name, { valueEncoding: 'view' })
    this.resting = new Repository(sub('resting'), hexKey, restingCodec)
    this.decidedOrders = new Repository(sub('decided-orders'), hexKey, rawBytes(8192))
    this.processed = new Repository(sub('processed'), heightKey, processedBatchCodec)
    this.books = new Repository(sub('batch-books'), heightKey, batchBookCodec)
    this.bookBalances = new Repository(sub('batch-balances'), heightKey, batchBalancesCodec)
    this.statusHeight = new Repository(sub('status-height'), hexKey, u64)
    this.assets = new Set(o.genesis.assets.map((a) => a.id))
    this.resources = new Set(o.genesis.assets.filter((a) => a.kind === 'resource').map((a) => a.id as string))
  }

  async start(): Promise<void> {
    for await (const [h, rec] of this.processed.entries({ reverse: true, limit: Number(RECENT) })) {
      if (this.recent.size === 0) {
        // The last record: where processing resumes, and the next result's prevHeight.
        this.lastProcessed = h
        this.target = h
        this.lastSettlementNeeded = rec.settle ? h : rec.result.prevHeight
      }
      this.recent.set(h, rec)
    }
    const finalized = await this.o.storage.results.last()
    if (finalized) this.lastCertified = finalized[0]
    for await (const [h, view] of this.o.storage.results.entries({ reverse: true, limit: 64 })) {
      if (view.settlement && h > this.lastSettled) this.lastSettled = h
    }
    if (this.o.settler) {
      this.settledPoll = setInterval(
        () => void this.pollSettled(),
        Math.max(500, this.o.genesis.batchIntervalMs),
      )
      this.settledPoll.unref()
    }
  }

  /**
   * After a restart, once consensus runs: processes the heights consensus decided (and stored) that we
   * had not processed, and finishes the ones processed but not finalized — the certificate we hold is
   * applied, or our result is attested again and the certificate awaited.
   */
  async resume(): Promise<void> {
    for (const [h, rec] of [...this.recent.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (this.stopped) return
      if (await this.o.storage.results.get(h)) continue
      const cert = this.early.get(h) ?? (await this.o.storage.certificates.get(h))
      if (cert) await this.certified(cert)
      else {
        await this.o.attest?.(h, rec.resultHash).catch(() => {})
        this.awaitCertificate(h)
      }
    }
    const decided = await this.o.storage.batches.last()
    if (decided) this.kick(decided[0])
  }

  /**
   * Stops for real: the settlement poll and every pause end, callers waiting on a height are told
   * NODE_STOPPING, and the height and the certificate under way are awaited (the store closes after).
   * An opener's wait for key shares and a settlement's takeover wait are ended by their own signal (run.ts).
   */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.settledPoll)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const wake of this.wakers) wake()
    this.wakers.clear()
    const stopped = new AllotError('NODE_STOPPING', 'the batch pipeline stopped')
    for (const ws of this.waiters.values()) for (const w of ws) w.reject(stopped)
    this.waiters.clear()
    await this.running?.catch(() => {})
    await this.finalizing.catch(() => {})
  }

  /**
   * Consensus decided (and stored) `content` at its height, proposed by `proposer`. The decided envelopes
   * are taken from the mempool now, synchronously (the orders leave it once decided). Resolves once the
   * height is processed; rejects if an attempt at it (or at a height before it) fails — the pipeline
   * itself keeps trying.
   */
  decided(content: BatchContent, proposer: Address): Promise<void> {
    const h = content.height
    if (h <= this.lastProcessed) return Promise.resolve()
    if (this.stopped) return Promise.reject(new AllotError('NODE_STOPPING', 'the batch pipeline stopped'))
    // Kept in memory only near the height at work: a pipeline stuck far behind (a batch it cannot open yet)
    // would otherwise hold every later batch's envelopes. Further ones are read from storage (the
    // content), decided orders and peers when their turn comes.
    if (h <= this.lastProcessed + INBOX_AHEAD) {
      const envelopes = new Map<Hex, Uint8Array>()
      for (const id of content.orderIds) {
        const e = this.o.mempool.get(id)
        if (e) envelopes.set(id, e.bytes)
      }
      this.inbox.set(h, { content, proposer, envelopes })
    }
    const done = new Promise<void>((resolve, reject) => {
      const ws = this.waiters.get(h) ?? []
      ws.push({ resolve, reject })
      this.waiters.set(h, ws)
    })
    this.kick(h)
    return done
  }

  /** Resolves once every decided height told so far is processed and every certificate applied (tests). */
  async idle(): Promise<void> {
    while (this.running || this.target > this.lastProcessed) {
      if (this.stopped) return
      await (this.running ?? this.pause(1))
    }
    let f: Promise<void> | undefined
    while (f !== this.finalizing) {
      f = this.finalizing
      await f
    }
  }

  /** The envelope of an order decided into a batch here (served to peers catching up). */
  async decidedOrder(id: Hex): Promise<Uint8Array | undefined> {
    return this.decidedOrders.get(id)
  }

  /** Our result at a processed height (what we attested), or undefined. */
  async resultAt(h: bigint): Promise<{ result: ClearingResult; resultHash: Hex } | undefined> {
    const rec = await this.recordAt(h)
    return rec && { result: rec.result, resultHash: rec.resultHash }
  }

  /** The orders a processed height was cleared on and the solver's objective (the explorer's curves). */
  async bookAt(h: bigint): Promise<BatchBook | undefined> {
    return this.books.get(h)
  }

  /**
   * A processed height as `batchExport` serves it (docs/backtest.md "Recorded history"); undefined when it
   * is not processed here or its records were pruned.
   */
  async exportAt(h: bigint): Promise<ExportedBatch | undefined> {
    if (h < 1n || h > this.lastProcessed) return undefined
    const [rec, book, content, view, balances] = await Promise.all([
      this.recordAt(h),
      this.books.get(h),
      this.o.storage.batches.get(h),
      this.o.storage.results.get(h),
      this.bookBalances.get(h),
    ])
    if (!rec || !book || !content) return undefined
    return exportedBatchOf(content, book, rec, view, balances)
  }

  /** The genesis settings the solver clears with: a replay of an export needs them. */
  clearingSettings(): ClearingSettings {
    const g = this.o.genesis
    return { feeBps: g.feeBps, maxFillsPerBatch: g.maxFillsPerBatch, batchIntervalMs: g.batchIntervalMs }
  }

  private async recordAt(h: bigint): Promise<ProcessedBatch | undefined> {
    return this.recent.get(h) ?? (h <= this.lastProcessed ? await this.processed.get(h) : undefined)
  }

  /** Processes every decided height up to `upTo`, in order (one runner at a time). */
  private kick(upTo: bigint): void {
    if (upTo > this.target) this.target = upTo
    if (this.running || this.stopped) return
    this.running = this.drain().finally(() => {
      this.running = undefined
      if (!this.stopped && this.target > this.lastProcessed) this.kick(this.target)
    })
  }

  private async drain(): Promise<void> {
    let failures = 0
    while (!this.stopped && this.lastProcessed < this.target) {
      const h = this.lastProcessed + 1n
      try {
        await this.processHeight(h)
        failures = 0
        for (const [k, ws] of this.waiters) {
          if (k > h) continue
          for (const w of ws) w.resolve()
          this.waiters.delete(k)
        }
      } catch (e) {
        if (this.stopped) return
        failures++
        this.o.logger.error(
          { height: h.toString(), attempt: failures, err: (e as Error).message },
          'batch processing failed; trying again',
        )
        for (const ws of this.waiters.values()) for (const w of ws) w.reject(e)
        this.waiters.clear()
        await this.pause(Math.min(30_000, (this.o.retryMs ?? 500) * 2 ** Math.min(failures - 1, 16)))
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t)
        this.timers.delete(t)
        this.wakers.delete(wake)
        resolve()
      }
      const t = setTimeout(wake, ms)
      this.timers.add(t)
      this.wakers.add(wake)
    })
  }

  /** One decided height, from the inbox (told by consensus) or from storage (decided before a restart). */
  private async processHeight(h: bigint): Promise<void> {
    let entry = this.inbox.get(h)
    if (!entry) {
      const content = await this.o.storage.batches.get(h)
      if (!content) throw new AllotError('BATCH_NOT_DECIDED', `height ${h} is not decided here yet`)
      const proposer = (await this.o.proposerOf?.(h).catch(() => undefined)) ?? NO_PROPOSER
      const envelopes = new Map<Hex, Uint8Array>()
      for (const id of content.orderIds) {
        const e = this.o.mempool.get(id)
        const raw = e ? e.bytes : await this.decidedOrders.get(id)
        if (raw !== undefined) envelopes.set(id, raw)
      }
      entry = { content, proposer, envelopes }
      this.inbox.set(h, entry)
    }
    const { content, proposer, envelopes } = entry
    const missing = content.orderIds.filter((id) => !envelopes.has(id))
    if (missing.length > 0) await this.fetchEnvelopes(missing, envelopes)
    const absent = content.orderIds.find((id) => !envelopes.has(id))
    if (absent)
      throw new AllotError('BATCH_MISSING_ORDER', `decided order ${absent} is held by no peer we asked`)
    await this.process(
      content,
      proposer,
      content.orderIds.map((id) => envelopes.get(id) as Uint8Array),
    )
    this.inbox.delete(h)
    this.awaitCertificate(h)
  }

  private async fetchEnvelopes(ids: Hex[], into: Map<Hex, Uint8Array>): Promise<void> {
    if (!this.o.peers) return
    const want = new Set(ids)
    for (const bytes of await this.o.peers.envelopes(ids).catch(() => [] as Uint8Array[])) {
      try {
        const id = orderIdOf(decodeSealedOrder(bytes))
        if (want.has(id)) into.set(id, bytes)
      } catch {
        // a peer's junk is ignored; another peer may answer
      }
    }
  }

  /**
   * A height whose attestations we did not see (we were down, or late) never certifies from gossip:
   * after a grace period, ask peers for its certificate and adopt it once its signatures check out.
   */
  private awaitCertificate(h: bigint): void {
    if (!this.o.peers || !this.o.verifyCertificate) return
    const grace = Math.max(1000, 2 * this.o.genesis.batchIntervalMs)
    const t = setTimeout(async () => {
      this.timers.delete(t)
      if (this.stopped) return
      if (await this.o.storage.results.get(h).catch(() => undefined)) return
      const cert = await this.o.peers?.certificate(h).catch(() => undefined)
      if (cert && cert.height === h && this.o.verifyCertificate?.(cert))
        await this.certified(cert).catch(() => {})
      else if (!this.stopped) this.awaitCertificate(h)
    }, grace)
    t.unref()
    this.timers.add(t)
  }

  private async process(content: BatchContent, proposer: Address, bytes: Uint8Array[]): Promise<void> {
    const h = content.height
    const log = this.o.logger.child({ height: h.toString() })
    // Nothing in memory changes until the one write below lands: a failed attempt is retried from scratch.
    const ops: BatchOp[] = []
    // 1. The decided envelopes (consensus stored the content), kept by id for peers catching up.
    const envelopes = content.orderIds.map((id, i) => ({ id, envelope: decodeSealedOrder(bytes[i]) }))
    for (let i = 0; i < bytes.length; i++) ops.push(this.decidedOrders.putOp(content.orderIds[i], bytes[i]))

    // 2. One envelope per (trader, nonce), and at most the per-trader cap: a trader who signed two envelopes
    // of one nonce, or split its cap across validators, may get both halves into a batch (intake takes
    // what a proposal names, docs/consensus.md "Who can do what"). The lowest ids are kept; the rest are
    // refused unopened and charged, each with its own signed envelope as evidence.
    const { kept, refused } = oneEnvelopePerNonce(envelopes, this.o.genesis.perTraderMaxOrdersPerBatch)
    // 3. Open them (unsealing), and check what only the plaintext shows.
    const openStarted = performance.now()
    const { opened, invalid } = await (this.o.opener ?? plainOpener).open(h, kept)
    const unsealMs = performance.now() - openStarted
    const rejected: InvalidOrder[] = [...refused, ...invalid]
    let solverOrders: SolverOrder[] = []
    // The trader's signed envelope of this batch is what a penalty carries to the contract as evidence.
    const evidence = new Map<Hex, PenaltyEvidence>()
    for (let i = 0; i < envelopes.length; i++) {
      const { id, envelope: e } = envelopes[i]
      if (e.batch !== h) continue // not evidence at h: the contract would refuse it, so never charged
      evidence.set(id, {
        batch: e.batch,
        // hashed from the bytes we hold: re-encoding each payload (`payloadHashOf`) took ~250 ms of a
        // 1,000-order batch in the agreement bench's profile
        payloadHash: toHex(payloadHashBytes(bytes[i])),
        nonce: e.nonce,
        signature: e.signature,
      })
    }
    // 4. Resting remainders of earlier batches, still valid at h, then this batch's orders. One signed order
    // fills at most once per batch (the contract's DuplicateOrder) and has one remainder: an order sealed
    // again in another envelope, or while it rests, is refused as a duplicate — the first one is kept.
    const rested = new Map<Hex, Resting>()
    const digests = new Map<Hex, Hex>() // order id → EIP-712 digest of its signed order
    const firstByDigest = new Map<Hex, Hex>()
    const take = (id: Hex, signed: SignedOrder): Hex | undefined => {
      const d = toHex(orderDigest(this.o.domain, signed.order))
      const first = firstByDigest.get(d)
      if (first !== undefined) return first
      firstByDigest.set(d, id)
      digests.set(id, d)
      return undefined
    }
    // Heights the chain shows voided since the previous batch's chainRef: what they filled is given back to
    // the remainders that are still open (a remainder closed since stays closed: never more than signed).
    const voided = await this.voidedFills(h, content.chainRef)
    const statuses: OrderStatus[] = []
    const restingOps = new Map<Hex, BatchOp>()
    const expired: Hex[] = [] // remainders whose window closed before h: they leave the store
    for await (const [id, stored] of this.resting.entries()) {
      if (stored.order.order.lastBatch < h) {
        expired.push(id)
        continue
      }
      let r = stored
      for (const v of voided.get(id) ?? []) {
        const less = (a: bigint, b: bigint) => (a > b ? a - b : 0n)
        r = { ...r, sold: less(r.sold, v.sold), bought: less(r.bought, v.bought), fee: less(r.fee, v.fee) }
        statuses.push(
          statusOf(id, 'resting', r.lastFill, {
            filled: r.sold > 0n || r.bought > 0n ? { sold: r.sold, bought: r.bought } : null,
            error: {
              code: 'BATCH_VOIDED',
              message: `batch ${v.height} was voided on chain: its fill did not happen`,
            },
          }),
        )
        restingOps.set(id, this.resting.putOp(id, r))
      }
      voided.delete(id)
      if (take(id, r.order) !== undefined) continue
      rested.set(id, r)
      solverOrders.push(this.solverOrder(id, r.order, r.sold, r.bought, r.fee))
    }
    for (const o of opened) {
      const err = innerOrderError(o, h, this.o.domain, this.assets)
      if (err) {
        rejected.push({ id: o.id, trader: o.envelope.trader, ...err })
        continue
      }
      const first = take(o.id, o.signed)
      if (first !== undefined) {
        rejected.push({
          id: o.id,
          trader: o.envelope.trader,
          code: 'ORDER_DUPLICATE',
          message: `the same signed order as ${first}`,
        })
        continue
      }
      solverOrders.push({ ...this.solverOrder(o.id, o.signed, 0n, 0n, 0n), evidence: evidence.get(o.id) })
    }

    // 5. Orders their traders invalidated on chain by chainRef are left out (the contract refuses their
    // fills); then the balance view at chainRef, plus the effects of earlier batches not settled there.
    const invalidated = await this.invalidatedOrders(solverOrders, digests, content.chainRef)
    if (invalidated.size > 0) solverOrders = solverOrders.filter((o) => !invalidated.has(o.id as Hex))
    const balances = await this.balanceView(solverOrders, content.chainRef, h)

    // 6. Clear.
    const numeraire =
      this.o.genesis.assets.find((a) => a.symbol === this.o.genesis.bond.token)?.id ??
      this.o.genesis.assets[0].id
    const solveStarted = performance.now()
    const out = clearBatch({
      orders: solverOrders,
      balances,
      params: {
        numeraire,
        maxFillsPerBatch: this.o.genesis.maxFillsPerBatch,
        feeBps: BigInt(this.o.genesis.feeBps),
        resourceAssets: this.resources,
        height: h,
        prevHeight: this.lastSettlementNeeded,
        chainRef: content.chainRef,
        batchHash: batchHashOf(content),
      },
    })
    const solveMs = performance.now() - solveStarted
    // Each envelope at most once (the solver never sees the rejected ones); one trader may pay for several.
    // Penalties cost gas as fills do: those beyond the gas the fills leave are dropped, by ascending id.
    const penalties = [
      ...out.result.penalties,
      ...rejected.flatMap((r) => {
        const e = evidence.get(r.id)
        return e ? [{ trader: r.trader, orderId: r.id, evidence: e }] : []
      }),
    ]
      .sort((a, b) => (a.orderId < b.orderId ? -1 : 1))
      .slice(0, maxPenaltiesFor(out.result.fills.length, this.o.genesis.maxFillsPerBatch))
    const result: ClearingResult = { ...out.result, penalties }
    const resultHash = resultHashOf(result)
    const moves = result.fills.length > 0 || result.penalties.length > 0
    const settle = moves || (await this.servesWithdrawal(content.chainRef, h))

    // Orders filled in a voided batch that no longer rest: their status says the fill did not happen.
    for (const [id, fills] of [...voided.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const v = fills[fills.length - 1]
      statuses.push(
        statusOf(id, 'unfilled', v.height, {
          error: {
            code: 'BATCH_VOIDED',
            message: `batch ${v.height} was voided on chain: its fill did not happen`,
          },
        }),
      )
    }

    // 7. What the result does to each order once certified, and the remainders the next height reads.
    const signedById = new Map<Hex, SignedOrder>()
    for (const o of solverOrders) if (o.signed) signedById.set(o.id as Hex, o.signed)
    for (const f of out.fills) {
      const id = f.id as Hex
      const prev = rested.get(id)
      const signed = prev?.order ?? signedById.get(id)
      if (!signed) continue
      const sold = (prev?.sold ?? 0n) + f.sold
      const bought = (prev?.bought ?? 0n) + f.bought
      const fee = (prev?.fee ?? 0n) + f.fee
      const exhausted = isExhausted(signed.order, sold, bought, fee)
      const more = signed.order.lastBatch > h
      const moved = f.sold > 0n || f.bought > 0n
      const lastFill = moved ? h : (prev?.lastFill ?? h)
      let status: OrderStatus['status']
      if (exhausted) status = 'filled'
      else if (more) status = 'resting'
      else status = sold > 0n || bought > 0n ? 'partially_filled' : 'unfilled'
      if (!exhausted && more) {
        // A remainder that did not trade in this batch keeps its record and its status.
        if (!moved && prev) continue
        restingOps.set(id, this.resting.putOp(id, { order: signed, sold, bought, fee, lastFill }))
      } else if (prev) restingOps.set(id, this.resting.delOp(id))
      statuses.push(
        statusOf(id, status, lastFill, { filled: sold > 0n || bought > 0n ? { sold, bought } : null }),
      )
    }
    for (const d of out.dropped) {
      statuses.push(
        statusOf(d.id as Hex, 'rejected', h, {
          error: { code: `ORDER_${d.reason}`, message: `dropped: ${d.reason}` },
        }),
      )
      if (rested.has(d.id as Hex)) restingOps.set(d.id as Hex, this.resting.delOp(d.id as Hex))
    }
    for (const id of [...invalidated].sort()) {
      statuses.push(
        statusOf(id, 'cancelled', h, {
          error: { code: 'ORDER_INVALIDATED', message: 'its trader invalidated it on chain' },
        }),
      )
      if (rested.has(id)) restingOps.set(id, this.resting.delOp(id))
    }
    for (const id of expired) restingOps.set(id, this.resting.delOp(id))
    ops.push(...restingOps.values())
    // Rejected envelopes say so at once: no result can take them back.
    for (const r of rejected)
      ops.push(
        this.o.storage.orderStatus.putOp(
          r.id,
          statusOf(r.id, 'rejected', h, { error: { code: r.code, message: r.message } }),
        ),
      )

    const record: ProcessedBatch = {
      result,
      resultHash,
      proposer,
      settle,
      orderCount: content.orderIds.length,
      fills: out.fills
        .filter((f) => f.sold > 0n || f.bought > 0n)
        .map((f) => ({
          orderId: f.id as Hex,
          trader: f.trader,
          sellAsset: f.sellAsset as Hex,
          buyAsset: f.buyAsset as Hex,
          sold: f.sold,
          bought: f.bought,
          fee: f.fee,
        })),
      statuses,
    }
    ops.push(this.processed.putOp(h, record))
    ops.push(
      this.books.putOp(h, {
        objective: out.objective > 0n ? out.objective : 0n,
        numeraire: numeraire as Hex,
        orders: solverOrders.map((o) => ({
          orderId: o.id as Hex,
          trader: o.trader,
          sellAsset: o.sellAsset as Hex,
          buyAsset: o.buyAsset as Hex,
          sellAmount: o.sellAmount,
          buyAmount: o.buyAmount,
          kind: o.kind,
          partial: o.partiallyFillable,
          resting: rested.has(o.id as Hex),
        })),
      }),
    )
    ops.push(
      this.bookBalances.putOp(
        h,
        Object.entries(balances).flatMap(([trader, per]) =>
          Object.entries(per).map(([asset, amount]) => ({
            trader: trader as Address,
            asset: asset as Hex,
            amount,
          })),
        ),
      ),
    )
    if (this.stopped) throw new AllotError('NODE_STOPPING', 'the batch pipeline stopped')
    this.o.faultPoint?.('process:before-write', h, content.orderIds.length)
    await this.o.storage.write(ops)
    this.o.faultPoint?.('process:after-write', h, content.orderIds.length)

    // Written: from here on, h is processed.
    this.lastProcessed = h
    this.record(content.orderIds.length, result, out.objective, unsealMs, solveMs, h)
    if (settle) this.lastSettlementNeeded = h
    this.recent.set(h, record)
    this.recent.delete(h - RECENT)
    // Records far below the contract's settled height are not read again (the balance view reads those
    // after it): dropped in one range, however far it moved since.
    const old = this.lastSettled - KEEP_SETTLED
    if (old > this.prunedThrough) {
      this.prunedThrough = old
      await this.processed.db.clear({ lte: heightKey.encode(old) }).catch(() => {})
      await this.books.db.clear({ lte: heightKey.encode(old) }).catch(() => {})
      await this.bookBalances.db.clear({ lte: heightKey.encode(old) }).catch(() => {})
    }
    log.info(
      { orders: content.orderIds.length, resting: rested.size, fills: result.fills.length, resultHash },
      'batch cleared',
    )

    // 8. Attest: our result is signed and gossiped; the certificate may even have formed already.
    await this.o.attest?.(h, resultHash)
    const early = this.early.get(h) ?? (await this.o.storage.certificates.get(h))
    this.early.delete(h)
    if (early) await this.certified(early)
  }

  /**
   * The fills of processed heights voided on chain in blocks (previous batch's chainRef, chainRef], by order id.
   * Every input is the chain at a decided block and our own records, so every validator gets the same.
   */
  private async voidedFills(
    h: bigint,
    chainRef: bigint,
  ): Promise<Map<Hex, { height: bigint; sold: bigint; bought: bigint; fee: bigint }[]>> {
    const out = new Map<Hex, { height: bigint; sold: bigint; bought: bigint; fee: bigint }[]>()
    const read = this.o.chain.voidedBetween
    const prev = h > 1n ? await this.recordAt(h - 1n) : undefined
    const from = (prev?.result.chainRef ?? 0n) + 1n
    if (!read || chainRef < from) return out
    for (const v of [...new Set(await read(from, chainRef))].sort((a, b) => (a < b ? -1 : 1))) {
      if (v >= h) continue
      const rec = await this.recordAt(v)
      for (const f of rec?.fills ?? []) {
        const list = out.get(f.orderId) ?? []
        list.push({ height: v, sold: f.sold, bought: f.bought, fee: f.fee })
        out.set(f.orderId, list)
      }
    }
    return out
  }

  /**
   * Whether batch h, empty of fills, must still be settled: a withdrawal request seen at its chainRef waits
   * for a settled batch with a later chainRef, and no batch before h (certified, not yet settled at chainRef)
   * that will be settled has one. Every input is the chain at chainRef or a result every validator computed,
   * so every validator decides alike — which matters, since `prevHeight` of later results depends on it.
   */
  private async servesWithdrawal(chainRef: bigint, h: bigint): Promise<boolean> {
    const request = await this.o.chain.withdrawalAwaitingSettlement?.(chainRef)
    if (request === undefined || request === null) return false
    const settled = await this.o.chain.settledHeightAt(chainRef)
    for (let k = settled + 1n; k < h; k++) {
      const r = await this.recordAt(k)
      if (r?.settle && r.result.chainRef >= request) return false
    }
    return true
  }

  private solverOrder(id: Hex, signed: SignedOrder, sold: bigint, bought: bigint, fee: bigint): SolverOrder {
    const o = signed.order
    let sellAmount = o.sellAmount
    let buyAmount = o.buyAmount
    if (sold > 0n || bought > 0n) {
      // A remainder keeps the original limit ratio, rounded against the trader (stricter, never looser).
      if (o.kind === 'sell') {
        sellAmount = o.sellAmount - sold - fee
        buyAmount = (o.buyAmount * sellAmount + o.sellAmount - 1n) / o.sellAmount
      } else {
        buyAmount = o.buyAmount - bought
        sellAmount = (o.sellAmount * buyAmount) / o.buyAmount
        // The contract caps Σ(sold + fee) at the signed sellAmount too: what earlier fills spent (their
        // rounding and fees) may leave less than the ratio says.
        const budget = o.sellAmount - sold - fee
        if (budget < sellAmount) sellAmount = budget > 0n ? budget : 0n
      }
    }
    return {
      id,
      trader: o.trader,
      sellAsset: o.sellAsset,
      buyAsset: o.buyAsset,
      sellAmount,
      buyAmount,
      kind: o.kind,
      partiallyFillable: o.partiallyFillable,
      signed,
    }
  }

  /**
   * Orders (of `orders`) whose trader invalidated them on chain at or before `chainRef`; `digests` holds
   * every order's EIP-712 digest (computed once per batch, for the duplicate check).
   */
  private async invalidatedOrders(
    orders: SolverOrder[],
    digests: ReadonlyMap<Hex, Hex>,
    chainRef: bigint,
  ): Promise<Set<Hex>> {
    const out = new Set<Hex>()
    const read = this.o.chain.invalidatedAt
    // The contract honours invalidation for orders valid in several batches (a one-shot order is cancelled
    // off chain before its batch): only those are read.
    const signed = orders.filter(
      (o) => o.signed !== undefined && o.signed.order.firstBatch !== o.signed.order.lastBatch,
    )
    if (!read || signed.length === 0) return out
    const at = await read(
      signed.map((o) => ({
        trader: o.signed!.order.trader,
        digest: digests.get(o.id as Hex) as Hex,
      })),
      chainRef,
    )
    at.forEach((block, i) => {
      if (block !== 0n && block <= chainRef) out.add(signed[i].id as Hex)
    })
    return out
  }

  private async balanceView(
    orders: SolverOrder[],
    chainRef: bigint,
    h: bigint,
  ): Promise<Record<string, Record<string, bigint>>> {
    const settled = await this.o.chain.settledHeightAt(chainRef)
    const pending: { trader: string; asset: string; delta: bigint }[] = []
    const g = this.o.genesis
    const bondAsset = g.assets.find((a) => a.symbol === g.bond.token)?.id
    for (let k = settled + 1n; k < h; k++) {
      const r = await this.recordAt(k)
      if (!r?.settle) continue
      for (const f of r.fills) {
        const trader = f.trader.toLowerCase()
        if (!this.resources.has(f.sellAsset))
          pending.push({ trader, asset: f.sellAsset, delta: -(f.sold + f.fee) })
        if (!this.resources.has(f.buyAsset)) pending.push({ trader, asset: f.buyAsset, delta: f.bought })
      }
      // Its penalties too: each takes up to invalidOrderFee of the bond (counted whole: the view may only
      // be too low, never too high, or batch h would spend a bond h−1's penalty took and not settle).
      if (bondAsset !== undefined && g.bond.invalidOrderFee > 0n)
        for (const p of r.result.penalties)
          pending.push({ trader: p.trader.toLowerCase(), asset: bondAsset, delta: -g.bond.invalidOrderFee })
    }
    const view: Record<string, Record<string, bigint>> = {}
    const wanted = new Set<string>()
    for (const o of orders) {
      if (!this.resources.has(o.sellAsset)) wanted.add(`${o.trader.toLowerCase()} ${o.sellAsset}`)
    }
    for (const key of [...wanted].sort()) {
      const [trader, asset] = key.split(' ')
      const base = await this.o.chain.available(trader as Address, asset as AssetId, chainRef)
      view[trader] ??= {}
      view[trader][asset] = base
    }
    for (const p of pending) {
      if (view[p.trader]?.[p.asset] === undefined) continue
      const v = view[p.trader][p.asset] + p.delta
      view[p.trader][p.asset] = v > 0n ? v : 0n
    }
    // The solver keys balances by the trader as the orders spell it.
    const out: Record<string, Record<string, bigint>> = {}
    for (const o of orders) out[o.trader] = view[o.trader.toLowerCase()] ?? {}
    return out
  }

  /**
   * A quorum certified a result at a height (the consensus service tells us; it has stored the
   * certificate). If it is ours, the height is finalized: statuses, the batch view, settlement.
   */
  certified(cert: BatchCertificate): Promise<void> {
    // One at a time: each reads the statuses the one before it wrote.
    const run = this.finalizing.then(() => this.finalize(cert))
    this.finalizing = run.catch(() => {})
    return run
  }

  private async finalize(cert: BatchCertificate): Promise<void> {
    const h = cert.height
    const mine = await this.recordAt(h)
    if (!mine) {
      if (h > this.lastProcessed) this.early.set(h, cert)
      return
    }
    if ((await this.o.storage.results.get(h))?.resultHash === cert.resultHash) return
    if (cert.resultHash !== mine.resultHash) {
      this.o.logger.error({ height: h.toString() }, 'certificate for a result we did not compute')
      this.o.onAlarm?.('result-mismatch', h)
      return
    }
    const s = this.o.storage
    const ops: BatchOp[] = []
    if (!(await s.certificates.get(h))) ops.push(s.certificates.putOp(h, cert))
    // Certificates may arrive out of height order: a status that a later height's finalization wrote stays.
    const ids = mine.statuses.map((x) => x.orderId)
    const writtenAt = await this.statusHeight.getMany(ids)
    mine.statuses.forEach((status, i) => {
      if ((writtenAt[i] ?? 0n) > h) return
      ops.push(s.orderStatus.putOp(status.orderId, status), this.statusHeight.putOp(status.orderId, h))
    })
    const view: BatchView = {
      height: h,
      orderCount: mine.orderCount,
      prices: mine.result.assets.map((asset, i) => ({ asset, price: mine.result.prices[i] })),
      fills: mine.fills.map(({ fee: _fee, ...f }) => f),
      resultHash: cert.resultHash,
      signers: cert.signatures.map((x) => x.validator),
      settlement: null,
    }
    ops.push(s.results.putOp(h, view))
    this.o.faultPoint?.('finalize:before-write', h, mine.orderCount)
    await s.write(ops)
    this.o.faultPoint?.('finalize:after-write', h, mine.orderCount)
    s.emit('finalized', view)
    if (h > this.lastCertified) this.lastCertified = h
    this.o.logger.info({ height: h.toString(), fills: view.fills.length }, 'batch certified')
    const onChain = this.seenOnChain.get(h)
    if (onChain) {
      this.seenOnChain.delete(h)
      await this.markSettled(h, onChain.txHash, onChain.status)
    }
    for (const k of this.early.keys()) if (k <= this.lastProcessed) this.early.delete(k)

    // Settlement: only batches that move something, or serve a withdrawal, are sent (each names the previous one).
    if (this.o.settler && mine.settle) {
      void this.o.settler
        .settle(mine.result, cert, mine.proposer)
        .then((r) => (r ? this.markSettled(h, r.txHash) : undefined))
        .catch((e) =>
          this.o.logger.warn({ height: h.toString(), err: (e as Error).message }, 'settlement failed'),
        )
    }
  }

  /** A processed batch's figures; the timings and the objective of empty batches would only dilute them. */
  private record(
    orders: number,
    result: ClearingResult,
    objective: bigint,
    unsealMs: number,
    solveMs: number,
    h: bigint,
  ): void {
    const m = this.o.metrics
    if (!m) return
    m.processed.inc()
    m.lastProcessed.set(Number(h))
    if (orders === 0) return
    m.orders.inc(orders)
    m.fills.inc(result.fills.length)
    m.penalties.inc(result.penalties.length)
    m.unsealSeconds.observe(unsealMs / 1000)
    m.solveSeconds.observe(solveMs / 1000)
    m.objective.set(Number(objective))
  }

  private async pollSettled(): Promise<void> {
    try {
      const settled = await this.o.settler!.settledSince()
      for (const [h, { txHash, status }] of [...settled.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
        await this.markSettled(h, txHash, status)
    } catch (e) {
      this.o.logger.debug({ err: (e as Error).message }, 'settlement poll failed')
    }
  }

  private async markSettled(h: bigint, txHash: Hex, status: 'settled' | 'voided' = 'settled'): Promise<void> {
    const view = await this.o.storage.results.get(h)
    if (!view) {
      // Settled by others before we finalized it (we were down, or late): applied once we do.
      if (this.seenOnChain.size >= 4096)
        this.seenOnChain.delete(this.seenOnChain.keys().next().value as bigint)
      this.seenOnChain.set(h, { txHash, status })
      return
    }
    if (view.settlement) return
    view.settlement = { txHash, status }
    await this.o.storage.results.put(h, view)
    if (h > this.lastSettled) this.lastSettled = h
    this.o.onSettled?.(h)
    // A voided batch moved nothing: its orders' statuses say so from the next batch on (BATCH_VOIDED).
    if (status === 'settled')
      for (const f of view.fills) {
        const s = await this.o.storage.orderStatus.get(f.orderId)
        if (s && !s.txHash) await this.o.storage.orderStatus.put(f.orderId, { ...s, txHash })
      }
    this.o.logger.info(
      { height: h.toString(), txHash },
      status === 'settled' ? 'batch settled' : 'batch voided',
    )
  }
}

/**
 * The batch rule for a trader's equivocation and cap split: by ascending id, the first envelope of each
 * (trader, nonce) and the first `cap` envelopes of each trader are kept; every other one is refused
 * (`ORDER_NONCE_REUSED`, `ORDER_RATE_LIMITED`). Every validator applies it to the same decided ids alike.
 */
export function oneEnvelopePerNonce<T extends { id: Hex; envelope: { trader: Address; nonce: bigint } }>(
  envelopes: readonly T[],
  cap: number,
): { kept: T[]; refused: InvalidOrder[] } {
  const kept: T[] = []
  const refused: InvalidOrder[] = []
  const firstOfNonce = new Map<string, Hex>()
  const perTrader = new Map<string, number>()
  for (const x of [...envelopes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const trader = x.envelope.trader.toLowerCase()
    const key = `${trader} ${x.envelope.nonce}`
    const first = firstOfNonce.get(key)
    if (first !== undefined) {
      refused.push({
        id: x.id,
        trader: x.envelope.trader,
        code: 'ORDER_NONCE_REUSED',
        message: `its trader signed another envelope of nonce ${x.envelope.nonce} for this batch: ${first}`,
      })
      continue
    }
    firstOfNonce.set(key, x.id)
    const n = (perTrader.get(trader) ?? 0) + 1
    if (n > cap) {
      refused.push({
        id: x.id,
        trader: x.envelope.trader,
        code: 'ORDER_RATE_LIMITED',
        message: `its trader has more than ${cap} envelopes in this batch`,
      })
      continue
    }
    perTrader.set(trader, n)
    kept.push(x)
  }
  return { kept, refused }
}

function statusOf(
  orderId: Hex,
  status: OrderStatus['status'],
  batch: bigint,
  extra: Partial<OrderStatus> = {},
): OrderStatus {
  return { orderId, status, batch, filled: null, txHash: null, error: null, ...extra }
}
