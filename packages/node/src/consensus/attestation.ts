import type { Address, BatchCertificate, BatchResult, Hex, Signature } from '@allot/protocol'
import { quorumOf } from './tendermint.js'

/**
 * Result attestation (DESIGN.md step 5): validators sign `BatchResult { height, resultHash }`; a quorum of
 * matching signatures is the `BatchCertificate`. A validator signs only its own result: if a certificate forms
 * on another hash, its solver disagreed with the quorum — an alarm (determinism is checked, not assumed).
 */

/** Checks one attestation signature (eip712 `batchResultDigest` + ecrecover in production). */
export type ResultVerifier = (r: BatchResult, signature: Signature, validator: Address) => boolean

export interface Attestation {
  result: BatchResult
  validator: Address
  signature: Signature
}

export interface AttestationBook {
  height: bigint
  validators: readonly Address[]
  quorum: number
  /** Our own result hash, once our solver ran. */
  local: Hex | null
  byValidator: Map<Address, Attestation>
  certificate: BatchCertificate | null
}

export type AttestationOutcome =
  | { kind: 'ignored'; reason: 'height' | 'unknown-validator' | 'duplicate' }
  | { kind: 'equivocation'; validator: Address; first: Attestation; second: Attestation }
  | { kind: 'added'; certificate: BatchCertificate | null; mismatch: boolean }

/** Attestation books kept around the consensus height: this many below it and this many above it. */
export const ATTESTATION_WINDOW = 64n

/**
 * Whether an attestation for `height` may open or touch a book while consensus works on `current`: results
 * come for decided heights (below `current`), or a little ahead when we lag. Outside the window it is
 * ignored — it can neither evict the books in progress nor grow the map without bound.
 */
export function attestationWindow(height: bigint, current: bigint): 'ok' | 'old' | 'future' {
  if (height + ATTESTATION_WINDOW < current) return 'old'
  if (height > current + ATTESTATION_WINDOW) return 'future'
  return 'ok'
}

export function newAttestationBook(height: bigint, validators: readonly Address[]): AttestationBook {
  return {
    height,
    validators,
    quorum: quorumOf(validators.length),
    local: null,
    byValidator: new Map(),
    certificate: null,
  }
}

/** Records our own result. Returns whether to sign and publish it (false once a different quorum exists). */
export function setLocalResult(book: AttestationBook, resultHash: Hex): boolean {
  book.local = resultHash
  return book.certificate === null || book.certificate.resultHash === resultHash
}

/**
 * Adds a signature-checked attestation. The result says whether a certificate formed now, and whether the
 * certified hash differs from our own (`mismatch`: raise the alarm, keep the network's certificate).
 */
export function addAttestation(book: AttestationBook, a: Attestation): AttestationOutcome {
  if (a.result.height !== book.height) return { kind: 'ignored', reason: 'height' }
  if (!book.validators.includes(a.validator)) return { kind: 'ignored', reason: 'unknown-validator' }
  const prev = book.byValidator.get(a.validator)
  if (prev) {
    if (prev.result.resultHash === a.result.resultHash) return { kind: 'ignored', reason: 'duplicate' }
    return { kind: 'equivocation', validator: a.validator, first: prev, second: a }
  }
  book.byValidator.set(a.validator, a)
  let formed: BatchCertificate | null = null
  if (!book.certificate) {
    const matching = [...book.byValidator.values()].filter((x) => x.result.resultHash === a.result.resultHash)
    if (matching.length >= book.quorum) {
      matching.sort((x, y) => (x.validator < y.validator ? -1 : 1))
      formed = book.certificate = {
        height: book.height,
        resultHash: a.result.resultHash,
        signatures: matching.map((x) => ({ validator: x.validator, signature: x.signature })),
      }
    }
  }
  const cert = book.certificate
  return {
    kind: 'added',
    certificate: formed,
    mismatch: formed !== null && book.local !== null && cert !== null && cert.resultHash !== book.local,
  }
}

/** Whether our result disagrees with the certified one (checked again once our solver finishes late). */
export function localMismatch(book: AttestationBook): boolean {
  return book.certificate !== null && book.local !== null && book.certificate.resultHash !== book.local
}

/**
 * Verifies a certificate fetched from a peer (catch-up): distinct signers of the set in ascending order, at
 * least a quorum, and every signature over `BatchResult { height, resultHash }`.
 */
export function verifyCertificate(
  cert: BatchCertificate,
  validators: readonly Address[],
  verify: ResultVerifier,
): { ok: true } | { ok: false; code: 'CONSENSUS_BAD_CERTIFICATE'; message: string } {
  const bad = (message: string) => ({
    ok: false as const,
    code: 'CONSENSUS_BAD_CERTIFICATE' as const,
    message,
  })
  if (cert.signatures.length < quorumOf(validators.length)) return bad('fewer signatures than the quorum')
  const result: BatchResult = { height: cert.height, resultHash: cert.resultHash }
  for (let i = 0; i < cert.signatures.length; i++) {
    const { validator, signature } = cert.signatures[i]
    if (i > 0 && !(cert.signatures[i - 1].validator < validator))
      return bad('signers not distinct and ascending')
    if (!validators.includes(validator)) return bad(`${validator} is not a validator`)
    if (!verify(result, signature, validator)) return bad(`bad signature of ${validator}`)
  }
  return { ok: true }
}
