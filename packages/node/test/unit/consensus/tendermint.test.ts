import type { Address, BatchContent, Hex, NetworkDomain, Vote } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import {
  type ConsensusConfig,
  type ConsensusMessage,
  type ConsensusParams,
  type ConsensusState,
  type ConsensusVerifier,
  contentHash,
  initialState,
  keySigner,
  keyVerifier,
  proposerOf,
  quorumOf,
  restoreState,
  type SignedRecord,
  type StepOutput,
  step,
  timeoutMs,
} from '../../../src/consensus/index.js'

const DOMAIN: NetworkDomain = { chainId: 31337n, verifyingContract: `0x${'22'.repeat(20)}` }
const PARAMS: ConsensusParams = {
  batchIntervalMs: 1000,
  timeouts: {
    proposeMs: 1000,
    proposeDeltaMs: 500,
    prevoteMs: 500,
    prevoteDeltaMs: 250,
    precommitMs: 500,
    precommitDeltaMs: 250,
    capMs: 3000,
  },
}
const GENESIS = { hash: `0x${'00'.repeat(32)}` as Hex, timestamp: 0n, chainRef: 0n }

// Four validators with real keys (deterministic), sorted by address.
const signers = [1, 2, 3, 4]
  .map((i) => keySigner(DOMAIN, new Uint8Array(32).fill(i)))
  .sort((a, b) => (a.address < b.address ? -1 : 1))
const validators: Address[] = signers.map((s) => s.address)
const verifier = keyVerifier(DOMAIN)

function config(i: number): ConsensusConfig {
  return { validators, signer: signers[i], params: PARAMS }
}

function content(height: bigint, parentHash: Hex, ids: Hex[] = [], timestamp = 1000n * height): BatchContent {
  return { height, parentHash, timestamp, chainRef: 0n, orderIds: ids }
}

function votesOf(out: StepOutput, type?: 'prevote' | 'precommit'): Vote[] {
  return out.messages.flatMap((m) => (m.type === 'vote' && (!type || m.vote.type === type) ? [m.vote] : []))
}

/** A perfect synchronous network: every message reaches every validator at once. */
function runPerfect(heights: number): { states: ConsensusState[]; decided: Hex[][] } {
  const states = validators.map((_, i) => initialState(config(i), 1n, GENESIS))
  const decided: Hex[][] = validators.map(() => [])
  let now = 0
  const queue: { to: number; msg: ConsensusMessage }[] = []
  const pending: { i: number; out: StepOutput }[] = []
  const absorb = (i: number, out: StepOutput) => pending.push({ i, out })
  const flush = () => {
    while (pending.length > 0 || queue.length > 0) {
      while (pending.length > 0) {
        const { i, out } = pending.shift()!
        for (const d of out.decisions) decided[i].push(d.valueHash)
        for (const m of out.messages)
          for (let j = 0; j < states.length; j++) if (j !== i) queue.push({ to: j, msg: m })
        if (out.getValue && out.getValue.height <= BigInt(heights)) {
          const g = out.getValue
          now = Math.max(now, g.notBefore)
          absorb(
            i,
            step(states[i], {
              type: 'value',
              now,
              height: g.height,
              round: g.round,
              content: content(g.height, g.parent.hash),
            }),
          )
        }
      }
      const q = queue.shift()
      if (!q) break
      const ev =
        q.msg.type === 'proposal'
          ? ({
              type: 'proposal',
              now,
              proposal: q.msg.proposal,
              valid: verifier.proposal(q.msg.proposal),
            } as const)
          : ({ type: 'vote', now, vote: q.msg.vote } as const)
      if (q.msg.type === 'vote') expect(verifier.vote(q.msg.vote)).toBe(true)
      absorb(q.to, step(states[q.to], ev))
    }
  }
  for (let i = 0; i < states.length; i++) absorb(i, step(states[i], { type: 'start', now }))
  flush()
  while (Math.min(...decided.map((d) => d.length)) < heights) {
    flush()
    if (pending.length === 0 && queue.length === 0) break
  }
  return { states, decided }
}

