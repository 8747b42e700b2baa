// Sealed answers to DKG complaints and the accusation's proof (sealing/answers.ts).
import { deterministicRng, randomScalar, scalarToBytes } from '@allot/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { describe, expect, it } from 'vitest'
import {
  answerKey,
  openAnswer,
  proveAnswerKey,
  sealAnswer,
  verifyAnswerKey,
} from '../../../src/sealing/answers.js'

const rng = deterministicRng('sealing-answers')
const secret = randomScalar(rng)
const pub = secp256k1.getPublicKey(scalarToBytes(secret), true)
const ctx = new TextEncoder().encode('network|11|0|1|2')
const shares = [randomScalar(rng), randomScalar(rng), randomScalar(rng)]

describe('sealed answers', () => {
  it('only the complainer opens them; the ciphertext shows none of the shares', () => {
    const a = sealAnswer(shares, pub, ctx, rng)
    expect(openAnswer(a.sealed, answerKey(secret, a.ephemeral), ctx)).toEqual(shares)
    const other = randomScalar(rng)
    expect(openAnswer(a.sealed, answerKey(other, a.ephemeral), ctx)).not.toEqual(shares)
    // Bound to its context: opened under another (session, dealer, recipient) it gives other values.
    expect(openAnswer(a.sealed, answerKey(secret, a.ephemeral), new Uint8Array(3))).not.toEqual(shares)
    const text = a.sealed.join('')
    for (const s of shares) expect(text.includes(s.toString(16).padStart(64, '0'))).toBe(false)
  })

  it('an accusation proves the opening key: true proof accepted, forged key or other context refused', () => {
    const a = sealAnswer(shares, pub, ctx, rng)
    const proof = proveAnswerKey(secret, a.ephemeral, ctx)
    expect(verifyAnswerKey(pub, a.ephemeral, proof, ctx)).toBe(true)
    // Anyone can then open that one answer with the published key.
    expect(openAnswer(a.sealed, Buffer.from(proof.key.slice(2), 'hex'), ctx)).toEqual(shares)
    expect(verifyAnswerKey(pub, a.ephemeral, proveAnswerKey(secret + 1n, a.ephemeral, ctx), ctx)).toBe(false)
    expect(verifyAnswerKey(pub, a.ephemeral, proof, new Uint8Array(1))).toBe(false)
    const otherPub = secp256k1.getPublicKey(scalarToBytes(secret + 1n), true)
    expect(verifyAnswerKey(otherPub, a.ephemeral, proof, ctx)).toBe(false)
    expect(verifyAnswerKey(pub, a.ephemeral, { ...proof, key: `0x02${'00'.repeat(32)}` }, ctx)).toBe(false)
  })
})
