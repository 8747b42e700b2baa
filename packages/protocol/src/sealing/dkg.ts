import type { Hex } from '../bytes.js'
import { type Codec, decode, encode, fixedBytes, list, struct, u16, union } from '../codec.js'
import { AllotError } from '../errors.js'
import type { EpochPublic } from './epoch.js'
import { MAX_EPOCH_LENGTH } from './epoch.js'
import { checkThreshold, commitPolynomial, expectedSharePoint, randomPolynomial } from './feldman.js'
import {
  CURVE_ORDER,
  defaultRng,
  evalPoly,
  modN,
  mulBase,
  type Point,
  pointFromHex,
  pointToHex,
  type Rng,
  randomScalar,
  scalarFromHex,
  scalarToHex,
} from './scalar.js'

/**
 * Distributed key generation of an epoch of batch keys: joint-Feldman (Pedersen 1991) with the
 * complaint phase of Gennaro, Jarecki, Krawczyk, Rabin 1999 ("Secure distributed key generation
 * for discrete-log based cryptosystems", Fig. 2 steps 1–3, with Feldman commitments in step 1).
 * No party ever holds a batch secret: sk_h = Σ_{i∈QUAL} f_i,h(0).
 *
 * A pure, message-driven state machine per participant; the node drives it with messages and
 * three phase deadlines (timer ticks), well before the epoch starts:
 *   start()               → DkgDeal (broadcast) and one DkgShares per participant (private link)
 *   endDealPhase()        → a DkgComplaint (broadcast) against each dealer whose shares are missing
 *                           or fail their commitments
 *   endComplaintPhase()   → a DkgAnswer (broadcast) revealing the disputed shares, per complaint against us
 *   finish()              → QUAL, this participant's final shares and the epoch's public commitments
 * Disqualified (by every honest participant alike, from broadcast data only): a dealer with no or
 * malformed deal, more than t complaints, an unanswered complaint, or an answer that fails its
 * commitments. Assumes, as GJKR do, a broadcast channel (all honest parties see the same
 * broadcasts by each deadline) and private links for DkgShares.
 */
export type DkgMessage = DkgDeal | DkgShares | DkgComplaint | DkgAnswer

export interface DkgDeal {
  type: 'deal'
  dealer: number
  /** commitments[k] = C_0..C_t of the dealer's polynomial for height startHeight + k. */
  commitments: Hex[][]
}
/** Private: the dealer's shares f_dealer,h(to) for every height of the epoch. */
export interface DkgShares {
  type: 'shares'
  dealer: number
  to: number
  shares: Hex[]
}
export interface DkgComplaint {
  type: 'complaint'
  from: number
  against: number
}
/** Broadcast: the dealer reveals the shares it owes the complainer, for all to check. */
export interface DkgAnswer {
  type: 'answer'
  dealer: number
  to: number
  shares: Hex[]
}

/**
 * Faster curve arithmetic for large epochs (the node passes libsecp256k1): every function must
 * compute exactly what the noble path computes. Without it, noble serves (about a millisecond per
 * point multiplication: an epoch of 10,000 heights would take minutes to check).
 */
export interface DkgCurveOps {
  /** C_j = a_j·G for each coefficient, 33-byte compressed hex. */
  commit(coeffs: readonly bigint[]): Hex[]
  /** share·G = Σ_j index^j·C_j; false on any invalid point (a deal is not parsed on arrival with ops). */
  checkShare(commitments: readonly Hex[], index: number, share: bigint): boolean
  /** Σ points, 33-byte compressed hex. */
  sum(points: readonly Hex[]): Hex
}

const POINT_HEX = /^0x0[23][0-9a-f]{64}$/

export interface DkgConfig {
  /** This participant's 1-based index. */
  index: number
  n: number
  t: number
  startHeight: bigint
  length: number
  rng?: Rng
  ops?: DkgCurveOps
}

export interface DkgResult {
  /** The qualified dealers, ascending. */
  qual: number[]
  /** Why each other dealer was disqualified. */
  disqualified: { dealer: number; reason: string }[]
  public: EpochPublic
  /** This participant's shares of sk_h for every height of the epoch (32-byte hex). */
  shares: Hex[]
}

