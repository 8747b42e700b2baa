import { gcm } from '@noble/ciphers/aes.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { type Address, concatBytes, fromHex, type Hex, toHex, uintToWord } from '../bytes.js'
import { encode } from '../codec.js'
import { type NetworkDomain, orderDigest, sealedOrderDigest } from '../eip712.js'
import { AllotError } from '../errors.js'
import { LIMITS, payloadHashOf, signedOrderCodec } from '../messages.js'
import { addressOf, type PrivateKey, recoverAddress, signDigest } from '../signing.js'
import type { SealedOrder, Signature, SignedOrder } from '../types.js'
import { decodeSignedOrder } from './inner.js'
import { defaultRng, type Rng, randomScalar, scalarToBytes } from './scalar.js'

/**
 * ECIES for sealed orders (DESIGN "Sealing"): ephemeral r, R = r·G, S = r·PK_h;
 * key = HKDF-SHA256(ikm = x(S), salt = SEAL_KDF_SALT, info = chainId ‖ settlement ‖ h ‖ R, 32 bytes);
 * ciphertext = AES-256-GCM(key, iv = 0^96, AAD = SEAL_AAD_TAG ‖ chainId ‖ settlement ‖ h ‖ trader, padded order).
 * Each key encrypts exactly one message (a fresh r per order gives a fresh key), so a fixed IV is
 * safe, as in other single-shot ECIES/HPKE-style constructions; it saves an HKDF block per order.
 * The AAD binds the trader: a ciphertext re-signed under another trader's envelope fails to decrypt,
 * so nobody can copy someone else's sealed bid. It binds h: a ciphertext for h cannot open as h'.
 */

/** Elliptic-curve Diffie–Hellman: priv·pub as a 33-byte compressed point. Pluggable (the node passes libsecp256k1). */
export type EcdhFn = (privateKey: Uint8Array, publicKey: Uint8Array) => Uint8Array

/** Recovers the address that signed a digest (throws on a bad signature). Pluggable for speed. */
export type RecoverFn = (digest: Uint8Array, sig: Signature) => Address

/**
 * The primitives ECIES is built from, each from an audited library. The defaults are noble's
 * (portable, pure JS); the node passes libsecp256k1 ECDH and node:crypto's HKDF and AES-GCM, which
 * compute exactly the same functions faster (tested against these defaults).
 */
export interface SealPrimitives {
  ecdh: EcdhFn
  /** HKDF-SHA256 (RFC 5869). */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array
  /** AES-256-GCM; the output is ciphertext ‖ 16-byte tag. */
  aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array
  /** AES-256-GCM; throws if the tag does not authenticate. */
  aesGcmDecrypt(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array
}

export const nobleEcdh: EcdhFn = (priv, pub) => secp256k1.getSharedSecret(priv, pub, true)
export const nobleRecover: RecoverFn = (digest, sig) => recoverAddress(digest, sig, 'ORDER_BAD_SIGNATURE')

export const noblePrimitives: SealPrimitives = {
  ecdh: nobleEcdh,
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt, info, length),
  aesGcmEncrypt: (key, iv, aad, pt) => gcm(key, iv, aad).encrypt(pt),
  aesGcmDecrypt: (key, iv, aad, ct) => gcm(key, iv, aad).decrypt(ct),
}

function primitivesOf(o: { primitives?: Partial<SealPrimitives>; ecdh?: EcdhFn }): SealPrimitives {
  if (!o.primitives && !o.ecdh) return noblePrimitives
  return { ...noblePrimitives, ...o.primitives, ...(o.ecdh ? { ecdh: o.ecdh } : {}) }
}

const te = new TextEncoder()
export const SEAL_KDF_SALT = te.encode('allot/seal/v1/kdf')
export const SEAL_AAD_TAG = te.encode('allot/seal/v1/aad')
/** The GCM IV: fixed, because every key is used for exactly one message. */
export const SEAL_IV = new Uint8Array(12)

/**
 * Plaintext size classes (bytes, before the 16-byte GCM tag). Plaintext = u16 length ‖ encoded
 * SignedOrder ‖ zero padding up to the smallest class that fits. Every well-formed SignedOrder
 * encodes to at most 298 bytes (all u256 fields at full width), so every ordinary order — sell
 * or buy, small or huge amounts, token or resource — lands in the first class: equal lengths.
 */
