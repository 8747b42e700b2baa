import {
  address,
  batchContentCodec,
  batchProposalCodec,
  batchResultCodec,
  type Codec,
  decode,
  encode,
  LIMITS,
  list,
  optional,
  signatureCodec,
  struct,
  u32,
  u64,
  union,
  voteCodec,
} from '@allot/protocol'
import type { Attestation } from './attestation.js'
import type { ConsensusMessage, Decision, SignedRecord } from './tendermint.js'

/**
 * Wire and disk encodings of consensus: gossip messages on `/allot/<net>/consensus/1`, the write-ahead
 * records, decided commits, and the consensus sync protocol (current-height messages + decided commits).
 */

const gossipCodec = union('ConsensusMessage', {
  proposal: struct('ProposalMessage', { proposal: batchProposalCodec }),
  vote: struct('VoteMessage', { vote: voteCodec }),
})

export function encodeConsensusMessage(m: ConsensusMessage): Uint8Array {
  const v =
    m.type === 'proposal'
      ? { kind: 'proposal' as const, proposal: m.proposal }
      : { kind: 'vote' as const, vote: m.vote }
  return encode(gossipCodec, v, LIMITS.maxGossipBytes)
}

export function decodeConsensusMessage(b: Uint8Array): ConsensusMessage {
  const v = decode(gossipCodec, b, LIMITS.maxGossipBytes)
  return v.kind === 'proposal' ? { type: 'proposal', proposal: v.proposal } : { type: 'vote', vote: v.vote }
}

const voteRecord = (name: string) =>
  struct(name, { height: u64, round: u32, vote: voteCodec, content: optional(batchContentCodec) })

const recordCodec = union('SignedRecord', {
  proposal: struct('ProposalRecord', { height: u64, round: u32, proposal: batchProposalCodec }),
  prevote: voteRecord('PrevoteRecord'),
  precommit: voteRecord('PrecommitRecord'),
})

export const signedRecordCodec = recordCodec as unknown as Codec<SignedRecord>

/** A decided height as peers fetch it: the content and the quorum of precommits that decided it. */
export interface Commit {
  content: Decision['content']
  round: number
  precommits: Decision['precommits']
}

export const commitCodec: Codec<Commit> = struct('Commit', {
  content: batchContentCodec,
  round: u32,
  precommits: list(voteCodec, LIMITS.maxValidators * 4),
})

export interface ConsensusSyncRequest {
  height: bigint
}
export interface ConsensusSyncResponse {
  /** Decided heights from the requested one on (a few at a time). */
  commits: Commit[]
  /** When the responder is at the requested height: its proposals and votes for it. */
  messages: ConsensusMessage[]
}

export const MAX_SYNC_COMMITS = 16
const MAX_SYNC_MESSAGES = 4096

export const consensusSyncRequestCodec: Codec<ConsensusSyncRequest> = struct('ConsensusSyncRequest', {
  height: u64,
})
const syncResponseWire = struct('ConsensusSyncResponse', {
  commits: list(commitCodec, MAX_SYNC_COMMITS),
  messages: list(gossipCodec, MAX_SYNC_MESSAGES),
})

export function encodeSyncResponse(r: ConsensusSyncResponse, maxBytes: number): Uint8Array {
  const messages = r.messages
    .slice(0, MAX_SYNC_MESSAGES)
    .map((m) =>
      m.type === 'proposal'
        ? { kind: 'proposal' as const, proposal: m.proposal }
        : { kind: 'vote' as const, vote: m.vote },
    )
  return encode(syncResponseWire, { commits: r.commits.slice(0, MAX_SYNC_COMMITS), messages }, maxBytes)
}

export function decodeSyncResponse(b: Uint8Array, maxBytes: number): ConsensusSyncResponse {
  const v = decode(syncResponseWire, b, maxBytes)
  return {
    commits: v.commits,
    messages: v.messages.map((m) =>
      m.kind === 'proposal' ? { type: 'proposal', proposal: m.proposal } : { type: 'vote', vote: m.vote },
    ),
  }
}

/** A signed `BatchResult` as gossiped on `/allot/<net>/results/1`. */
export const attestationCodec: Codec<Attestation> = struct('Attestation', {
  result: batchResultCodec,
  validator: address,
  signature: signatureCodec,
})
