import {
  AllotError,
  type BatchCertificate,
  type BatchResult,
  decode,
  encode,
  type Hex,
  type PrivateKey,
  protocolOf,
  type Signature,
} from '@allot/protocol'
import type { Logger } from 'pino'
import { fetchOrders } from '../api/index.js'
import { domainOf, type Genesis } from '../config/index.js'
import { recoverAddressFast } from '../crypto/index.js'
import type { Mempool, OrderIntake } from '../mempool/index.js'
import type { ConsensusMetrics } from '../metrics/index.js'
import {
  type AllotHost,
  type Gossip,
  type ProtocolOptions,
  type RequestContext,
  request,
  topicOf,
} from '../network/index.js'
import { heightKey, type NodeStorage, Repository, stringKey } from '../storage/index.js'
import {
  type Attestation,
  type AttestationBook,
  addAttestation,
  attestationWindow,
  localMismatch,
  newAttestationBook,
  setLocalResult,
} from './attestation.js'
import { ConsensusDriver, type DriverOutput } from './driver.js'
import { keySigner, keyVerifier } from './signatures.js'
import {
  type ConsensusConfig,
  type ConsensusParams,
  contentHash,
  type Decision,
  type ParentRef,
  restoreState,
  type SignedRecord,
  type TimerRequest,
} from './tendermint.js'
import { buildBatchContent, validateProposal } from './validate.js'
import {
  attestationCodec,
  type Commit,
  commitCodec,
  consensusSyncRequestCodec,
  decodeConsensusMessage,
  decodeSyncResponse,
  encodeConsensusMessage,
  encodeSyncResponse,
  MAX_SYNC_COMMITS,
  signedRecordCodec,
} from './wire.js'

/**
 * The consensus service: wires the driver to the node — gossip on `/allot/<net>/consensus/1`, the write-ahead
 * records in level (written before anything is sent), timers, decided batches and their commits in storage,
 * and a request/response protocol through which a validator that restarted or missed messages fetches the
 * current height's proposals and votes, or the decided heights it lacks.
 */
const SYNC_MAX_BYTES = 8 * 1024 * 1024
/** Rounds of current-height messages taken from one sync answer. */
const SYNC_ROUNDS = 8
/** After a fetch that did not bring every order a proposal names, the pause before asking again. */
const FETCH_RETRY_MS = 250

/** What the service needs of the node (AllotNode satisfies it). */
export interface ConsensusNode {
  genesis: Genesis
  host: AllotHost
  gossip: Gossip
  storage: NodeStorage
  mempool: Mempool
  logger: Logger
  registerProtocol(
    protocol: string,
    handler: (req: Uint8Array, ctx: RequestContext) => Promise<Uint8Array>,
    opts: ProtocolOptions,
  ): Promise<void>
  /** Orders a proposal names that we lack are fetched from peers and fed through intake. */
  intake?: OrderIntake
}

export interface ConsensusServiceOptions {
  validatorKey: PrivateKey
  /**
   * The newest confirmed chain block (chainRef of new batches); default: 0. A proposal whose chainRef is
   * beyond it is not acceptable (we prevote nil): a far-future chainRef would make every later balance
   * read and the settlement itself fail.
   */
  chainRef?: () => bigint
  /** Told when a proposal's chainRef was beyond our view, so the view can be refreshed at once. */
  onChainRefAhead?: (proposed: bigint) => void
  /** Told of every decided batch, in height order, once it is stored (run the solver, then `attest`). */
  onDecided?: (d: Decision) => void
  /** Told of every certificate formed (stored already). */
  onCertified?: (cert: BatchCertificate) => void
  /** Clock (ms). */
  now?: () => number
  /** Ask a peer for missed messages when the height has not moved for this long (default: 2 s). */
  syncIdleMs?: number
  /**
   * The validators' DKG (sealing/dkg.ts EpochDkg): its broadcasts are referenced by the batches we
   * propose, a proposal's refs must be held to vote for it, and missing ones are fetched like orders.
   */
  dkg?: DkgRefSource
  /** Height, round, decision latency, timeouts, bad signatures, equivocations (metrics/consensus.ts). */
  metrics?: ConsensusMetrics
}