export const SEAL_PADDING_CLASSES = [320, 1024, LIMITS.maxCiphertextBytes - 16] as const
export const SEAL_TAG_BYTES = 16

export function paddedLength(bodyLength: number): number {
  for (const c of SEAL_PADDING_CLASSES) if (bodyLength + 2 <= c) return c
  throw new AllotError('WIRE_TOO_LARGE', `order of ${bodyLength} bytes exceeds the largest padding class`)
}

export function padPlaintext(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(paddedLength(body.length))
  out[0] = body.length >> 8
  out[1] = body.length & 0xff
  out.set(body, 2)
  return out
}

/** Undoes padPlaintext; null when the length is impossible or a padding byte is non-zero. */
export function unpadPlaintext(p: Uint8Array): Uint8Array | null {
  if (p.length < 2 || !SEAL_PADDING_CLASSES.includes(p.length as (typeof SEAL_PADDING_CLASSES)[number]))
    return null
  const n = (p[0] << 8) | p[1]
  if (n + 2 > p.length) return null
  for (let i = n + 2; i < p.length; i++) if (p[i] !== 0) return null
  return p.subarray(2, n + 2)
}

let lastChainId = -1n
let lastContract = ''
let lastPrefix: Uint8Array = new Uint8Array(0)

/** chainId (32) ‖ settlement contract (20) ‖ h (8): names the network and the batch. */
function networkInfo(domain: NetworkDomain, height: bigint): Uint8Array {
  // One domain per process in practice: remember the last one's encoded prefix.
  if (domain.chainId !== lastChainId || domain.verifyingContract !== lastContract) {
    lastPrefix = concatBytes(uintToWord(domain.chainId), fromHex(domain.verifyingContract, 20))
    lastChainId = domain.chainId
    lastContract = domain.verifyingContract
  }
  const out = new Uint8Array(lastPrefix.length + 8)
  out.set(lastPrefix)
  new DataView(out.buffer).setBigUint64(lastPrefix.length, height)
  return out
}

function deriveKeyIv(
  prim: SealPrimitives,
  shared: Uint8Array,
  domain: NetworkDomain,
  height: bigint,
  R: Uint8Array,
) {
  if (shared.length !== 33)
    throw new AllotError('SEAL_BAD_EPHEMERAL_KEY', 'ECDH output must be a compressed point')
  const key = prim.hkdfSha256(
    shared.subarray(1),
    SEAL_KDF_SALT,
    concatBytes(networkInfo(domain, height), R),
    32,
  )
  return { key, iv: SEAL_IV }
}

/** The AEAD associated data: network, target batch, trader. */
export function sealAad(domain: NetworkDomain, height: bigint, trader: Address): Uint8Array {
  return concatBytes(SEAL_AAD_TAG, networkInfo(domain, height), fromHex(trader, 20))
}

const HEX_VALUE = (() => {
  const t = new Int8Array(128).fill(-1)
  for (let i = 0; i < 10; i++) t[48 + i] = i
  for (let i = 0; i < 6; i++) {
    t[97 + i] = 10 + i
    t[65 + i] = 10 + i
  }
  return t
})()

/** 0x-hex to bytes, strict (null when malformed); a table walk, as this runs once per order at unsealing. */
function hexToBytesStrict(h: string, expectedLength?: number): Uint8Array | null {
  if (typeof h !== 'string' || h.length % 2 !== 0 || h[0] !== '0' || h[1] !== 'x') return null
  const n = (h.length - 2) / 2
  if (expectedLength !== undefined && n !== expectedLength) return null
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const c1 = h.charCodeAt(2 + 2 * i)
    const c2 = h.charCodeAt(3 + 2 * i)
    const hi = c1 < 128 ? HEX_VALUE[c1] : -1
    const lo = c2 < 128 ? HEX_VALUE[c2] : -1
    if (hi < 0 || lo < 0) return null
    out[i] = (hi << 4) | lo
  }
  return out
}

