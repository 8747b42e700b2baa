// The agreement e2e test's checker must be able to fail: fed a double sign and a fork, signed with real
// keys, it must report each (and refuse a forged signature).
import { addressOf, type Hex, type Vote } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { domainOf } from '../packages/node/src/config/index.js'
import { keySigner } from '../packages/node/src/consensus/index.js'
import { testGenesis } from './node-fixtures.js'
import { ConsensusObserver } from './support/consensus-observer.js'

const keys = [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(0x60 + i))
const g = testGenesis({
  validators: keys.map((k, i) => ({
    address: addressOf(k),
    peerId: `p${i}`,
    multiaddr: '/ip4/127.0.0.1/tcp/0',
  })),
  // The inclusion grace must exceed the cut-off (1,000 ms here) by a gossip latency.
  inclusionGraceMs: 1_100,
})
const signers = keys.map((k) => keySigner(domainOf(g), k))
const A = `0x${'aa'.repeat(32)}` as Hex
const B = `0x${'bb'.repeat(32)}` as Hex

function vote(i: number, type: Vote['type'], height: bigint, round: number, valueHash: Hex | null): Vote {
  const unsigned = { type, height, round, valueHash, validator: signers[i].address }
  return { ...unsigned, signature: signers[i].signVote(unsigned) }
}

describe('ConsensusObserver (the agreement test’s checker)', () => {
  it('reports a validator that signs two values in one slot, and nothing for a repeat', () => {
    const o = new ConsensusObserver(g)
    expect(o.addVote(vote(0, 'prevote', 5n, 0, A))).toBe(true)
    expect(o.addVote(vote(0, 'prevote', 5n, 0, A))).toBe(true)
    expect(o.addVote(vote(0, 'prevote', 5n, 1, null))).toBe(true)
    expect(o.conflicts()).toEqual([])
    o.addVote(vote(0, 'prevote', 5n, 1, B))
    expect(o.conflicts()).toEqual([
      {
        kind: 'prevote',
        validator: signers[0].address.toLowerCase(),
        height: 5n,
        round: 1,
        values: ['nil', B],
      },
    ])
  })

  it('sees a decision at a precommit quorum, and a fork when two values reach one at a height', () => {
    const o = new ConsensusObserver(g)
    for (const i of [0, 1, 2]) o.addVote(vote(i, 'precommit', 7n, 0, A))
    expect(o.decidedValue(7n)).toBe(A)
    expect(o.topDecided()).toBe(7n)
    expect(o.forks()).toEqual([])
    // Validator 2 equivocates across rounds, 3 joins: B also has 3 precommits (in round 1).
    for (const i of [1, 2, 3]) o.addVote(vote(i, 'precommit', 7n, 1, B))
    expect(o.forks()).toEqual([{ height: 7n, values: [A, B] }])
  })

  it('refuses a vote whose signature is not its validator’s', () => {
    const o = new ConsensusObserver(g)
    const forged = { ...vote(1, 'prevote', 3n, 0, A), validator: signers[0].address }
    expect(o.addVote(forged)).toBe(false)
    expect(o.conflicts()).toEqual([])
  })
})