/** What consensus needs of the DKG: refs to propose, whether a ref is held, fetching the missing. */
export interface DkgRefSource {
  proposalRefs(height: bigint): Hex[]
  refStatus(ref: Hex): 'valid' | 'unknown'
  fetchRefs(refs: Hex[]): Promise<void>
}

export function consensusParamsOf(g: Genesis): ConsensusParams {
  const t = g.timeouts
  return {
    batchIntervalMs: g.batchIntervalMs,
    timeouts: {
      proposeMs: t.proposeMs,
      proposeDeltaMs: t.deltaMs,
      prevoteMs: t.prevoteMs,
      prevoteDeltaMs: t.deltaMs,
      precommitMs: t.precommitMs,
      precommitDeltaMs: t.deltaMs,
      capMs: t.capMs,
    },
  }
}

export function genesisParent(g: Genesis): ParentRef {
  return { hash: `0x${'00'.repeat(32)}`, timestamp: BigInt(g.genesisTime), chainRef: 0n }
}

export class ConsensusService {
  driver!: ConsensusDriver
  private readonly node: ConsensusNode
  private readonly o: ConsensusServiceOptions
  private readonly wal: Repository<string, SignedRecord>
  private readonly commits: Repository<bigint, Commit>
  private readonly config: ConsensusConfig
  private readonly topic: string
  private readonly timers = new Set<NodeJS.Timeout>()
  /** Output processing is serialised: records are on disk before their messages leave, in order. */
  private chain: Promise<void> = Promise.resolve()
  private running = false
  private lastHeight = 0n
  private syncTimer: NodeJS.Timeout | undefined
  private readonly resultsTopic: string
  private readonly books = new Map<bigint, AttestationBook>()
  private readonly signResult: (r: BatchResult) => Signature
  /** Counters for metrics: equivocations seen, results that differed from the certified one. */
  readonly counters = { resultMismatches: 0, resultEquivocations: 0, certificates: 0 }
  /** The driver's bad-signature count already exported. */
  private badSignaturesSeen = 0
  /** When the height at work began (the previous decision, or the start): decision latency. */
  private heightSince = 0

  constructor(node: ConsensusNode, o: ConsensusServiceOptions) {
    this.node = node
    this.o = o
    const db = node.storage.db
    this.wal = new Repository(
      db.sublevel<string, Uint8Array>('consensus-wal', { valueEncoding: 'view' }),
      stringKey,
      signedRecordCodec,
    )
    this.commits = new Repository(
      db.sublevel<string, Uint8Array>('commits', { valueEncoding: 'view' }),
      heightKey,
      commitCodec,
    )
    const domain = domainOf(node.genesis)
    const validators = node.genesis.validators.map((v) => v.address.toLowerCase() as Hex).sort()
    this.config = {
      validators,
      signer: keySigner(domain, o.validatorKey),
      params: consensusParamsOf(node.genesis),
    }
    this.topic = topicOf(node.genesis.networkId, 'consensus')
    this.resultsTopic = topicOf(node.genesis.networkId, 'results')
    this.verifier = keyVerifier(domain, recoverAddressFast)
    this.signResult = keySigner(domain, o.validatorKey).signResult
  }

  private readonly verifier: ReturnType<typeof keyVerifier>

  get height(): bigint {
    return this.driver.height
  }

  /** The round a stored decided height was decided in (its proposer is the round's), or undefined. */
  async decidedRound(height: bigint): Promise<number | undefined> {
    return (await this.commits.get(height))?.round
  }

  private now(): number {
    return this.o.now?.() ?? Date.now()
  }