type Phase = 'idle' | 'deal' | 'complain' | 'answer' | 'done'
const PHASES: readonly Phase[] = ['idle', 'deal', 'complain', 'answer', 'done']

export class DkgParticipant {
  readonly index: number
  readonly n: number
  readonly t: number
  readonly startHeight: bigint
  readonly length: number
  private readonly rng: Rng
  private phase: Phase = 'idle'
  /** Deals as received (hex); parsed points too on the noble path. */
  private readonly deals = new Map<number, Hex[][]>()
  private readonly dealPoints = new Map<number, Point[][]>()
  private readonly ops: DkgCurveOps | undefined
  private readonly malformedDeals = new Map<number, string>()
  private readonly received = new Map<number, bigint[]>()
  /** complaints.get(dealer) = set of complainers. */
  private readonly complaints = new Map<number, Set<number>>()
  /** answers.get(dealer).get(complainer) = revealed shares, or null when they failed to parse. */
  private readonly answers = new Map<number, Map<number, bigint[] | null>>()
  private readonly myComplaints = new Set<number>()
  /** Dealers whose private shares to us passed the check at the deal deadline. */
  private readonly validFrom = new Set<number>()
  /** What we dealt, dealtShares[j-1] = our shares for participant j: kept to answer complaints. */
  private dealtShares: bigint[][] | null = null
  /** Watching only (observe()): no deal, no complaints, no answers. */
  private observer = false

  constructor(c: DkgConfig) {
    checkThreshold(c.n, c.t)
    if (!Number.isInteger(c.index) || c.index < 1 || c.index > c.n) {
      throw new AllotError('SEAL_BAD_PARAMS', `participant index ${c.index} not in 1..${c.n}`)
    }
    if (!Number.isInteger(c.length) || c.length < 1 || c.length > MAX_EPOCH_LENGTH) {
      throw new AllotError('SEAL_BAD_PARAMS', `epoch length ${c.length}`)
    }
    this.index = c.index
    this.n = c.n
    this.t = c.t
    this.startHeight = c.startHeight
    this.length = c.length
    this.rng = c.rng ?? defaultRng
    this.ops = c.ops
  }

  get currentPhase(): Phase {
    return this.phase
  }

  /** Deals this participant's random polynomials; returns its deal and the private shares for every other participant. */
  start(): DkgMessage[] {
    if (this.phase !== 'idle') throw new AllotError('SEAL_DKG_PHASE', 'DKG already started')
    this.phase = 'deal'
    const commitments: Hex[][] = []
    const shares: bigint[][] = Array.from({ length: this.n }, () => [])
    for (let k = 0; k < this.length; k++) {
      const coeffs = randomPolynomial(randomScalar(this.rng), this.t, this.rng)
      commitments.push(this.ops ? this.ops.commit(coeffs) : commitPolynomial(coeffs).map(pointToHex))
      for (let j = 1; j <= this.n; j++) shares[j - 1].push(evalPoly(coeffs, BigInt(j)))
    }
    this.dealtShares = shares
    const out: DkgMessage[] = [{ type: 'deal', dealer: this.index, commitments }]
    for (let j = 1; j <= this.n; j++) {
      out.push({ type: 'shares', dealer: this.index, to: j, shares: shares[j - 1].map(scalarToHex) })
    }
    for (const m of out)
      if (m.type === 'deal' || (m.type === 'shares' && m.to === this.index)) this.receive(m)
    return out.filter((m) => !(m.type === 'shares' && m.to === this.index))
  }

  /**
   * Follows the DKG without dealing: a node that is not a validator, or a validator that joined too
   * late to deal (its deal would reach the others after their deal deadline, and they would disagree
   * on whether it dealt). It never complains (it may lack shares only because it was late) and so
   * learns QUAL and the public part from broadcast data alone — and its own shares too when every
   * qualified dealer's arrived and check out (finishPublic).
   */
  observe(): void {
    if (this.phase !== 'idle') throw new AllotError('SEAL_DKG_PHASE', 'DKG already started')
    this.phase = 'deal'
    this.observer = true
  }