export interface SealOrderParams {
  domain: NetworkDomain
  /** The inner order, signed by `traderKey`; its `firstBatch` is the target batch h. */
  signedOrder: SignedOrder
  /** PK_h, compressed (33 bytes) or uncompressed, as hex or bytes. */
  batchPublicKey: Hex | Uint8Array
  traderKey: PrivateKey
  /** Envelope nonce (distinct per trader and batch; it changes the order id). */
  nonce: bigint
  rng?: Rng
  /** Shorthand for primitives.ecdh. */
  ecdh?: EcdhFn
  primitives?: Partial<SealPrimitives>
}

/** Encrypts and envelopes an order for batch `order.firstBatch` (client side). */
export function sealOrder(p: SealOrderParams): SealedOrder {
  const trader = addressOf(p.traderKey)
  if (p.signedOrder.order.trader.toLowerCase() !== trader) {
    throw new AllotError('ORDER_BAD_SIGNATURE', 'the inner order names another trader than the sealing key')
  }
  const { payload, payloadHash } = sealPayload(p)
  const height = p.signedOrder.order.firstBatch
  const signature = signDigest(
    sealedOrderDigest(p.domain, { trader, batch: height, payloadHash, nonce: p.nonce }),
    p.traderKey,
  )
  return { trader, batch: height, nonce: p.nonce, payload, signature }
}

/**
 * The sealed payload of a signed order and its hash, which the envelope signature covers: sealOrder
 * without the envelope's signature, for a signer that holds no raw key (a wallet signs the
 * `SealedOrder` typed data { trader, batch, payloadHash, nonce } itself).
 */
export function sealPayload(p: Omit<SealOrderParams, 'traderKey' | 'nonce'>): {
  payload: { kind: 'sealed'; ephemeralKey: Hex; ciphertext: Hex }
  payloadHash: Hex
} {
  const { order } = p.signedOrder
  const trader = order.trader.toLowerCase() as Address
  const height = order.firstBatch
  const pk =
    typeof p.batchPublicKey === 'string'
      ? fromHex(p.batchPublicKey, undefined, 'SEAL_BAD_POINT')
      : p.batchPublicKey
  const prim = primitivesOf(p)
  const r = scalarToBytes(randomScalar(p.rng ?? defaultRng))
  const R = secp256k1.getPublicKey(r, true)
  const { key, iv } = deriveKeyIv(prim, prim.ecdh(r, pk), p.domain, height, R)
  const plaintext = padPlaintext(encode(signedOrderCodec, p.signedOrder))
  const ciphertext = prim.aesGcmEncrypt(key, iv, sealAad(p.domain, height, trader), plaintext)
  const payload = { kind: 'sealed' as const, ephemeralKey: toHex(R), ciphertext: toHex(ciphertext) }
  return { payload, payloadHash: payloadHashOf({ payload }) }
}

/** Checks the envelope signature: the trader it names signed (batch, payloadHash, nonce). Throws ORDER_BAD_SIGNATURE. */
export function verifySealedEnvelope(
  domain: NetworkDomain,
  s: SealedOrder,
  recover: RecoverFn = nobleRecover,
): void {
  const digest = sealedOrderDigest(domain, {
    trader: s.trader,
    batch: s.batch,
    payloadHash: payloadHashOf(s),
    nonce: s.nonce,
  })
  let signer: Address
  try {
    signer = recover(digest, s.signature)
  } catch (e) {
    if (e instanceof AllotError) throw new AllotError('ORDER_BAD_SIGNATURE', e.message)
    throw new AllotError('ORDER_BAD_SIGNATURE', (e as Error).message)
  }
  if (signer.toLowerCase() !== s.trader.toLowerCase()) {
    throw new AllotError('ORDER_BAD_SIGNATURE', 'sealed order not signed by its trader')
  }
}

/** Why an order failed to unseal; each is a penalty (`invalidOrderFee`) at settlement. */
export type UnsealFailure =
  | 'SEAL_NOT_SEALED'
  | 'SEAL_BAD_EPHEMERAL_KEY'
  | 'SEAL_DECRYPT_FAILED'
  | 'SEAL_BAD_PADDING'
  | 'SEAL_BAD_PLAINTEXT'
  | 'SEAL_TRADER_MISMATCH'
  | 'SEAL_WRONG_BATCH'
  | 'ORDER_BAD_SIGNATURE'

export type OpenResult =
  | { ok: true; order: SignedOrder }
  | { ok: false; reason: UnsealFailure; message: string }

