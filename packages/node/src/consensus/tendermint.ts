import {
  type Address,
  type BatchContent,
  type BatchProposal,
  batchHashOf,
  type Hex,
  type Signature,
  type Vote,
  type VoteType,
} from '@allot/protocol'

/**
 * Tendermint, Algorithm 1 of Buchman, Kwon and Milosevic, "The latest gossip on BFT consensus"
 * (arXiv:1807.04938), as a deterministic state machine: `step(state, event)` returns the new state and what
 * to do — messages to broadcast, timers to schedule, decisions, and the records to persist BEFORE the
 * messages go out. No I/O, no clock (every event carries `now`), no randomness.
 *
 * `step` takes ownership of `state` and returns it updated (in place, for speed: a height's message log
 * can hold thousands of votes); callers that need the old state keep a `cloneState` copy.
 *
 * Comments "L<n>" cite the line of Algorithm 1 they implement.
 *
 * Deliberate refinements, each safe by the paper's arguments:
 * - Validity is split: `valid` (objective: every honest validator reaches the same verdict once it holds the
 *   orders) is used wherever the algorithm says valid(v); `acceptable` (local policy: the inclusion rule,
 *   clock skew, chain view) only decides a prevote on a fresh proposal (L22-L26). A re-proposal with
 *   vr ≥ 0 (L28) already had 2f+1 prevotes, so f+1 honest validators accepted it when it was fresh.
 * - getValue() (L18) is asynchronous: the proposer emits `getValue`, and the caller answers with a `value`
 *   event at or after `notBefore` (the batch cadence: parent.timestamp + batchIntervalMs for round 0).
 * - Every validator, the proposer too, schedules timeoutPropose (L21); for the proposer it only matters
 *   when its own value never comes.
 * - Quorum is ⌊2n/3⌋+1 (= 2f+1 when n = 3f+1) and the round-skip threshold f+1 with f = ⌊(n−1)/3⌋, so any
 *   validator count is safe. Voting power is one per validator.
 * - A catch-up `commit` event (a decided value with a quorum of precommits, fetched over sync) decides
 *   directly: it is L49 with the proposal replaced by the content whose hash the precommits name.
 */

export type Step = 'propose' | 'prevote' | 'precommit'
export type TimeoutKind = 'propose' | 'prevote' | 'precommit'
const STEP_RANK: Record<Step, number> = { propose: 0, prevote: 1, precommit: 2 }

/** Round timeouts from genesis: timeout(r) = min(base + delta·r, cap). */
export interface TimeoutParams {
  proposeMs: number
  proposeDeltaMs: number
  prevoteMs: number
  prevoteDeltaMs: number
  precommitMs: number
  precommitDeltaMs: number
  capMs: number
}

export interface ConsensusParams {
  batchIntervalMs: number
  timeouts: TimeoutParams
}

export type UnsignedVote = Omit<Vote, 'signature'>
export type UnsignedProposal = Omit<BatchProposal, 'signature'>

/** Signs on behalf of this validator. Deterministic signers (RFC 6979) keep `step` reproducible. */
export interface ConsensusSigner {
  address: Address
  signVote(v: UnsignedVote): Signature
  signProposal(p: UnsignedProposal): Signature
}

export interface ConsensusConfig {
  /** The validator set: lowercase addresses, distinct, ascending (proposer rotation is over this order). */
  validators: readonly Address[]
  /** This validator's signer, or null for an observer that follows decisions without voting. */
  signer: ConsensusSigner | null
  params: ConsensusParams
  /** Messages for rounds further ahead than this are dropped (bounds memory against spam). */
  maxRoundsAhead?: number
}

/** The decided value a height builds on. */
export interface ParentRef {
  hash: Hex
  timestamp: bigint
  chainRef: bigint
}

export interface ProposalEntry {
  proposal: BatchProposal
  valueHash: Hex
  valid: boolean
  acceptable: boolean
}