  async start(): Promise<void> {
    const g = this.node.genesis
    const last = await this.commits.last()
    const height = last ? last[0] + 1n : 1n
    const parent: ParentRef = last
      ? {
          hash: contentHash(last[1].content),
          timestamp: last[1].content.timestamp,
          chainRef: last[1].content.chainRef,
        }
      : genesisParent(g)
    const records: SignedRecord[] = []
    for await (const [, r] of this.wal.entries()) if (r.height === height) records.push(r)
    const state = restoreState(this.config, height, parent, records)
    this.driver = new ConsensusDriver(state, {
      verifier: this.verifier,
      judge: (content, s, now) => {
        const maxChainRef = this.o.chainRef?.()
        const verdict = validateProposal(content, {
          height: s.height,
          parent: s.parent,
          now,
          params: {
            batchIntervalMs: g.batchIntervalMs,
            maxOrdersPerBatch: g.maxOrdersPerBatch,
            inclusionGraceMs: g.inclusionGraceMs,
            maxClockSkewMs: Math.min(1000, Math.floor(g.inclusionGraceMs / 2)),
            perTraderMaxOrdersPerBatch: g.perTraderMaxOrdersPerBatch,
          },
          orderStatus: (id) => {
            const e = this.node.mempool.get(id)
            if (!e) return 'unknown'
            return e.batch === s.height ? 'valid' : 'invalid'
          },
          heldOrders: () =>
            this.sealedFor(s.height).map((e) => ({
              id: e.id,
              since: e.receivedAt,
              trader: e.trader,
              nonce: e.nonce,
            })),
          orderKey: (id) => this.node.mempool.get(id),
          maxChainRef,
          dkgRefStatus: this.o.dkg ? (r) => (this.o.dkg as DkgRefSource).refStatus(r) : undefined,
        })
        if (verdict.code === 'CONSENSUS_CHAIN_REF_AHEAD') this.o.onChainRefAhead?.(content.chainRef)
        return verdict
      },
    })
    this.lastHeight = height
    this.running = true
    this.node.gossip.subscribe(this.topic, {
      maxBytes: 4 * 1024 * 1024,
      // Checked before it is accepted (and forwarded): height window, membership, signature.
      validate: async (data) => {
        const msg = decodeConsensusMessage(data)
        const refused = this.driver.admit(msg)
        this.recordDriver()
        if (refused) throw new AllotError(refused.code, refused.message)
        return msg
      },
      handle: (msg) => this.apply((now) => this.driver.receive(msg, now, true)),
    })
    this.node.gossip.subscribe(this.resultsTopic, {
      maxBytes: 1024,
      validate: async (data) => {
        const a = decode(attestationCodec, data, 1024)
        const where = attestationWindow(a.result.height, this.driver.height)
        if (where === 'future')
          throw new AllotError('CONSENSUS_FUTURE_HEIGHT', `attestation for ${a.result.height}, far ahead`)
        if (where === 'old')
          throw new AllotError('CONSENSUS_UNKNOWN_HEIGHT', `attestation for ${a.result.height}, long decided`)
        if (!this.config.validators.includes(a.validator)) {
          throw new AllotError('CONSENSUS_UNKNOWN_VALIDATOR', `${a.validator} is not a validator`)
        }
        if (!this.verifier.result(a.result, a.signature, a.validator)) {
          this.o.metrics?.badSignatures.inc()
          throw new AllotError(
            'CONSENSUS_BAD_SIGNATURE',
            'attestation signature does not recover to its validator',
          )
        }
        return a
      },
      handle: (a) => void this.onAttestation(a),
    })
    await this.node.registerProtocol(
      protocolOf('consensus-sync', this.node.genesis.networkId),
      (req) => this.answerSync(req),
      {
        maxRequestBytes: 64,
        deadlineMs: 5000,
        // An error answer is an empty one: the asker tries another peer at its next tick.
        errorFrame: () => encodeSyncResponse({ commits: [], messages: [] }, SYNC_MAX_BYTES),
      },
    )
    this.node.logger.info(
      { height: String(height), round: state.round, records: records.length },
      'consensus starts',
    )
    this.heightSince = this.now()
    this.apply((now) => this.driver.start(now))
    this.scheduleSync()
  }

