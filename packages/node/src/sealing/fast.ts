import { createRequire } from 'node:module'
import { CURVE_ORDER, type DkgCurveOps, fromHex, type Hex, scalarToBytes, toHex } from '@allot/protocol'

/** The addon functions the DKG uses (secp256k1 5.x, as in crypto/index.ts). */
interface NativePoints {
  publicKeyCreate(seckey: Uint8Array, compressed: boolean, output?: Uint8Array): Uint8Array
  publicKeyTweakMul(pub: Uint8Array, tweak: Uint8Array, compressed: boolean, output?: Uint8Array): Uint8Array
  publicKeyCombine(pubs: Uint8Array[], compressed: boolean, output?: Uint8Array): Uint8Array
}

function load(): NativePoints | null {
  if (process.env.ALLOT_CRYPTO_BACKEND === 'noble') return null
  try {
    return createRequire(import.meta.url)('secp256k1/bindings.js') as NativePoints
  } catch {
    return null
  }
}

const lib = load()

function powMod(base: bigint, e: number): bigint {
  let r = 1n
  for (let i = 0; i < e; i++) r = (r * base) % CURVE_ORDER
  return r
}

/**
 * The DKG's curve arithmetic on libsecp256k1 (DkgCurveOps): commitments, share checks and sums of
 * commitments at native speed — an epoch of thousands of heights is checked in seconds, not minutes,
 * and without holding the event loop for long. Undefined when the addon does not load (noble serves).
 * Equal to the noble path by test (test/unit/sealing/dkg-fast.test.ts).
 */
export const nativeDkgOps: DkgCurveOps | undefined = lib
  ? {
      commit: (coeffs) => coeffs.map((a) => toHex(lib.publicKeyCreate(scalarToBytes(a), true))),
      checkShare: (commitments, index, share) => {
        try {
          if (share === 0n) return false
          const terms = [fromHex(commitments[0], 33)]
          const i = BigInt(index)
          for (let j = 1; j < commitments.length; j++)
            terms.push(lib.publicKeyTweakMul(fromHex(commitments[j], 33), scalarToBytes(powMod(i, j)), true))
          const expected = terms.length === 1 ? terms[0] : lib.publicKeyCombine(terms, true)
          const got = lib.publicKeyCreate(scalarToBytes(share), true)
          if (got.length !== expected.length) return false
          for (let k = 0; k < got.length; k++) if (got[k] !== expected[k]) return false
          return true
        } catch {
          // An invalid commitment point (or a sum at infinity): the share cannot be right.
          return false
        }
      },
      sum: (points: readonly Hex[]) =>
        points.length === 1
          ? points[0]
          : toHex(
              lib.publicKeyCombine(
                points.map((p) => fromHex(p, 33)),
                true,
              ),
            ),
    }
  : undefined