interface RoundLog {
  /** Proposals from the round's proposer by value hash; `first` is the one L22/L28 act on. */
  proposals: Map<Hex, ProposalEntry>
  first: ProposalEntry | null
  /**
   * Votes by validator. An equivocator's conflicting votes are all kept (up to a few): each is a signed vote
   * for its value, and counting it for each value is no less safe than two peers each seeing one of them —
   * while keeping only the first would hide from us a quorum others saw (and stall the L28 re-proposal).
   */
  prevotes: Map<Address, Vote[]>
  precommits: Map<Address, Vote[]>
  /** "for the first time" flags of L34, L36 and L47. */
  prevoteTimeoutScheduled: boolean
  validValueSet: boolean
  precommitTimeoutScheduled: boolean
}

/** What this validator signed at the current height: the write-ahead log that makes restarts safe. */
export type SignedRecord =
  | { kind: 'proposal'; height: bigint; round: number; proposal: BatchProposal }
  | {
      kind: 'prevote' | 'precommit'
      height: bigint
      round: number
      vote: Vote
      /** The value precommitted (non-nil precommits only): restores lockedValue after a restart. */
      content: BatchContent | null
    }

export interface ConsensusState {
  readonly config: ConsensusConfig
  readonly quorum: number
  readonly skip: number
  height: bigint
  round: number
  step: Step
  parent: ParentRef
  lockedValue: BatchContent | null
  lockedHash: Hex | null
  lockedRound: number
  validValue: BatchContent | null
  validHash: Hex | null
  validRound: number
  rounds: Map<number, RoundLog>
  /** Our own signed messages at this height, by `${round}:${kind}` — never sign two at one slot. */
  signed: Map<string, SignedRecord>
  /** Which (round) a getValue request is outstanding for. */
  valueRequested: number
  /** Equivocation evidence already reported at this height (by validator:round:type). */
  reported: Set<string>
}

export type ConsensusMessage = { type: 'proposal'; proposal: BatchProposal } | { type: 'vote'; vote: Vote }

export type ConsensusEvent =
  /** L10: start the state's height (at its restored round after a restart). */
  | { type: 'start'; now: number }
  /** A proposal whose signature the caller checked, with the caller's verdict on its content. */
  | { type: 'proposal'; now: number; proposal: BatchProposal; valid: boolean; acceptable?: boolean }
  /** A vote whose signature the caller checked. */
  | { type: 'vote'; now: number; vote: Vote }
  | { type: 'timeout'; now: number; kind: TimeoutKind; height: bigint; round: number }
  /** The answer to a getValue request. */
  | { type: 'value'; now: number; height: bigint; round: number; content: BatchContent }
  /** Catch-up: a value decided by others, with a quorum of (signature-checked) precommits for it. */
  | { type: 'commit'; now: number; content: BatchContent; precommits: Vote[] }

export interface TimerRequest {
  kind: TimeoutKind
  height: bigint
  round: number
  delayMs: number
}

export interface Decision {
  height: bigint
  round: number
  content: BatchContent
  valueHash: Hex
  /** The quorum of precommits that decided it (the commit certificate peers verify on catch-up). */
  precommits: Vote[]
}

export type Evidence =
  | { kind: 'duplicate-vote'; validator: Address; first: Vote; second: Vote }
  | { kind: 'duplicate-proposal'; validator: Address; first: BatchProposal; second: BatchProposal }

export interface ValueRequest {
  height: bigint
  round: number
  parent: ParentRef
  /** Earliest time (ms) the value may be produced: the batch cadence. */
  notBefore: number
}

export interface StepOutput {
  state: ConsensusState
  /** Write these (durably) BEFORE sending `messages`. */
  persist: SignedRecord[]
  messages: ConsensusMessage[]
  timers: TimerRequest[]
  decisions: Decision[]
  evidence: Evidence[]
  getValue: ValueRequest | null
}

const hashCache = new WeakMap<BatchContent, Hex>()