  get observing(): boolean {
    return this.observer
  }

  /**
   * Each kind of message counts until its phase's deadline, also when it arrives early (peers'
   * clocks differ): deals and shares until endDealPhase, complaints until endComplaintPhase,
   * answers until finish.
   */
  private get dealing(): boolean {
    return this.before('complain')
  }

  private before(phase: Phase): boolean {
    return PHASES.indexOf(this.phase) < PHASES.indexOf(phase)
  }

  private inRange(i: unknown): i is number {
    return typeof i === 'number' && Number.isInteger(i) && i >= 1 && i <= this.n
  }

  private parseShares(shares: unknown): bigint[] | null {
    if (!Array.isArray(shares) || shares.length !== this.length) return null
    try {
      return shares.map((s) => scalarFromHex(s as string))
    } catch {
      return null
    }
  }

  /** Records a message from the transport. Messages for a closed phase or malformed ones are ignored or held against their sender. */
  receive(m: DkgMessage): void {
    switch (m.type) {
      case 'deal': {
        if (!this.dealing || !this.inRange(m.dealer)) return
        if (this.deals.has(m.dealer) || this.malformedDeals.has(m.dealer)) {
          // A second, different deal is equivocation on the broadcast channel: the dealer is out.
          this.deals.delete(m.dealer)
          this.dealPoints.delete(m.dealer)
          this.malformedDeals.set(m.dealer, 'two deals')
          return
        }
        try {
          if (!Array.isArray(m.commitments) || m.commitments.length !== this.length)
            throw new Error('epoch length')
          for (const c of m.commitments) {
            if (!Array.isArray(c) || c.length !== this.t + 1) throw new Error('threshold')
            if (this.ops && !c.every((p) => typeof p === 'string' && POINT_HEX.test(p)))
              throw new Error('not a compressed point')
          }
          if (!this.ops) {
            const pts = m.commitments.map((c) => c.map((p) => pointFromHex(p, 'SEAL_BAD_COMMITMENT')))
            this.dealPoints.set(m.dealer, pts)
          }
          this.deals.set(m.dealer, m.commitments)
        } catch (e) {
          this.malformedDeals.set(m.dealer, `malformed deal: ${(e as Error).message}`)
        }
        return
      }
      case 'shares': {
        if (!this.dealing || m.to !== this.index || !this.inRange(m.dealer) || this.received.has(m.dealer))
          return
        const s = this.parseShares(m.shares)
        if (s) this.received.set(m.dealer, s)
        return
      }
      case 'complaint': {
        if (!this.before('answer') || !this.inRange(m.from) || !this.inRange(m.against)) return
        let set = this.complaints.get(m.against)
        if (!set) this.complaints.set(m.against, (set = new Set()))
        set.add(m.from)
        return
      }
      case 'answer': {
        if (!this.before('done') || !this.inRange(m.dealer) || !this.inRange(m.to)) return
        let byTo = this.answers.get(m.dealer)
        if (!byTo) this.answers.set(m.dealer, (byTo = new Map()))
        if (!byTo.has(m.to)) byTo.set(m.to, this.parseShares(m.shares))
        return
      }
    }
  }

  private sharesValid(dealer: number, to: number, shares: readonly bigint[]): boolean {
    const ops = this.ops
    if (ops) {
      const hex = this.deals.get(dealer)
      if (!hex) return false
      for (let k = 0; k < this.length; k++)
        if (shares[k] >= CURVE_ORDER || !ops.checkShare(hex[k], to, shares[k])) return false
      return true
    }
    const pts = this.dealPoints.get(dealer)
    if (!pts) return false
    for (let k = 0; k < this.length; k++) {
      if (shares[k] >= CURVE_ORDER || !mulBase(shares[k]).equals(expectedSharePoint(pts[k], to))) return false
    }
    return true
  }

