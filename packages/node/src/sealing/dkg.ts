import {
  type Address,
  AllotError,
  addressOf,
  type DkgCurveOps,
  type DkgMessage,
  DkgParticipant,
  type DkgSession,
  keccak256Hex,
  type NetworkDomain,
  openDkgMessage,
  openDkgSharesRequest,
  type PrivateKey,
  type Rng,
  signDkgMessage,
  signDkgSharesRequest,
} from '@allot/protocol'
import type { Logger } from 'pino'
import type { Genesis } from '../config/index.js'
import type { SealingService } from './service.js'

/**
 * The DKG of the next epoch, run by the validators over their links (docs/sealing.md "The DKG run by
 * the nodes"): DkgParticipant (protocol, GJKR complaints over joint-Feldman) driven by decided
 * heights. Broadcast parts (deals, complaints, answers) go on gossip `/allot/<net>/dkg/1`, signed
 * by the validator their dealer/from field names; DkgShares only over the private request/response
 * protocol `/allot/<net>/dkg-shares/1` (noise-encrypted stream, the request signed by the recipient's
 * validator key and bound to its peer id). The outcome — the epoch's public part and this validator's
 * shares — is stored by SealingService.addEpoch exactly like a dealt epoch.
 */

/** When the DKG runs, in heights (consensus-driven: every validator changes phase at the same decided height). */
export interface DkgSchedule {
  /** Heights of every epoch the DKG makes. */
  epochLength: number
  /** Heights per phase: deal, complain, answer. */
  phaseHeights: number
  /** The DKG for an epoch starting at S begins at height S − leadHeights (room for ⌊lead / 3·phase⌋ attempts). */
  leadHeights: number
}

/** Phases last ≥ 20 s (generous: every honest validator must see each broadcast before the next deadline). */
const PHASE_MS = 20_000
const ATTEMPTS = 4
/**
 * DKG epochs default to an hour of batches (at most 3,600 heights): checking a deal is synchronous
 * (~0.4–0.8 ms CPU per height per validator with libsecp256k1, BENCHMARKS.md "Sealing"), so a longer
 * epoch would hold a validator's event loop for seconds at each phase end.
 */
const DKG_EPOCH_MS = 3_600_000
const DKG_EPOCH_MAX = 3_600

/** The genesis's schedule, defaults from the batch interval: one-hour epochs, 20 s phases, room for 4 attempts. */
export function dkgScheduleOf(g: Pick<Genesis, 'batchIntervalMs' | 'sealing'>): DkgSchedule {
  const phaseHeights = g.sealing.dkgPhaseHeights ?? Math.max(3, Math.ceil(PHASE_MS / g.batchIntervalMs))
  return {
    epochLength:
      g.sealing.epochLength ??
      Math.min(DKG_EPOCH_MAX, Math.ceil(DKG_EPOCH_MS / Math.max(1, g.batchIntervalMs))),
    phaseHeights,
    leadHeights: g.sealing.dkgLeadHeights ?? ATTEMPTS * 3 * phaseHeights,
  }
}

/** The gossip topic of the DKG's broadcast messages. */
export const dkgTopic = (networkId: string) => `/allot/${networkId}/dkg/1`
/** The private request/response protocol of DkgShares. */
export const dkgSharesProtocol = (networkId: string) => `/allot/${networkId}/dkg-shares/1`

/** What the DKG needs of the network (run.ts wires gossip and the shares protocol behind it). */
export interface DkgTransport {
  /** Publishes a signed broadcast message (deal, complaint, answer) on the DKG topic. */
  broadcast(bytes: Uint8Array): Promise<void>
  /** Sends a signed shares request to every connected peer; returns the signed DkgShares they answer. */
  requestShares(request: Uint8Array): Promise<Uint8Array[]>
  /** This node's libp2p peer id: shares requests are bound to it. */
  peerId(): string
}

export type DkgOutcome =
  | {
      startHeight: bigint
      attempt: number
      ok: true
      qual: number[]
      disqualified: { dealer: number; reason: string }[]
      /** False when this node only observed (not a validator, or joined too late to deal) or lacks a share. */
      keyed: boolean
    }
  | { startHeight: bigint; attempt: number; ok: false; error: string }

