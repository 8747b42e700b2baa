import {
  type Address,
  AllotError,
  addressOf,
  concatBytes,
  type DkgCurveOps,
  type DkgMessage,
  type DkgSession,
  domainSeparator,
  type Hex,
  type NetworkDomain,
  openDkgMessage,
  openDkgSharesRequest,
  type PrivateKey,
  type Rng,
  signDkgMessage,
  signDkgSharesRequest,
  toHex,
} from '@allot/protocol'
import type { Logger } from 'pino'
import type { Genesis } from '../config/index.js'
import { type DkgStage, type SealingMetrics, setDkgStage } from '../metrics/index.js'
import type { SealingService } from './service.js'
import { DkgTranscript, PHASE_OF, PHASES } from './transcript.js'
import {
  type DkgBroadcast,
  MAX_DKG_REFS,
  type OpenedBroadcast,
  openBroadcast,
  signBroadcast,
} from './wire.js'

/**
 * The DKG of the next epoch, run by the validators over their links and *decided* by consensus
 * (docs/sealing.md "The DKG run by the nodes"). Broadcasts (deals, complaints, sealed answers,
 * accusations) go on gossip `/allot/<net>/dkg/2`, signed by the validator their dealer/from field
 * names; proposers put the hashes of the ones they hold into the batch they propose
 * (`BatchContent.dkgRefs`, `proposalRefs`), validators vote only for references they hold (fetching
 * the others, `refStatus` / `fetchRefs`), and a broadcast counts only in the phase whose window of
 * heights holds the decided height that first referenced it. So QUAL and the epoch's public part are
 * a function of decided data: every honest validator computes the same ones, whatever the timing of
 * gossip. DkgShares only travel over the private request/response protocol `/allot/<net>/dkg-shares/1`.
 * The outcome is stored by SealingService.addEpoch exactly like a dealt epoch.
 */

/** When the DKG runs, in heights (consensus-driven: every validator changes phase at the same decided height). */
export interface DkgSchedule {
  /** Heights of every epoch the DKG makes. */
  epochLength: number
  /** Heights per phase window: deal, complaint, answer, accusation. */
  phaseHeights: number
  /** The DKG for an epoch starting at S begins at height S − leadHeights (room for ⌊lead / 4·phase⌋ attempts). */
  leadHeights: number
}

/**
 * Phase windows last ≥ 20 s and at least 3 heights: a broadcast made at the start of a window must reach
 * a proposer of a later height of the window (with rotating proposers, an honest one among them).
 */
const PHASE_MS = 20_000
const ATTEMPTS = 4
/**
 * DKG epochs default to an hour of batches (at most 3,600 heights): checking a deal is synchronous
 * (~0.4–0.8 ms CPU per height per validator with libsecp256k1, BENCHMARKS.md "Sealing"), so a longer
 * epoch would hold a validator's event loop for seconds at each phase end.
 */
const DKG_EPOCH_MS = 3_600_000
const DKG_EPOCH_MAX = 3_600

/**
 * The genesis's schedule, defaults from the batch interval: one-hour epochs, windows of 20 s and at
 * least f+1 heights (proposers rotate by height: such a window has an honest round-0 proposer to
 * reference what a Byzantine one leaves out), room for 4 attempts.
 */
export function dkgScheduleOf(g: Pick<Genesis, 'batchIntervalMs' | 'sealing' | 'validators'>): DkgSchedule {
  const f = Math.floor((g.validators.length - 1) / 3)
  const phaseHeights =
    g.sealing.dkgPhaseHeights ?? Math.max(3, f + 1, Math.ceil(PHASE_MS / g.batchIntervalMs))
  return {
    epochLength:
      g.sealing.epochLength ??
      Math.min(DKG_EPOCH_MAX, Math.ceil(DKG_EPOCH_MS / Math.max(1, g.batchIntervalMs))),
    phaseHeights,
    leadHeights: g.sealing.dkgLeadHeights ?? ATTEMPTS * PHASES * phaseHeights,
  }
}

