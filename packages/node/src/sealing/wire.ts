import {
  type Address,
  AllotError,
  addressOfPublicKey,
  type Codec,
  checkSignatureShape,
  concatBytes,
  decode,
  domainSeparator,
  encode,
  fixedBytes,
  type Hex,
  keccak256,
  list,
  MAX_DKG_MESSAGE_BYTES,
  MAX_DKG_REFS_PER_BATCH,
  MAX_EPOCH_LENGTH,
  type NetworkDomain,
  type PrivateKey,
  rawBytes,
  type Signature,
  signatureCodec,
  signDigest,
  struct,
  toHex,
  u16,
  u32,
  u64,
  union,
} from '@allot/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'

/**
 * The DKG's broadcast messages as validators sign them (docs/sealing.md "The DKG run by the nodes"):
 * a deal (Feldman commitments), a complaint, a *sealed* answer (the disputed shares encrypted to the
 * complainer, never in clear) and an accusation (the complainer opens one sealed answer for all to
 * check, with a proof that it opened it honestly). Each is signed by the validator its dealer/from
 * field names, for one session (epoch start, attempt) on one network. A message counts only once a
 * decided height references its hash (`DkgBroadcast.ref`): QUAL is a function of decided data.
 */
export type DkgBroadcast = DkgDealMsg | DkgComplaintMsg | DkgSealedAnswer | DkgAccusation

export interface DkgDealMsg {
  type: 'deal'
  dealer: number
  /** commitments[k] = C_0..C_t of the dealer's polynomial for height startHeight + k. */
  commitments: Hex[][]
}
export interface DkgComplaintMsg {
  type: 'complaint'
  from: number
  against: number
}
/** The shares dealer owes `to`, each `f(to)_k + pad_k mod N` with pads from ECDH(ephemeral, to's key). */
export interface DkgSealedAnswer {
  type: 'answer'
  dealer: number
  to: number
  /** R = r·G, 33 bytes compressed. */
  ephemeral: Hex
  sealed: Hex[]
}
/** `from` opens the sealed answer of `against` to it: K = sk_from·R, with a DLEQ proof of K. */
export interface DkgAccusation {
  type: 'accusation'
  from: number
  against: number
  /** K = sk_from·R, 33 bytes compressed. */
  key: Hex
  /** Chaum–Pedersen proof that log_G(PK_from) = log_R(K). */
  proofC: Hex
  proofZ: Hex
}

const point33 = fixedBytes(33)
const scalar32 = fixedBytes(32)

const broadcastUnion = union('DkgBroadcast', {
  deal: struct('DkgDeal', { dealer: u16, commitments: list(list(point33, 256), MAX_EPOCH_LENGTH) }),
  complaint: struct('DkgComplaint', { from: u16, against: u16 }),
  answer: struct('DkgSealedAnswer', {
    dealer: u16,
    to: u16,
    ephemeral: point33,
    sealed: list(scalar32, MAX_EPOCH_LENGTH),
  }),
  accusation: struct('DkgAccusation', {
    from: u16,
    against: u16,
    key: point33,
    proofC: scalar32,
    proofZ: scalar32,
  }),
})

const broadcastCodec: Codec<DkgBroadcast> = {
  name: 'DkgBroadcast',
  write: (w, m) => {
    const { type, ...rest } = m
    broadcastUnion.write(w, { kind: type, ...rest } as Parameters<typeof broadcastUnion.write>[1])
  },
  read: (r) => {
    const { kind, ...rest } = broadcastUnion.read(r)
    return { type: kind, ...rest } as DkgBroadcast
  },
}

const signedCodec = struct('SignedDkgBroadcast', {
  startHeight: u64,
  attempt: u32,
  body: rawBytes(MAX_DKG_MESSAGE_BYTES),
  signature: signatureCodec,
})

const TAG = new TextEncoder().encode('allot/dkg/v2')

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

export interface DkgSessionId {
  startHeight: bigint
  attempt: number
}

function digestOf(domain: NetworkDomain, s: DkgSessionId, body: Uint8Array): Uint8Array {
  return keccak256(
    concatBytes(TAG, domainSeparator(domain), u64Bytes(s.startHeight), u32Bytes(s.attempt), keccak256(body)),
  )
}

/** The participant index that must have signed a broadcast: the dealer of a deal or answer, else the complainer. */
export function broadcastSender(m: DkgBroadcast): number {
  return m.type === 'deal' || m.type === 'answer' ? m.dealer : m.from
}

/** What a decided height references a broadcast by: keccak256 of its signed bytes. */
export function broadcastRef(bytes: Uint8Array): Hex {
  return toHex(keccak256(bytes))
}

export function signBroadcast(
  domain: NetworkDomain,
  s: DkgSessionId,
  m: DkgBroadcast,
  validatorKey: PrivateKey,
): Uint8Array {
  const body = encode(broadcastCodec, m)
  const signature = signDigest(digestOf(domain, s, body), validatorKey)
  return encode(signedCodec, { startHeight: s.startHeight, attempt: s.attempt, body, signature })
}

export interface OpenedBroadcast {
  session: DkgSessionId
  message: DkgBroadcast
  /** The sender's public key (33 bytes), recovered from its signature: answers are sealed to it. */
  senderKey: Uint8Array
  ref: Hex
}

function recoverKey(digest: Uint8Array, sig: Signature): Uint8Array {
  const rec = new Uint8Array(65)
  rec[0] = sig.v - 27
  rec.set(Buffer.from(sig.r.slice(2), 'hex'), 1)
  rec.set(Buffer.from(sig.s.slice(2), 'hex'), 33)
  return secp256k1.recoverPublicKey(rec, digest, { prehash: false })
}

/**
 * Decodes a signed broadcast and checks that the validator its sender field names signed it
 * (`validators` in Shamir index order). Throws WIRE_* when malformed, SEAL_DKG_BAD_SIGNATURE otherwise.
 */
export function openBroadcast(
  domain: NetworkDomain,
  bytes: Uint8Array,
  validators: readonly Address[],
): OpenedBroadcast {
  const w = decode(signedCodec, bytes, MAX_DKG_MESSAGE_BYTES + 256)
  const message = decode(broadcastCodec, w.body)
  const session = { startHeight: w.startHeight, attempt: w.attempt }
  const sender = broadcastSender(message)
  const expected = validators[sender - 1]
  if (expected === undefined) throw new AllotError('SEAL_DKG_BAD_SIGNATURE', `no validator ${sender}`)
  checkSignatureShape(w.signature, 'SEAL_DKG_BAD_SIGNATURE')
  let senderKey: Uint8Array
  try {
    senderKey = recoverKey(digestOf(domain, session, w.body), w.signature)
  } catch {
    throw new AllotError('SEAL_DKG_BAD_SIGNATURE', 'DKG signature does not recover')
  }
  if (addressOfPublicKey(senderKey) !== expected.toLowerCase())
    throw new AllotError('SEAL_DKG_BAD_SIGNATURE', `DKG message of ${sender} not signed by ${expected}`)
  return { session, message, senderKey, ref: broadcastRef(bytes) }
}

/** The messages-by-reference protocol: a request names ≤ MAX_DKG_REFS refs (a batch's most), the answer lists the signed messages held. */
export const MAX_DKG_REFS = MAX_DKG_REFS_PER_BATCH
export const dkgRefsCodec = list(fixedBytes(32), MAX_DKG_REFS)
export const dkgMessagesCodec = list(rawBytes(MAX_DKG_MESSAGE_BYTES), MAX_DKG_REFS)
