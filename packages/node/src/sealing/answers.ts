import {
  CURVE_ORDER,
  concatBytes,
  fromHex,
  type Hex,
  keccak256,
  type Rng,
  randomScalar,
  scalarFromHex,
  scalarToBytes,
  scalarToHex,
  toHex,
} from '@allot/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'

/**
 * Answers to DKG complaints, sealed to the complainer (docs/sealing.md "Complaints and sealed
 * answers"). GJKR's dealer answers a complaint by broadcasting the disputed shares in clear; a
 * complainer that was only cut off from its honest dealers would then have its shares of the whole
 * epoch published. Here the dealer seals them:
 *   R = r·G, K = r·PK_to,  sealed_k = share_k + pad_k mod N,  pad_k = keccak(tag ‖ K ‖ ctx ‖ k) mod N
 * and only the complainer (K = sk_to·R) opens them. If they fail the dealer's commitments, the
 * complainer *accuses*: it publishes K with a Chaum–Pedersen proof that log_G(PK_to) = log_R(K), and
 * anyone opens that one answer and checks it. A false accusation only publishes the accuser's own
 * shares from that dealer (which it knew) and changes nothing.
 */
/** secp256k1 points (noble), as protocol/sealing uses them. */
export const Point = secp256k1.Point
export type Point = InstanceType<typeof Point>

export function modN(x: bigint): bigint {
  const r = x % CURVE_ORDER
  return r < 0n ? r + CURVE_ORDER : r
}

const PAD_TAG = new TextEncoder().encode('allot/dkg/answer-pad/v1')
const DLEQ_TAG = new TextEncoder().encode('allot/dkg/dleq/v1')
const NONCE_TAG = new TextEncoder().encode('allot/dkg/dleq-nonce/v1')

function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v)
  return b
}

const toScalar = (b: Uint8Array) => modN(BigInt(toHex(b)))

function pads(key: Uint8Array, ctx: Uint8Array, count: number): bigint[] {
  const out: bigint[] = []
  for (let k = 0; k < count; k++) out.push(toScalar(keccak256(concatBytes(PAD_TAG, key, ctx, u32Bytes(k)))))
  return out
}

/** Seals `shares` to the holder of `toKey` (33-byte public key); `ctx` binds network, session, dealer, recipient. */
export function sealAnswer(
  shares: readonly bigint[],
  toKey: Uint8Array,
  ctx: Uint8Array,
  rng?: Rng,
): { ephemeral: Hex; sealed: Hex[] } {
  const r = randomScalar(rng)
  const key = Point.fromBytes(toKey).multiply(r).toBytes(true)
  const p = pads(key, ctx, shares.length)
  return {
    ephemeral: toHex(Point.BASE.multiply(r).toBytes(true)),
    sealed: shares.map((s, k) => scalarToHex(modN(s + p[k]))),
  }
}

/** K = sk·R for the holder of `secret`: the key that opens a sealed answer to it. */
export function answerKey(secret: bigint, ephemeral: Hex): Uint8Array {
  return Point.fromBytes(fromHex(ephemeral, 33)).multiply(secret).toBytes(true)
}

/** Opens sealed shares with K. Throws SEAL_BAD_SHARE on a non-canonical scalar. */
export function openAnswer(sealed: readonly Hex[], key: Uint8Array, ctx: Uint8Array): bigint[] {
  const p = pads(key, ctx, sealed.length)
  return sealed.map((c, k) => modN(scalarFromHex(c) - p[k]))
}

function challenge(pub: Uint8Array, r: Uint8Array, key: Uint8Array, a1: Point, a2: Point, ctx: Uint8Array) {
  return toScalar(keccak256(concatBytes(DLEQ_TAG, pub, r, key, a1.toBytes(true), a2.toBytes(true), ctx)))
}

/** Proves K = secret·R with PK = secret·G (Chaum–Pedersen, Fiat–Shamir; the nonce derived from the secret). */
export function proveAnswerKey(
  secret: bigint,
  ephemeral: Hex,
  ctx: Uint8Array,
): { key: Hex; proofC: Hex; proofZ: Hex } {
  const R = Point.fromBytes(fromHex(ephemeral, 33))
  const pub = Point.BASE.multiply(secret).toBytes(true)
  const key = R.multiply(secret).toBytes(true)
  const k = toScalar(keccak256(concatBytes(NONCE_TAG, scalarToBytes(secret), R.toBytes(true), ctx))) || 1n
  const c = challenge(pub, R.toBytes(true), key, Point.BASE.multiply(k), R.multiply(k), ctx)
  return { key: toHex(key), proofC: scalarToHex(c), proofZ: scalarToHex(modN(k + c * secret)) }
}

/** Checks an accusation's proof: K = x·R for the x with PK = x·G. False on any malformed input. */
export function verifyAnswerKey(
  pub: Uint8Array,
  ephemeral: Hex,
  a: { key: Hex; proofC: Hex; proofZ: Hex },
  ctx: Uint8Array,
): boolean {
  try {
    const P = Point.fromBytes(pub)
    const R = Point.fromBytes(fromHex(ephemeral, 33))
    const K = Point.fromBytes(fromHex(a.key, 33))
    const c = scalarFromHex(a.proofC)
    const z = scalarFromHex(a.proofZ)
    if (z === 0n || c === 0n) return false
    const a1 = Point.BASE.multiply(z).subtract(P.multiply(c))
    const a2 = R.multiply(z).subtract(K.multiply(c))
    if (a1.equals(Point.ZERO) || a2.equals(Point.ZERO)) return false
    return challenge(P.toBytes(true), R.toBytes(true), K.toBytes(true), a1, a2, ctx) === c
  } catch {
    return false
  }
}
