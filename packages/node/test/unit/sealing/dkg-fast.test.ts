// The DKG's native curve arithmetic (sealing/fast.ts) computes exactly what the noble path computes.
import {
  CURVE_ORDER,
  commitPolynomial,
  type DkgMessage,
  DkgParticipant,
  deterministicRng,
  pointFromHex,
  pointToHex,
  randomPolynomial,
  randomScalar,
} from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { nativeDkgOps } from '../../../src/sealing/index.js'

const horner = (coeffs: bigint[], x: bigint) =>
  coeffs.reduceRight((acc, a) => (acc * x + a) % CURVE_ORDER, 0n)

/** Four participants over a perfect channel; `ops` for all or none; returns each one's public part and shares. */
function run(ops: typeof nativeDkgOps, tamper?: (m: DkgMessage) => DkgMessage) {
  const ps = [1, 2, 3, 4].map(
    (i) =>
      new DkgParticipant({
        index: i,
        n: 4,
        t: 1,
        startHeight: 100n,
        length: 6,
        rng: deterministicRng(`fast-${i}`),
        ops,
      }),
  )
  const deliver = (from: number, msgs: DkgMessage[]) => {
    for (const raw of msgs) {
      const m = from === 2 && tamper ? tamper(raw) : raw
      if (m.type === 'shares') ps[m.to - 1].receive(m)
      else for (const q of ps) if (q.index !== from) q.receive(m)
    }
  }
  for (const p of ps) deliver(p.index, p.start())
  for (const p of ps) deliver(p.index, p.endDealPhase())
  for (const p of ps) deliver(p.index, p.endComplaintPhase())
  return ps.map((p) => p.finishPublic())
}

describe.skipIf(!nativeDkgOps)('native DKG curve ops (libsecp256k1)', () => {
  const ops = nativeDkgOps!
  const rng = deterministicRng('dkg-fast')

  it('commit, checkShare and sum agree with noble', () => {
    for (let r = 0; r < 5; r++) {
      const coeffs = randomPolynomial(randomScalar(rng), 2, rng)
      const c = ops.commit(coeffs)
      expect(c).toEqual(commitPolynomial(coeffs).map(pointToHex))
      for (const i of [1, 2, 7]) {
        const share = horner(coeffs, BigInt(i))
        expect(ops.checkShare(c, i, share)).toBe(true)
        expect(ops.checkShare(c, i, (share + 1n) % CURVE_ORDER)).toBe(false)
        expect(ops.checkShare(c, i + 1, share)).toBe(false)
      }
      // Not a curve point (x with no y): false, not a throw.
      const bad = [...c]
      bad[1] = `0x02${'00'.repeat(31)}07`
      expect(ops.checkShare(bad, 1, horner(coeffs, 1n))).toBe(false)
      const sum = pointFromHex(c[0]).add(pointFromHex(c[1])).add(pointFromHex(c[2]))
      expect(ops.sum(c)).toBe(pointToHex(sum))
    }
  })

  it('a DKG with native ops gives the same QUAL, public part and shares as with noble, also with a cheater', () => {
    expect(run(ops)).toEqual(run(undefined))
    const cheat = (m: DkgMessage): DkgMessage =>
      m.type === 'deal' ? { ...m, commitments: m.commitments.map((c) => [c[0], c[0]]) } : m
    const fast = run(ops, cheat)
    expect(fast).toEqual(run(undefined, cheat))
    expect(fast[0].qual).toEqual([1, 3, 4])
  })
})