describe('tendermint helpers', () => {
  it('quorum is more than two thirds, 2f+1 when n = 3f+1', () => {
    expect([1, 4, 5, 6, 7, 10].map(quorumOf)).toEqual([1, 3, 4, 5, 5, 7])
  })

  it('rotates the proposer each height and round over the sorted set', () => {
    expect(proposerOf(validators, 1n, 0)).toBe(validators[1])
    expect(proposerOf(validators, 1n, 1)).toBe(validators[2])
    expect(proposerOf(validators, 2n, 0)).toBe(validators[2])
    expect(proposerOf(validators, 3n, 1)).toBe(validators[0])
  })

  it('timeouts grow per round up to the cap', () => {
    expect(timeoutMs(PARAMS.timeouts, 'propose', 0)).toBe(1000)
    expect(timeoutMs(PARAMS.timeouts, 'propose', 2)).toBe(2000)
    expect(timeoutMs(PARAMS.timeouts, 'propose', 100)).toBe(3000)
    expect(timeoutMs(PARAMS.timeouts, 'prevote', 1)).toBe(750)
  })
})

describe('tendermint state machine', () => {
  it('decides the same values, height after height, on a perfect network', () => {
    const { states, decided } = runPerfect(3)
    for (const d of decided) expect(d.slice(0, 3)).toEqual(decided[0].slice(0, 3))
    expect(decided[0].length).toBeGreaterThanOrEqual(3)
    for (const s of states) expect(s.height).toBeGreaterThanOrEqual(4n)
  })

  it('asks the proposer for a value at the batch cadence and proposes it signed', () => {
    const p = validators.indexOf(proposerOf(validators, 1n, 0))
    const s = initialState(config(p), 1n, { ...GENESIS, timestamp: 5000n })
    const out = step(s, { type: 'start', now: 5200 })
    expect(out.getValue).toMatchObject({ height: 1n, round: 0, notBefore: 6000 })
    expect(out.timers).toEqual([{ kind: 'propose', height: 1n, round: 0, delayMs: 800 + 1000 }])
    const out2 = step(s, {
      type: 'value',
      now: 6000,
      height: 1n,
      round: 0,
      content: content(1n, GENESIS.hash),
    })
    const proposal = out2.messages.find((m) => m.type === 'proposal')
    expect(proposal?.type === 'proposal' && verifier.proposal(proposal.proposal)).toBe(true)
    // L22: it prevotes its own proposal; the proposal and the prevote are persisted first.
    expect(votesOf(out2, 'prevote')[0].valueHash).toBe(contentHash(content(1n, GENESIS.hash)))
    expect(out2.persist.map((r) => r.kind)).toEqual(['proposal', 'prevote'])
  })

  it('times out to nil votes and the next round (L57-L67)', () => {
    const i = validators.indexOf(proposerOf(validators, 1n, 1)) // not the round-0 proposer
    const s = initialState(config(i), 1n, GENESIS)
    step(s, { type: 'start', now: 0 })
    const a = step(s, { type: 'timeout', now: 2000, kind: 'propose', height: 1n, round: 0 })
    expect(votesOf(a, 'prevote').map((v) => v.valueHash)).toEqual([null])
    expect(s.step).toBe('prevote')
    // L34: 2f+1 prevotes of any kind schedule timeoutPrevote
    const others = [0, 1, 2, 3].filter((j) => j !== i)
    let timers: StepOutput['timers'] = []
    for (const j of others.slice(0, 2)) {
      timers = timers.concat(step(s, { type: 'vote', now: 2010, vote: nilVote(j, 'prevote', 1n, 0) }).timers)
    }
    expect(timers.map((t) => t.kind)).toContain('prevote')
    expect(s.step).toBe('precommit') // L44: 2f+1 nil prevotes
    const b = step(s, { type: 'timeout', now: 2600, kind: 'precommit', height: 1n, round: 0 })
    expect(s.round).toBe(1)
    expect(b.getValue).not.toBeNull() // i is the proposer of round 1
  })

  it('skips to a higher round on f+1 messages from it (L55)', () => {
    const s = initialState(config(0), 1n, GENESIS)
    step(s, { type: 'start', now: 0 })
    step(s, { type: 'vote', now: 1, vote: nilVote(1, 'prevote', 1n, 5) })
    expect(s.round).toBe(0) // f+1 = 2 needed
    step(s, { type: 'vote', now: 2, vote: nilVote(2, 'precommit', 1n, 5) })
    expect(s.round).toBe(5)
  })

  it('locks on a polka and prevotes nil on another fresh value later (L36-L43, L23)', () => {
    const i = validators.indexOf(proposerOf(validators, 1n, 2))
    const s = initialState(config(i), 1n, GENESIS)
    step(s, { type: 'start', now: 0 })
    const v = content(1n, GENESIS.hash, [`0x${'aa'.repeat(32)}`])
    const p0 = signedProposal(v, 0, -1)
    step(s, { type: 'proposal', now: 1, proposal: p0, valid: true })
    const others = [0, 1, 2, 3].filter((j) => j !== i)
    for (const j of others.slice(0, 2))
      step(s, { type: 'vote', now: 2, vote: vote(j, 'prevote', 1n, 0, contentHash(v)) })
    expect(s.lockedRound).toBe(0)
    expect(s.lockedHash).toBe(contentHash(v))
    expect(s.step).toBe('precommit')
    // Round 1: another value, fresh (vr = -1): locked on v, so nil.
    const w = content(1n, GENESIS.hash)
    for (const j of others.slice(0, 2)) step(s, { type: 'vote', now: 3, vote: nilVote(j, 'prevote', 1n, 1) })
    expect(s.round).toBe(1)
    const out = step(s, { type: 'proposal', now: 4, proposal: signedProposal(w, 1, -1), valid: true })
    expect(votesOf(out, 'prevote').map((x) => x.valueHash)).toEqual([null])
  })

  it('prevotes a re-proposal with a valid round once it sees that round polka (L28-L33)', () => {
    const i = validators.indexOf(proposerOf(validators, 1n, 0))
    const s = initialState(config(i), 1n, GENESIS)
    step(s, { type: 'start', now: 0 })
    step(s, { type: 'timeout', now: 3000, kind: 'propose', height: 1n, round: 0 }) // prevoted nil in round 0
    const v = content(1n, GENESIS.hash, [`0x${'bb'.repeat(32)}`])
    const others = [0, 1, 2, 3].filter((j) => j !== i)
    for (const j of others.slice(0, 2))
      step(s, { type: 'vote', now: 3001, vote: vote(j, 'prevote', 1n, 1, null) })
    expect(s.round).toBe(1)
    const reproposal = signedProposal(v, 1, 0)
    const a = step(s, { type: 'proposal', now: 3002, proposal: reproposal, valid: true, acceptable: false })
    expect(votesOf(a, 'prevote')).toEqual([]) // no polka for v in round 0 yet: waits
    let votes: Vote[] = []
    for (const j of others)
      votes = votes.concat(
        votesOf(
          step(s, { type: 'vote', now: 3003, vote: vote(j, 'prevote', 1n, 0, contentHash(v)) }),
          'prevote',
        ),
      )
    expect(votes.map((x) => x.valueHash)).toEqual([contentHash(v)]) // the local policy does not block a polka value
  })

  it('decides from a catch-up commit with a quorum of precommits', () => {
    const s = initialState(config(0), 1n, GENESIS)
    step(s, { type: 'start', now: 0 })
    const v = content(1n, GENESIS.hash)
    const pcs = [1, 2].map((j) => vote(j, 'precommit', 1n, 3, contentHash(v)))
    expect(step(s, { type: 'commit', now: 1, content: v, precommits: pcs }).decisions).toEqual([])
    pcs.push(vote(3, 'precommit', 1n, 3, contentHash(v)))
    const out = step(s, { type: 'commit', now: 1, content: v, precommits: pcs })
    expect(out.decisions.map((d) => d.valueHash)).toEqual([contentHash(v)])
    expect(s.height).toBe(2n)
    expect(s.parent.hash).toBe(contentHash(v))
  })

  it('reports a validator voting twice in one slot, with both signed votes as evidence', () => {
    const s = initialState(config(0), 1n, GENESIS)
    step(s, { type: 'start', now: 0 })
    step(s, { type: 'vote', now: 1, vote: nilVote(1, 'prevote', 1n, 0) })
    const out = step(s, { type: 'vote', now: 2, vote: vote(1, 'prevote', 1n, 0, `0x${'cc'.repeat(32)}`) })
    expect(out.evidence).toHaveLength(1)
    expect(out.evidence[0]).toMatchObject({ kind: 'duplicate-vote', validator: validators[1] })
  })
})

