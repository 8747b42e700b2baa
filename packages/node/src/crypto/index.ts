/**
 * A fast secp256k1 backend for the node's hot paths (DESIGN "Stack", crypto row): signature
 * recovery at intake and ECDH at unsealing. libsecp256k1 as a native addon (`secp256k1` 5.x,
 * prebuilt binaries) backs the same functions as noble, the reference implementation, with
 * identical results (tested on random inputs). If the addon does not load, noble serves.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto'
import { createRequire } from 'node:module'
import {
  type Address,
  AllotError,
  addressOfPublicKey,
  checkSignatureShape,
  type EcdhFn,
  fromHex,
  nobleEcdh,
  type RecoverFn,
  recoverAddress,
  type SealPrimitives,
  type Signature,
} from '@allot/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'

/** The subset of the addon's API we use (see @types/secp256k1). */
interface NativeSecp256k1 {
  ecdh(
    pub: Uint8Array,
    priv: Uint8Array,
    opts: { hashfn: (x: Uint8Array, y: Uint8Array) => Uint8Array; xbuf?: Uint8Array; ybuf?: Uint8Array },
    output: Uint8Array,
  ): Uint8Array
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array
  /** seckey·G, compressed (33 bytes) when `compressed`; throws on an invalid key. */
  publicKeyCreate(seckey: Uint8Array, compressed: boolean, output?: Uint8Array): Uint8Array
}

function loadNative(): { lib: NativeSecp256k1 | null; error?: string } {
  if (process.env.ALLOT_CRYPTO_BACKEND === 'noble') return { lib: null, error: 'ALLOT_CRYPTO_BACKEND=noble' }
  try {
    const require = createRequire(import.meta.url)
    // bindings.js loads only the native addon; the package's index.js would silently fall back
    // to elliptic (pure JS, slower than noble), which we never want.
    return { lib: require('secp256k1/bindings.js') as NativeSecp256k1 }
  } catch (e) {
    return { lib: null, error: (e as Error).message }
  }
}

const native = loadNative()

/** Which implementation backs ecdhFast / recoverAddressFast. */
export const cryptoBackend: 'native' | 'noble' = native.lib ? 'native' : 'noble'
/** Why the native addon is not used, when it is not. */
export const cryptoBackendError: string | undefined = native.error

const xbuf = new Uint8Array(32)
const ybuf = new Uint8Array(32)

function nativeEcdh(lib: NativeSecp256k1): EcdhFn {
  // libsecp256k1 hands the shared point's x and y to hashfn; we return it compressed, as noble does.
  return (priv, pub) => {
    const out = new Uint8Array(33)
    return lib.ecdh(
      pub,
      priv,
      {
        xbuf,
        ybuf,
        hashfn: (x, y) => {
          out[0] = 0x02 | (y[31] & 1)
          out.set(x, 1)
          return out
        },
      },
      out,
    )
  }
}

/** sk·G as a 33-byte compressed point (the devnet dealer's commitments); throws on an invalid key. */
export const publicKeyFast: (sk: Uint8Array) => Uint8Array = native.lib
  ? ((lib: NativeSecp256k1) => (sk: Uint8Array) => {
      try {
        return lib.publicKeyCreate(sk, true, new Uint8Array(33))
      } catch (e) {
        throw new AllotError('SEAL_BAD_PARAMS', `invalid secret key: ${(e as Error).message}`)
      }
    })(native.lib)
  : (sk) => secp256k1.getPublicKey(sk, true)

/** priv·pub as a 33-byte compressed point; throws on an invalid point or key (like noble). */
export const ecdhFast: EcdhFn = native.lib ? nativeEcdh(native.lib) : nobleEcdh

function nativeRecover(lib: NativeSecp256k1): RecoverFn {
  return (digest, sig) => {
    const code = 'ORDER_BAD_SIGNATURE'
    checkSignatureShape(sig, code)
    if (digest.length !== 32) throw new AllotError(code, 'digest must be 32 bytes')
    const rs = new Uint8Array(64)
    rs.set(fromHex(sig.r, 32, code), 0)
    rs.set(fromHex(sig.s, 32, code), 32)
    let pub: Uint8Array
    try {
      pub = lib.ecdsaRecover(rs, sig.v - 27, digest, false)
    } catch (e) {
      throw new AllotError(code, `signature does not recover: ${(e as Error).message}`)
    }
    return addressOfPublicKey(pub)
  }
}

/**
 * The Ethereum address that signed a 32-byte digest, with the protocol's rules (low s, v 27/28);
 * throws `ORDER_BAD_SIGNATURE` like the protocol's `recoverAddress(digest, sig, 'ORDER_BAD_SIGNATURE')`.
 */
export const recoverAddressFast: (digest: Uint8Array, sig: Signature) => Address = native.lib
  ? nativeRecover(native.lib)
  : (digest, sig) => recoverAddress(digest, sig, 'ORDER_BAD_SIGNATURE')

/**
 * HKDF-SHA256 (RFC 5869) on OpenSSL's HMAC. For one output block (length ≤ 32, all ECIES asks
 * for) it is exactly PRK = HMAC(salt, IKM), OKM = HMAC(PRK, info ‖ 0x01)[0, length) — two HMACs,
 * without the per-call key-object setup of `hkdfSync`, which costs more than the HMACs here.
 * Longer outputs go to `hkdfSync`. Tested equal to noble's `hkdf` and to `hkdfSync`.
 */
export function hkdfSha256Fast(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (length > 32 || length < 1) return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length))
  const prk = createHmac('sha256', salt).update(ikm).digest()
  const okm = createHmac('sha256', prk).update(info).update(ONE).digest()
  return new Uint8Array(okm.buffer, okm.byteOffset, length)
}
const ONE = Uint8Array.of(1)

/**
 * ECIES primitives for unsealing at speed: libsecp256k1 ECDH and node:crypto (OpenSSL) HKDF-SHA256
 * and AES-256-GCM — the same functions as the protocol's noble defaults (tested byte for byte).
 */
export const fastSealPrimitives: SealPrimitives = {
  ecdh: ecdhFast,
  hkdfSha256: hkdfSha256Fast,
  aesGcmEncrypt: (key, iv, aad, plaintext) => {
    const c = createCipheriv('aes-256-gcm', key, iv)
    c.setAAD(aad)
    const body = c.update(plaintext)
    c.final()
    const out = new Uint8Array(body.length + 16)
    out.set(body)
    out.set(c.getAuthTag(), body.length)
    return out
  },
  aesGcmDecrypt: (key, iv, aad, sealed) => {
    if (sealed.length < 16) throw new AllotError('SEAL_DECRYPT_FAILED', 'ciphertext shorter than its tag')
    const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 })
    d.setAAD(aad)
    d.setAuthTag(sealed.subarray(sealed.length - 16))
    const body = d.update(sealed.subarray(0, sealed.length - 16))
    d.final() // throws unless the tag authenticates
    return new Uint8Array(body.buffer, body.byteOffset, body.length)
  },
}