type Stage = 'waiting' | 'deal' | 'complain' | 'answer'

interface Session {
  key: string
  s: DkgSession
  /** Height the attempt begins at; phases end at begin + phase, + 2·phase, + 3·phase. */
  begin: bigint
  p: DkgParticipant
  stage: Stage
  /** Hashes of the broadcast messages already handed to p (gossip may deliver one twice). */
  seen: Set<string>
  /** What we dealt, signed, per recipient index: served on request. */
  dealt: Map<number, Uint8Array>
  /** Dealers whose deal we saw; shares received from them. */
  deals: Set<number>
  sharesFrom: Set<number>
  fetching: boolean
}

export interface EpochDkgOptions {
  domain: NetworkDomain
  /** The validator set in Shamir index order. */
  validators: Address[]
  validatorKey?: PrivateKey
  schedule: DkgSchedule
  service: SealingService
  transport: DkgTransport
  logger?: Logger
  rng?: Rng
  /** Native curve arithmetic (sealing/fast.ts `nativeDkgOps`); noble without. */
  ops?: DkgCurveOps
}

const keyOf = (s: DkgSession) => `${s.startHeight}/${s.attempt}`

export class EpochDkg {
  /**
   * Test hook: rewrites (or drops, with null) each DKG message this node sends, before it is signed —
   * the multi-node tests make a cheating dealer with it. Never set in production.
   */
  tamper?: (m: DkgMessage) => DkgMessage | null
  /** Every finished attempt, oldest first (logged too). */
  readonly outcomes: DkgOutcome[] = []
  private readonly sessions = new Map<string, Session>()
  private readonly finished = new Set<string>()
  private readonly myIndex: number | null
  private readonly n: number
  private readonly t: number
  private height = 0n
  private queue: Promise<void> = Promise.resolve()

  constructor(private readonly o: EpochDkgOptions) {
    this.n = o.validators.length
    this.t = Math.floor((this.n - 1) / 3)
    if (o.schedule.leadHeights < 3 * o.schedule.phaseHeights)
      throw new AllotError('SEAL_BAD_PARAMS', 'DKG lead shorter than its three phases')
    const me = o.validatorKey ? addressOf(o.validatorKey) : null
    const i = me ? o.validators.findIndex((v) => v.toLowerCase() === me) : -1
    this.myIndex = i >= 0 ? i + 1 : null
  }

  private get cycle(): bigint {
    return 3n * BigInt(this.o.schedule.phaseHeights)
  }

  /**
   * Start of the epoch to generate once decided height `h` is within the lead of the keyed heights'
   * end (SealingService.nextEpochStartIfDue), else undefined. Without any epoch: the next multiple
   * of the epoch length (+1). When the whole next epoch would already be past, it moves on by
   * whole epoch lengths (after a long outage: a gap, then sealing resumes).
   */
  targetStart(h: bigint): bigint | undefined {
    const s = this.nextStart(h)
    return s - h > BigInt(this.o.schedule.leadHeights) ? undefined : s
  }

  /** Start of the next epoch to generate as seen at height h, due or not. */
  private nextStart(h: bigint): bigint {
    const L = BigInt(this.o.schedule.epochLength)
    const last = this.o.service.lastKeyedHeight()
    let s = last === undefined ? (h / L + 1n) * L + 1n : last + 1n
    if (s + L <= h + this.cycle) s += L * ((h + this.cycle - s) / L + 1n)
    return s
  }

  /** Which attempt at epoch `s` runs at height h, and where it begins. */
  private attemptAt(s: bigint, h: bigint): { attempt: number; begin: bigint } {
    const base = s - BigInt(this.o.schedule.leadHeights)
    const a = h > base ? (h - base) / this.cycle : 0n
    return { attempt: Number(a), begin: base + a * this.cycle }
  }

  /** Decided height h (SealingService.onDecided): ends the phases that are due, starts an attempt that is due. */
  onHeight(h: bigint): Promise<void> {
    this.queue = this.queue
      .then(() => this.step(h))
      .catch((e) => this.log('error', { err: String(e) }, 'DKG step failed'))
    return this.queue
  }