describe('crash safety', () => {
  it('restores its lock and round from its records and never signs a different vote in a slot', () => {
    const i = validators.indexOf(proposerOf(validators, 1n, 2))
    const s = initialState(config(i), 1n, GENESIS)
    const records: SignedRecord[] = []
    const keep = (o: StepOutput) => {
      records.push(...o.persist)
      return o
    }
    keep(step(s, { type: 'start', now: 0 }))
    const v = content(1n, GENESIS.hash, [`0x${'dd'.repeat(32)}`])
    keep(step(s, { type: 'proposal', now: 1, proposal: signedProposal(v, 0, -1), valid: true }))
    const others = [0, 1, 2, 3].filter((j) => j !== i)
    for (const j of others.slice(0, 2))
      keep(step(s, { type: 'vote', now: 2, vote: vote(j, 'prevote', 1n, 0, contentHash(v)) }))
    expect(records.map((r) => r.kind)).toEqual(['prevote', 'precommit'])

    // Crash, restart from the records alone.
    const r = restoreState(config(i), 1n, GENESIS, records)
    expect(r.lockedRound).toBe(0)
    expect(r.lockedHash).toBe(contentHash(v))
    expect(r.step).toBe('precommit')
    const started = step(r, { type: 'start', now: 10 })
    expect(started.persist).toEqual([]) // nothing new signed
    expect(votesOf(started).map((x) => x.signature)).toEqual(
      records.flatMap((x) => (x.kind === 'proposal' ? [] : [x.vote.signature])),
    ) // the same messages re-sent
    // A timeout in the restored slot produces no new, conflicting precommit.
    const t = step(r, { type: 'timeout', now: 20, kind: 'prevote', height: 1n, round: 0 })
    expect(t.persist).toEqual([])
    // Later rounds: still locked, so a fresh different value gets nil.
    for (const j of others.slice(0, 2)) step(r, { type: 'vote', now: 30, vote: nilVote(j, 'prevote', 1n, 1) })
    const w = content(1n, GENESIS.hash)
    const out = step(r, { type: 'proposal', now: 31, proposal: signedProposal(w, 1, -1), valid: true })
    expect(votesOf(out, 'prevote').map((x) => x.valueHash)).toEqual([null])
  })

  it('re-sends a proposal it signed before the crash instead of asking for a new value', () => {
    const p = validators.indexOf(proposerOf(validators, 1n, 0))
    const s = initialState(config(p), 1n, GENESIS)
    step(s, { type: 'start', now: 0 })
    const out = step(s, {
      type: 'value',
      now: 1000,
      height: 1n,
      round: 0,
      content: content(1n, GENESIS.hash),
    })
    const r = restoreState(config(p), 1n, GENESIS, out.persist)
    const started = step(r, { type: 'start', now: 1500 })
    expect(started.getValue).toBeNull()
    const resent = started.messages.filter((m) => m.type === 'proposal')
    expect(resent).toEqual(out.messages.filter((m) => m.type === 'proposal'))
    expect(started.persist).toEqual([])
  })
})

