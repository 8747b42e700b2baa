import {
  AllotError,
  CURVE_ORDER,
  checkThreshold,
  commitPolynomial,
  type DkgCurveOps,
  type EpochPublic,
  expectedSharePoint,
  type Hex,
  MAX_EPOCH_LENGTH,
  parseCommitments,
  pointFromHex,
  pointToHex,
  type Rng,
  randomPolynomial,
  randomScalar,
  scalarFromHex,
  scalarToHex,
} from '@allot/protocol'
import { answerKey, modN, openAnswer, Point, proveAnswerKey, sealAnswer, verifyAnswerKey } from './answers.js'
import type { DkgBroadcast, DkgDealMsg, DkgSealedAnswer } from './wire.js'

/**
 * One DKG session as decided data fixes it (docs/sealing.md "The exact rule"): joint-Feldman with
 * GJKR-style complaints, but every broadcast counts only in the phase whose window holds the decided
 * height that first referenced it, answers are sealed to the complainer (sealing/answers.ts), and a
 * bad sealed answer is proved bad by an accusation. The caller (EpochDkg) feeds `decided` in decided
 * order and calls the phase ends at the windows' last heights; every honest validator therefore feeds
 * the same messages in the same phases and computes the same QUAL and public part. Only what a
 * validator does itself (its deal, its complaints from the private shares it got, its answers and
 * accusations) depends on its own view. Pure: no I/O, no clock.
 */

/** The phase a kind of broadcast counts in, 0-based; a session lasts PHASES windows. */
export const PHASE_OF: Record<DkgBroadcast['type'], number> = {
  deal: 0,
  complaint: 1,
  answer: 2,
  accusation: 3,
}
export const PHASES = 4

const mulBase = (x: bigint) => (modN(x) === 0n ? Point.ZERO : Point.BASE.multiply(modN(x)))

function evalPoly(coeffs: readonly bigint[], x: bigint): bigint {
  let acc = 0n
  for (let k = coeffs.length - 1; k >= 0; k--) acc = modN(acc * x + coeffs[k])
  return acc
}

const POINT_HEX = /^0x0[23][0-9a-f]{64}$/

/** Noble's curve arithmetic with DkgCurveOps' contract (when the native addon is missing). */
const nobleOps: DkgCurveOps = {
  commit: (coeffs) => commitPolynomial(coeffs).map(pointToHex),
  checkShare: (commitments, index, share) => {
    try {
      return share !== 0n && mulBase(share).equals(expectedSharePoint(parseCommitments(commitments), index))
    } catch {
      return false
    }
  },
  sum: (points) => pointToHex(points.map((p) => pointFromHex(p)).reduce((a, b) => a.add(b))),
}

export interface TranscriptConfig {
  /** This validator's index, or null for an observer (deals, complains, answers nothing). */
  index: number | null
  n: number
  t: number
  startHeight: bigint
  length: number
  /** This validator's secret key as a scalar: opens the answers sealed to it. */
  secret?: bigint
  /** Bytes binding a sealed answer to (network, session, dealer, recipient). */
  context(dealer: number, to: number): Uint8Array
  ops?: DkgCurveOps
  rng?: Rng
}

export interface TranscriptResult {
  qual: number[]
  disqualified: { dealer: number; reason: string }[]
  public: EpochPublic
  /** This validator's shares of every height, or null (an observer, or a qualified dealer's shares missing). */
  shares: Hex[] | null
}

type Stage = 'deal' | 'complaint' | 'answer' | 'accusation' | 'done'
const STAGES: readonly Stage[] = ['deal', 'complaint', 'answer', 'accusation', 'done']

export class DkgTranscript {
  private stage: Stage = 'deal'
  private readonly ops: DkgCurveOps
  private readonly deals = new Map<number, Hex[][]>()
  private readonly badDeal = new Map<number, string>()
  /** complaints.get(dealer).get(complainer) = the complainer's public key (answers are sealed to it). */
  private readonly complaints = new Map<number, Map<number, Uint8Array>>()
  private readonly answers = new Map<string, DkgSealedAnswer>()
  private readonly twoAnswers = new Set<number>()
  /** Dealers an accusation proved bad, with the reason. */
  private readonly proven = new Map<number, string>()
  private readonly received = new Map<number, bigint[]>()
  private readonly validFrom = new Set<number>()
  private readonly myComplaints = new Set<number>()
  private dealt: bigint[][] | null = null

  constructor(private readonly c: TranscriptConfig) {
    checkThreshold(c.n, c.t)
    if (!Number.isInteger(c.length) || c.length < 1 || c.length > MAX_EPOCH_LENGTH)
      throw new AllotError('SEAL_BAD_PARAMS', `epoch length ${c.length}`)
    this.ops = c.ops ?? nobleOps
  }

  /** Not a validator: follows the decided broadcasts, complains and answers nothing, holds no shares. */
  get observing(): boolean {
    return this.c.index === null
  }

  /** This validator dealt in this session (deal() was called). */
  get hasDealt(): boolean {
    return this.dealt !== null
  }

  get currentStage(): Stage {
    return this.stage
  }

