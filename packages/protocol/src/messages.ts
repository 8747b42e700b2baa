import { type Hex, keccak256, toHex } from './bytes.js'
import {
  address,
  bool,
  bytes,
  bytes32,
  type Codec,
  decode,
  encode,
  enumOf,
  i32,
  list,
  optional,
  struct,
  u8,
  u32,
  u64,
  u256,
  union,
} from './codec.js'
import type {
  BatchCertificate,
  BatchContent,
  BatchProposal,
  BatchResult,
  KeyShare,
  Order,
  OrderCancel,
  SealedOrder,
  Signature,
  SignedOrder,
  Vote,
} from './types.js'

/**
 * Wire codecs of every protocol message, one definition each. Limits here are the protocol's
 * hard caps; a network's genesis may set tighter ones.
 */
export const LIMITS = {
  /** Largest sealed ciphertext (the largest padding class plus the AEAD tag). */
  maxCiphertextBytes: 4096,
  /** Largest encoded sealed order envelope. */
  maxSealedOrderBytes: 4096 + 512,
  /** Most orders one batch can hold. */
  maxOrdersPerBatch: 100_000,
  /** Largest gossip message of any kind. */
  maxGossipBytes: 4 * 1024 * 1024,
  maxValidators: 256,
} as const

export const signatureCodec: Codec<Signature> = struct('Signature', { r: bytes32, s: bytes32, v: u8 })

export const orderCodec: Codec<Order> = struct('Order', {
  trader: address,
  sellAsset: bytes32,
  buyAsset: bytes32,
  sellAmount: u256,
  buyAmount: u256,
  kind: enumOf(['sell', 'buy'] as const),
  partiallyFillable: bool,
  firstBatch: u64,
  lastBatch: u64,
  nonce: u256,
  app: bytes32,
})

export const signedOrderCodec: Codec<SignedOrder> = struct('SignedOrder', {
  order: orderCodec,
  signature: signatureCodec,
})

export const orderPayloadCodec = union('OrderPayload', {
  sealed: struct('SealedPayload', {
    ephemeralKey: bytes(33),
    ciphertext: bytes(LIMITS.maxCiphertextBytes),
  }),
  plain: struct('PlainPayload', { order: signedOrderCodec }),
})

export const sealedOrderCodec: Codec<SealedOrder> = struct('SealedOrder', {
  trader: address,
  batch: u64,
  nonce: u256,
  payload: orderPayloadCodec,
  signature: signatureCodec,
}) as Codec<SealedOrder>

export const orderCancelCodec: Codec<OrderCancel> = struct('OrderCancel', {
  trader: address,
  orderId: bytes32,
  signature: signatureCodec,
})

/** DKG broadcasts one batch may reference, at most. */
export const MAX_DKG_REFS_PER_BATCH = 256

const batchContentFields = struct('BatchContent', {
  height: u64,
  parentHash: bytes32,
  timestamp: u64,
  chainRef: u64,
  orderIds: list(bytes32, LIMITS.maxOrdersPerBatch),
  dkgRefs: list(bytes32, MAX_DKG_REFS_PER_BATCH),
})

/** BatchContent on the wire; `dkgRefs` is an empty list when absent, and absent again when decoded empty. */
export const batchContentCodec: Codec<BatchContent> = {
  name: 'BatchContent',
  write: (w, c) => batchContentFields.write(w, { ...c, dkgRefs: c.dkgRefs ?? [] }),
  read: (r) => {
    const { dkgRefs, ...c } = batchContentFields.read(r)
    return dkgRefs.length > 0 ? { ...c, dkgRefs } : c
  },
}

export const batchProposalCodec: Codec<BatchProposal> = struct('BatchProposal', {
  height: u64,
  round: u32,
  content: batchContentCodec,
  validRound: i32,
  proposer: address,
  signature: signatureCodec,
})

export const voteCodec: Codec<Vote> = struct('Vote', {
  type: enumOf(['prevote', 'precommit'] as const),
  height: u64,
  round: u32,
  valueHash: optional(bytes32),
  validator: address,
  signature: signatureCodec,
})

export const batchResultCodec: Codec<BatchResult> = struct('BatchResult', {
  height: u64,
  resultHash: bytes32,
})

export const batchCertificateCodec: Codec<BatchCertificate> = struct('BatchCertificate', {
  height: u64,
  resultHash: bytes32,
  signatures: list(
    struct('CertSignature', { validator: address, signature: signatureCodec }),
    LIMITS.maxValidators,
  ),
})

/** A validator's signature over its own `BatchResult`, gossiped on the results topic. */
export const resultAttestationCodec = struct('ResultAttestation', {
  height: u64,
  resultHash: bytes32,
  validator: address,
  signature: signatureCodec,
})
export type ResultAttestation = { height: bigint; resultHash: Hex; validator: Hex; signature: Signature }

export const keyShareCodec: Codec<KeyShare> = struct('KeyShare', {
  height: u64,
  index: u32,
  share: bytes32,
  validator: address,
  signature: signatureCodec,
})

/** Hash of the payload a sealed order's trader signs (EIP-712 `SealedOrder.payloadHash`). */
export function payloadHashOf(o: Pick<SealedOrder, 'payload'>): Hex {
  return toHex(keccak256(encode(orderPayloadCodec, o.payload)))
}

/** The order id: keccak256 of the whole signed envelope — never of the inner order. */
export function orderIdOf(o: SealedOrder): Hex {
  return toHex(keccak256(encode(sealedOrderCodec, o)))
}

/** The hash validators vote for: keccak256 of the encoded batch content. */
export function batchHashOf(c: BatchContent): Hex {
  return toHex(keccak256(encode(batchContentCodec, c)))
}

export function encodeSealedOrder(o: SealedOrder): Uint8Array {
  return encode(sealedOrderCodec, o, LIMITS.maxSealedOrderBytes)
}

export function decodeSealedOrder(b: Uint8Array): SealedOrder {
  return decode(sealedOrderCodec, b, LIMITS.maxSealedOrderBytes)
}