/**
 * batchHashOf, memoised per content object: a proposal is hashed on arrival, on signing and on checking, and
 * a sync answer re-sends the same objects. Contents are treated as immutable once built.
 */
export function contentHash(c: BatchContent): Hex {
  let h = hashCache.get(c)
  if (h === undefined) {
    h = batchHashOf(c)
    hashCache.set(c, h)
  }
  return h
}

export function faultsTolerated(n: number): number {
  return Math.floor((n - 1) / 3)
}

/** Votes needed for a quorum: more than two thirds. */
export function quorumOf(n: number): number {
  return Math.floor((2 * n) / 3) + 1
}

/** Round-robin over the sorted set: next proposer each height and each round. */
export function proposerOf(validators: readonly Address[], height: bigint, round: number): Address {
  const n = BigInt(validators.length)
  return validators[Number((height + BigInt(round)) % n)]
}

export function timeoutMs(t: TimeoutParams, kind: TimeoutKind, round: number): number {
  const [base, delta] =
    kind === 'propose'
      ? [t.proposeMs, t.proposeDeltaMs]
      : kind === 'prevote'
        ? [t.prevoteMs, t.prevoteDeltaMs]
        : [t.precommitMs, t.precommitDeltaMs]
  return Math.min(base + delta * round, t.capMs)
}

/** L1-L9: the state at a height that builds on `parent`. */
export function initialState(config: ConsensusConfig, height: bigint, parent: ParentRef): ConsensusState {
  const n = config.validators.length
  return {
    config,
    quorum: quorumOf(n),
    skip: faultsTolerated(n) + 1,
    height,
    round: 0,
    step: 'propose',
    parent,
    lockedValue: null,
    lockedHash: null,
    lockedRound: -1,
    validValue: null,
    validHash: null,
    validRound: -1,
    rounds: new Map(),
    signed: new Map(),
    valueRequested: -1,
    reported: new Set(),
  }
}

/**
 * Rebuilds the state of a restarted validator from what it persisted at `height` (records of other heights
 * are ignored): its own messages (so it re-sends them and never signs a different one in the same slot),
 * its round and step, and its lock — the highest round it precommitted a value in. Feed `start` next.
 */
export function restoreState(
  config: ConsensusConfig,
  height: bigint,
  parent: ParentRef,
  records: readonly SignedRecord[],
): ConsensusState {
  const s = initialState(config, height, parent)
  let step: Step = 'propose'
  for (const r of records) {
    if (r.height !== height) continue
    s.signed.set(slotKey(r.round, r.kind), r)
    const rank = r.kind === 'proposal' ? 0 : r.kind === 'prevote' ? 1 : 2
    if (r.round > s.round) {
      s.round = r.round
      step = 'propose'
    }
    if (r.round === s.round && rank > STEP_RANK[step]) step = r.kind as Step
    if (r.kind === 'precommit' && r.vote.valueHash !== null && r.content && r.round > s.lockedRound) {
      // L38-L43 as they happened before the crash: locked and valid on what we precommitted.
      s.lockedRound = s.validRound = r.round
      s.lockedValue = s.validValue = r.content
      s.lockedHash = s.validHash = r.vote.valueHash
    }
  }
  for (const r of s.signed.values()) {
    if (r.kind === 'proposal') {
      addProposal(s, {
        proposal: r.proposal,
        valueHash: contentHash(r.proposal.content),
        valid: true,
        acceptable: true,
      })
    } else addVote(s, r.vote, [])
  }
  s.step = step
  return s
}

export function cloneState(s: ConsensusState): ConsensusState {
  const rounds = new Map<number, RoundLog>()
  for (const [r, log] of s.rounds) {
    rounds.set(r, {
      ...log,
      proposals: new Map(log.proposals),
      prevotes: new Map(log.prevotes),
      precommits: new Map(log.precommits),
    })
  }
  return { ...s, rounds, signed: new Map(s.signed), reported: new Set(s.reported) }
}