  /**
   * Stops for real: its topics are left, every timer (steps, fetch retries, the sync tick) is cleared and
   * none is set again, and the output under way (a write-ahead record, a decision) is awaited.
   */
  async stop(): Promise<void> {
    this.running = false
    this.node.gossip.unsubscribe(this.topic)
    this.node.gossip.unsubscribe(this.resultsTopic)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    if (this.syncTimer) clearTimeout(this.syncTimer)
    this.syncTimer = undefined
    await this.chain.catch(() => {})
  }

  /** Sealed orders targeting exactly height h. */
  private sealedFor(h: bigint) {
    return this.node.mempool.ordersForBatch(h).filter((e) => e.batch === h)
  }

  /** Runs one driver step now and queues its output behind the previous ones. */
  private apply(stepFn: (now: number) => DriverOutput): void {
    if (!this.running) return
    const out = stepFn(this.now())
    this.recordDriver()
    for (const e of out.evidence) this.o.metrics?.equivocations.inc({ kind: e.kind })
    this.chain = this.chain
      .then(() => this.process(out))
      .catch((e) => {
        this.node.logger.error({ err: (e as Error).message }, 'consensus output failed')
      })
  }

  /** Height, round and the driver's bad-signature count, after each of its steps. */
  private recordDriver(): void {
    const m = this.o.metrics
    if (!m) return
    m.height.set(Number(this.driver.height))
    m.round.set(this.driver.state.round)
    const bad = this.driver.stats.badSignatures
    if (bad > this.badSignaturesSeen) m.badSignatures.inc(bad - this.badSignaturesSeen)
    this.badSignaturesSeen = bad
  }

  private async process(out: DriverOutput): Promise<void> {
    // Crash safety: what we signed is on stable storage (synced: a power loss too, not only a killed
    // process) before any of it is sent, so a restart never signs twice.
    if (out.persist.length > 0) {
      await this.node.storage.write(
        out.persist.map((r) => this.wal.putOp(walKey(r), r)),
        { sync: true },
      )
    }
    for (const d of out.decisions) await this.onDecision(d)
    for (const e of out.evidence) {
      this.node.logger.warn({ kind: e.kind, validator: e.validator, evidence: e }, 'equivocation')
    }
    for (const r of out.rejected) {
      this.node.logger.info(
        { height: String(r.proposal.height), round: r.proposal.round, code: r.code },
        'proposal refused',
      )
    }
    if (!this.running) return
    for (const m of out.messages) {
      this.node.gossip.publish(this.topic, encodeConsensusMessage(m)).catch(() => {
        // No peers yet: the sync protocol repairs it.
      })
    }
    for (const t of out.timers) this.schedule(t)
    if (out.getValue) {
      const req = out.getValue
      this.later(req.notBefore - this.now(), () =>
        this.apply((now) => {
          const content = buildBatchContent({
            height: req.height,
            parent: req.parent,
            now,
            batchIntervalMs: this.node.genesis.batchIntervalMs,
            maxOrdersPerBatch: this.node.genesis.maxOrdersPerBatch,
            chainRef: this.o.chainRef?.() ?? 0n,
            orders: this.sealedFor(req.height).map((e) => ({ id: e.id, since: e.receivedAt })),
            dkgRefs: this.o.dkg?.proposalRefs(req.height),
          })
          return this.driver.value(req.height, req.round, content, now)
        }),
      )
    }
    if (out.missing.length > 0) void this.fetchMissing(out.missing)
  }

  private async onDecision(d: Decision): Promise<void> {
    const now = this.now()
    this.o.metrics?.decisionSeconds.observe(Math.max(0, now - this.heightSince) / 1000)
    this.heightSince = now
    const commit: Commit = { content: d.content, round: d.round, precommits: d.precommits }
    const s = this.node.storage
    await s.write([s.batches.putOp(d.height, d.content), this.commits.putOp(d.height, commit)])
    // The write-ahead records of the decided height are no longer needed.
    const stale: string[] = []
    for await (const [k, r] of this.wal.entries()) if (r.height <= d.height) stale.push(k)
    if (stale.length > 0) await s.write(stale.map((k) => this.wal.delOp(k)))
    this.node.logger.info(
      { height: String(d.height), round: d.round, orders: d.content.orderIds.length, hash: d.valueHash },
      'batch decided',
    )
    // Told before the orders leave the mempool: the batch pipeline takes their envelopes from it.
    this.o.onDecided?.(d)
    await this.node.mempool.markDecided(d.content.orderIds, d.height).catch((e) => {
      this.node.logger.warn(
        { err: e, height: String(d.height) },
        'marking a decided batch in the mempool failed',
      )
    })
  }

