import { secp256k1 } from '@noble/curves/secp256k1.js'
import { type Address, fromHex, type Hex, keccak256, toHex } from './bytes.js'
import { AllotError } from './errors.js'
import type { Signature } from './types.js'

const N = secp256k1.Point.CURVE().n
const HALF_N = N >> 1n

/** A secp256k1 private key as 32 bytes. */
export type PrivateKey = Uint8Array

export function randomPrivateKey(): PrivateKey {
  return secp256k1.utils.randomSecretKey()
}

export function privateKeyFromHex(hex: string): PrivateKey {
  const h = hex.startsWith('0x') ? hex : `0x${hex}`
  const key = fromHex(h, 32, 'KEY_BAD_HEX')
  if (!secp256k1.utils.isValidSecretKey(key))
    throw new AllotError('KEY_BAD_HEX', 'not a valid secp256k1 private key')
  return key
}

/** The Ethereum address of an uncompressed (65-byte) or compressed (33-byte) public key. */
export function addressOfPublicKey(publicKey: Uint8Array): Address {
  const uncompressed =
    publicKey.length === 65 ? publicKey : secp256k1.Point.fromBytes(publicKey).toBytes(false)
  return toHex(keccak256(uncompressed.subarray(1)).subarray(12))
}

export function addressOf(privateKey: PrivateKey): Address {
  return addressOfPublicKey(secp256k1.getPublicKey(privateKey, false))
}

/** Signs a 32-byte digest (no further hashing), low-s, Ethereum style v = 27 + recovery bit. */
export function signDigest(digest: Uint8Array, privateKey: PrivateKey): Signature {
  const sig = secp256k1.sign(digest, privateKey, { prehash: false, lowS: true, format: 'recovered' })
  // noble's 'recovered' format: recovery byte first, then r, then s.
  return { r: toHex(sig.subarray(1, 33)), s: toHex(sig.subarray(33, 65)), v: 27 + sig[0] }
}

/** Validates the shape of a signature: r, s in range, s low (no malleability), v 27 or 28. */
export function checkSignatureShape(sig: Signature, code = 'SIG_MALFORMED'): void {
  if (sig === null || typeof sig !== 'object') throw new AllotError(code, 'signature missing')
  const r = BigInt(sig.r)
  const s = BigInt(sig.s)
  if (r === 0n || r >= N || s === 0n || s > HALF_N)
    throw new AllotError(code, 'signature r/s out of range or high s')
  if (sig.v !== 27 && sig.v !== 28) throw new AllotError(code, `signature v must be 27 or 28, got ${sig.v}`)
}

/** Recovers the signer's address of a digest; throws `code` on a malformed or unrecoverable signature. */
export function recoverAddress(digest: Uint8Array, sig: Signature, code = 'SIG_MALFORMED'): Address {
  checkSignatureShape(sig, code)
  try {
    const recovered = new Uint8Array(65)
    recovered[0] = sig.v - 27
    recovered.set(fromHex(sig.r, 32, code), 1)
    recovered.set(fromHex(sig.s, 32, code), 33)
    const pub = secp256k1.recoverPublicKey(recovered, digest, { prehash: false })
    return addressOfPublicKey(pub)
  } catch (e) {
    if (e instanceof AllotError) throw e
    throw new AllotError(code, `signature does not recover: ${(e as Error).message}`)
  }
}

/** 65-byte r‖s‖v encoding, as wallets and `ecrecover` callers use it. */
export function signatureToBytes(sig: Signature): Uint8Array {
  const out = new Uint8Array(65)
  out.set(fromHex(sig.r, 32), 0)
  out.set(fromHex(sig.s, 32), 32)
  out[64] = sig.v
  return out
}

export function signatureFromBytes(bytes: Uint8Array): Signature {
  if (bytes.length !== 65)
    throw new AllotError('SIG_MALFORMED', `signature must be 65 bytes, got ${bytes.length}`)
  const v = bytes[64] < 27 ? bytes[64] + 27 : bytes[64]
  return { r: toHex(bytes.subarray(0, 32)), s: toHex(bytes.subarray(32, 64)), v }
}

export function signatureToHex(sig: Signature): Hex {
  return toHex(signatureToBytes(sig))
}