// Its gossip topic (`dkg`) and protocols (`dkg-refs`: broadcasts by ref; `dkg-shares`: the private
// DkgShares) are named in the network's tables: network/topics.ts, protocol/src/api.ts.

/** What the DKG needs of the network (run.ts wires gossip and the shares protocol behind it). */
export interface DkgTransport {
  /** Publishes a signed broadcast (deal, complaint, sealed answer, accusation) on the DKG topic. */
  broadcast(bytes: Uint8Array): Promise<void>
  /** Sends a signed shares request to every connected peer; returns the signed DkgShares they answer. */
  requestShares(request: Uint8Array): Promise<Uint8Array[]>
  /** This node's libp2p peer id: shares requests are bound to it. */
  peerId(): string
  /** Asks peers for the signed broadcasts with these refs (a decided height or a proposal names them). */
  fetchRefs(refs: Hex[]): Promise<Uint8Array[]>
}

export type DkgOutcome =
  | {
      startHeight: bigint
      attempt: number
      ok: true
      qual: number[]
      disqualified: { dealer: number; reason: string }[]
      /** False when this node only observed (not a validator) or lacks a qualified dealer's shares. */
      keyed: boolean
    }
  | { startHeight: bigint; attempt: number; ok: false; error: string }

interface Session {
  key: string
  s: DkgSession
  /** First height of the session's windows: deal [begin, begin+P), complaint, answer, accusation. */
  begin: bigint
  tr: DkgTranscript
  /** What we dealt, signed, per recipient index: served on request. */
  dealt: Map<number, Uint8Array>
  /** Dealers whose deal we heard of (gossip or decided): their private shares are fetched. */
  deals: Set<number>
  fetching: boolean
  /** Some decided ref could not be fetched while the session was open: no epoch from it. */
  incomplete?: boolean
}

/** A valid signed broadcast this node holds, by ref. */
interface Held extends OpenedBroadcast {
  bytes: Uint8Array
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
  /**
   * The DKG refs of decided height h as stored (the node's `batches` bucket), undefined when not
   * stored: a validator (re)started in the middle of a session replays its heights from there.
   */
  decidedRefsAt?: (h: bigint) => Promise<readonly Hex[] | undefined>
  /**
   * A node that is not a validator decides nothing: it follows the DKG on this clock instead (every
   * `everyMs`, the height before `currentHeight()`), from `start()` to `stop()`.
   */
  observerClock?: { currentHeight: () => bigint; everyMs: number }
  /** The DKG stage and finished attempts (metrics/sealing.ts). */
  metrics?: Pick<SealingMetrics, 'dkgStage' | 'dkgOutcomes'>
}

const keyOf = (s: DkgSession) => `${s.startHeight}/${s.attempt}`
/** Broadcasts held at most (a session of n validators needs n deals, ≤ n² complaints, answers, accusations). */
const MAX_HELD = 16_384
/** Rounds of 250 ms spent fetching a decided height's refs before giving up on them (a minute). */
const HOLD_TRIES = 240

function u64Bytes(v: bigint): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, v)
  return b
}

function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v)
  return b
}

export class EpochDkg {
  /**
   * Test hook: rewrites (or drops, with null) each DKG message this node sends, before it is signed —
   * tests make a cheating dealer with it. Never set in production.
   */
  tamper?: (m: DkgMessage | DkgBroadcast) => DkgMessage | DkgBroadcast | null
  /** Every finished attempt, oldest first (logged too). */
  readonly outcomes: DkgOutcome[] = []
  private readonly sessions = new Map<string, Session>()
  private readonly finished = new Set<string>()
  /** Valid broadcasts held (from gossip or fetched), by ref; and the refs decided heights named. */
  private readonly held = new Map<Hex, Held>()
  private readonly decidedRefs = new Set<Hex>()
  private readonly myIndex: number | null
  private readonly n: number
  private readonly t: number
  private height = 0n
  /** The first height this process decided live: it deals only in sessions that begin there or later. */
  private liveFrom: bigint | undefined
  /**
   * The first height whose decided refs this process has seen (live, or replayed from storage): a
   * session that began earlier gives it no epoch (its view of the windows would be partial).
   */
  private viewFrom: bigint | undefined
  /** Replaying stored heights: nothing is sent. */
  private replaying = false
  private queue: Promise<void> = Promise.resolve()
  private stopped = false

