import { hkdfSync } from 'node:crypto'
import {
  addressOf,
  batchCommitments,
  batchPublicKey,
  dealEpoch,
  deterministicRng,
  isAllotError,
  nobleEcdh,
  noblePrimitives,
  type Order,
  openSealedOrder,
  randomScalar,
  recoverAddress,
  recoverBatchSecretKey,
  type Signature,
  scalarFromHex,
  scalarToBytes,
  sealOrder,
  signDigest,
  signOrder,
  toHex,
  tokenAssetId,
} from '@allot/protocol'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { describe, expect, it } from 'vitest'
import {
  cryptoBackend,
  cryptoBackendError,
  ecdhFast,
  fastSealPrimitives,
  recoverAddressFast,
} from '../../../src/crypto/index.js'

const rng = deterministicRng('crypto-backend')
const key = () => scalarToBytes(randomScalar(rng))

function outcome<T>(f: () => T): T | string {
  try {
    return f()
  } catch (e) {
    return isAllotError(e) ? e.code : 'threw'
  }
}

describe('fast secp256k1 backend', () => {
  it('loads the native addon here', () => {
    expect(cryptoBackendError).toBeUndefined()
    expect(cryptoBackend).toBe('native')
  })

  it('ECDH equals noble on random keys (compressed and uncompressed peers)', () => {
    for (let i = 0; i < 100; i++) {
      const a = key()
      const pub = secp256k1.getPublicKey(key(), i % 2 === 0)
      expect(toHex(ecdhFast(a, pub))).toBe(toHex(nobleEcdh(a, pub)))
    }
  })

  it('ECDH refuses what noble refuses', () => {
    const a = key()
    const bad = [
      new Uint8Array(33),
      Uint8Array.from([0x02, ...new Uint8Array(32).fill(0xff)]),
      new Uint8Array(5),
    ]
    for (const pub of bad) {
      expect(() => nobleEcdh(a, pub)).toThrow()
      expect(() => ecdhFast(a, pub)).toThrow()
    }
  })

  it('recovery equals noble on random keys and digests', () => {
    for (let i = 0; i < 100; i++) {
      const digest = rng(32)
      const sig = signDigest(digest, key())
      expect(recoverAddressFast(digest, sig)).toBe(recoverAddress(digest, sig, 'ORDER_BAD_SIGNATURE'))
      // A wrong digest recovers some other address, identically.
      const other = rng(32)
      expect(outcome(() => recoverAddressFast(other, sig))).toBe(
        outcome(() => recoverAddress(other, sig, 'ORDER_BAD_SIGNATURE')),
      )
    }
  })

  it('malformed signatures fail identically (ORDER_BAD_SIGNATURE)', () => {
    const digest = rng(32)
    const good = signDigest(digest, key())
    const n = secp256k1.Point.CURVE().n
    const hex = (x: bigint) => toHex(scalarToBytes(x)) as `0x${string}`
    const cases: Signature[] = [
      { ...good, r: `0x${'00'.repeat(32)}` },
      { ...good, s: `0x${'ff'.repeat(32)}` },
      { ...good, s: hex(n - BigInt(good.s)) }, // high s
      { ...good, v: 29 },
      { ...good, r: hex(5n) }, // r that is (likely) no x-coordinate of the right point
    ]
    for (const sig of cases) {
      expect(outcome(() => recoverAddressFast(digest, sig))).toBe(
        outcome(() => recoverAddress(digest, sig, 'ORDER_BAD_SIGNATURE')),
      )
    }
  })
})

describe('fast ECIES primitives', () => {
  const k = rng(32)
  const iv = rng(12)
  const aad = rng(93)
  it('HKDF and AES-GCM equal noble byte for byte; tampering is refused by both', () => {
    for (const len of [0, 1, 16, 320, 1024]) {
      const pt = rng(len)
      const a = fastSealPrimitives.aesGcmEncrypt(k, iv, aad, pt)
      const b = noblePrimitives.aesGcmEncrypt(k, iv, aad, pt)
      expect(toHex(a)).toBe(toHex(b))
      expect(toHex(fastSealPrimitives.aesGcmDecrypt(k, iv, aad, b))).toBe(toHex(pt))
      const bad = a.slice()
      bad[0] ^= 1
      expect(() => fastSealPrimitives.aesGcmDecrypt(k, iv, aad, bad)).toThrow()
      expect(() => noblePrimitives.aesGcmDecrypt(k, iv, aad, bad)).toThrow()
      expect(() => fastSealPrimitives.aesGcmDecrypt(k, iv, rng(93), a)).toThrow()
    }
    expect(() => fastSealPrimitives.aesGcmDecrypt(k, iv, aad, new Uint8Array(5))).toThrow()
    for (const len of [1, 16, 31, 32, 33, 44, 64]) {
      for (const [ikm, salt, info] of [
        [rng(32), iv, aad],
        [rng(32), new Uint8Array(0), new Uint8Array(0)],
        [rng(7), rng(100), rng(1)],
      ]) {
        const want = toHex(noblePrimitives.hkdfSha256(ikm, salt, info, len))
        expect(toHex(fastSealPrimitives.hkdfSha256(ikm, salt, info, len))).toBe(want)
        expect(toHex(new Uint8Array(hkdfSync('sha256', ikm, salt, info, len)))).toBe(want)
      }
    }
  })

  it('orders sealed with one backend open with the other', () => {
    const domain = { chainId: 5n, verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3' as const }
    const epoch = dealEpoch({ startHeight: 3n, length: 1, n: 4, t: 1, rng })
    const sk = recoverBatchSecretKey(batchCommitments(epoch.public, 3n), [
      { index: 2, value: scalarFromHex(epoch.shares[1][0]) },
      { index: 3, value: scalarFromHex(epoch.shares[2][0]) },
    ]).secretKey
    const traderKey = key()
    const order: Order = {
      trader: addressOf(traderKey),
      sellAsset: tokenAssetId('0xe7f1725e7734ce288f8367e1bb143e90bb3f0512'),
      buyAsset: tokenAssetId('0x9fe46736679d2d9a65f61992f6af2c6f6f0a6a5d'),
      sellAmount: 10n,
      buyAmount: 20n,
      kind: 'sell',
      partiallyFillable: true,
      firstBatch: 3n,
      lastBatch: 3n,
      nonce: 1n,
      app: `0x${'00'.repeat(32)}`,
    }
    const signedOrder = { order, signature: signOrder(domain, order, traderKey) }
    const pk = batchPublicKey(epoch.public, 3n)
    const viaFast = sealOrder({
      domain,
      signedOrder,
      batchPublicKey: pk,
      traderKey,
      nonce: 1n,
      primitives: fastSealPrimitives,
    })
    const viaNoble = sealOrder({ domain, signedOrder, batchPublicKey: pk, traderKey, nonce: 2n })
    for (const s of [viaFast, viaNoble]) {
      for (const primitives of [fastSealPrimitives, noblePrimitives]) {
        const r = openSealedOrder(domain, s, sk, { primitives, recover: recoverAddressFast })
        expect(r).toEqual({ ok: true, order: signedOrder })
      }
    }
    const copy = { ...viaFast, trader: addressOf(key()) }
    const r = openSealedOrder(domain, copy, sk, { primitives: fastSealPrimitives })
    expect(r.ok ? 'opened' : r.reason).toBe('SEAL_DECRYPT_FAILED')
  })
})