// ---- helpers signing as other validators ----

function vote(
  j: number,
  type: 'prevote' | 'precommit',
  height: bigint,
  round: number,
  valueHash: Hex | null,
): Vote {
  const u = { type, height, round, valueHash, validator: validators[j] }
  return { ...u, signature: signers[j].signVote(u) }
}

function nilVote(j: number, type: 'prevote' | 'precommit', height: bigint, round: number): Vote {
  return vote(j, type, height, round, null)
}

function signedProposal(c: BatchContent, round: number, validRound: number) {
  const proposer = proposerOf(validators, c.height, round)
  const j = validators.indexOf(proposer)
  const u = { height: c.height, round, content: c, validRound, proposer }
  return { ...u, signature: signers[j].signProposal(u) }
}

describe('one canonical encoding of a nil vote (issue 24)', () => {
  it('a nil vote re-encoded as a vote for the zero hash is refused, and nobody is called an equivocator', async () => {
    const { ConsensusDriver } = await import('../../../src/consensus/driver.js')
    const nil: Vote = {
      type: 'prevote',
      height: 1n,
      round: 0,
      valueHash: null,
      validator: signers[1].address,
      signature: signers[1].signVote({
        type: 'prevote',
        height: 1n,
        round: 0,
        valueHash: null,
        validator: signers[1].address,
      }),
    }
    const reencoded: Vote = { ...nil, valueHash: `0x${'00'.repeat(32)}` }
    expect(verifier.vote(nil)).toBe(true)
    expect(verifier.vote(reencoded)).toBe(false)
    const driver = new ConsensusDriver(initialState(config(0), 1n, GENESIS), {
      verifier,
      judge: () => ({ valid: true, acceptable: true }),
    })
    driver.start(0)
    driver.receive({ type: 'vote', vote: nil }, 1)
    driver.receive({ type: 'vote', vote: reencoded }, 2)
    expect(driver.stats.equivocations).toBe(0)
    expect(driver.stats.badSignatures).toBe(1)
  })
})

