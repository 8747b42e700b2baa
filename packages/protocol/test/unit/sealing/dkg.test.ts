import { secp256k1 } from '@noble/curves/secp256k1.js'
import { describe, expect, it } from 'vitest'
import {
  batchCommitments,
  batchPublicKey,
  type DkgMessage,
  DkgParticipant,
  type DkgResult,
  decodeDkgMessage,
  deterministicRng,
  encodeDkgMessage,
  recoverBatchSecretKey,
  scalarFromHex,
  scalarToHex,
  verifyShare,
} from '../../../src/index.js'

type Tamper = (m: DkgMessage) => DkgMessage | null

/**
 * Runs the DKG among n in-memory participants over a perfect broadcast channel and private links.
 * `tamper[i]` rewrites (or drops, with null) what participant i sends; `falseComplaints` makes
 * participant i complain against honest dealers.
 */
function runDkg(p: {
  n: number
  t: number
  length: number
  seed: string
  tamper?: Record<number, Tamper>
  falseComplaints?: Record<number, number[]>
}): Map<number, DkgResult | Error> {
  const parts = Array.from(
    { length: p.n },
    (_, i) =>
      new DkgParticipant({
        index: i + 1,
        n: p.n,
        t: p.t,
        startHeight: 1000n,
        length: p.length,
        rng: deterministicRng(`${p.seed}/${i + 1}`),
      }),
  )
  const deliver = (from: number, msgs: DkgMessage[]) => {
    for (const raw of msgs) {
      const m = p.tamper?.[from] ? p.tamper[from](raw) : raw
      if (!m) continue
      if (m.type === 'shares') parts[m.to - 1].receive(m)
      else for (const q of parts) if (q.index !== from) q.receive(m)
    }
  }
  for (const q of parts) deliver(q.index, q.start())
  for (const q of parts) {
    const out = q.endDealPhase()
    for (const against of p.falseComplaints?.[q.index] ?? [])
      out.push({ type: 'complaint', from: q.index, against })
    deliver(q.index, out)
  }
  for (const q of parts) deliver(q.index, q.endComplaintPhase())
  const results = new Map<number, DkgResult | Error>()
  for (const q of parts) {
    try {
      results.set(q.index, q.finish())
    } catch (e) {
      results.set(q.index, e as Error)
    }
  }
  return results
}

/** Corrupts the shares a dealer sends to the given victims (adds 1 to every share). */
function corruptSharesTo(victims: number[], alsoAnswers: 'none' | 'honest' | 'corrupt'): Tamper {
  return (m) => {
    const bump = (s: string) => scalarToHex(scalarFromHex(s) + 1n)
    if (m.type === 'shares' && victims.includes(m.to)) return { ...m, shares: m.shares.map(bump) }
    if (m.type === 'answer') {
      if (alsoAnswers === 'none') return null
      if (alsoAnswers === 'corrupt') return { ...m, shares: m.shares.map(bump) }
    }
    return m
  }
}

function checkKeys(results: Map<number, DkgResult | Error>, honest: number[], t: number): DkgResult {
  const rs = honest.map((i) => {
    const r = results.get(i)
    if (!(r && !(r instanceof Error))) throw new Error(`participant ${i} failed: ${String(r)}`)
    return r
  })
  const first = rs[0]
  for (const r of rs) {
    expect(r.qual).toEqual(first.qual)
    expect(r.public).toEqual(first.public)
  }
  for (let k = 0; k < first.public.length; k++) {
    const h = first.public.startHeight + BigInt(k)
    const commitments = batchCommitments(first.public, h)
    for (const i of honest) {
      const r = results.get(i) as DkgResult
      expect(verifyShare(commitments, i, scalarFromHex(r.shares[k]))).toBe(true)
    }
    // Any t+1 honest participants rebuild sk_h, and it matches PK_h.
    const subset = honest
      .slice(-(t + 1))
      .map((i) => ({ index: i, value: scalarFromHex((results.get(i) as DkgResult).shares[k]) }))
    const { secretKey } = recoverBatchSecretKey(commitments, subset)
    expect(`0x${Buffer.from(secp256k1.getPublicKey(secretKey, true)).toString('hex')}`).toBe(
      batchPublicKey(first.public, h),
    )
    // t shares are not enough.
    expect(() => recoverBatchSecretKey(commitments, subset.slice(1))).toThrow(/SEAL_NOT_ENOUGH_SHARES/)
  }
  return first
}

