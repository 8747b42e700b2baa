// The validators' DKG (sealing/dkg.ts) over an in-memory network: signed broadcasts, shares pulled
// over "private links", phases driven by decided heights, retries, roll-over without a gap.
import {
  type Address,
  addressOf,
  batchCommitments,
  type DkgMessage,
  dealEpoch,
  deterministicRng,
  type NetworkDomain,
  openDkgMessage,
  pointFromHex,
  pointToHex,
  randomScalar,
  recoverBatchSecretKey,
  scalarFromHex,
  scalarToBytes,
  signDkgMessage,
  signDkgSharesRequest,
} from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import {
  type DkgSchedule,
  EpochDkg,
  memorySealingStore,
  nativeDkgOps,
  SealingService,
} from '../../../src/sealing/index.js'

const domain: NetworkDomain = {
  chainId: 31337n,
  verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
}
const rng = deterministicRng('sealing-dkg')
const keys = [0, 1, 2, 3].map(() => scalarToBytes(randomScalar(rng)))
// Shamir index order: sorted addresses (run.ts).
const order = keys.map((k, i) => ({ k, a: addressOf(k), i })).sort((x, y) => (x.a < y.a ? -1 : 1))
const sortedKeys = order.map((x) => x.k)
const validators: Address[] = order.map((x) => x.a)
const first = dealEpoch({ startHeight: 1n, length: 10, n: 4, t: 1, rng })
const schedule: DkgSchedule = { epochLength: 8, phaseHeights: 2, leadHeights: 6 }

const tick = () => new Promise((r) => setImmediate(r))

interface Member {
  index: number
  svc: SealingService
  dkg: EpochDkg
}

/** Four validators (indices 1..4) wired in memory; `drop` filters broadcasts (true = lost). */
async function network(o: { drop?: (from: number, m: DkgMessage) => boolean } = {}) {
  const members: Member[] = []
  for (let i = 1; i <= 4; i++) {
    const svc = new SealingService({
      domain,
      validators,
      store: memorySealingStore(),
      validatorKey: sortedKeys[i - 1],
    })
    await svc.start()
    await svc.addEpoch({ public: first.public, shares: first.shares[i - 1] })
    const dkg: EpochDkg = new EpochDkg({
      domain,
      validators,
      validatorKey: sortedKeys[i - 1],
      schedule,
      service: svc,
      rng: deterministicRng(`dkg-${i}`),
      // libsecp256k1 as in run.ts (equal to noble: dkg-fast.test.ts); noble when the addon is missing.
      ops: nativeDkgOps,
      transport: {
        peerId: () => `peer-${i}`,
        broadcast: async (bytes) => {
          const { message } = openDkgMessage(domain, bytes, validators)
          if (o.drop?.(i, message)) return
          for (const m of members) {
            if (m.index === i) continue
            try {
              m.dkg.onBroadcast(bytes)
            } catch {}
          }
        },
        requestShares: async (req) =>
          members
            .filter((m) => m.index !== i)
            .map((m) => m.dkg.serveShares(req, `peer-${i}`))
            .filter((x): x is Uint8Array => x !== null),
      },
    })
    svc.attachEpochGenerator(dkg)
    members.push({ index: i, svc, dkg })
  }
  return members
}

/**
 * Every member decides heights from..to: the DKG's clock. With `viaService` through
 * SealingService.onDecided (which also releases this validator's key share), else straight to the DKG.
 */
async function decide(members: Member[], from: bigint, to: bigint, skip: number[] = [], viaService = false) {
  for (let h = from; h <= to; h++) {
    for (const m of members) {
      if (skip.includes(m.index)) continue
      // A validator without a share of h (it only observed that epoch's DKG) cannot release one: logged in run.ts.
      if (viaService) await m.svc.onDecided(h).catch(() => undefined)
      else void m.dkg.onHeight(h)
    }
    for (let k = 0; k < 5; k++) await tick()
    for (const m of members) await m.dkg.onHeight(0n) // waits for the queued step
  }
}

/** Shares of a stored DKG epoch at height h, from the service's store (what a restart reads). */
async function storedEpoch(m: Member, start: bigint) {
  const list = await (
    m.svc as unknown as { o: { store: ReturnType<typeof memorySealingStore> } }
  ).o.store.listEpochs()
  return list.find((e) => e.public.startHeight === start)
}

