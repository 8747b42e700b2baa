// Agreement on QUAL under partial delivery at a phase boundary, and secrecy of every honest
// validator's epoch shares (issue 24). Four validators in memory (dkg-net.ts: real signatures, real
// curve arithmetic, a model of consensus deciding which DKG broadcasts each height references); one
// validator's direct links are cut during the deal window, and one dealer's deal reaches some
// validators before the window ends and the others after it.
import { concatBytes, domainSeparator, type Hex, scalarFromHex, scalarToHex } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import {
  type DkgBroadcast,
  type DkgSealedAnswer,
  proveAnswerKey,
  signBroadcast,
} from '../../../src/sealing/index.js'
import { dkgNetwork, domain, schedule, sortedKeys, storedEpoch, validators } from './dkg-net.js'

/** The DKG of the epoch 11..18 begins at 11 − lead = 3: deal window 3..4, complaints 5..6, answers 7..8, accusations 9..10. */
const BEGIN = 11n - BigInt(schedule.leadHeights)
const P = BigInt(schedule.phaseHeights)
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const session = { startHeight: 11n, attempt: 0 }

/** What binds a sealed answer (EpochDkg's context): network, session, dealer, recipient. */
function context(dealer: number, to: number): Uint8Array {
  const b = new Uint8Array(16)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, session.startHeight)
  v.setUint32(8, session.attempt)
  const d = new Uint8Array(8)
  new DataView(d.buffer).setUint32(0, dealer)
  new DataView(d.buffer).setUint32(4, to)
  return concatBytes(domainSeparator(domain), b.subarray(0, 12), d)
}

/**
 * The drill: validator 3's direct links are down through the deal window (it gets no private share
 * and serves none), and dealer 4's deal reaches the proposer of the window's last height (1) at once
 * but validators 2 and 3 only after the window. `pastBoundary`: it reaches nobody before the window
 * ends, and a proposer references it anyway in the first height after.
 */
async function drill(pastBoundary = false) {
  let cut = true
  const net = await dkgNetwork({
    cut: (i) => cut && i === 3,
    delay: (from, to, m) =>
      m.type === 'deal' && from === 4 ? (pastBoundary ? Number(P) : to === 1 ? 0 : Number(P)) : 0,
    refs: (h, proposed) => {
      if (!pastBoundary || h !== BEGIN + P) return proposed
      const late = net.published.find((x) => x.m.type === 'deal' && x.from === 4)
      return late ? [...new Set([...proposed, refOf(late.bytes)])].sort() : proposed
    },
  })
  await net.decide(1n, BEGIN + P - 1n)
  cut = false
  await net.decide(BEGIN + P, 11n)
  const outcomes = net.members.map((m) => m.dkg.outcomes.find((x) => x.startHeight === 11n))
  const epochs = await Promise.all(net.members.map((m) => storedEpoch(m, 11n)))
  return { net, outcomes, epochs }
}

import { broadcastRef as refOf } from '../../../src/sealing/index.js'

/** No share any dealer dealt, and no epoch share, appears in any public message. */
function expectNoSharePublic(
  published: { bytes: Uint8Array }[],
  dealt: { dealer: number; to: number; shares: Hex[] }[],
  epochShares: (Hex[] | null | undefined)[],
) {
  const pub = published.map((x) => hex(x.bytes)).join('|')
  expect(dealt.length).toBeGreaterThan(0)
  for (const d of dealt)
    for (const s of d.shares) expect(pub.includes(s.slice(2)), `share ${d.dealer}→${d.to}`).toBe(false)
  for (const e of epochShares) for (const s of e ?? []) expect(pub.includes(s.slice(2))).toBe(false)
}

describe('DKG drill: links cut in the deal window, a deal at the boundary (n = 4, t = 1)', () => {
  it('every honest validator computes the same QUAL and the same epoch public part', async () => {
    const { outcomes, epochs } = await drill()
    for (const x of outcomes) expect(x).toMatchObject({ ok: true, qual: [1, 2, 3, 4], keyed: true })
    for (const e of epochs) expect(e?.public).toEqual(epochs[0]?.public)
  })

  it('no epoch share, and no share any dealer dealt, appears in any public message', async () => {
    const { net, epochs } = await drill()
    // Validator 3 complained against every dealer and got its shares in sealed answers.
    const answers = net.published.filter((x) => x.m.type === 'answer' && x.m.to === 3)
    expect(answers.length).toBe(3)
    expectNoSharePublic(
      net.published,
      net.dealt,
      epochs.map((e) => e?.shares),
    )
    // Its epoch shares are right: with validator 1's they rebuild sk_h (checked against PK_h).
    const { recoverBatchSecretKey, batchCommitments } = await import('@allot/protocol')
    const shares = [0, 2].map((i) => ({ index: i + 1, value: scalarFromHex(epochs[i]!.shares![0]) }))
    expect(() => recoverBatchSecretKey(batchCommitments(epochs[0]!.public, 11n), shares)).not.toThrow()
  })

  it('a deal referenced only after its window counts for nobody: QUAL without its dealer, everywhere', async () => {
    const { net, outcomes, epochs } = await drill(true)
    for (const x of outcomes) expect(x).toMatchObject({ ok: true, qual: [1, 2, 3] })
    expect(outcomes[3]).toMatchObject({ disqualified: [{ dealer: 4, reason: 'no deal' }] })
    for (const e of epochs) expect(e?.public).toEqual(epochs[0]?.public)
    expect(net.decided.get(BEGIN + P)?.length).toBeGreaterThan(0)
  })
})