/** The message log of the current height (what a lagging peer asks for over sync). */
export function heightMessages(s: ConsensusState): ConsensusMessage[] {
  const out: ConsensusMessage[] = []
  for (const r of [...s.rounds.keys()].sort((a, b) => a - b)) {
    const log = s.rounds.get(r)!
    for (const e of log.proposals.values()) out.push({ type: 'proposal', proposal: e.proposal })
    for (const vs of log.prevotes.values()) for (const v of vs) out.push({ type: 'vote', vote: v })
    for (const vs of log.precommits.values()) for (const v of vs) out.push({ type: 'vote', vote: v })
  }
  return out
}

export function proposalEntry(s: ConsensusState, round: number, hash: Hex): ProposalEntry | undefined {
  return s.rounds.get(round)?.proposals.get(hash)
}

export function step(state: ConsensusState, event: ConsensusEvent): StepOutput {
  const out: StepOutput = {
    state,
    persist: [],
    messages: [],
    timers: [],
    decisions: [],
    evidence: [],
    getValue: null,
  }
  const s = state
  const now = event.now
  switch (event.type) {
    case 'start': {
      // L10 (or the restored round after a restart): re-send what we already signed in it.
      const restoredStep = s.step
      startRound(s, s.round, now, out)
      if (STEP_RANK[restoredStep] > STEP_RANK[s.step]) s.step = restoredStep
      // (startRound already re-sent a signed proposal.)
      for (const r of s.signed.values()) {
        if (r.round === s.round && r.kind !== 'proposal') out.messages.push({ type: 'vote', vote: r.vote })
      }
      evaluate(s, now, out, s.round)
      break
    }
    case 'proposal': {
      const p = event.proposal
      if (p.height !== s.height || !inWindow(s, p.round)) break
      if (p.proposer !== proposerOf(s.config.validators, p.height, p.round)) break
      const valueHash = contentHash(p.content)
      const valid = event.valid && p.content.height === p.height && p.validRound < p.round
      const added = addProposal(
        s,
        { proposal: p, valueHash, valid, acceptable: event.acceptable ?? true },
        out,
      )
      if (added) evaluate(s, now, out, p.round)
      break
    }
    case 'vote': {
      const v = event.vote
      if (v.height !== s.height || !inWindow(s, v.round)) break
      if (!s.config.validators.includes(v.validator)) break
      if (addVote(s, v, out.evidence)) evaluate(s, now, out, v.round)
      break
    }
    case 'timeout':
      if (event.height !== s.height || event.round !== s.round) break
      if (event.kind === 'propose' && s.step === 'propose') {
        // L57-L60
        castVote(s, 'prevote', null, null, out)
        s.step = 'prevote'
      } else if (event.kind === 'prevote' && s.step === 'prevote') {
        // L61-L64
        castVote(s, 'precommit', null, null, out)
        s.step = 'precommit'
      } else if (event.kind === 'precommit') {
        // L65-L67
        startRound(s, s.round + 1, now, out)
      }
      evaluate(s, now, out, s.round)
      break
    case 'value': {
      // L18-L19: our getValue() answered; propose it unless the round moved on meanwhile.
      if (event.height !== s.height || event.round !== s.round || s.step !== 'propose') break
      if (s.valueRequested !== s.round || !isProposer(s, s.round)) break
      s.valueRequested = -1
      const content = s.validValue ?? event.content
      propose(s, content, s.validValue ? s.validRound : -1, out)
      evaluate(s, now, out, s.round)
      break
    }
    case 'commit': {
      const c = event.content
      if (c.height !== s.height) break
      const hash = contentHash(c)
      const seen = new Set<Address>()
      const round = event.precommits[0]?.round ?? -1
      for (const v of event.precommits) {
        if (v.type !== 'precommit' || v.height !== s.height || v.round !== round || v.valueHash !== hash)
          continue
        if (!s.config.validators.includes(v.validator)) continue
        seen.add(v.validator)
      }
      if (seen.size < s.quorum) break
      decide(s, round, c, hash, event.precommits, now, out)
      break
    }
  }
  return out
}