  private async step(h: bigint): Promise<void> {
    if (h <= this.height) return
    this.height = h
    for (const s of [...this.sessions.values()]) await this.advance(s, h)
    const start = this.targetStart(h)
    if (start === undefined) return
    const { attempt, begin } = this.attemptAt(start, h)
    const key = keyOf({ startHeight: start, attempt })
    if (this.finished.has(key)) return
    const s = this.sessions.get(key) ?? this.open({ startHeight: start, attempt }, begin)
    if (s.stage === 'waiting' && h >= begin) {
      const P = BigInt(this.o.schedule.phaseHeights)
      if (this.myIndex !== null && h < begin + P) {
        s.stage = 'deal'
        const out = s.p.start()
        this.log('info', { epoch: String(start), attempt }, 'DKG: dealing')
        for (const m of out) {
          const sent = this.tamper ? this.tamper(m) : m
          if (!sent) continue
          const bytes = signDkgMessage(this.o.domain, s.s, sent, this.o.validatorKey as PrivateKey)
          if (sent.type === 'shares') s.dealt.set(sent.to, bytes)
          else await this.o.transport.broadcast(bytes).catch(() => {})
        }
      } else {
        // Too late to deal (or not a validator): follow the broadcasts, deal nothing (DkgParticipant.observe).
        s.stage = 'deal'
        s.p.observe()
        this.log('info', { epoch: String(start), attempt }, 'DKG: observing')
      }
      await this.advance(s, h)
    }
    if (s.stage === 'deal') this.fetchShares(s)
  }

  private open(session: DkgSession, begin: bigint): Session {
    const { epochLength } = this.o.schedule
    const s: Session = {
      key: keyOf(session),
      s: session,
      begin,
      p: new DkgParticipant({
        // A node that is not a validator follows as an observer; its index is never used.
        index: this.myIndex ?? 1,
        n: this.n,
        t: this.t,
        startHeight: session.startHeight,
        length: epochLength,
        rng: this.o.rng,
        ops: this.o.ops,
      }),
      stage: 'waiting',
      seen: new Set(),
      dealt: new Map(),
      deals: new Set(),
      sharesFrom: new Set(),
      fetching: false,
    }
    this.sessions.set(s.key, s)
    return s
  }

  private async advance(s: Session, h: bigint): Promise<void> {
    const P = BigInt(this.o.schedule.phaseHeights)
    if (s.stage === 'deal' && h >= s.begin + P) {
      s.stage = 'complain'
      await this.send(s, s.p.endDealPhase())
    }
    if (s.stage === 'complain' && h >= s.begin + 2n * P) {
      s.stage = 'answer'
      await this.send(s, s.p.endComplaintPhase())
    }
    if (s.stage === 'answer' && h >= s.begin + 3n * P) await this.finish(s)
  }

  private async send(s: Session, msgs: DkgMessage[]): Promise<void> {
    for (const m of msgs) {
      const sent = this.tamper ? this.tamper(m) : m
      if (!sent || this.myIndex === null) continue
      const bytes = signDkgMessage(this.o.domain, s.s, sent, this.o.validatorKey as PrivateKey)
      await this.o.transport.broadcast(bytes).catch(() => {})
    }
  }

  private async finish(s: Session): Promise<void> {
    this.sessions.delete(s.key)
    this.finished.add(s.key)
    const base = { startHeight: s.s.startHeight, attempt: s.s.attempt }
    try {
      const r = s.p.finishPublic()
      // An observer (never fetched shares) or a validator missing a qualified dealer's shares: none.
      const shares = r.shares
      await this.o.service.addEpoch({ public: r.public, shares })
      this.outcomes.push({ ...base, ok: true, qual: r.qual, disqualified: r.disqualified, keyed: !!shares })
      this.log(
        'info',
        { epoch: String(s.s.startHeight), attempt: s.s.attempt, qual: r.qual, disqualified: r.disqualified },
        'DKG: epoch keyed',
      )
      // Older sessions of the same epoch are moot.
      for (const o of [...this.sessions.values()])
        if (o.s.startHeight === s.s.startHeight) this.sessions.delete(o.key)
    } catch (e) {
      const error = (e as Error).message
      this.outcomes.push({ ...base, ok: false, error })
      this.log(
        'warn',
        { epoch: String(s.s.startHeight), attempt: s.s.attempt, error },
        'DKG failed: retrying',
      )
    }
  }