  /** Deal phase over: complain against every dealer whose deal arrived but whose shares to us are missing or bad. */
  endDealPhase(): DkgMessage[] {
    if (this.phase !== 'deal') throw new AllotError('SEAL_DKG_PHASE', `endDealPhase in phase ${this.phase}`)
    this.phase = 'complain'
    const out: DkgMessage[] = []
    if (this.observer) return out
    for (const dealer of this.deals.keys()) {
      const s = this.received.get(dealer)
      if (s && this.sharesValid(dealer, this.index, s)) this.validFrom.add(dealer)
      else {
        this.myComplaints.add(dealer)
        out.push({ type: 'complaint', from: this.index, against: dealer })
      }
    }
    for (const m of out) this.receive(m)
    return out
  }

  /** Complaint phase over: answer every complaint against us by revealing the shares owed. */
  endComplaintPhase(): DkgMessage[] {
    if (this.phase !== 'complain')
      throw new AllotError('SEAL_DKG_PHASE', `endComplaintPhase in phase ${this.phase}`)
    this.phase = 'answer'
    const out: DkgMessage[] = []
    const mine = this.complaints.get(this.index)
    if (mine && this.dealtShares) {
      for (const to of [...mine].sort((a, b) => a - b)) {
        out.push({
          type: 'answer',
          dealer: this.index,
          to,
          shares: this.dealtShares[to - 1].map(scalarToHex),
        })
      }
    }
    for (const m of out) this.receive(m)
    return out
  }

  /** Answer phase over: fix QUAL and combine. Throws SEAL_DKG_FAILED with fewer than t+1 qualified dealers. */
  finish(): DkgResult {
    if (this.phase !== 'answer') throw new AllotError('SEAL_DKG_PHASE', `finish in phase ${this.phase}`)
    this.phase = 'done'
    const disqualified: { dealer: number; reason: string }[] = []
    const qual: number[] = []
    const mySharesFrom = new Map<number, bigint[]>()
    for (let d = 1; d <= this.n; d++) {
      const reason = this.disqualify(d, mySharesFrom)
      if (reason) disqualified.push({ dealer: d, reason })
      else qual.push(d)
    }
    if (qual.length < this.t + 1) {
      throw new AllotError('SEAL_DKG_FAILED', `only ${qual.length} qualified dealers, need ${this.t + 1}`, {
        disqualified,
      })
    }
    const commitments = this.combine(qual)
    const shares: Hex[] = []
    for (let k = 0; k < this.length; k++) {
      let s = 0n
      for (const d of qual) s = modN(s + (mySharesFrom.get(d) as bigint[])[k])
      shares.push(scalarToHex(s))
    }
    return {
      qual,
      disqualified,
      public: { startHeight: this.startHeight, length: this.length, n: this.n, t: this.t, commitments },
      shares,
    }
  }

  /**
   * Answer phase over, for any participant including an observer: QUAL and the public part from
   * broadcast data only (the same for every honest participant), and this participant's shares when
   * it holds valid ones from every qualified dealer — null otherwise (an observer, or a validator that
   * joined late: it takes part in no unsealing of this epoch). Throws SEAL_DKG_FAILED with fewer
   * than t+1 qualified dealers.
   */
  finishPublic(): Omit<DkgResult, 'shares'> & { shares: Hex[] | null } {
    if (this.phase !== 'answer') throw new AllotError('SEAL_DKG_PHASE', `finish in phase ${this.phase}`)
    this.phase = 'done'
    const disqualified: { dealer: number; reason: string }[] = []
    const qual: number[] = []
    for (let d = 1; d <= this.n; d++) {
      const reason = this.publicReason(d)
      if (reason) disqualified.push({ dealer: d, reason })
      else qual.push(d)
    }
    if (qual.length < this.t + 1) {
      throw new AllotError('SEAL_DKG_FAILED', `only ${qual.length} qualified dealers, need ${this.t + 1}`, {
        disqualified,
      })
    }
    const mine = new Map<number, bigint[]>()
    for (const d of qual) {
      // A valid public answer to our complaint, else the private shares if they check out (an
      // observer never checked them at the deal deadline).
      // (A qualified dealer's answers were checked by publicReason; private shares at the deal deadline.)
      const answered = this.myComplaints.has(d) ? this.answers.get(d)?.get(this.index) : undefined
      if (answered) mine.set(d, answered)
      else {
        const s = this.received.get(d)
        if (s && (this.validFrom.has(d) || this.sharesValid(d, this.index, s))) mine.set(d, s)
      }
    }
    const complete = mine.size === qual.length
    const commitments = this.combine(qual)
    const shares: Hex[] = []
    for (let k = 0; complete && k < this.length; k++) {
      let s = 0n
      for (const d of qual) s = modN(s + (mine.get(d) as bigint[])[k])
      shares.push(scalarToHex(s))
    }
    return {
      qual,
      disqualified,
      public: { startHeight: this.startHeight, length: this.length, n: this.n, t: this.t, commitments },
      shares: complete ? shares : null,
    }
  }

