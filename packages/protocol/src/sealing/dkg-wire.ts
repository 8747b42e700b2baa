import { type Address, concatBytes, keccak256 } from '../bytes.js'
import { type Codec, decode, encode, rawBytes, str, struct, u16, u32, u64 } from '../codec.js'
import { domainSeparator, type NetworkDomain } from '../eip712.js'
import { AllotError } from '../errors.js'
import { signatureCodec } from '../messages.js'
import { type PrivateKey, recoverAddress, signDigest } from '../signing.js'
import type { Signature } from '../types.js'
import { type DkgMessage, decodeDkgMessage, encodeDkgMessage } from './dkg.js'

/**
 * DKG messages as validators send them (docs/sealing.md "The DKG run by the nodes"): every
 * message is signed by the validator its `dealer`/`from` field names, for one DKG session — the
 * epoch it keys (its start height) and the attempt (a failed DKG is retried as attempt + 1) — on one
 * network (the EIP-712 domain separator). The pure state machine (DkgParticipant) trusts those
 * fields; a node hands it a message only once `openDkgMessage` has checked the signature.
 */
export interface DkgSession {
  startHeight: bigint
  attempt: number
}

/** Largest signed DKG message: a deal of MAX_EPOCH_LENGTH heights with t = 1 is 6.6 MB; gossip carries ≤ 4 MiB. */
export const MAX_DKG_MESSAGE_BYTES = 4 * 1024 * 1024

const signedDkgCodec = struct('SignedDkgMessage', {
  startHeight: u64,
  attempt: u32,
  body: rawBytes(MAX_DKG_MESSAGE_BYTES),
  signature: signatureCodec,
})

const TAG = new TextEncoder().encode('allot/dkg/v1')
const REQ_TAG = new TextEncoder().encode('allot/dkg-shares-request/v1')

function u64Bytes(v: bigint): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, v)
  return b
}

function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v)
  return b
}

function dkgDigest(domain: NetworkDomain, s: DkgSession, body: Uint8Array): Uint8Array {
  return keccak256(
    concatBytes(TAG, domainSeparator(domain), u64Bytes(s.startHeight), u32Bytes(s.attempt), keccak256(body)),
  )
}

/** The participant index that must have signed a DKG message: the dealer of a deal, shares or answer; the complainer. */
export function dkgSender(m: DkgMessage): number {
  return m.type === 'complaint' ? m.from : m.dealer
}

/** Encodes and signs a DKG message of a session with the validator key of its sender. */
export function signDkgMessage(
  domain: NetworkDomain,
  s: DkgSession,
  m: DkgMessage,
  validatorKey: PrivateKey,
): Uint8Array {
  const body = encodeDkgMessage(m)
  const signature = signDigest(dkgDigest(domain, s, body), validatorKey)
  return encode(signedDkgCodec, { startHeight: s.startHeight, attempt: s.attempt, body, signature })
}

/** A signed DKG message, checked: `message` was signed by `validators[dkgSender(message) - 1]`. */
export interface OpenedDkgMessage {
  session: DkgSession
  message: DkgMessage
  signer: Address
}

/**
 * Decodes a signed DKG message and checks that the validator its sender field names signed it
 * (`validators` in Shamir index order). Throws WIRE_* on a malformed message, SEAL_DKG_BAD_SIGNATURE
 * on a signature by anyone else.
 */
export function openDkgMessage(
  domain: NetworkDomain,
  bytes: Uint8Array,
  validators: readonly Address[],
): OpenedDkgMessage {
  const w = decode(signedDkgCodec, bytes, MAX_DKG_MESSAGE_BYTES + 256)
  const message = decodeDkgMessage(w.body)
  const session = { startHeight: w.startHeight, attempt: w.attempt }
  const sender = dkgSender(message)
  const expected = validators[sender - 1]
  if (expected === undefined) throw new AllotError('SEAL_DKG_BAD_SIGNATURE', `no validator ${sender}`)
  const signer = recoverAddress(dkgDigest(domain, session, w.body), w.signature, 'SEAL_DKG_BAD_SIGNATURE')
  if (signer !== expected.toLowerCase())
    throw new AllotError('SEAL_DKG_BAD_SIGNATURE', `DKG message of ${sender} not signed by ${expected}`)
  return { session, message, signer }
}

/**
 * A validator asking a peer for the DkgShares the peer's validator dealt to it, over a private link
 * (`/allot/<net>/dkg-shares/1`, a noise-encrypted libp2p stream). Signed by the requesting validator
 * and bound to the libp2p peer id it asks from: the answering node sends shares only to the peer the
 * request names, so a copied request is useless to anyone else.
 */
export interface DkgSharesRequest {
  startHeight: bigint
  attempt: number
  /** The requester's participant index. */
  index: number
  /** The requester's libp2p peer id (the stream's remote peer must be this one). */
  peer: string
  signature: Signature
}

const sharesRequestCodec: Codec<DkgSharesRequest> = struct('DkgSharesRequest', {
  startHeight: u64,
  attempt: u32,
  index: u16,
  peer: str(128),
  signature: signatureCodec,
})

export const MAX_DKG_SHARES_REQUEST_BYTES = 512

function requestDigest(domain: NetworkDomain, r: Omit<DkgSharesRequest, 'signature'>): Uint8Array {
  return keccak256(
    concatBytes(
      REQ_TAG,
      domainSeparator(domain),
      u64Bytes(r.startHeight),
      u32Bytes(r.attempt),
      u32Bytes(r.index),
      keccak256(new TextEncoder().encode(r.peer)),
    ),
  )
}

export function signDkgSharesRequest(
  domain: NetworkDomain,
  r: Omit<DkgSharesRequest, 'signature'>,
  validatorKey: PrivateKey,
): Uint8Array {
  return encode(sharesRequestCodec, { ...r, signature: signDigest(requestDigest(domain, r), validatorKey) })
}

/**
 * Decodes a shares request and checks it: signed by validator `index` and naming `fromPeer` (the
 * authenticated remote peer of the stream it came on). Throws SEAL_DKG_BAD_SIGNATURE otherwise.
 */
export function openDkgSharesRequest(
  domain: NetworkDomain,
  bytes: Uint8Array,
  validators: readonly Address[],
  fromPeer: string,
): DkgSharesRequest {
  const r = decode(sharesRequestCodec, bytes, MAX_DKG_SHARES_REQUEST_BYTES)
  const expected = validators[r.index - 1]
  if (expected === undefined) throw new AllotError('SEAL_DKG_BAD_SIGNATURE', `no validator ${r.index}`)
  if (r.peer !== fromPeer)
    throw new AllotError('SEAL_DKG_BAD_SIGNATURE', 'shares request names another peer than its sender')
  const signer = recoverAddress(requestDigest(domain, r), r.signature, 'SEAL_DKG_BAD_SIGNATURE')
  if (signer !== expected.toLowerCase())
    throw new AllotError('SEAL_DKG_BAD_SIGNATURE', `shares request not signed by validator ${r.index}`)
  return r
}