describe('parked proposals (issue 24)', () => {
  it("a proposer's far-round proposals cannot crowd out the proposal of the round at work", async () => {
    const { ConsensusDriver } = await import('../../../src/consensus/driver.js')
    const judged: number[] = []
    // Every proposal names an order we lack: each waits (parked) while it is fetched.
    const driver = new ConsensusDriver(initialState(config(0), 1n, GENESIS), {
      verifier,
      judge: (c, s) => {
        judged.push(Number(c.timestamp))
        void s
        return { valid: false, acceptable: false, missing: [`0x${'ab'.repeat(32)}`] }
      },
    })
    driver.start(0)
    const propose = (round: number) => {
      const proposer = proposerOf(validators, 1n, round)
      const signer = signers.find((x) => x.address === proposer)!
      // The round rides in the timestamp, so the judge's calls say which proposals were judged.
      const unsigned = {
        height: 1n,
        round,
        content: content(1n, GENESIS.hash, [], 1000n + BigInt(round)),
        validRound: -1,
        proposer,
      }
      return driver.receive(
        { type: 'proposal', proposal: { ...unsigned, signature: signer.signProposal(unsigned) } },
        1,
      )
    }
    // Thirty far rounds first: none is worth fetching for.
    for (let r = 100; r < 130; r++) expect(propose(r).missing).toEqual([])
    // The round at work is parked and its orders asked for.
    expect(propose(0).missing).toHaveLength(1)
    judged.length = 0
    driver.retryPending(2)
    expect(judged).toEqual([1000])
  })
})

describe('a sync answer cannot buy thousands of signature checks (issue 24)', () => {
  it('a commit with 5,000 precommits checks at most one per validator, and still decides', async () => {
    const { ConsensusDriver } = await import('../../../src/consensus/driver.js')
    let checks = 0
    const counting = {
      ...verifier,
      vote: (v: Vote) => {
        checks++
        return verifier.vote(v)
      },
    }
    const driver = new ConsensusDriver(initialState(config(0), 1n, GENESIS), {
      verifier: counting,
      judge: () => ({ valid: true, acceptable: true }),
    })
    driver.start(0)
    const c = content(1n, GENESIS.hash)
    const good = [1, 2, 3].map((j) => vote(j, 'precommit', 1n, 0, contentHash(c)))
    // Junk first: copies of a validator's vote with a broken signature, and votes of strangers.
    const forged = { ...good[0], signature: { ...good[0].signature, s: `0x${'11'.repeat(32)}` as Hex } }
    const stranger = { ...good[1], validator: `0x${'99'.repeat(20)}` as Address }
    const junk = Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? forged : stranger))
    const out = driver.commit(c, [...junk, ...good], 1)
    expect(checks).toBe(1)
    // A forged precommit makes the whole commit a lie: dropped after one check. Honest first, it decides.
    expect(out.decisions).toHaveLength(0)
    const again = new ConsensusDriver(initialState(config(0), 1n, GENESIS), {
      verifier: counting,
      judge: () => ({ valid: true, acceptable: true }),
    })
    again.start(0)
    checks = 0
    const decided = again.commit(c, [...good, ...junk], 1)
    expect(checks).toBeLessThanOrEqual(validators.length)
    expect(decided.decisions).toHaveLength(1)
  })
})

describe('catch-up commits from a peer (issue 24)', () => {
  it('checks one precommit per validator that could count, and drops a commit at its first bad signature', async () => {
    const { ConsensusDriver } = await import('../../../src/consensus/driver.js')
    const newDriver = (v: ConsensusVerifier = verifier) => {
      const d = new ConsensusDriver(initialState(config(0), 1n, GENESIS), {
        verifier: v,
        judge: () => ({ valid: true, acceptable: true }),
      })
      d.start(0)
      return d
    }
    const v = content(1n, GENESIS.hash)
    const good = [1, 2, 3].map((j) => vote(j, 'precommit', 1n, 0, contentHash(v)))
    // A thousand copies and votes for other values cost no check: one recovery per counting validator.
    let checks = 0
    const d = newDriver({ ...verifier, vote: (x: Vote) => (checks++, verifier.vote(x)) })
    const copies = Array.from({ length: 1000 }, () => good[0])
    const others = Array.from({ length: 100 }, (_, i) =>
      vote(2, 'precommit', 1n, 0, `0x${i.toString(16).padStart(64, '1')}`),
    )
    const out = d.commit(v, [...copies, ...others, ...good], 1)
    expect(out.decisions.map((x) => x.valueHash)).toEqual([contentHash(v)])
    expect(checks).toBe(3)
    // A forged precommit in a validator's name: the commit is dropped there, nothing after it is checked.
    const forged = { ...good[1], signature: good[0].signature }
    const d2 = newDriver()
    expect(d2.commit(v, [good[0], forged, good[2], good[1]], 1).decisions).toEqual([])
    expect(d2.stats.badSignatures).toBe(1)
    expect(d2.height).toBe(1n)
  })
})