  /** This validator's random polynomials: its deal (broadcast) and the shares it owes each other validator (private). */
  deal(): { deal: DkgDealMsg; shares: { to: number; shares: Hex[] }[] } {
    const me = this.c.index
    if (me === null || this.dealt || this.stage !== 'deal')
      throw new AllotError('SEAL_DKG_PHASE', 'cannot deal now')
    const commitments: Hex[][] = []
    const shares: bigint[][] = Array.from({ length: this.c.n }, () => [])
    for (let k = 0; k < this.c.length; k++) {
      const coeffs = randomPolynomial(randomScalar(this.c.rng), this.c.t, this.c.rng)
      commitments.push(this.ops.commit(coeffs))
      for (let j = 1; j <= this.c.n; j++) shares[j - 1].push(evalPoly(coeffs, BigInt(j)))
    }
    this.dealt = shares
    this.received.set(me, shares[me - 1])
    const out: { to: number; shares: Hex[] }[] = []
    for (let j = 1; j <= this.c.n; j++)
      if (j !== me) out.push({ to: j, shares: shares[j - 1].map(scalarToHex) })
    return { deal: { type: 'deal', dealer: me, commitments }, shares: out }
  }

  /** Private shares from `dealer` to us (checked at the deal window's end). */
  receiveShares(dealer: number, shares: readonly Hex[]): void {
    if (this.stage !== 'deal' || !this.inRange(dealer) || this.received.has(dealer)) return
    const s = this.parse(shares)
    if (s) this.received.set(dealer, s)
  }

  hasSharesFrom(dealer: number): boolean {
    return this.received.has(dealer)
  }

  private inRange(i: number): boolean {
    return Number.isInteger(i) && i >= 1 && i <= this.c.n
  }

  private parse(shares: readonly Hex[]): bigint[] | null {
    if (shares.length !== this.c.length) return null
    try {
      return shares.map((s) => scalarFromHex(s))
    } catch {
      return null
    }
  }

  private valid(dealer: number, to: number, shares: readonly bigint[]): boolean {
    const c = this.deals.get(dealer)
    if (!c) return false
    for (let k = 0; k < this.c.length; k++)
      if (shares[k] >= CURVE_ORDER || !this.ops.checkShare(c[k], to, shares[k])) return false
    return true
  }

  /**
   * A broadcast referenced by a decided height of its own phase's window, with its sender's public
   * key. Ignored outside its phase (the caller only feeds messages of the current window).
   */
  decided(m: DkgBroadcast, senderKey: Uint8Array): void {
    if (STAGES.indexOf(this.stage) !== PHASE_OF[m.type]) return
    switch (m.type) {
      case 'deal': {
        const d = m.dealer
        if (!this.inRange(d)) return
        if (this.deals.has(d) || this.badDeal.has(d)) {
          // Two different deals, both decided in the window: equivocation, the dealer is out.
          this.deals.delete(d)
          this.badDeal.set(d, 'two deals')
          return
        }
        const ok =
          m.commitments.length === this.c.length &&
          m.commitments.every((c) => c.length === this.c.t + 1 && c.every((p) => POINT_HEX.test(p)))
        if (ok) this.deals.set(d, m.commitments)
        else this.badDeal.set(d, 'malformed deal')
        return
      }
      case 'complaint': {
        if (!this.inRange(m.from) || !this.inRange(m.against) || m.from === m.against) return
        let by = this.complaints.get(m.against)
        if (!by) this.complaints.set(m.against, (by = new Map()))
        if (!by.has(m.from)) by.set(m.from, senderKey)
        return
      }
      case 'answer': {
        if (!this.complaints.get(m.dealer)?.has(m.to)) return
        const key = `${m.dealer}/${m.to}`
        const prior = this.answers.get(key)
        if (!prior) this.answers.set(key, m)
        else this.twoAnswers.add(m.dealer)
        return
      }
      case 'accusation': {
        const a = this.answers.get(`${m.against}/${m.from}`)
        if (!a || this.proven.has(m.against) || !this.wellFormed(a)) return
        const ctx = this.c.context(m.against, m.from)
        // The accuser's key is the one its complaint was signed with (the answer was sealed to it).
        const pub = this.complaints.get(m.against)?.get(m.from)
        if (!pub || !verifyAnswerKey(pub, a.ephemeral, m, ctx)) return
        const opened = openAnswer(a.sealed, Point.fromHex(m.key.slice(2)).toBytes(true), ctx)
        if (!this.valid(m.against, m.from, opened))
          this.proven.set(m.against, `answer to ${m.from} fails the commitments`)
        return
      }
    }
  }

  private wellFormed(a: DkgSealedAnswer): boolean {
    if (a.sealed.length !== this.c.length) return false
    try {
      pointFromHex(a.ephemeral)
      for (const s of a.sealed) scalarFromHex(s)
      return true
    } catch {
      return false
    }
  }

