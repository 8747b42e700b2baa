import type { BatchContent, BatchProposal, Hex, Vote } from '@allot/protocol'
import type { ConsensusVerifier } from './signatures.js'
import {
  type ConsensusEvent,
  type ConsensusMessage,
  type ConsensusState,
  contentHash,
  heightMessages,
  proposerOf,
  type StepOutput,
  step,
  type TimerRequest,
} from './tendermint.js'
import type { ProposalVerdict } from './validate.js'

/** Proposals parked while their orders are fetched, at most; and how many rounds past ours may park. */
const MAX_PARKED = 16
const PARK_ROUNDS_AHEAD = 4

/**
 * The I/O-free glue between the pure state machine and a transport: checks signatures and membership, judges
 * proposal content, parks proposals whose orders must first be fetched, buffers the next height's messages
 * until we get there, and counts equivocations. Both the node's consensus service and the simulation drive
 * one of these; the caller persists `persist` before sending `messages` and schedules `timers`.
 */
export interface DriverOptions {
  verifier: ConsensusVerifier
  /** validateProposal with this node's mempool, clock and chain view, at the state's height. */
  judge(content: BatchContent, state: ConsensusState, now: number): ProposalVerdict
  /** Most messages buffered for the next height (bounded against spam). */
  maxBuffered?: number
}

export interface DriverOutput extends StepOutput {
  /** Order ids a received proposal needs: fetch them over sync, then call `retryPending`. */
  missing: Hex[]
  /** Proposals we judged and refused to prevote for, with the reason (logged, counted). */
  rejected: { proposal: BatchProposal; code: string; message: string }[]
}

export interface DriverStats {
  equivocations: number
  badSignatures: number
  rejectedProposals: number
}

export class ConsensusDriver {
  state: ConsensusState
  readonly stats: DriverStats = { equivocations: 0, badSignatures: 0, rejectedProposals: 0 }
  private readonly opts: DriverOptions
  private future: ConsensusMessage[] = []
  private pending = new Map<Hex, BatchProposal>()

  constructor(state: ConsensusState, opts: DriverOptions) {
    this.state = state
    this.opts = opts
  }

  get height(): bigint {
    return this.state.height
  }

  start(now: number): DriverOutput {
    return this.apply({ type: 'start', now })
  }

  timeout(t: TimerRequest, now: number): DriverOutput {
    return this.apply({ type: 'timeout', now, kind: t.kind, height: t.height, round: t.round })
  }

  value(height: bigint, round: number, content: BatchContent, now: number): DriverOutput {
    return this.apply({ type: 'value', now, height, round, content })
  }

  /**
   * Catch-up: a decided value with its precommits, fetched from a peer. Only precommits that can count
   * (the value's hash, the first one's round, one per validator) are checked, and the first bad signature
   * drops the commit: a peer's commit of a thousand forged precommits used to cost a recovery each (issue 24).
   */
  commit(content: BatchContent, precommits: Vote[], now: number): DriverOutput {
    if (content.height !== this.state.height) return emptyOutput(this.state)
    // One signature check per validator at most: a sync answer could carry thousands of precommits
    // (~16k fit in its 8 MiB), each a signature to recover (issue 24). Only precommits that can count
    // (this height, one round, this value, a validator of the set, each once); one that does not check
    // out makes the whole commit a lie, dropped (another peer's answer will do).
    const hash = contentHash(content)
    const round = precommits[0]?.round
    const validators = this.state.config.validators
    const checked: Vote[] = []
    const seen = new Set<string>()
    for (const v of precommits) {
      if (v.type !== 'precommit' || v.height !== content.height || v.round !== round || v.valueHash !== hash)
        continue
      if (seen.has(v.validator) || !validators.includes(v.validator)) continue
      seen.add(v.validator)
      if (!this.checkVote(v)) return emptyOutput(this.state)
      checked.push(v)
    }
    return this.apply({ type: 'commit', now, content, precommits: checked })
  }

  /**
   * What makes a consensus message worth taking and forwarding, checked by the gossip topic's validator
   * before it is accepted (so forged or foreign messages cost their sender and go no further): a height
   * we work on or the next one, a signer of the validator set (the round's proposer for a proposal), and
   * its signature. Null when admissible; else the code to refuse it with (`ignore` codes for heights).
   */
  admit(msg: ConsensusMessage): { code: string; message: string } | null {
    const h = msg.type === 'proposal' ? msg.proposal.height : msg.vote.height
    if (h < this.state.height) return { code: 'CONSENSUS_UNKNOWN_HEIGHT', message: `height ${h} is decided` }
    if (h > this.state.height + 1n)
      return { code: 'CONSENSUS_FUTURE_HEIGHT', message: `height ${h} is far ahead` }
    if (msg.type === 'vote') return this.voteFault(msg.vote)
    const validators = this.state.config.validators
    const p = msg.proposal
    if (!Number.isInteger(p.round) || p.round < 0 || p.proposer !== proposerOf(validators, p.height, p.round))
      return {
        code: 'CONSENSUS_NOT_PROPOSER',
        message: `${p.proposer} is not the proposer of round ${p.round}`,
      }
    if (!this.opts.verifier.proposal(p)) {
      this.stats.badSignatures++
      return {
        code: 'CONSENSUS_BAD_SIGNATURE',
        message: 'proposal signature does not recover to its proposer',
      }
    }
    return null
  }

