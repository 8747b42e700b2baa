import {
  type Address,
  addressOf,
  type BatchProposal,
  type BatchResult,
  batchResultDigest,
  isAllotError,
  type NetworkDomain,
  NIL_HASH,
  type PrivateKey,
  proposalDigest,
  recoverAddress,
  type Signature,
  type Vote,
  voteDigest,
} from '@allot/protocol'
import type { ResultVerifier } from './attestation.js'
import { signDigestFast } from './native-sign.js'
import { type ConsensusSigner, contentHash, type UnsignedProposal, type UnsignedVote } from './tendermint.js'

/** Checks the signatures of incoming consensus messages against their claimed signer. */
export interface ConsensusVerifier {
  vote(v: Vote): boolean
  proposal(p: BatchProposal): boolean
  result: ResultVerifier
}

/**
 * A validator key signing EIP-712 `Proposal` / `Vote` / `BatchResult` digests (RFC 6979: deterministic).
 * `signDigest` defaults to the native addon when it loads (byte-identical to noble's).
 */
export function keySigner(
  domain: NetworkDomain,
  key: PrivateKey,
  signDigest: (digest: Uint8Array, key: PrivateKey) => Signature = signDigestFast,
): ConsensusSigner & {
  signResult(r: BatchResult): Signature
} {
  return {
    address: addressOf(key),
    signVote: (v: UnsignedVote) => signDigest(voteDigest(domain, v), key),
    signProposal: (p: UnsignedProposal) =>
      signDigest(
        proposalDigest(domain, {
          height: p.height,
          round: p.round,
          valueHash: contentHash(p.content),
          validRound: p.validRound,
        }),
        key,
      ),
    signResult: (r: BatchResult) => signDigest(batchResultDigest(domain, r), key),
  }
}

/** Signature recovery: the protocol's (noble) by default; the node passes its native-backed one. */
export type RecoverFn = (digest: Uint8Array, sig: Signature) => Address

const nobleRecover: RecoverFn = (digest, sig) => recoverAddress(digest, sig, 'CONSENSUS_BAD_SIGNATURE')

function recovers(recover: RecoverFn, digest: () => Uint8Array, sig: Signature, signer: Address): boolean {
  try {
    return recover(digest(), sig) === signer.toLowerCase()
  } catch (e) {
    if (isAllotError(e)) return false
    throw e
  }
}

/**
 * ecrecover-based verification of the EIP-712 digests. A vote has one encoding: a nil vote is signed over
 * `NIL_HASH` and sent with `valueHash: null`, so `Some(NIL_HASH)` on the wire — the same signature re-encoded
 * by a relayer — is refused; read as a vote for a value, it made honest nodes count its signer an equivocator.
 */
export function keyVerifier(domain: NetworkDomain, recover: RecoverFn = nobleRecover): ConsensusVerifier {
  return {
    vote: (v) =>
      v.valueHash !== NIL_HASH && recovers(recover, () => voteDigest(domain, v), v.signature, v.validator),
    proposal: (p) =>
      recovers(
        recover,
        () =>
          proposalDigest(domain, {
            height: p.height,
            round: p.round,
            valueHash: contentHash(p.content),
            validRound: p.validRound,
          }),
        p.signature,
        p.proposer,
      ),
    result: (r, sig, validator) => recovers(recover, () => batchResultDigest(domain, r), sig, validator),
  }
}