  /** Deal window over: a complaint against every decided dealer whose private shares to us are missing or wrong. */
  endDeal(): DkgBroadcast[] {
    this.advance('deal')
    const me = this.c.index
    if (me === null || this.observing) return []
    const out: DkgBroadcast[] = []
    for (const d of [...this.deals.keys()].sort((a, b) => a - b)) {
      const s = this.received.get(d)
      if (d === me || (s && this.valid(d, me, s))) this.validFrom.add(d)
      else {
        this.myComplaints.add(d)
        out.push({ type: 'complaint', from: me, against: d })
      }
    }
    return out
  }

  /** Complaint window over: each decided complaint against us answered, sealed to its complainer. */
  endComplaint(): DkgBroadcast[] {
    this.advance('complaint')
    const me = this.c.index
    const against = me === null ? undefined : this.complaints.get(me)
    if (me === null || !this.dealt || !against) return []
    const out: DkgBroadcast[] = []
    for (const [to, key] of [...against].sort((a, b) => a[0] - b[0])) {
      const sealed = sealAnswer(this.dealt[to - 1], key, this.c.context(me, to), this.c.rng)
      out.push({ type: 'answer', dealer: me, to, ...sealed })
    }
    return out
  }

  /** Answer window over: an accusation against each decided answer to us that fails its dealer's commitments. */
  endAnswer(): DkgBroadcast[] {
    this.advance('answer')
    const me = this.c.index
    const secret = this.c.secret
    if (me === null || secret === undefined || this.observing) return []
    const out: DkgBroadcast[] = []
    for (const d of [...this.myComplaints].sort((a, b) => a - b)) {
      const a = this.answers.get(`${d}/${me}`)
      if (!a || !this.wellFormed(a)) continue // out anyway: unanswered or malformed
      if (this.openMine(d, a)) continue
      out.push({
        type: 'accusation',
        from: me,
        against: d,
        ...proveAnswerKey(secret, a.ephemeral, this.c.context(d, me)),
      })
    }
    return out
  }

  /** Our shares from dealer d in a sealed answer to us, when they check out. */
  private openMine(d: number, a: DkgSealedAnswer): bigint[] | null {
    const me = this.c.index
    if (me === null || this.c.secret === undefined) return null
    const ctx = this.c.context(d, me)
    const s = openAnswer(a.sealed, answerKey(this.c.secret, a.ephemeral), ctx)
    return this.valid(d, me, s) ? s : null
  }

  private advance(from: Stage): void {
    if (this.stage !== from) throw new AllotError('SEAL_DKG_PHASE', `end of ${from} in stage ${this.stage}`)
    this.stage = STAGES[STAGES.indexOf(from) + 1]
  }

  /** Why dealer d is out, from decided data only (the same on every honest validator), or null. */
  private reason(d: number): string | null {
    const bad = this.badDeal.get(d)
    if (bad) return bad
    if (!this.deals.has(d)) return 'no deal'
    if (this.twoAnswers.has(d)) return 'two answers to one complaint'
    for (const j of [...(this.complaints.get(d)?.keys() ?? [])].sort((a, b) => a - b)) {
      const a = this.answers.get(`${d}/${j}`)
      if (!a) return `complaint of ${j} unanswered`
      if (!this.wellFormed(a)) return `answer to ${j} malformed`
    }
    return this.proven.get(d) ?? null
  }

  /** Accusation window over: QUAL, the epoch's public part and our shares. Throws SEAL_DKG_FAILED below t+1 dealers. */
  finish(): TranscriptResult {
    this.advance('accusation')
    const qual: number[] = []
    const disqualified: { dealer: number; reason: string }[] = []
    for (let d = 1; d <= this.c.n; d++) {
      const r = this.reason(d)
      if (r) disqualified.push({ dealer: d, reason: r })
      else qual.push(d)
    }
    if (qual.length < this.c.t + 1)
      throw new AllotError('SEAL_DKG_FAILED', `only ${qual.length} qualified dealers, need ${this.c.t + 1}`, {
        disqualified,
      })
    const commitments: Hex[][] = []
    for (let k = 0; k < this.c.length; k++) {
      const row: Hex[] = []
      for (let j = 0; j <= this.c.t; j++)
        row.push(this.ops.sum(qual.map((d) => (this.deals.get(d) as Hex[][])[k][j])))
      commitments.push(row)
    }
    const me = this.c.index
    let shares: Hex[] | null = null
    if (me !== null && !this.observing) {
      const mine: bigint[][] = []
      for (const d of qual) {
        const a = this.myComplaints.has(d) ? this.answers.get(`${d}/${me}`) : undefined
        const s = a ? this.openMine(d, a) : this.validFrom.has(d) ? (this.received.get(d) ?? null) : null
        if (!s) break
        mine.push(s)
      }
      if (mine.length === qual.length) {
        shares = []
        for (let k = 0; k < this.c.length; k++)
          shares.push(scalarToHex(modN(mine.reduce((acc, s) => acc + s[k], 0n))))
      }
    }
    const pub: EpochPublic = {
      startHeight: this.c.startHeight,
      length: this.c.length,
      n: this.c.n,
      t: this.c.t,
      commitments,
    }
    return { qual, disqualified, public: pub, shares }
  }
}