// ---- internals ----

function slotKey(round: number, kind: SignedRecord['kind']): string {
  return `${round}:${kind}`
}

function inWindow(s: ConsensusState, round: number): boolean {
  return Number.isInteger(round) && round >= 0 && round <= s.round + (s.config.maxRoundsAhead ?? 1000)
}

function isProposer(s: ConsensusState, round: number): boolean {
  const me = s.config.signer?.address
  return me !== undefined && proposerOf(s.config.validators, s.height, round) === me
}

function roundLog(s: ConsensusState, round: number): RoundLog {
  let log = s.rounds.get(round)
  if (!log) {
    log = {
      proposals: new Map(),
      first: null,
      prevotes: new Map(),
      precommits: new Map(),
      prevoteTimeoutScheduled: false,
      validValueSet: false,
      precommitTimeoutScheduled: false,
    }
    s.rounds.set(round, log)
  }
  return log
}

const MAX_PROPOSALS_PER_ROUND = 4

function addProposal(s: ConsensusState, e: ProposalEntry, out?: StepOutput): boolean {
  const log = roundLog(s, e.proposal.round)
  if (log.proposals.has(e.valueHash)) return false
  if (log.first) {
    // A second value from the same proposer in the same round: equivocation.
    const key = `${e.proposal.proposer}:${e.proposal.round}:proposal`
    if (out && !s.reported.has(key)) {
      s.reported.add(key)
      out.evidence.push({
        kind: 'duplicate-proposal',
        validator: e.proposal.proposer,
        first: log.first.proposal,
        second: e.proposal,
      })
    }
    // Keep a few anyway: a quorum may form on a value we did not see first (L36, L49 look them up by hash).
    if (log.proposals.size >= MAX_PROPOSALS_PER_ROUND) return false
  } else log.first = e
  log.proposals.set(e.valueHash, e)
  return true
}

const MAX_VOTES_PER_SLOT = 4

function addVote(s: ConsensusState, v: Vote, evidence: Evidence[]): boolean {
  const log = roundLog(s, v.round)
  const votes = v.type === 'prevote' ? log.prevotes : log.precommits
  const prev = votes.get(v.validator)
  if (!prev) {
    votes.set(v.validator, [v])
    return true
  }
  if (prev.some((x) => x.valueHash === v.valueHash)) return false
  const key = `${v.validator}:${v.round}:${v.type}`
  if (!s.reported.has(key)) {
    s.reported.add(key)
    evidence.push({ kind: 'duplicate-vote', validator: v.validator, first: prev[0], second: v })
  }
  if (prev.length >= MAX_VOTES_PER_SLOT) return false
  prev.push(v)
  return true
}

/** Distinct validators with a vote for `hash` (null: nil; undefined: any value). */
function count(votes: Map<Address, Vote[]>, hash: Hex | null | undefined): number {
  if (hash === undefined) return votes.size
  let n = 0
  for (const vs of votes.values()) if (vs.some((v) => v.valueHash === hash)) n++
  return n
}

function allVotes(votes: Map<Address, Vote[]>): Vote[] {
  return [...votes.values()].flat()
}

/** L11-L21 */
function startRound(s: ConsensusState, round: number, now: number, out: StepOutput): void {
  s.round = round // L12
  s.step = 'propose' // L13
  roundLog(s, round)
  const timeouts = s.config.params.timeouts
  // Round 0 waits for the batch cadence: the proposal is due at parent.timestamp + batchIntervalMs.
  const due = Number(s.parent.timestamp) + s.config.params.batchIntervalMs
  const wait = round === 0 ? Math.max(0, due - now) : 0
  if (isProposer(s, round)) {
    // L14
    const signed = s.signed.get(slotKey(round, 'proposal'))
    if (signed?.kind === 'proposal') {
      out.messages.push({ type: 'proposal', proposal: signed.proposal })
    } else if (s.validValue) {
      propose(s, s.validValue, s.validRound, out) // L15-L16, L19
    } else {
      // L18: getValue(), answered by a `value` event.
      s.valueRequested = round
      out.getValue = { height: s.height, round, parent: s.parent, notBefore: now + wait }
    }
  }
  // L21 (every validator: see the header)
  out.timers.push({
    kind: 'propose',
    height: s.height,
    round,
    delayMs: wait + timeoutMs(timeouts, 'propose', round),
  })
}