  /** A consensus message from gossip or a sync answer; `admitted`: `admit` already passed it (gossip's validator). */
  receive(msg: ConsensusMessage, now: number, admitted = false): DriverOutput {
    const h = msg.type === 'proposal' ? msg.proposal.height : msg.vote.height
    if (h < this.state.height) return emptyOutput(this.state)
    if (!admitted && this.admit(msg) !== null) return emptyOutput(this.state)
    if (h > this.state.height) {
      // Only the next height is worth keeping (admitted, so signed by a validator): further ahead,
      // catch-up by decided batches is the way.
      if (h === this.state.height + 1n && this.future.length < (this.opts.maxBuffered ?? 4096))
        this.future.push(msg)
      return emptyOutput(this.state)
    }
    if (msg.type === 'vote') return this.apply({ type: 'vote', now, vote: msg.vote })
    return this.judgeAndApply(msg.proposal, now)
  }

  /** Judges again the proposals that waited for orders (after a sync fetch brought them, or gave up). */
  retryPending(now: number): DriverOutput {
    const parked = [...this.pending.values()].filter((p) => p.height === this.state.height)
    this.pending.clear()
    const out = emptyOutput(this.state)
    for (const p of parked) merge(out, this.judgeAndApply(p, now))
    return out
  }

  /** The current height's proposals and votes, for a peer that asks over sync. */
  syncMessages(): ConsensusMessage[] {
    return heightMessages(this.state)
  }

  private checkVote(v: Vote): boolean {
    return this.voteFault(v) === null
  }

  /** A vote's signer is a validator and its signature recovers to it (counted when it does not). */
  private voteFault(v: Vote): { code: string; message: string } | null {
    if (!this.state.config.validators.includes(v.validator))
      return { code: 'CONSENSUS_UNKNOWN_VALIDATOR', message: `${v.validator} is not a validator` }
    if (!this.opts.verifier.vote(v)) {
      this.stats.badSignatures++
      return { code: 'CONSENSUS_BAD_SIGNATURE', message: 'vote signature does not recover to its validator' }
    }
    return null
  }

  /**
   * Parks a proposal whose orders are being fetched. Only rounds near ours count (a proposer may sign
   * proposals for any of its far rounds); when full, a nearer round evicts the farthest, so a Byzantine
   * proposer's far-round proposals cannot crowd out the proposal of the round at work.
   */
  private park(p: BatchProposal): boolean {
    if (p.round > this.state.round + PARK_ROUNDS_AHEAD) return false
    const key = `0x${p.round.toString(16)}` as Hex
    if (!this.pending.has(key) && this.pending.size >= MAX_PARKED) {
      let far: BatchProposal | undefined
      for (const q of this.pending.values()) if (!far || q.round > far.round) far = q
      if (!far || far.round <= p.round) return false
      this.pending.delete(`0x${far.round.toString(16)}` as Hex)
    }
    this.pending.set(key, p)
    return true
  }

  private judgeAndApply(p: BatchProposal, now: number): DriverOutput {
    const verdict = this.opts.judge(p.content, this.state, now)
    if (verdict.missing && verdict.missing.length > 0) {
      const out = emptyOutput(this.state)
      // Its orders are fetched only if it is worth waiting for (parked): not for a far round.
      if (this.park(p)) out.missing = verdict.missing
      return out
    }
    const out = this.apply({
      type: 'proposal',
      now,
      proposal: p,
      valid: verdict.valid,
      acceptable: verdict.acceptable,
    })
    if (!verdict.acceptable) {
      this.stats.rejectedProposals++
      out.rejected.push({
        proposal: p,
        code: verdict.code ?? 'CONSENSUS_REJECTED',
        message: verdict.message ?? '',
      })
    }
    return out
  }

  private apply(event: ConsensusEvent): DriverOutput {
    const before = this.state.height
    const out: DriverOutput = { ...step(this.state, event), missing: [], rejected: [] }
    this.stats.equivocations += out.evidence.length
    if (this.state.height !== before) {
      this.pending.clear()
      // Replay what arrived early for the height we just reached (and drop the rest).
      const buffered = this.future
      this.future = []
      for (const m of buffered) merge(out, this.receive(m, event.now))
    }
    return out
  }
}

function emptyOutput(state: ConsensusState): DriverOutput {
  return {
    state,
    persist: [],
    messages: [],
    timers: [],
    decisions: [],
    evidence: [],
    getValue: null,
    missing: [],
    rejected: [],
  }
}

/** Appends `b` to `a`; the later getValue request supersedes an earlier one. */
export function merge(a: DriverOutput, b: DriverOutput): DriverOutput {
  a.persist.push(...b.persist)
  a.messages.push(...b.messages)
  a.timers.push(...b.timers)
  a.decisions.push(...b.decisions)
  a.evidence.push(...b.evidence)
  a.missing.push(...b.missing)
  a.rejected.push(...b.rejected)
  if (b.getValue) a.getValue = b.getValue
  return a
}