  /** The epoch's commitments: per height and coefficient, the sum over the qualified dealers'. */
  private combine(qual: readonly number[]): Hex[][] {
    const out: Hex[][] = []
    const ops = this.ops
    for (let k = 0; k < this.length; k++) {
      if (ops) {
        const row: Hex[] = []
        for (let j = 0; j <= this.t; j++)
          row.push(ops.sum(qual.map((d) => (this.deals.get(d) as Hex[][])[k][j])))
        out.push(row)
        continue
      }
      const c: Point[] = []
      for (const d of qual) {
        const pts = this.dealPoints.get(d) as Point[][]
        for (let j = 0; j <= this.t; j++) c[j] = c[j] ? c[j].add(pts[k][j]) : pts[k][j]
      }
      out.push(c.map(pointToHex))
    }
    return out
  }

  /** GJKR step 3 from broadcast data only: why dealer d is out, or null. */
  private publicReason(d: number): string | null {
    const bad = this.malformedDeals.get(d)
    if (bad) return bad
    if (!this.deals.has(d)) return 'no deal'
    const complainers = this.complaints.get(d) ?? new Set<number>()
    if (complainers.size > this.t) return `${complainers.size} complaints (more than t = ${this.t})`
    const answered = this.answers.get(d)
    for (const j of complainers) {
      const a = answered?.get(j)
      if (a === undefined) return `complaint of ${j} unanswered`
      if (a === null || !this.sharesValid(d, j, a)) return `answer to ${j} fails the commitments`
    }
    return null
  }

  /** GJKR step 3: the public reason dealer d is out, or null (then mySharesFrom gets our shares from it). */
  private disqualify(d: number, mySharesFrom: Map<number, bigint[]>): string | null {
    const reason = this.publicReason(d)
    if (reason) return reason
    // Our shares from d: the private ones, or — if we complained — the valid public answer.
    const mine = this.myComplaints.has(d) ? this.answers.get(d)?.get(this.index) : this.received.get(d)
    if (!mine) return 'no valid shares for us'
    mySharesFrom.set(d, mine)
    return null
  }
}

const point33 = fixedBytes(33)
const scalar32 = fixedBytes(32)

const dkgUnion = union('DkgMessage', {
  deal: struct('DkgDeal', { dealer: u16, commitments: list(list(point33, 256), MAX_EPOCH_LENGTH) }),
  shares: struct('DkgShares', { dealer: u16, to: u16, shares: list(scalar32, MAX_EPOCH_LENGTH) }),
  complaint: struct('DkgComplaint', { from: u16, against: u16 }),
  answer: struct('DkgAnswer', { dealer: u16, to: u16, shares: list(scalar32, MAX_EPOCH_LENGTH) }),
})

/** Wire codec of DKG messages (u8 tag in the order above). DkgShares travel only on private, encrypted links. */
export const dkgMessageCodec: Codec<DkgMessage> = {
  name: 'DkgMessage',
  write: (w, m) => {
    const { type, ...rest } = m
    dkgUnion.write(w, { kind: type, ...rest } as Parameters<typeof dkgUnion.write>[1])
  },
  read: (r) => {
    const { kind, ...rest } = dkgUnion.read(r)
    return { type: kind, ...rest } as DkgMessage
  },
}

export function encodeDkgMessage(m: DkgMessage): Uint8Array {
  return encode(dkgMessageCodec, m)
}

export function decodeDkgMessage(b: Uint8Array): DkgMessage {
  return decode(dkgMessageCodec, b)
}