describe('DKG (joint-Feldman with GJKR complaints)', () => {
  it('n = 4, t = 1, all honest: everyone agrees and the epoch is keyed', () => {
    const res = runDkg({ n: 4, t: 1, length: 3, seed: 'honest4' })
    const r = checkKeys(res, [1, 2, 3, 4], 1)
    expect(r.qual).toEqual([1, 2, 3, 4])
    expect(new Set(r.public.commitments.map((c) => c[0])).size).toBe(3)
  })

  it('n = 4, t = 1: a dealer that sends a bad share and does not answer is disqualified; the epoch is still keyed', () => {
    const res = runDkg({ n: 4, t: 1, length: 2, seed: 'cheat4', tamper: { 3: corruptSharesTo([1], 'none') } })
    const r = checkKeys(res, [1, 2, 4], 1)
    expect(r.qual).toEqual([1, 2, 4])
    expect(r.disqualified).toEqual([{ dealer: 3, reason: 'complaint of 1 unanswered' }])
  })

  it('n = 4, t = 1: a dealer answering a complaint with a share that fails its commitments is disqualified', () => {
    const res = runDkg({
      n: 4,
      t: 1,
      length: 2,
      seed: 'cheat4b',
      tamper: { 2: corruptSharesTo([4], 'corrupt') },
    })
    expect(checkKeys(res, [1, 3, 4], 1).disqualified.map((d) => d.dealer)).toEqual([2])
  })

  it('a dealer that fixes its bad share with a valid public answer stays in; the victim uses the answer', () => {
    const res = runDkg({
      n: 4,
      t: 1,
      length: 2,
      seed: 'fixed',
      tamper: { 2: corruptSharesTo([3], 'honest') },
    })
    expect(checkKeys(res, [1, 2, 3, 4], 1).qual).toEqual([1, 2, 3, 4])
  })

  it('a false complaint against an honest dealer does not exclude it', () => {
    const res = runDkg({ n: 4, t: 1, length: 2, seed: 'false', falseComplaints: { 4: [1] } })
    expect(checkKeys(res, [1, 2, 3], 1).qual).toEqual([1, 2, 3, 4])
  })

  it('a silent dealer (no deal) is excluded', () => {
    const res = runDkg({ n: 4, t: 1, length: 2, seed: 'silent', tamper: { 4: () => null } })
    const r = checkKeys(res, [1, 2, 3], 1)
    expect(r.disqualified).toEqual([{ dealer: 4, reason: 'no deal' }])
  })

  it('n = 7, t = 2: two cheaters (bad shares to more than t, and a bad answer) are excluded', () => {
    const res = runDkg({
      n: 7,
      t: 2,
      length: 2,
      seed: 'cheat7',
      tamper: { 5: corruptSharesTo([1, 2, 3], 'honest'), 6: corruptSharesTo([7], 'corrupt') },
    })
    const r = checkKeys(res, [1, 2, 3, 4, 7], 2)
    expect(r.qual).toEqual([1, 2, 3, 4, 7])
    expect(r.disqualified.map((d) => d.reason)).toEqual([
      '3 complaints (more than t = 2)',
      'answer to 7 fails the commitments',
    ])
  })

  it('fails loudly when fewer than t+1 dealers qualify', () => {
    const silent: Tamper = () => null
    const res = runDkg({ n: 4, t: 1, length: 1, seed: 'dead', tamper: { 2: silent, 3: silent, 4: silent } })
    const r = res.get(1)
    expect(r).toBeInstanceOf(Error)
    expect((r as Error).message).toMatch(/SEAL_DKG_FAILED/)
  })

  it('enforces its phases', () => {
    const p = new DkgParticipant({
      index: 1,
      n: 4,
      t: 1,
      startHeight: 0n,
      length: 1,
      rng: deterministicRng('ph'),
    })
    expect(() => p.endDealPhase()).toThrow(/SEAL_DKG_PHASE/)
    p.start()
    expect(() => p.start()).toThrow(/SEAL_DKG_PHASE/)
    expect(() => p.finish()).toThrow(/SEAL_DKG_PHASE/)
  })
})

describe('DKG wire codec', () => {
  it('round-trips every message kind through bytes and rejects unknown tags', () => {
    const p = new DkgParticipant({
      index: 2,
      n: 4,
      t: 1,
      startHeight: 5n,
      length: 2,
      rng: deterministicRng('wire'),
    })
    const out = p.start()
    const extra: DkgMessage[] = [
      { type: 'complaint', from: 3, against: 2 },
      { type: 'answer', dealer: 2, to: 3, shares: (out[2] as { shares: `0x${string}`[] }).shares },
    ]
    for (const m of [...out, ...extra]) expect(decodeDkgMessage(encodeDkgMessage(m))).toEqual(m)
    expect(() => decodeDkgMessage(new Uint8Array([9]))).toThrow(/WIRE_MALFORMED/)
  })
})