  private schedule(t: TimerRequest): void {
    this.later(t.delayMs, () => {
      const s = this.driver.state
      // Counted only when it takes effect (tendermint.ts, L57/L61/L65): same height and round, and for
      // propose and prevote the same step; a timeout of a step already passed changes nothing.
      if (s.height === t.height && s.round === t.round && (t.kind === 'precommit' || s.step === t.kind))
        this.o.metrics?.timeouts.inc({ step: t.kind })
      this.apply((now) => this.driver.timeout(t, now))
    })
  }

  private later(ms: number, fn: () => void): void {
    if (!this.running) return
    const timer = setTimeout(
      () => {
        this.timers.delete(timer)
        if (this.running) fn()
      },
      Math.max(0, ms),
    )
    this.timers.add(timer)
  }

  private async fetchMissing(ids: Hex[]): Promise<void> {
    // Missing ids are orders or DKG refs: both fetchers run at once, each takes what peers answer for it.
    const refs = this.o.dkg?.fetchRefs(ids).catch(() => {})
    const intake = this.node.intake
    if (intake) {
      for (const peer of this.node.host.getPeers()) {
        try {
          await fetchOrders(this.node.host, peer, ids, intake, { referenced: true })
        } catch {
          // try the next peer
        }
        if (ids.every((id) => this.node.mempool.has(id) || this.o.dkg?.refStatus(id) === 'valid')) break
      }
    }
    await refs
    // Judged again at once when everything came; otherwise after a pause: re-judging parks the proposal
    // and asks for the same ids again, and a fetch that every peer refuses (an id nobody holds, an order
    // intake refuses) looped without pause — one core at 95 % for as long as the round lasted (issue 24).
    const complete = ids.every((id) => this.node.mempool.has(id) || this.o.dkg?.refStatus(id) === 'valid')
    this.later(complete ? 0 : FETCH_RETRY_MS, () => this.apply((now) => this.driver.retryPending(now)))
  }

  // ---- result attestation (DESIGN.md step 5) ----

  private book(height: bigint): AttestationBook {
    let b = this.books.get(height)
    if (!b) {
      b = newAttestationBook(height, this.config.validators)
      this.books.set(height, b)
      // Keep the books within the window around our consensus height only: what a peer sends (a validly
      // signed attestation for a far height) is refused before it gets here, so it cannot evict them.
      const current = this.driver?.height ?? height
      for (const h of this.books.keys()) if (attestationWindow(h, current) === 'old') this.books.delete(h)
    }
    return b
  }

  /**
   * Our solver's result for a decided height: signed and published unless a quorum already certified a
   * different one — then we refuse, count the mismatch and raise the alarm in the log.
   */
  async attest(height: bigint, resultHash: Hex): Promise<void> {
    const book = this.book(height)
    if (!setLocalResult(book, resultHash)) {
      this.alarm(book)
      return
    }
    const result: BatchResult = { height, resultHash }
    const a: Attestation = {
      result,
      validator: this.config.signer!.address,
      signature: this.signResult(result),
    }
    await this.onAttestation(a)
    await this.node.gossip.publish(this.resultsTopic, encode(attestationCodec, a)).catch(() => {})
  }

  /**
   * The highest height at which each validator's result attestation reached us, within the books kept
   * around our height: where another validator is, as far as this one can tell (the explorer's "height").
   */
  attestedHeights(): Map<string, bigint> {
    const out = new Map<string, bigint>()
    for (const [h, b] of this.books)
      for (const v of b.byValidator.keys()) {
        const k = v.toLowerCase()
        if ((out.get(k) ?? -1n) < h) out.set(k, h)
      }
    return out
  }

