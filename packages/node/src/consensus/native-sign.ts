import { createRequire } from 'node:module'
import { type PrivateKey, type Signature, signDigest, toHex } from '@allot/protocol'

/**
 * Signing of our own consensus messages (one per step, on the latency path) with libsecp256k1 as a native
 * addon when it loads, noble otherwise. Both are RFC 6979 deterministic and low-s, so the signatures are
 * byte-identical (tested).
 */
interface NativeSign {
  ecdsaSign(
    msg32: Uint8Array,
    key: Uint8Array,
    opts: object,
    output: Uint8Array,
  ): { signature: Uint8Array; recid: number }
}

function load(): NativeSign | null {
  if (process.env.ALLOT_CRYPTO_BACKEND === 'noble') return null
  try {
    return createRequire(import.meta.url)('secp256k1/bindings.js') as NativeSign
  } catch {
    return null
  }
}
const native = load()

export const signDigestFast: (digest: Uint8Array, key: PrivateKey) => Signature = native
  ? (digest, key) => {
      const out = native.ecdsaSign(digest, key, {}, new Uint8Array(64))
      return {
        r: toHex(out.signature.subarray(0, 32)),
        s: toHex(out.signature.subarray(32, 64)),
        v: 27 + out.recid,
      }
    }
  : signDigest