/** L19: broadcast ⟨PROPOSAL, h, round, v, validRound⟩ — once per slot, persisted first. */
function propose(s: ConsensusState, content: BatchContent, validRound: number, out: StepOutput): void {
  const signer = s.config.signer
  if (!signer) return
  const key = slotKey(s.round, 'proposal')
  const prior = s.signed.get(key)
  if (prior?.kind === 'proposal') {
    out.messages.push({ type: 'proposal', proposal: prior.proposal })
    return
  }
  const unsigned: UnsignedProposal = {
    height: s.height,
    round: s.round,
    content,
    validRound,
    proposer: signer.address,
  }
  const proposal: BatchProposal = { ...unsigned, signature: signer.signProposal(unsigned) }
  const record: SignedRecord = { kind: 'proposal', height: s.height, round: s.round, proposal }
  s.signed.set(key, record)
  out.persist.push(record)
  out.messages.push({ type: 'proposal', proposal })
  addProposal(s, { proposal, valueHash: contentHash(content), valid: true, acceptable: true })
}

/** broadcast ⟨PREVOTE|PRECOMMIT, h, round, id⟩ — once per slot, persisted first; counted in our own log. */
function castVote(
  s: ConsensusState,
  type: VoteType,
  valueHash: Hex | null,
  content: BatchContent | null,
  out: StepOutput,
): void {
  const signer = s.config.signer
  if (!signer || !s.config.validators.includes(signer.address)) return
  const key = slotKey(s.round, type)
  const prior = s.signed.get(key)
  if (prior && prior.kind !== 'proposal') {
    // Already signed in this slot (e.g. before a restart): the same message again, never a different one.
    out.messages.push({ type: 'vote', vote: prior.vote })
    return
  }
  const unsigned: UnsignedVote = {
    type,
    height: s.height,
    round: s.round,
    valueHash,
    validator: signer.address,
  }
  const vote: Vote = { ...unsigned, signature: signer.signVote(unsigned) }
  const record: SignedRecord = {
    kind: type,
    height: s.height,
    round: s.round,
    vote,
    content: type === 'precommit' && valueHash !== null ? content : null,
  }
  s.signed.set(key, record)
  out.persist.push(record)
  out.messages.push({ type: 'vote', vote })
  addVote(s, vote, out.evidence)
}

/** L49-L54 */
function decide(
  s: ConsensusState,
  round: number,
  content: BatchContent,
  valueHash: Hex,
  precommits: Vote[],
  now: number,
  out: StepOutput,
): void {
  out.decisions.push({
    height: s.height,
    round,
    content,
    valueHash,
    precommits: precommits.filter(
      (v) => v.valueHash === valueHash && v.round === round && v.height === s.height,
    ),
  }) // L51
  // L52-L53: next height, locks and the message log reset.
  s.height += 1n
  s.parent = { hash: valueHash, timestamp: content.timestamp, chainRef: content.chainRef }
  s.lockedValue = s.validValue = null
  s.lockedHash = s.validHash = null
  s.lockedRound = s.validRound = -1
  s.rounds = new Map()
  s.signed = new Map()
  s.reported = new Set()
  s.valueRequested = -1
  startRound(s, 0, now, out) // L54
}

/**
 * Runs the upon-rules to a fixed point after the log or the round changed. `touched` is the round of the
 * message that arrived (L49 and L55 look at any round; the others only at the current one).
 */