describe('a complaint timed at the boundary of its window', () => {
  it.each([
    [
      'inside: on the last complaint height it counts, is answered, and the dealer stays',
      BEGIN + 2n * P - 1n,
      1,
    ],
    ['outside: on the first answer height it counts for no one, and nothing is answered', BEGIN + 2n * P, 0],
  ])('%s', async (_what, at, answers) => {
    // Byzantine validator 2 complains against honest dealer 1; the complaint reaches the others only
    // as the proposer of `at` references it.
    let bytes: Uint8Array | undefined
    const net = await dkgNetwork({
      refs: (h, proposed) => {
        if (h !== at) return proposed
        bytes = signBroadcast(domain, session, { type: 'complaint', from: 2, against: 1 }, sortedKeys[1])
        net.published.push({ from: 2, bytes, m: { type: 'complaint', from: 2, against: 1 } })
        net.members[Number(h % 4n)].dkg.onBroadcast(bytes)
        return [...proposed, refOf(bytes)].sort()
      },
    })
    await net.decide(1n, 11n)
    expect(bytes).toBeDefined()
    const sent = net.published.filter((x) => x.m.type === 'answer' && x.m.dealer === 1 && x.m.to === 2)
    expect(sent.length).toBe(answers)
    for (const m of net.members) expect(m.dkg.outcomes[0]).toMatchObject({ ok: true, qual: [1, 2, 3, 4] })
    const e = await Promise.all(net.members.map((m) => storedEpoch(m, 11n)))
    for (const x of e) expect(x?.public).toEqual(e[0]?.public)
  })
})

describe('sealed answers and accusations', () => {
  it('a dealer whose sealed answer fails its commitments is proved bad by the accusation and excluded by all', async () => {
    const net = await dkgNetwork()
    const bump = (s: Hex) => scalarToHex((scalarFromHex(s) + 1n) % 2n ** 255n)
    net.tamper(1, (m) => {
      if (m.type === 'shares' && m.to === 4) return { ...m, shares: m.shares.map(bump) }
      if (m.type === 'answer' && m.to === 4 && 'sealed' in m) return { ...m, sealed: m.sealed.map(bump) }
      return m
    })
    await net.decide(1n, 11n)
    expect(net.published.some((x) => x.m.type === 'accusation' && x.from === 4)).toBe(true)
    for (const m of net.members) {
      const o = m.dkg.outcomes[0]
      expect(o).toMatchObject({ ok: true, qual: [2, 3, 4] })
      expect(o.ok && o.disqualified).toEqual([{ dealer: 1, reason: 'answer to 4 fails the commitments' }])
    }
    const e = await Promise.all(net.members.map((m) => storedEpoch(m, 11n)))
    for (const x of e) expect(x?.public).toEqual(e[0]?.public)
    expect(e[3]?.shares).not.toBeNull()
  })

  it('a Byzantine complainer cannot disqualify an honest dealer: baseless complaint, true and forged accusations', async () => {
    const net = await dkgNetwork({
      // Validator 2 (Byzantine) complains against honest dealer 1 for no reason, then accuses its
      // honest sealed answer twice: with the right key and proof, and with a forged key.
      refs: (h, proposed) => {
        const extra: Hex[] = []
        if (h === BEGIN + P) extra.push(inject({ type: 'complaint', from: 2, against: 1 }))
        if (h === BEGIN + 3n * P) {
          const a = net.published.find((x) => x.m.type === 'answer' && x.m.dealer === 1 && x.m.to === 2)
            ?.m as DkgSealedAnswer
          const secret = BigInt(`0x${hex(sortedKeys[1])}`)
          const proof = proveAnswerKey(secret, a.ephemeral, context(1, 2))
          extra.push(inject({ type: 'accusation', from: 2, against: 1, ...proof }))
          const forged = proveAnswerKey(secret + 1n, a.ephemeral, context(1, 2))
          extra.push(inject({ type: 'accusation', from: 2, against: 1, ...forged }))
        }
        return [...new Set([...proposed, ...extra])].sort()
      },
    })
    const inject = (m: DkgBroadcast): Hex => {
      const bytes = signBroadcast(domain, session, m, sortedKeys[1])
      net.published.push({ from: 2, bytes, m })
      for (const x of net.members) {
        try {
          x.dkg.onBroadcast(bytes)
        } catch {}
      }
      return refOf(bytes)
    }
    await net.decide(1n, 11n)
    expect(net.published.filter((x) => x.m.type === 'accusation').length).toBe(2)
    for (const m of net.members) expect(m.dkg.outcomes[0]).toMatchObject({ ok: true, qual: [1, 2, 3, 4] })
    const e = await Promise.all(net.members.map((m) => storedEpoch(m, 11n)))
    for (const x of e) expect(x?.public).toEqual(e[0]?.public)
    // What the true accusation opened is the accuser's own share from dealer 1 (it knew it): no honest
    // validator's share is public.
    expectNoSharePublic(
      net.published,
      net.dealt.filter((d) => d.to !== 2),
      e.map((x, i) => (i === 1 ? null : x?.shares)),
    )
    expect(validators.length).toBe(4)
  })
})