export interface OpenOptions {
  /** Shorthand for primitives.ecdh. */
  ecdh?: EcdhFn
  primitives?: Partial<SealPrimitives>
  recover?: RecoverFn
  /** Check the inner order's signature (default true). The node may skip it here and check in bulk. */
  verifyInnerSignature?: boolean
}

function fail(reason: UnsealFailure, message: string): OpenResult {
  return { ok: false, reason, message }
}

/**
 * Opens a sealed order with sk_h (node side, after batch h is decided): decrypts, decodes, and
 * checks the inner order — signed by the envelope's trader, naming that trader, `firstBatch = h`.
 * Never throws on a bad order: it says why (the reason is recorded and the trader penalised).
 * The envelope signature itself is the intake's job (`verifySealedEnvelope`).
 */
export function openSealedOrder(
  domain: NetworkDomain,
  sealed: SealedOrder,
  batchSecretKey: Uint8Array,
  opts: OpenOptions = {},
): OpenResult {
  if (sealed.payload.kind !== 'sealed') return fail('SEAL_NOT_SEALED', 'a plain order on a sealed network')
  const prim = primitivesOf(opts)
  const R = hexToBytesStrict(sealed.payload.ephemeralKey, 33)
  if (!R) return fail('SEAL_BAD_EPHEMERAL_KEY', 'ephemeral key is not 33 hex bytes')
  const ct = hexToBytesStrict(sealed.payload.ciphertext)
  if (!ct) return fail('SEAL_DECRYPT_FAILED', 'ciphertext is not hex')
  let shared: Uint8Array
  try {
    shared = prim.ecdh(batchSecretKey, R)
  } catch (e) {
    return fail('SEAL_BAD_EPHEMERAL_KEY', `ephemeral key is not a curve point: ${(e as Error).message}`)
  }
  let plaintext: Uint8Array
  try {
    const { key, iv } = deriveKeyIv(prim, shared, domain, sealed.batch, R)
    const trader = hexToBytesStrict(sealed.trader, 20)
    if (!trader) return fail('SEAL_DECRYPT_FAILED', 'trader is not an address')
    const aad = concatBytes(SEAL_AAD_TAG, networkInfo(domain, sealed.batch), trader)
    plaintext = prim.aesGcmDecrypt(key, iv, aad, ct)
  } catch {
    return fail('SEAL_DECRYPT_FAILED', 'ciphertext does not authenticate for this network, batch and trader')
  }
  const body = unpadPlaintext(plaintext)
  if (!body) return fail('SEAL_BAD_PADDING', 'plaintext padding is malformed')
  let order: SignedOrder
  try {
    order = decodeSignedOrder(body)
  } catch (e) {
    return fail('SEAL_BAD_PLAINTEXT', (e as Error).message)
  }
  if (order.order.trader.toLowerCase() !== sealed.trader.toLowerCase()) {
    return fail('SEAL_TRADER_MISMATCH', 'inner order names another trader than the envelope')
  }
  if (order.order.firstBatch !== sealed.batch) {
    return fail(
      'SEAL_WRONG_BATCH',
      `inner order's firstBatch ${order.order.firstBatch} is not ${sealed.batch}`,
    )
  }
  if (order.order.lastBatch < order.order.firstBatch) {
    return fail('SEAL_BAD_PLAINTEXT', 'lastBatch before firstBatch')
  }
  if (opts.verifyInnerSignature !== false) {
    const bad = checkInnerSignature(domain, order, opts.recover ?? nobleRecover)
    if (bad) return bad
  }
  return { ok: true, order }
}

/** The inner order's EIP-712 signature recovers to its trader; a failure result otherwise. */
export function checkInnerSignature(
  domain: NetworkDomain,
  order: SignedOrder,
  recover: RecoverFn = nobleRecover,
): Extract<OpenResult, { ok: false }> | null {
  try {
    const signer = recover(orderDigest(domain, order.order), order.signature)
    if (signer.toLowerCase() === order.order.trader.toLowerCase()) return null
    return { ok: false, reason: 'ORDER_BAD_SIGNATURE', message: 'inner order not signed by its trader' }
  } catch (e) {
    return { ok: false, reason: 'ORDER_BAD_SIGNATURE', message: (e as Error).message }
  }
}
