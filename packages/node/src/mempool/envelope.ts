import {
  type Address,
  domainSeparator,
  fromHex,
  keccak256,
  keccak256Into,
  LIMITS,
  type NetworkDomain,
  type Signature,
  toHex,
  typeHash,
} from '@allot/protocol'

/**
 * Intake's reads of an envelope straight from its canonical bytes (`sealedOrderCodec`: trader 20,
 * batch u64, nonce as a length byte and minimal big-endian bytes, the payload, then the signature
 * r 32 ‖ s 32 ‖ v 1). They give exactly what decoding and the protocol's helpers give — unit tests
 * check each against `decodeSealedOrder`, `sealedOrderDigest` and `checkSignatureShape` — without
 * building the hex strings a decoded order carries (a 336-byte ciphertext as 674 characters, the
 * signature as hex that the verifier turns back into bytes).
 */

/** The fields intake indexes, read in place from a sealed-payload envelope. */
export interface EnvelopeFields {
  trader: Address
  batch: bigint
  nonce: bigint
}

/**
 * Reads a sealed-payload envelope, or returns null when it cannot vouch for the bytes: a plain
 * payload, or anything `decodeSealedOrder` would refuse (the caller then decodes, which throws the
 * exact error). Non-null exactly when the bytes decode to a sealed-payload order, with its fields.
 */
export function readSealedEnvelope(b: Uint8Array): EnvelopeFields | null {
  const len = b.length
  if (len > LIMITS.maxSealedOrderBytes || len < 29) return null
  const nl = b[28]
  if (nl > 32) return null
  let at = 29 + nl
  if (at >= len || (nl > 0 && b[29] === 0)) return null
  if (b[at++] !== 0) return null // union tag 0: sealed
  if (at + 4 > len) return null
  const ek = u32(b, at)
  if (ek > 33) return null
  at += 4 + ek
  if (at + 4 > len) return null
  const ct = u32(b, at)
  if (ct > LIMITS.maxCiphertextBytes) return null
  at += 4 + ct
  if (at + 65 !== len) return null
  // One BigInt per field where the value fits a double exactly (no intermediate BigInts or DataView:
  // garbage at every order's rate).
  let nonce: bigint
  if (nl <= 6) {
    let x = 0
    for (let i = 29; i < 29 + nl; i++) x = x * 256 + b[i]
    nonce = BigInt(x)
  } else {
    nonce = 0n
    for (let i = 29; i < 29 + nl; i++) nonce = (nonce << 8n) | BigInt(b[i])
  }
  const hi = u32(b, 20)
  const lo = u32(b, 24)
  return {
    trader: toHex(b.subarray(0, 20)) as Address,
    batch: hi < 0x200000 ? BigInt(hi * 0x100000000 + lo) : (BigInt(hi) << 32n) | BigInt(lo),
    nonce,
  }
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3]
}

/** The payload's slice of an envelope (after trader, batch and nonce; before the signature). */
function payloadOf(b: Uint8Array): Uint8Array {
  return b.subarray(29 + b[28], b.length - 65)
}

/** keccak256 of the payload's slice of an envelope: `payloadHashOf(order)` as bytes. */
export function payloadHashBytes(b: Uint8Array): Uint8Array {
  return keccak256(payloadOf(b))
}

/**
 * `sealedOrderDigest(domain, { trader, batch, payloadHash, nonce })` from the envelope's bytes:
 * keccak256(0x1901 ‖ domainSeparator ‖ keccak256(typeHash ‖ trader ‖ batch ‖ payloadHash ‖ nonce)),
 * each field a left-padded 32-byte word, written into one preallocated buffer.
 */
export function envelopeDigester(domain: NetworkDomain): (envelope: Uint8Array) => Uint8Array {
  const struct = new Uint8Array(5 * 32)
  struct.set(fromHex(typeHash('SealedOrder'), 32), 0)
  const outer = new Uint8Array(2 + 32 + 32)
  outer[0] = 0x19
  outer[1] = 0x01
  outer.set(domainSeparator(domain), 2)
  // Copied byte by byte: a subarray per field is a typed-array view (~100 bytes) allocated per order.
  const copy = (from: Uint8Array, start: number, end: number, at: number) => {
    for (let i = start; i < end; i++) struct[at + i - start] = from[i]
  }
  return (b) => {
    struct.fill(0, 32)
    copy(b, 0, 20, 32 + 12) // address
    copy(b, 20, 28, 64 + 24) // uint64
    keccak256Into(payloadOf(b), struct, 96) // payloadHash (bytes32)
    const nl = b[28]
    copy(b, 29, 29 + nl, 160 - nl) // uint256
    keccak256Into(struct, outer, 34)
    return keccak256(outer)
  }
}

const N = fromHex('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141', 32)
const HALF_N = fromHex('0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0', 32)

/** Big-endian compare of two 32-byte words. */
function cmp(a: Uint8Array, at: number, w: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = a[at + i] - w[i]
    if (d !== 0) return d
  }
  return 0
}

function isZero(a: Uint8Array, at: number): boolean {
  for (let i = 0; i < 32; i++) if (a[at + i] !== 0) return false
  return true
}

/**
 * `checkSignatureShape` on r ‖ s ‖ v bytes: 0 < r < n, 0 < s ≤ n/2, v ∈ {27, 28}. Returns the
 * reason it fails, or null.
 */
export function rawSignatureFault(sig: Uint8Array, at = 0): string | null {
  if (isZero(sig, at) || cmp(sig, at, N) >= 0 || isZero(sig, at + 32) || cmp(sig, at + 32, HALF_N) > 0)
    return 'signature r/s out of range or high s'
  const v = sig[at + 64]
  if (v !== 27 && v !== 28) return `signature v must be 27 or 28, got ${v}`
  return null
}

/** The signature of r ‖ s ‖ v bytes as the protocol's types carry it. */
export function signatureOf(raw: Uint8Array): Signature {
  return { r: toHex(raw.subarray(0, 32)), s: toHex(raw.subarray(32, 64)), v: raw[64] }
}