describe('validators DKG (EpochDkg) in memory, n = 4, t = 1', () => {
  it('keys the next epoch before the boundary: same public keys everywhere, t+1 shares open sk_h', async () => {
    const ms = await network()
    // Epoch 1..10; the DKG of 11..18 begins at 11 − 6 = 5 and ends at 5 + 3·2 = 11.
    await decide(ms, 1n, 10n)
    for (const m of ms) expect(await m.svc.batchKey(11n)).toBeUndefined()
    await decide(ms, 11n, 11n)
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
  })

  it('a dealer whose deal is inconsistent with its shares draws 3 complaints and is excluded', async () => {
    const ms = await network()
    // Dealer 2 broadcasts commitments of another polynomial (C_1 replaced): every share it sends fails.
    ms[1].dkg.tamper = (m) => {
      if (m.type !== 'deal') return m
      const other = pointFromHex(m.commitments[1][1])
      return {
        ...m,
        commitments: m.commitments.map((c) => [c[0], pointToHex(pointFromHex(c[1]).add(other))]),
      }
    }
    await decide(ms, 1n, 11n)
    for (const m of ms) {
      const o = m.dkg.outcomes[0]
      expect(o.ok && o.qual).toEqual([1, 3, 4])
      expect(o.ok && o.disqualified[0].dealer).toBe(2)
      expect(o.ok && o.disqualified[0].reason).toMatch(/3 complaints/)
    }
    const e = await Promise.all(ms.map((m) => storedEpoch(m, 11n)))
    for (const x of e) expect(x?.public.commitments).toEqual(e[0]?.public.commitments)
    // The honest validators' shares still open the keys.
    const shares = [0, 3].map((i) => ({ index: i + 1, value: scalarFromHex(e[i]!.shares![0]) }))
    expect(() => recoverBatchSecretKey(batchCommitments(e[0]!.public, 11n), shares)).not.toThrow()
  })

  it('a dealer that sends one validator a bad share and answers the complaint with it again is excluded', async () => {
    const ms = await network()
    const corrupt = (m: DkgMessage): DkgMessage =>
      (m.type === 'shares' || m.type === 'answer') && m.to === 4
        ? {
            ...m,
            shares: m.shares.map(
              (s) => `0x${(scalarFromHex(s) + 1n).toString(16).padStart(64, '0')}` as const,
            ),
          }
        : m
    ms[0].dkg.tamper = corrupt
    await decide(ms, 1n, 11n)
    // (The cheater's own view does not count: it holds its honest answer.)
    for (const m of ms.slice(1)) {
      const o = m.dkg.outcomes[0]
      expect(o.ok && o.qual).toEqual([2, 3, 4])
      expect(o.ok && o.disqualified).toEqual([{ dealer: 1, reason: 'answer to 4 fails the commitments' }])
    }
    // Validator 4 still has a full share (from the qualified dealers), consistent with the commitments.
    const e4 = await storedEpoch(ms[3], 11n)
    const e2 = await storedEpoch(ms[1], 11n)
    const shares = [
      { index: 4, value: scalarFromHex(e4!.shares![3]) },
      { index: 2, value: scalarFromHex(e2!.shares![3]) },
    ]
    expect(() => recoverBatchSecretKey(batchCommitments(e4!.public, 14n), shares)).not.toThrow()
  })

  it('an honest answer settles a complaint: the dealer stays in, the complainer uses the public answer', async () => {
    const ms = await network()
    ms[0].dkg.tamper = (m) =>
      m.type === 'shares' && m.to === 3
        ? { ...m, shares: m.shares.map(() => `0x${'11'.repeat(32)}` as const) }
        : m
    await decide(ms, 1n, 11n)
    for (const m of ms) expect(m.dkg.outcomes[0].ok && m.dkg.outcomes[0].qual).toEqual([1, 2, 3, 4])
    expect((await storedEpoch(ms[2], 11n))?.shares).not.toBeNull()
  })

  it('a failed attempt retries: attempt 0 loses every broadcast, attempt 1 keys the epoch', async () => {
    let lossy = true
    const ms = await network({ drop: () => lossy })
    await decide(ms, 1n, 10n)
    lossy = false
    // Attempt 0 ran 5..11 and fails at 11, where attempt 1 begins (ends at 17): the epoch 11.. is
    // keyed late — a gap of six heights; the lead is what prevents that (room for ⌊6 / 6⌋ = 1 attempt here).
    await decide(ms, 11n, 11n)
    for (const m of ms) expect(m.dkg.outcomes[0]).toMatchObject({ attempt: 0, ok: false })
    for (const m of ms) expect(await m.svc.batchKey(11n)).toBeUndefined()
    await decide(ms, 12n, 17n)
    for (const m of ms) expect(m.dkg.outcomes[1]).toMatchObject({ attempt: 1, ok: true, qual: [1, 2, 3, 4] })
    for (const m of ms) expect(await m.svc.batchKey(11n)).toBeDefined()
  })

  it('epochs roll over without a gap: every height keyed for three epochs', async () => {
    const ms = await network()
    await decide(ms, 1n, 30n, [], true)
    for (const m of ms) {
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

  it('a validator that joins after the deal deadline observes: same public part, no shares', async () => {
    // Validator 4 hears the gossip but lags behind consensus: it decides nothing until height 7.
    const ms = await network()
    await decide(ms, 1n, 6n, [4])
    // At 7 the deal phase (5..6) is over: it observes instead of dealing.
    await decide(ms, 7n, 11n)
    for (const m of ms.slice(0, 3)) expect(m.dkg.outcomes[0].ok && m.dkg.outcomes[0].qual).toEqual([1, 2, 3])
    const e4 = await storedEpoch(ms[3], 11n)
    const e1 = await storedEpoch(ms[0], 11n)
    expect(e4?.public).toEqual(e1?.public)
    expect(e4?.shares).toBeNull()
    expect(ms[3].dkg.outcomes[0]).toMatchObject({ ok: true, keyed: false })
    expect(await ms[3].svc.batchKey(12n)).toBeDefined()
  })

  it('refuses DKG messages not signed by the validator they name, shares on the broadcast topic, and foreign requests', async () => {
    const ms = await network()
    await decide(ms, 1n, 5n)
    const session = { startHeight: 11n, attempt: 0 }
    // Validator 2's key signing a complaint "from 3".
    const forged = signDkgMessage(domain, session, { type: 'complaint', from: 3, against: 1 }, sortedKeys[1])
    expect(() => ms[0].dkg.onBroadcast(forged)).toThrow(/SEAL_DKG_BAD_SIGNATURE/)
    const shares = signDkgMessage(
      domain,
      session,
      { type: 'shares', dealer: 2, to: 1, shares: [] },
      sortedKeys[1],
    )
    expect(() => ms[0].dkg.onBroadcast(shares)).toThrow(/SEAL_DKG_PRIVATE/)
    // A message for an epoch no one is generating now is ignored (not the sender's fault).
    const far = signDkgMessage(
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
