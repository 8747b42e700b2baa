import { secp256k1 } from '@noble/curves/secp256k1.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  addressOf,
  batchCommitments,
  batchPublicKey,
  CURVE_ORDER,
  dealEpoch,
  decodeEpochPublic,
  deterministicRng,
  encodeEpochPublic,
  interpolateSecret,
  isAllotError,
  type NetworkDomain,
  pointFromHex,
  privateKeyFromHex,
  recoverBatchSecretKey,
  recoverSecret,
  scalarFromHex,
  scalarToHex,
  signKeyShare,
  splitSecret,
  verifyKeyShare,
  verifyShare,
} from '../../../src/index.js'

const domain: NetworkDomain = {
  chainId: 31337n,
  verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
}

describe('Shamir sharing with Feldman commitments', () => {
  it('any t+1 shares rebuild the secret; every share verifies (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: CURVE_ORDER - 1n }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer(),
        (secret, n, tRaw, seed) => {
          const t = tRaw % n
          const { commitments, shares } = splitSecret(secret, n, t, deterministicRng(`p${seed}`))
          for (let i = 1; i <= n; i++) expect(verifyShare(commitments, i, shares[i - 1])).toBe(true)
          // The last t+1 shares (a subset other than the first).
          const subset = shares.map((value, i) => ({ index: i + 1, value })).slice(n - t - 1)
          expect(interpolateSecret(subset)).toBe(secret)
          expect(pointFromHex(commitments[0]).equals(secp256k1.Point.BASE.multiply(secret))).toBe(true)
        },
      ),
      { numRuns: 25, seed: 7 },
    )
  })

  it('t shares give a wrong value and recoverSecret refuses them', () => {
    const secret = 123456789n
    const { commitments, shares } = splitSecret(secret, 7, 2, deterministicRng('t-shares'))
    const two = [
      { index: 1, value: shares[0] },
      { index: 5, value: shares[4] },
    ]
    expect(interpolateSecret(two)).not.toBe(secret)
    try {
      recoverSecret(commitments, two)
      expect.unreachable()
    } catch (e) {
      expect(isAllotError(e, 'SEAL_NOT_ENOUGH_SHARES')).toBe(true)
    }
  })

  it('a bad share is detected and ignored; recovery uses the good ones', () => {
    const secret = 987654321n
    const { commitments, shares } = splitSecret(secret, 4, 1, deterministicRng('bad-share'))
    expect(verifyShare(commitments, 2, shares[1] + 1n)).toBe(false)
    expect(verifyShare(commitments, 3, shares[1])).toBe(false) // right value, wrong index
    const r = recoverSecret(commitments, [
      { index: 2, value: shares[1] + 1n },
      { index: 3, value: 5n },
      { index: 4, value: shares[3] },
      { index: 1, value: shares[0] },
    ])
    expect(r.secret).toBe(secret)
    expect(r.invalid).toEqual([2, 3])
  })

  it('signed key shares: checked for signer, index and commitments', () => {
    const keys = [1, 2, 3, 4].map((i) => privateKeyFromHex(`0x${i.toString(16).padStart(64, '0')}`))
    const validators = keys.map(addressOf)
    const epoch = dealEpoch({ startHeight: 10n, length: 3, n: 4, t: 1, rng: deterministicRng('ks') })
    const h = 11n
    const commitments = batchCommitments(epoch.public, h)
    const ks = signKeyShare(
      domain,
      { height: h, index: 2, share: scalarFromHex(epoch.shares[1][1]) },
      keys[1],
    )
    expect(verifyKeyShare(domain, ks, commitments, validators)).toEqual({
      index: 2,
      value: scalarFromHex(ks.share),
    })
    // Forged value, signed by the right validator: fails Feldman.
    const forged = signKeyShare(domain, { height: h, index: 2, share: 77n }, keys[1])
    expect(() => verifyKeyShare(domain, forged, commitments, validators)).toThrow(/SEAL_BAD_SHARE/)
    // Someone else's signature on validator 2's slot.
    const stolen = signKeyShare(domain, { height: h, index: 2, share: scalarFromHex(ks.share) }, keys[0])
    expect(() => verifyKeyShare(domain, stolen, commitments, validators)).toThrow(/SEAL_UNKNOWN_VALIDATOR/)
    // Share of another height: fails the commitments of h.
    const other = signKeyShare(
      domain,
      { height: h, index: 2, share: scalarFromHex(epoch.shares[1][0]) },
      keys[1],
    )
    expect(() => verifyKeyShare(domain, other, commitments, validators)).toThrow(/SEAL_BAD_SHARE/)
  })
})

describe('trusted-dealer epochs', () => {
  it('deals independent keys per height that t+1 shares rebuild', () => {
    const e = dealEpoch({ startHeight: 100n, length: 5, n: 4, t: 1, rng: deterministicRng('epoch') })
    expect(e.public.commitments).toHaveLength(5)
    const pks = new Set<string>()
    for (let k = 0; k < 5; k++) {
      const h = 100n + BigInt(k)
      pks.add(batchPublicKey(e.public, h))
      const { secretKey, invalid } = recoverBatchSecretKey(batchCommitments(e.public, h), [
        { index: 3, value: scalarFromHex(e.shares[2][k]) },
        { index: 1, value: scalarFromHex(e.shares[0][k]) },
      ])
      expect(invalid).toEqual([])
      expect(`0x${Buffer.from(secp256k1.getPublicKey(secretKey, true)).toString('hex')}`).toBe(
        batchPublicKey(e.public, h),
      )
    }
    expect(pks.size).toBe(5)
    expect(() => batchPublicKey(e.public, 105n)).toThrow(/SEAL_NO_BATCH_KEY/)
    expect(() => batchPublicKey(e.public, 99n)).toThrow(/SEAL_NO_BATCH_KEY/)
  })

  it('shares of one height say nothing usable about another: all shares of h do not rebuild h+1', () => {
    const e = dealEpoch({ startHeight: 0n, length: 2, n: 4, t: 1, rng: deterministicRng('indep') })
    const all0 = e.shares.map((s, i) => ({ index: i + 1, value: scalarFromHex(s[0]) }))
    expect(() => recoverSecret(batchCommitments(e.public, 1n), all0)).toThrow(/SEAL_NOT_ENOUGH_SHARES/)
  })

  it('round-trips the public epoch and measures its size', () => {
    const e = dealEpoch({ startHeight: 1n, length: 200, n: 4, t: 1, rng: deterministicRng('size') })
    const bytes = encodeEpochPublic(e.public)
    // 200 heights × 2 points × 33 bytes, plus small list headers.
    expect(bytes.length).toBeLessThan(200 * 2 * 33 + 200 * 4 + 64)
    expect(decodeEpochPublic(bytes)).toEqual(e.public)
    expect(e.shares[0].map((s) => scalarToHex(scalarFromHex(s)))).toEqual(e.shares[0])
  })
})