  /**
   * A message from the DKG topic (gossip validation): signature checked, handed to its session.
   * Throws a coded AllotError to refuse it: rejected when bad (wrong signer, shares on the broadcast
   * channel), ignored (…UNKNOWN_HEIGHT, …DUPLICATE) when not for a session this node runs.
   */
  onBroadcast(bytes: Uint8Array): void {
    const { session, message } = openDkgMessage(this.o.domain, bytes, this.o.validators)
    if (message.type === 'shares')
      throw new AllotError('SEAL_DKG_PRIVATE', 'DkgShares must never be broadcast')
    const s = this.sessionFor(session)
    const id = keccak256Hex(bytes)
    if (s.seen.has(id)) throw new AllotError('SEAL_DKG_DUPLICATE', 'already seen')
    s.seen.add(id)
    s.p.receive(message)
    if (message.type === 'deal') {
      s.deals.add(message.dealer)
      if (s.stage === 'deal' && !s.sharesFrom.has(message.dealer)) this.fetchShares(s)
    }
  }

  /** The session a message belongs to, opened early when it is the one due next (peers' heights differ a little). */
  private sessionFor(session: DkgSession): Session {
    const key = keyOf(session)
    const s = this.sessions.get(key)
    if (s) return s
    if (this.finished.has(key)) throw new AllotError('SEAL_DKG_DUPLICATE', `DKG ${key} already finished`)
    // Plausible: the epoch to generate next, at the current attempt or the one after (peers' decided
    // heights differ a little; a node lagging behind consensus still hears the broadcasts).
    const start = this.nextStart(this.height)
    if (start !== session.startHeight)
      throw new AllotError('SEAL_DKG_UNKNOWN_HEIGHT', `no DKG for an epoch at ${session.startHeight} now`)
    const now = this.attemptAt(start, this.height).attempt
    if (session.attempt < now || session.attempt > now + 1)
      throw new AllotError('SEAL_DKG_UNKNOWN_HEIGHT', `DKG attempt ${session.attempt} is not current`)
    const base = start - BigInt(this.o.schedule.leadHeights)
    return this.open(session, base + BigInt(session.attempt) * this.cycle)
  }

  /** Asks peers for the DkgShares owed to us by dealers whose shares we lack (during the deal phase). */
  private fetchShares(s: Session): void {
    if (this.myIndex === null || s.fetching || s.p.observing) return
    if (s.sharesFrom.size >= this.n - 1) return
    s.fetching = true
    const req = signDkgSharesRequest(
      this.o.domain,
      { ...s.s, index: this.myIndex, peer: this.o.transport.peerId() },
      this.o.validatorKey as PrivateKey,
    )
    void this.o.transport
      .requestShares(req)
      .then((frames) => {
        for (const f of frames) {
          try {
            const { session, message } = openDkgMessage(this.o.domain, f, this.o.validators)
            if (keyOf(session) !== s.key || message.type !== 'shares' || message.to !== this.myIndex) continue
            if (s.sharesFrom.has(message.dealer)) continue
            s.sharesFrom.add(message.dealer)
            s.p.receive(message)
          } catch {
            // A bad answer counts as no answer: a dealer that never delivers gets a complaint.
          }
        }
      })
      .catch(() => {})
      .finally(() => {
        s.fetching = false
        // Deals that arrived meanwhile: ask again.
        if (s.stage === 'deal' && [...s.deals].some((d) => d !== this.myIndex && !s.sharesFrom.has(d)))
          setTimeout(() => this.fetchShares(s), 100).unref()
      })
  }

  /**
   * A shares request from peer `peer` (the private protocol's handler): the signed DkgShares this
   * validator dealt to the requesting validator in that session, or null. The request must be signed
   * by that validator and name `peer`, the stream's authenticated remote peer.
   */
  serveShares(request: Uint8Array, peer: string): Uint8Array | null {
    const r = openDkgSharesRequest(this.o.domain, request, this.o.validators, peer)
    return this.sessions.get(keyOf(r))?.dealt.get(r.index) ?? null
  }

  private log(level: 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string): void {
    this.o.logger?.[level](obj, msg)
  }
}