  constructor(private readonly o: EpochDkgOptions) {
    this.n = o.validators.length
    this.t = Math.floor((this.n - 1) / 3)
    if (o.schedule.leadHeights < PHASES * o.schedule.phaseHeights)
      throw new AllotError('SEAL_BAD_PARAMS', 'DKG lead shorter than its four phase windows')
    if (o.schedule.phaseHeights < 2)
      throw new AllotError('SEAL_BAD_PARAMS', 'DKG phase windows need at least 2 heights')
    const me = o.validatorKey ? addressOf(o.validatorKey) : null
    const i = me ? o.validators.findIndex((v) => v.toLowerCase() === me) : -1
    this.myIndex = i >= 0 ? i + 1 : null
  }

  /** Timers of its own (retry pauses, the observer's clock): cleared by `stop`. */
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly wakers = new Set<() => void>()
  private observer: NodeJS.Timeout | undefined

  /** Starts the observer's clock on a node that is not a validator (validators are driven by decisions). */
  async start(): Promise<void> {
    this.stopped = false
    const clock = this.o.observerClock
    if (clock && this.myIndex === null) {
      this.observer = setInterval(() => void this.onHeight(clock.currentHeight() - 1n), clock.everyMs)
      this.observer.unref()
    }
  }

  /**
   * Stops for real (the node shuts down): the observer's clock and every pause end now, a pending fetch
   * of decided refs gives up, and the step under way is awaited.
   */
  async stop(): Promise<void> {
    this.stopped = true
    clearInterval(this.observer)
    this.observer = undefined
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    for (const wake of this.wakers) wake()
    this.wakers.clear()
    await this.queue
  }