  private async onAttestation(a: Attestation): Promise<void> {
    const book = this.book(a.result.height)
    const out = addAttestation(book, a)
    if (out.kind === 'equivocation') {
      this.counters.resultEquivocations++
      this.o.metrics?.equivocations.inc({ kind: 'result' })
      this.node.logger.warn(
        { height: String(a.result.height), validator: a.validator, evidence: out },
        'result equivocation',
      )
      return
    }
    if (out.kind !== 'added' || !out.certificate) return
    this.counters.certificates++
    this.o.metrics?.certificates.inc()
    await this.node.storage.certificates.put(out.certificate.height, out.certificate)
    if (out.mismatch || localMismatch(book)) this.alarm(book)
    this.o.onCertified?.(out.certificate)
  }

  private alarm(book: AttestationBook): void {
    this.counters.resultMismatches++
    this.o.metrics?.resultMismatches.inc()
    this.node.logger.error(
      { height: String(book.height), ours: book.local, certified: book.certificate?.resultHash },
      'CONSENSUS_RESULT_MISMATCH: our clearing result differs from the certified one',
    )
  }

  // ---- sync: current-height messages and decided commits ----

  private async answerSync(req: Uint8Array): Promise<Uint8Array> {
    const { height } = decode(consensusSyncRequestCodec, req, 64)
    const commits: Commit[] = []
    for await (const [, c] of this.commits.entries({ gte: height, limit: MAX_SYNC_COMMITS })) commits.push(c)
    const messages = this.driver.height === height ? this.driver.syncMessages() : []
    return encodeSyncResponse({ commits, messages }, SYNC_MAX_BYTES)
  }

  private scheduleSync(): void {
    if (!this.running) return
    const every = this.o.syncIdleMs ?? 2000
    this.syncTimer = setTimeout(() => {
      if (!this.running) return
      const h = this.driver.height
      const idle = h === this.lastHeight
      this.lastHeight = h
      const done = idle ? this.syncOnce(h) : Promise.resolve()
      done.finally(() => this.scheduleSync())
    }, every)
  }

  /** Asks one random peer for what we miss at our height. */
  async syncOnce(height: bigint): Promise<void> {
    const peers = this.node.host.getPeers()
    if (peers.length === 0) return
    const peer = peers[Math.floor(Math.random() * peers.length)]
    try {
      const raw = await request(
        this.node.host,
        peer,
        protocolOf('consensus-sync', this.node.genesis.networkId),
        encode(consensusSyncRequestCodec, { height }),
        { deadlineMs: 5000, maxResponseBytes: SYNC_MAX_BYTES },
      )
      const res = decodeSyncResponse(raw, SYNC_MAX_BYTES)
      // An honest peer answers with messages it checked itself: after one bad signature the rest of the
      // answer is not worth a recovery each (4,096 forged votes cost 1–2 s of the event loop; issue 24).
      // It lists at most a proposal and two votes per validator per round, by ascending round: the last
      // SYNC_ROUNDS rounds' worth are taken.
      const bad = this.driver.stats.badSignatures
      const lying = () => this.driver.stats.badSignatures > bad
      for (const c of res.commits) {
        if (lying()) break
        this.apply((now) => this.driver.commit(c.content, c.precommits, now))
      }
      const most = 3 * this.config.validators.length * SYNC_ROUNDS
      for (const m of res.messages.slice(-most)) {
        if (lying()) break
        this.apply((now) => this.driver.receive(m, now))
      }
      if (lying())
        this.node.logger.warn(
          { peer: peer.toString(), height: String(height) },
          'consensus sync answer carried a bad signature: the rest of it was dropped',
        )
    } catch (e) {
      this.node.logger.debug({ peer: peer.toString(), err: (e as Error).message }, 'consensus sync failed')
    }
  }
}

function walKey(r: SignedRecord): string {
  return `${heightKey.encode(r.height)}:${r.round.toString(16).padStart(8, '0')}:${r.kind}`
}
