import type { BatchCertificate, Hex, NetworkDomain } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import {
  addAttestation,
  keySigner,
  keyVerifier,
  localMismatch,
  newAttestationBook,
  setLocalResult,
  verifyCertificate,
} from '../../../src/consensus/index.js'

const DOMAIN: NetworkDomain = { chainId: 1n, verifyingContract: `0x${'33'.repeat(20)}` }
const signers = [1, 2, 3, 4]
  .map((i) => keySigner(DOMAIN, new Uint8Array(32).fill(i + 10)))
  .sort((a, b) => (a.address < b.address ? -1 : 1))
const validators = signers.map((s) => s.address)
const verify = keyVerifier(DOMAIN).result
const A: Hex = `0x${'aa'.repeat(32)}`
const B: Hex = `0x${'bb'.repeat(32)}`

function att(i: number, resultHash: Hex, height = 5n) {
  const result = { height, resultHash }
  return { result, validator: validators[i], signature: signers[i].signResult(result) }
}

describe('result attestation', () => {
  it('forms a certificate from a quorum of matching signatures, sorted by signer', () => {
    const book = newAttestationBook(5n, validators)
    expect(setLocalResult(book, A)).toBe(true)
    expect(addAttestation(book, att(3, A))).toMatchObject({ kind: 'added', certificate: null })
    expect(addAttestation(book, att(1, B))).toMatchObject({ kind: 'added', certificate: null })
    expect(addAttestation(book, att(2, A))).toMatchObject({ kind: 'added', certificate: null })
    const out = addAttestation(book, att(0, A))
    expect(out).toMatchObject({ kind: 'added', mismatch: false })
    const cert = (out as { certificate: BatchCertificate }).certificate
    expect(cert.signatures.map((s) => s.validator)).toEqual([validators[0], validators[2], validators[3]])
    expect(verifyCertificate(cert, validators, verify)).toEqual({ ok: true })
  })

  it('raises the alarm when the quorum certifies a result other than ours, and stops signing ours', () => {
    const book = newAttestationBook(5n, validators)
    setLocalResult(book, B)
    addAttestation(book, att(0, A))
    addAttestation(book, att(1, A))
    const out = addAttestation(book, att(2, A))
    expect(out).toMatchObject({ kind: 'added', mismatch: true })
    expect(localMismatch(book)).toBe(true)
    // A late local result that differs from an existing certificate is not signed.
    const late = newAttestationBook(5n, validators)
    for (const i of [0, 1, 2]) addAttestation(late, att(i, A))
    expect(setLocalResult(late, B)).toBe(false)
    expect(localMismatch(late)).toBe(true)
  })

  it('reports a validator attesting two results, and ignores strangers and other heights', () => {
    const book = newAttestationBook(5n, validators)
    addAttestation(book, att(0, A))
    expect(addAttestation(book, att(0, B))).toMatchObject({ kind: 'equivocation', validator: validators[0] })
    expect(addAttestation(book, att(0, A))).toEqual({ kind: 'ignored', reason: 'duplicate' })
    expect(addAttestation(book, att(1, A, 6n))).toEqual({ kind: 'ignored', reason: 'height' })
    expect(addAttestation(book, { ...att(1, A), validator: `0x${'99'.repeat(20)}` })).toEqual({
      kind: 'ignored',
      reason: 'unknown-validator',
    })
  })

  it('rejects forged, short, unsorted or foreign certificates', () => {
    const sigs = [0, 1, 2].map((i) => ({ validator: validators[i], signature: att(i, A).signature }))
    const good: BatchCertificate = { height: 5n, resultHash: A, signatures: sigs }
    expect(verifyCertificate(good, validators, verify).ok).toBe(true)
    expect(verifyCertificate({ ...good, resultHash: B }, validators, verify).ok).toBe(false)
    expect(verifyCertificate({ ...good, signatures: sigs.slice(0, 2) }, validators, verify).ok).toBe(false)
    expect(
      verifyCertificate({ ...good, signatures: [sigs[1], sigs[0], sigs[2]] }, validators, verify).ok,
    ).toBe(false)
    expect(
      verifyCertificate({ ...good, signatures: [sigs[0], sigs[0], sigs[1]] }, validators, verify).ok,
    ).toBe(false)
    expect(verifyCertificate(good, validators.slice(1), verify).ok).toBe(false)
  })
})

describe('native signing', () => {
  it('signs byte-identically to noble (RFC 6979, low s)', async () => {
    const { signDigestFast } = await import('../../../src/consensus/native-sign.js')
    const { signDigest, keccak256 } = await import('@allot/protocol')
    for (let i = 1; i <= 20; i++) {
      const key = new Uint8Array(32).fill(i)
      const digest = keccak256(new Uint8Array([i, i * 7, 3]))
      expect(signDigestFast(digest, key)).toEqual(signDigest(digest, key))
    }
  })
})

describe('the attestation window (issue 24)', () => {
  it('takes heights within ATTESTATION_WINDOW of the consensus height, and nothing further', async () => {
    const { ATTESTATION_WINDOW: w, attestationWindow } = await import('../../../src/consensus/index.js')
    expect(attestationWindow(100n, 100n)).toBe('ok')
    expect(attestationWindow(100n - w, 100n)).toBe('ok')
    expect(attestationWindow(100n - w - 1n, 100n)).toBe('old')
    expect(attestationWindow(100n + w, 100n)).toBe('ok')
    expect(attestationWindow(100n + w + 1n, 100n)).toBe('future')
    expect(attestationWindow(10n ** 18n, 100n)).toBe('future')
  })
})