  /** A pause that `stop` cuts short. */
  private pause(ms: number, then?: () => void): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve()
      const wake = () => {
        clearTimeout(t)
        this.timers.delete(t)
        this.wakers.delete(wake)
        resolve()
      }
      const t = setTimeout(() => {
        wake()
        if (!this.stopped) then?.()
      }, ms)
      this.timers.add(t)
      this.wakers.add(wake)
    })
  }

  /** The stage of the newest session still open, or idle. */
  stage(): DkgStage {
    let newest: Session | undefined
    for (const s of this.sessions.values()) if (!newest || s.begin > newest.begin) newest = s
    return newest ? newest.tr.currentStage : 'idle'
  }

  private recordOutcome(o: DkgOutcome): void {
    this.outcomes.push(o)
    this.o.metrics?.dkgOutcomes.inc({ result: o.ok ? 'ok' : 'failed' })
  }

  private get P(): bigint {
    return BigInt(this.o.schedule.phaseHeights)
  }

  private get cycle(): bigint {
    return BigInt(PHASES) * this.P
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

  /** First height of attempt `attempt` at the epoch starting at `start`. */
  private beginOf(start: bigint, attempt: number): bigint {
    return start - BigInt(this.o.schedule.leadHeights) + BigInt(attempt) * this.cycle
  }

  /** Which attempt at epoch `s` runs at height h, and where it begins. */
  private attemptAt(s: bigint, h: bigint): { attempt: number; begin: bigint } {
    const base = s - BigInt(this.o.schedule.leadHeights)
    const a = h > base ? (h - base) / this.cycle : 0n
    return { attempt: Number(a), begin: base + a * this.cycle }
  }

  /** The 0-based window of a session that height h falls in (−1 before it; ≥ PHASES after it). */
  private windowAt(begin: bigint, h: bigint): number {
    return h < begin ? -1 : Number((h - begin) / this.P)
  }

  /**
   * Decided height h with the DKG refs its batch carries (SealingService.onDecided): the referenced
   * broadcasts count in their window, windows that ended are closed, an attempt that is due starts.
   * A node that is not a validator has no decided batches: it calls this on its own clock without
   * refs, and every broadcast it holds counts at the height it is fed (no agreement promised).
   */
  onHeight(h: bigint, refs?: readonly Hex[]): Promise<void> {
    this.queue = this.queue
      .then(() => this.step(h, refs))
      .then(() => {
        if (this.o.metrics) setDkgStage(this.o.metrics, this.stage())
      })
      .catch((e) => this.log('error', { err: String(e) }, 'DKG step failed'))
    return this.queue
  }

  private async step(h: bigint, refs: readonly Hex[] | undefined): Promise<void> {
    if (h <= this.height) return
    if (this.liveFrom === undefined) {
      this.liveFrom = h
      this.viewFrom = h
      if (refs) await this.replay(h)
    }
    await this.process(h, refs)
  }

  /**
   * Started at decided height h: replays the stored decided heights from the first height of the
   * epoch's DKG due at h − 1 (its attempt 0) up to h − 1, so that a restarted validator computes the
   * same QUAL and public part as the others (it lost its polynomials and received shares: it holds
   * no shares of that epoch). Sends nothing meanwhile.
   */
  private async replay(h: bigint): Promise<void> {
    const at = this.o.decidedRefsAt
    const start = this.targetStart(h - 1n)
    if (!at || start === undefined) return
    const from = start - BigInt(this.o.schedule.leadHeights)
    if (from >= h || from < 1n) return
    const stored: (readonly Hex[])[] = []
    for (let k = from; k < h; k++) {
      const r = await at(k).catch(() => undefined)
      if (r === undefined) return
      stored.push(r)
    }
    this.replaying = true
    try {
      this.viewFrom = from
      for (let k = from; k < h; k++) await this.process(k, stored[Number(k - from)])
    } finally {
      this.replaying = false
    }
    this.log('info', { from: String(from), to: String(h - 1n) }, 'DKG: replayed stored heights')
  }

  private async process(h: bigint, refs: readonly Hex[] | undefined): Promise<void> {
    this.height = h
    if (refs && refs.length > 0 && !(await this.hold(refs))) {
      // Refs no peer served: our view of this height's broadcasts is incomplete, so no open session
      // may give us an epoch (the others' QUAL could differ from ours).
      for (const s of this.sessions.values()) s.incomplete = true
    }
    // The attempt due at h opens first, so that refs decided at its first height count.
    const start = this.targetStart(h)
    if (start !== undefined) {
      const { attempt, begin } = this.attemptAt(start, h)
      const key = keyOf({ startHeight: start, attempt })
      if (!this.finished.has(key) && !this.sessions.has(key) && h >= begin)
        this.open({ startHeight: start, attempt }, begin)
    }
    const fed: Held[] = []
    for (const [r, m] of refs ? refs.map((r) => [r, this.held.get(r)] as const) : [...this.held]) {
      if (!m || this.decidedRefs.has(r)) continue
      if (!refs) {
        // On our own clock (no decided refs): a broadcast counts at the first height of its window we
        // reach, so one that arrives early (peers' heights differ) waits for it.
        const s = this.sessions.get(keyOf(m.session))
        if (!s || this.windowAt(s.begin, h) < PHASE_OF[m.message.type]) continue
      }
      this.decidedRefs.add(r)
      fed.push(m)
    }
    for (const m of fed) {
      const s = this.sessions.get(keyOf(m.session))
      if (!s) continue
      if (this.windowAt(s.begin, h) === PHASE_OF[m.message.type]) s.tr.decided(m.message, m.senderKey)
      if (m.message.type === 'deal') s.deals.add(m.message.dealer)
    }
    for (const s of [...this.sessions.values()]) await this.advance(s, h)
    for (const s of this.sessions.values()) {
      // Deal while a proposer of a later height of the deal window can still reference it.
      if (
        this.myIndex !== null &&
        !this.replaying &&
        !s.tr.hasDealt &&
        s.tr.currentStage === 'deal' &&
        h + 1n < s.begin + this.P &&
        (this.liveFrom ?? h) <= s.begin
      )
        await this.deal(s)
      if (s.tr.currentStage === 'deal' && !this.replaying) this.fetchShares(s)
    }
  }

  private async deal(s: Session): Promise<void> {
    const { deal, shares } = s.tr.deal()
    this.log('info', { epoch: String(s.s.startHeight), attempt: s.s.attempt }, 'DKG: dealing')
    for (const x of shares) {
      const m: DkgMessage = { type: 'shares', dealer: deal.dealer, to: x.to, shares: x.shares }
      const sent = this.tamper ? this.tamper(m) : m
      if (sent?.type !== 'shares') continue
      s.dealt.set(sent.to, signDkgMessage(this.o.domain, s.s, sent, this.o.validatorKey as PrivateKey))
    }
    await this.send(s, [deal])
  }

  private open(session: DkgSession, begin: bigint): Session {
    const secret = this.o.validatorKey ? BigInt(toHex(this.o.validatorKey)) : undefined
    const sep = domainSeparator(this.o.domain)
    const s: Session = {
      key: keyOf(session),
      s: session,
      begin,
      tr: new DkgTranscript({
        index: this.myIndex,
        n: this.n,
        t: this.t,
        startHeight: session.startHeight,
        length: this.o.schedule.epochLength,
        secret,
        context: (dealer, to) =>
          concatBytes(
            sep,
            u64Bytes(session.startHeight),
            u32Bytes(session.attempt),
            u32Bytes(dealer),
            u32Bytes(to),
          ),
        rng: this.o.rng,
        ops: this.o.ops,
      }),
      dealt: new Map(),
      deals: new Set(),
      fetching: false,
    }
    for (const m of this.held.values())
      if (keyOf(m.session) === s.key && m.message.type === 'deal') s.deals.add(m.message.dealer)
    this.sessions.set(s.key, s)
    return s
  }

  /** Closes every window of s that ended with decided height h (its last height), in order. */
  private async advance(s: Session, h: bigint): Promise<void> {
    const ends: [string, () => DkgBroadcast[]][] = [
      ['deal', () => s.tr.endDeal()],
      ['complaint', () => s.tr.endComplaint()],
      ['answer', () => s.tr.endAnswer()],
    ]
    for (let k = 0; k < ends.length; k++) {
      const [stage, end] = ends[k]
      if (s.tr.currentStage === stage && h >= s.begin + BigInt(k + 1) * this.P - 1n) await this.send(s, end())
    }
    if (s.tr.currentStage === 'accusation' && h >= s.begin + this.cycle - 1n) await this.finish(s)
  }

  private async send(s: Session, msgs: DkgBroadcast[]): Promise<void> {
    if (this.myIndex === null || this.replaying) return
    for (const m of msgs) {
      const sent = this.tamper ? this.tamper(m) : m
      if (!sent || sent.type === 'shares' || (sent.type === 'answer' && !('sealed' in sent))) continue
      const bytes = signBroadcast(this.o.domain, s.s, sent as DkgBroadcast, this.o.validatorKey as PrivateKey)
      this.keep(openBroadcast(this.o.domain, bytes, this.o.validators), bytes)
      await this.o.transport
        .broadcast(bytes)
        .catch((e) => this.log('warn', { err: String(e) }, 'DKG broadcast failed'))
    }
  }

  private async finish(s: Session): Promise<void> {
    this.sessions.delete(s.key)
    this.finished.add(s.key)
    // The broadcasts of the sessions finished before this one go; this one's stay until the next
    // finishes, for validators still catching up on its heights.
    for (const [r, m] of this.held) {
      const k = keyOf(m.session)
      if (k !== s.key && this.finished.has(k)) {
        this.held.delete(r)
        this.decidedRefs.delete(r)
      }
    }
    const base = { startHeight: s.s.startHeight, attempt: s.s.attempt }
    if ((this.viewFrom ?? 0n) > s.begin) {
      // We did not see every decided height of its windows (started or restarted mid-way): our view
      // of QUAL could differ from the others', so no epoch is taken from it.
      this.recordOutcome({ ...base, ok: false, error: 'joined after the session began' })
      return
    }
    if (s.incomplete) {
      this.recordOutcome({ ...base, ok: false, error: 'decided broadcasts missing' })
      return
    }
    try {
      const r = s.tr.finish()
      await this.o.service.addEpoch({ public: r.public, shares: r.shares })
      this.recordOutcome({ ...base, ok: true, qual: r.qual, disqualified: r.disqualified, keyed: !!r.shares })
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
      this.recordOutcome({ ...base, ok: false, error })
      this.log(
        'warn',
        { epoch: String(s.s.startHeight), attempt: s.s.attempt, error },
        'DKG failed: retrying',
      )
    }
  }

  private keep(m: OpenedBroadcast, bytes: Uint8Array): boolean {
    if (this.held.has(m.ref)) return false
    if (this.held.size >= MAX_HELD) this.held.delete(this.held.keys().next().value as Hex)
    this.held.set(m.ref, { ...m, bytes })
    return true
  }

  /**
   * A message from the DKG topic (gossip validation): signature checked, held for proposals and
   * decided heights. Throws a coded AllotError to refuse it: rejected when bad (wrong signer, not a
   * broadcast), ignored (…UNKNOWN_HEIGHT, …DUPLICATE) when not for a session due now or already held.
   */
  onBroadcast(bytes: Uint8Array): void {
    const m = openBroadcast(this.o.domain, bytes, this.o.validators)
    this.plausible(m.session)
    if (!this.keep(m, bytes)) throw new AllotError('SEAL_DKG_DUPLICATE', 'already held')
    const s = this.sessions.get(keyOf(m.session))
    if (s && m.message.type === 'deal') {
      s.deals.add(m.message.dealer)
      if (s.tr.currentStage === 'deal' && !s.tr.hasSharesFrom(m.message.dealer)) this.fetchShares(s)
    }
  }

  /** Throws unless `session` is the epoch due next, at the current attempt or the one after (peers' heights differ a little). */
  private plausible(session: DkgSession): void {
    const key = keyOf(session)
    if (this.finished.has(key)) throw new AllotError('SEAL_DKG_DUPLICATE', `DKG ${key} already finished`)
    if (this.sessions.has(key)) return
    const start = this.nextStart(this.height)
    if (start !== session.startHeight)
      throw new AllotError('SEAL_DKG_UNKNOWN_HEIGHT', `no DKG for an epoch at ${session.startHeight} now`)
    const now = this.attemptAt(start, this.height).attempt
    if (session.attempt < now || session.attempt > now + 1)
      throw new AllotError('SEAL_DKG_UNKNOWN_HEIGHT', `DKG attempt ${session.attempt} is not current`)
  }

  /**
   * The refs a proposer of height h puts in its batch: every broadcast it holds that no decided height
   * referenced yet and whose kind counts in the window holding h (at most MAX_DKG_REFS, ascending).
   */
  proposalRefs(h: bigint): Hex[] {
    const out: Hex[] = []
    for (const [r, m] of this.held) {
      if (this.decidedRefs.has(r) || this.finished.has(keyOf(m.session))) continue
      const begin = this.beginOf(m.session.startHeight, m.session.attempt)
      if (this.windowAt(begin, h) === PHASE_OF[m.message.type]) out.push(r)
    }
    return out.sort().slice(0, MAX_DKG_REFS)
  }

  /** Whether this node holds the broadcast a proposal references (checked on arrival): 'unknown' until fetched. */
  refStatus(ref: Hex): 'valid' | 'unknown' {
    return this.held.has(ref) ? 'valid' : 'unknown'
  }

  /** Fetches broadcasts by ref from peers; keeps the valid ones asked for. */
  async fetchRefs(refs: readonly Hex[]): Promise<void> {
    const want = new Set(refs.filter((r) => !this.held.has(r)))
    if (want.size === 0) return
    const got = await this.o.transport.fetchRefs([...want]).catch(() => [] as Uint8Array[])
    for (const bytes of got) {
      try {
        const m = openBroadcast(this.o.domain, bytes, this.o.validators)
        if (want.has(m.ref)) this.keep(m, bytes)
      } catch {
        // A bad answer counts as none.
      }
    }
  }

  /** The signed broadcasts held among `refs` (the messages-by-ref protocol's handler). */
  serveRefs(refs: readonly Hex[]): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const r of refs.slice(0, MAX_DKG_REFS)) {
      const m = this.held.get(r)
      if (m) out.push(m.bytes)
    }
    return out
  }

  /**
   * Every ref of a decided height is held before the height is processed: fetched until it is (f+1
   * honest validators voted for it, so they hold it), for HOLD_TRIES rounds at most; false if some
   * are still missing then (a validator far behind, whose peers dropped a finished session's messages).
   */
  private async hold(refs: readonly Hex[]): Promise<boolean> {
    for (let tries = 1; !this.stopped && tries <= HOLD_TRIES; tries++) {
      const missing = refs.filter((r) => !this.held.has(r))
      if (missing.length === 0) return true
      await this.fetchRefs(missing)
      if (refs.every((r) => this.held.has(r))) return true
      if (tries % 20 === 0) this.log('warn', { missing: missing.length }, 'DKG: decided refs not found yet')
      await this.pause(250)
    }
    const missing = refs.filter((r) => !this.held.has(r)).length
    if (missing > 0)
      this.log('warn', { missing }, 'DKG: decided refs not found: no epoch from the open sessions')
    return missing === 0
  }

  /** Asks peers for the DkgShares owed to us by dealers whose shares we lack (during the deal window). */
  private fetchShares(s: Session): void {
    if (this.myIndex === null || s.fetching) return
    const me = this.myIndex
    if (![...s.deals].some((d) => d !== me && !s.tr.hasSharesFrom(d))) return
    s.fetching = true
    const req = signDkgSharesRequest(
      this.o.domain,
      { ...s.s, index: me, peer: this.o.transport.peerId() },
      this.o.validatorKey as PrivateKey,
    )
    void this.o.transport
      .requestShares(req)
      .then((frames) => {
        for (const f of frames) {
          try {
            const { session, message } = openDkgMessage(this.o.domain, f, this.o.validators)
            if (keyOf(session) !== s.key || message.type !== 'shares' || message.to !== me) continue
            s.tr.receiveShares(message.dealer, message.shares)
          } catch {
            // A bad answer counts as no answer: a dealer that never delivers gets a complaint.
          }
        }
      })
      .catch(() => {})
      .finally(() => {
        s.fetching = false
        // Deals that arrived meanwhile, or peers that did not answer yet: ask again.
        if (
          !this.stopped &&
          s.tr.currentStage === 'deal' &&
          [...s.deals].some((d) => d !== me && !s.tr.hasSharesFrom(d))
        )
          void this.pause(100, () => this.fetchShares(s))
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