function evaluate(s: ConsensusState, now: number, out: StepOutput, touched: number): void {
  const height = s.height
  // L49: a proposal and 2f+1 precommits for its value, in any round.
  for (const r of touched === s.round ? [s.round] : [touched, s.round]) {
    const log = s.rounds.get(r)
    if (!log || log.precommits.size < s.quorum) continue
    for (const e of log.proposals.values()) {
      if (e.valid && count(log.precommits, e.valueHash) >= s.quorum) {
        decide(s, r, e.proposal.content, e.valueHash, allVotes(log.precommits), now, out)
        return
      }
    }
  }
  // L55-L56: f+1 validators' messages from a higher round: skip to it.
  if (touched > s.round) {
    const log = s.rounds.get(touched)
    if (log) {
      const senders = new Set<Address>()
      for (const e of log.proposals.values()) senders.add(e.proposal.proposer)
      for (const v of log.prevotes.keys()) senders.add(v)
      for (const v of log.precommits.keys()) senders.add(v)
      if (senders.size >= s.skip) startRound(s, touched, now, out)
    }
  }
  for (let progress = true; progress && s.height === height; ) {
    progress = false
    const log = roundLog(s, s.round)
    const p = log.first
    if (s.step === 'propose' && p) {
      const vr = p.proposal.validRound
      if (vr === -1) {
        // L22-L27
        const yes = p.valid && p.acceptable && (s.lockedRound === -1 || s.lockedHash === p.valueHash)
        castVote(s, 'prevote', yes ? p.valueHash : null, null, out)
        s.step = 'prevote'
        progress = true
      } else if (vr >= 0 && vr < s.round) {
        // L28-L33
        const vrLog = s.rounds.get(vr)
        if (vrLog && count(vrLog.prevotes, p.valueHash) >= s.quorum) {
          const yes = p.valid && (s.lockedRound <= vr || s.lockedHash === p.valueHash)
          castVote(s, 'prevote', yes ? p.valueHash : null, null, out)
          s.step = 'prevote'
          progress = true
        }
      }
    }
    // L34-L35
    if (s.step === 'prevote' && !log.prevoteTimeoutScheduled && log.prevotes.size >= s.quorum) {
      log.prevoteTimeoutScheduled = true
      out.timers.push({
        kind: 'prevote',
        height: s.height,
        round: s.round,
        delayMs: timeoutMs(s.config.params.timeouts, 'prevote', s.round),
      })
    }
    // L36-L43
    if (STEP_RANK[s.step] >= 1 && !log.validValueSet && log.prevotes.size >= s.quorum) {
      for (const e of log.proposals.values()) {
        if (!e.valid || count(log.prevotes, e.valueHash) < s.quorum) continue
        log.validValueSet = true
        if (s.step === 'prevote') {
          s.lockedValue = e.proposal.content // L38
          s.lockedHash = e.valueHash
          s.lockedRound = s.round // L39
          castVote(s, 'precommit', e.valueHash, e.proposal.content, out) // L40
          s.step = 'precommit' // L41
        }
        s.validValue = e.proposal.content // L42
        s.validHash = e.valueHash
        s.validRound = s.round // L43
        progress = true
        break
      }
    }
    // L44-L46
    if (s.step === 'prevote' && count(log.prevotes, null) >= s.quorum) {
      castVote(s, 'precommit', null, null, out)
      s.step = 'precommit'
      progress = true
    }
    // L47-L48
    if (!log.precommitTimeoutScheduled && log.precommits.size >= s.quorum) {
      log.precommitTimeoutScheduled = true
      out.timers.push({
        kind: 'precommit',
        height: s.height,
        round: s.round,
        delayMs: timeoutMs(s.config.params.timeouts, 'precommit', s.round),
      })
    }
    // L49 again for the current round: our own precommit may have completed a quorum.
    if (log.precommits.size >= s.quorum) {
      for (const e of log.proposals.values()) {
        if (e.valid && count(log.precommits, e.valueHash) >= s.quorum) {
          decide(s, s.round, e.proposal.content, e.valueHash, allVotes(log.precommits), now, out)
          return
        }
      }
    }
  }
}
