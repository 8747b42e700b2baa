// The validators' DKG (sealing/dkg.ts) over an in-memory network with a model of consensus
// (dkg-net.ts): signed broadcasts counted when a decided height references them, shares pulled over
// "private links", windows of decided heights, retries, roll-over without a gap.
import {
  batchCommitments,
  type Hex,
  pointFromHex,
  pointToHex,
  recoverBatchSecretKey,
  scalarFromHex,
  signDkgMessage,
  signDkgSharesRequest,
} from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { signBroadcast } from '../../../src/sealing/index.js'
import { dkgNetwork, domain, sortedKeys, storedEpoch } from './dkg-net.js'

describe('validators DKG (EpochDkg) in memory, n = 4, t = 1', () => {
  it('keys the next epoch before the boundary: same public keys everywhere, t+1 shares open sk_h', async () => {
    const net = await dkgNetwork()
    const ms = net.members
    // Epoch 1..10; the DKG of 11..18 runs its four windows over 3..10 and ends with height 10.
    await net.decide(1n, 9n)
    for (const m of ms) expect(await m.svc.batchKey(11n)).toBeUndefined()
    await net.decide(10n, 10n)
    for (const m of ms) {
      expect(m.dkg.outcomes).toEqual([
        { startHeight: 11n, attempt: 0, ok: true, qual: [1, 2, 3, 4], disqualified: [], keyed: true },
      ])
    }
    const e = await Promise.all(ms.map((m) => storedEpoch(m, 11n)))
    for (const x of e) expect(x?.public).toEqual(e[0]?.public)
    expect(e[0]?.public.length).toBe(8)
    // Any two validators' shares rebuild sk_h, and it matches PK_h.
    for (const h of [11n, 18n]) {
      const shares = [0, 2].map((i) => ({
        index: i + 1,
        value: scalarFromHex(e[i]!.shares![Number(h - 11n)]),
      }))
      const { secretKey } = recoverBatchSecretKey(batchCommitments(e[0]!.public, h), shares)
      expect(secretKey.length).toBe(32)
    }
    // Every broadcast counted was referenced by a decided height: 4 deals, nothing else.
    expect([...net.decided.values()].flat().length).toBe(4)
  })

  it('a dealer whose deal is inconsistent with its shares draws 3 complaints, is accused and excluded', async () => {
    const net = await dkgNetwork()
    // Dealer 2 broadcasts commitments of another polynomial (C_1 replaced): every share it sends fails,
    // and so do its (sealed) answers: every complainer proves it.
    net.tamper(2, (m) => {
      if (m.type !== 'deal') return m
      const other = pointFromHex(m.commitments[1][1])
      return {
        ...m,
        commitments: m.commitments.map((c) => [c[0], pointToHex(pointFromHex(c[1]).add(other))]),
      }
    })
    await net.decide(1n, 10n)
    for (const m of net.members) {
      const o = m.dkg.outcomes[0]
      expect(o.ok && o.qual).toEqual([1, 3, 4])
      expect(o.ok && o.disqualified[0].dealer).toBe(2)
      expect(o.ok && o.disqualified[0].reason).toMatch(/answer to [134] fails the commitments/)
    }
    expect(net.published.filter((x) => x.m.type === 'accusation').length).toBe(3)
    const e = await Promise.all(net.members.map((m) => storedEpoch(m, 11n)))
    for (const x of e) expect(x?.public.commitments).toEqual(e[0]?.public.commitments)
    // The honest validators' shares still open the keys.
    const shares = [0, 3].map((i) => ({ index: i + 1, value: scalarFromHex(e[i]!.shares![0]) }))
    expect(() => recoverBatchSecretKey(batchCommitments(e[0]!.public, 11n), shares)).not.toThrow()
  })

  it('an honest answer settles a complaint: the dealer stays in, the complainer opens its sealed answer', async () => {
    const net = await dkgNetwork()
    net.tamper(1, (m) =>
      m.type === 'shares' && m.to === 3
        ? { ...m, shares: m.shares.map(() => `0x${'11'.repeat(32)}` as Hex) }
        : m,
    )
    await net.decide(1n, 10n)
    expect(net.published.filter((x) => x.m.type === 'complaint').map((x) => x.m)).toEqual([
      { type: 'complaint', from: 3, against: 1 },
    ])
    for (const m of net.members) expect(m.dkg.outcomes[0].ok && m.dkg.outcomes[0].qual).toEqual([1, 2, 3, 4])
    expect((await storedEpoch(net.members[2], 11n))?.shares).not.toBeNull()
  })

  it('a failed attempt retries: attempt 0 decides no broadcast, attempt 1 keys the epoch', async () => {
    let censor = true
    // Epochs of 12 heights here: attempt 1 must end before the epoch 11..22 does.
    const net = await dkgNetwork({
      refs: (_h, proposed) => (censor ? [] : proposed),
      schedule: { epochLength: 12, phaseHeights: 2, leadHeights: 8 },
    })
    await net.decide(1n, 10n)
    censor = false
    // Attempt 0 ran 3..10 and fails at 10; attempt 1 runs 11..18: the epoch 11.. is keyed late — a
    // gap of eight heights; the lead is what prevents that (room for ⌊8 / 8⌋ = 1 attempt here).
    for (const m of net.members) expect(m.dkg.outcomes[0]).toMatchObject({ attempt: 0, ok: false })
    for (const m of net.members) expect(await m.svc.batchKey(11n)).toBeUndefined()
    await net.decide(11n, 18n)
    for (const m of net.members)
      expect(m.dkg.outcomes[1]).toMatchObject({ attempt: 1, ok: true, qual: [1, 2, 3, 4] })
    for (const m of net.members) expect(await m.svc.batchKey(11n)).toBeDefined()
  })

  it('epochs roll over without a gap: every height keyed for three epochs', async () => {
    const net = await dkgNetwork()
    await net.decide(1n, 30n, [], true)
    for (const m of net.members) {
      expect(m.dkg.outcomes.map((o) => [o.startHeight, o.ok])).toEqual([
        [11n, true],
        [19n, true],
        [27n, true],
      ])
      for (let h = 1n; h <= 34n; h++) expect(await m.svc.batchKey(h), `height ${h}`).toBeDefined()
      // The DKG's shares are released on decision like dealt ones.
      expect((await m.svc.releaseShare(25n)).height).toBe(25n)
    }
  })

  it('a validator that lags behind consensus catches up on decided heights: same QUAL and public part', async () => {
    // Validator 4 hears the gossip but decides nothing until the others are at 6; then it processes
    // the decided heights in order. Its deal comes after the deal window was decided: it counts for nobody.
    const net = await dkgNetwork()
    await net.decide(1n, 6n, [4])
    await net.catchUp(4, 1n, 6n)
    await net.decide(7n, 10n)
    for (const m of net.members) expect(m.dkg.outcomes[0].ok && m.dkg.outcomes[0].qual).toEqual([1, 2, 3])
    const e4 = await storedEpoch(net.members[3], 11n)
    const e1 = await storedEpoch(net.members[0], 11n)
    expect(e4?.public).toEqual(e1?.public)
    expect(await net.members[3].svc.batchKey(12n)).toBeDefined()
  })

  it('a validator restarted mid-session replays the decided heights from its store: same QUAL and public part', async () => {
    const net = await dkgNetwork()
    await net.decide(1n, 6n)
    // Restarted in the complaint window: its polynomials and received shares are gone.
    net.restart(4)
    await net.decide(7n, 10n)
    for (const m of net.members) expect(m.dkg.outcomes.at(-1)).toMatchObject({ ok: true, qual: [1, 2, 3, 4] })
    const e = await Promise.all(net.members.map((m) => storedEpoch(m, 11n)))
    for (const x of e) expect(x?.public).toEqual(e[0]?.public)
    // It holds no shares of that epoch (t+1 of the others suffice), and it sent nothing while replaying.
    expect(net.members[3].dkg.outcomes.at(-1)).toMatchObject({ keyed: false })
    expect(net.published.filter((x) => x.from === 4 && x.m.type !== 'deal')).toEqual([])
    // Its schedule stays with the others': the next epoch's DKG keys it again.
    await net.decide(11n, 18n)
    for (const m of net.members)
      expect(m.dkg.outcomes.at(-1)).toMatchObject({ startHeight: 19n, ok: true, keyed: true })
  })

  it('a validator restarted mid-session without the decided heights takes no epoch from it', async () => {
    const net = await dkgNetwork({ storage: false })
    await net.decide(1n, 4n, [4])
    await net.decide(5n, 10n)
    expect(net.members[3].dkg.outcomes[0]).toMatchObject({
      ok: false,
      error: 'joined after the session began',
    })
    expect(await net.members[3].svc.batchKey(12n)).toBeUndefined()
    for (const m of net.members.slice(0, 3))
      expect(m.dkg.outcomes[0]).toMatchObject({ ok: true, qual: [1, 2, 3] })
  })

  it('refuses DKG messages not signed by the validator they name, old or private formats on the topic, and foreign requests', async () => {
    const net = await dkgNetwork()
    const ms = net.members
    await net.decide(1n, 3n)
    const session = { startHeight: 11n, attempt: 0 }
    // Validator 2's key signing a complaint "from 3".
    const forged = signBroadcast(domain, session, { type: 'complaint', from: 3, against: 1 }, sortedKeys[1])
    expect(() => ms[0].dkg.onBroadcast(forged)).toThrow(/SEAL_DKG_BAD_SIGNATURE/)
    // Shares (and anything of the v1 format) do not even decode as a broadcast.
    const shares = signDkgMessage(
      domain,
      session,
      { type: 'shares', dealer: 2, to: 1, shares: [] },
      sortedKeys[1],
    )
    expect(() => ms[0].dkg.onBroadcast(shares)).toThrow(/WIRE_/)
    // A message for an epoch no one is generating now is ignored (not the sender's fault).
    const far = signBroadcast(
      domain,
      { startHeight: 99n, attempt: 0 },
      { type: 'complaint', from: 2, against: 1 },
      sortedKeys[1],
    )
    expect(() => ms[0].dkg.onBroadcast(far)).toThrow(/SEAL_DKG_UNKNOWN_HEIGHT/)
    // Validator 3's signed request is bound to peer-3: replayed from another peer it gets nothing.
    const req = signDkgSharesRequest(domain, { ...session, index: 3, peer: 'peer-3' }, sortedKeys[2])
    expect(ms[0].dkg.serveShares(req, 'peer-3')).not.toBeNull()
    expect(() => ms[0].dkg.serveShares(req, 'peer-9')).toThrow(/SEAL_DKG_BAD_SIGNATURE/)
    const stolen = signDkgSharesRequest(domain, { ...session, index: 3, peer: 'peer-9' }, sortedKeys[1])
    expect(() => ms[0].dkg.serveShares(stolen, 'peer-9')).toThrow(/SEAL_DKG_BAD_SIGNATURE/)
  })
})
