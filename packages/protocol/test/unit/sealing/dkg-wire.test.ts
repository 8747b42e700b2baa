// Signed DKG messages (dkg-wire.ts) and the observer / finishPublic additions of DkgParticipant.
import { describe, expect, it } from 'vitest'
import {
  addressOf,
  batchCommitments,
  type DkgMessage,
  DkgParticipant,
  deterministicRng,
  type NetworkDomain,
  openDkgMessage,
  openDkgSharesRequest,
  randomScalar,
  scalarFromHex,
  scalarToBytes,
  signDkgMessage,
  signDkgSharesRequest,
  verifyShare,
} from '../../../src/index.js'

const domain: NetworkDomain = { chainId: 31337n, verifyingContract: `0x${'5e'.repeat(20)}` }
const rng = deterministicRng('dkg-wire')
const keys = [1, 2, 3, 4].map(() => scalarToBytes(randomScalar(rng)))
const validators = keys.map(addressOf)
const session = { startHeight: 1001n, attempt: 2 }

describe('signed DKG messages', () => {
  it('open only when signed by the validator the dealer/from field names, for that session and network', () => {
    const deal: DkgMessage = { type: 'complaint', from: 2, against: 3 }
    const bytes = signDkgMessage(domain, session, deal, keys[1])
    const o = openDkgMessage(domain, bytes, validators)
    expect(o).toEqual({ session, message: deal, signer: validators[1] })
    // Signed by validator 1 while naming 2.
    expect(() => openDkgMessage(domain, signDkgMessage(domain, session, deal, keys[0]), validators)).toThrow(
      /SEAL_DKG_BAD_SIGNATURE/,
    )
    // Another network: the signature no longer names validator 2.
    const other = { ...domain, chainId: 1n }
    expect(() => openDkgMessage(other, bytes, validators)).toThrow(/SEAL_DKG_BAD_SIGNATURE/)
    // A sender index outside the set.
    const far = signDkgMessage(domain, session, { type: 'complaint', from: 9, against: 1 }, keys[0])
    expect(() => openDkgMessage(domain, far, validators)).toThrow(/SEAL_DKG_BAD_SIGNATURE/)
    // The session is signed: re-labelled bytes fail. (startHeight is the first 8 bytes.)
    const relabelled = bytes.slice()
    relabelled[7] ^= 1
    expect(() => openDkgMessage(domain, relabelled, validators)).toThrow(/SEAL_DKG_BAD_SIGNATURE/)
  })

  it('shares requests are bound to the requesting validator and its peer id', () => {
    const req = signDkgSharesRequest(domain, { ...session, index: 3, peer: 'peer-3' }, keys[2])
    expect(openDkgSharesRequest(domain, req, validators, 'peer-3')).toMatchObject({
      index: 3,
      peer: 'peer-3',
    })
    expect(() => openDkgSharesRequest(domain, req, validators, 'peer-4')).toThrow(/another peer/)
    const forged = signDkgSharesRequest(domain, { ...session, index: 3, peer: 'peer-4' }, keys[3])
    expect(() => openDkgSharesRequest(domain, forged, validators, 'peer-4')).toThrow(/SEAL_DKG_BAD_SIGNATURE/)
  })
})

describe('DkgParticipant.observe and finishPublic', () => {
  /** Validators 1..3 deal; validator 4 only observes (joined late), receiving its private shares or not. */
  function run(sharesToObserver: boolean) {
    const cfg = (i: number) => ({
      index: i,
      n: 4,
      t: 1,
      startHeight: 10n,
      length: 3,
      rng: deterministicRng(`o${i}`),
    })
    const ps = [1, 2, 3].map((i) => new DkgParticipant(cfg(i)))
    const watcher = new DkgParticipant(cfg(4))
    watcher.observe()
    const deliver = (from: number, msgs: DkgMessage[]) => {
      for (const m of msgs) {
        if (m.type === 'shares') {
          if (m.to <= 3) ps[m.to - 1].receive(m)
          else if (sharesToObserver) watcher.receive(m)
        } else for (const q of [...ps, watcher]) if (q !== ps[from - 1]) q.receive(m)
      }
    }
    for (const p of ps) deliver(p.index, p.start())
    expect(watcher.endDealPhase()).toEqual([])
    for (const p of ps) deliver(p.index, p.endDealPhase())
    expect(watcher.endComplaintPhase()).toEqual([])
    for (const p of ps) deliver(p.index, p.endComplaintPhase())
    return { results: ps.map((p) => p.finish()), watched: watcher.finishPublic() }
  }

  it('an observer learns QUAL and the public part from broadcasts; its shares only when it got valid ones', () => {
    const blind = run(false)
    expect(blind.watched.public).toEqual(blind.results[0].public)
    expect(blind.watched.qual).toEqual([1, 2, 3])
    expect(blind.watched.disqualified).toEqual([{ dealer: 4, reason: 'no deal' }])
    expect(blind.watched.shares).toBeNull()
    const fed = run(true)
    expect(fed.watched.shares).not.toBeNull()
    fed.watched.shares!.forEach((s, k) => {
      expect(verifyShare(batchCommitments(fed.watched.public, 10n + BigInt(k)), 4, scalarFromHex(s))).toBe(
        true,
      )
    })
  })

  it('finishPublic equals finish for a participant that dealt', () => {
    const mk = (i: number) =>
      new DkgParticipant({
        index: i,
        n: 4,
        t: 1,
        startHeight: 10n,
        length: 2,
        rng: deterministicRng(`f${i}`),
      })
    const twice = [0, 1].map(() => [1, 2, 3, 4].map(mk))
    for (const ps of twice) {
      const deliver = (from: number, msgs: DkgMessage[]) => {
        for (const m of msgs) {
          if (m.type === 'shares') ps[m.to - 1].receive(m)
          else for (const q of ps) if (q.index !== from) q.receive(m)
        }
      }
      for (const p of ps) deliver(p.index, p.start())
      for (const p of ps) deliver(p.index, p.endDealPhase())
      for (const p of ps) deliver(p.index, p.endComplaintPhase())
    }
    const a = twice[0].map((p) => p.finish())
    const b = twice[1].map((p) => p.finishPublic())
    expect(b).toEqual(a)
  })
})
