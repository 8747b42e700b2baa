import { gcm } from '@noble/ciphers/aes.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { describe, expect, it } from 'vitest'
import {
  addressOf,
  batchCommitments,
  batchPublicKey,
  checkInnerSignature,
  concatBytes,
  dealEpoch,
  decodeSealedOrder,
  deterministicRng,
  encode,
  encodeSealedOrder,
  fromHex,
  interpolateSecret,
  type NetworkDomain,
  type Order,
  openSealedOrder,
  orderIdOf,
  padPlaintext,
  payloadHashOf,
  privateKeyFromHex,
  recoverBatchSecretKey,
  resourceAssetId,
  SEAL_KDF_SALT,
  SEAL_PADDING_CLASSES,
  type SealedOrder,
  type SignedOrder,
  scalarFromHex,
  scalarToBytes,
  sealAad,
  sealedOrderDigest,
  sealOrder,
  signDigest,
  signedOrderCodec,
  signOrder,
  toHex,
  tokenAssetId,
  uintToWord,
  unsealBatch,
  verifySealedEnvelope,
} from '../../../src/index.js'

const domain: NetworkDomain = {
  chainId: 31337n,
  verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
}
const otherDomain: NetworkDomain = { chainId: 1n, verifyingContract: domain.verifyingContract }
const keyA = privateKeyFromHex(`0x${'a1'.repeat(32)}`)
const keyB = privateKeyFromHex(`0x${'b2'.repeat(32)}`)
const traderA = addressOf(keyA)
const traderB = addressOf(keyB)
const TOKEN = tokenAssetId('0xe7f1725e7734ce288f8367e1bb143e90bb3f0512')
const GPU = resourceAssetId('gpu.h100-hour')

const epoch = dealEpoch({ startHeight: 40n, length: 4, n: 4, t: 1, rng: deterministicRng('ecies-epoch') })
function skOf(h: bigint): Uint8Array {
  const k = Number(h - 40n)
  return recoverBatchSecretKey(batchCommitments(epoch.public, h), [
    { index: 1, value: scalarFromHex(epoch.shares[0][k]) },
    { index: 4, value: scalarFromHex(epoch.shares[3][k]) },
  ]).secretKey
}

function order(trader: `0x${string}`, h: bigint, over: Partial<Order> = {}): Order {
  return {
    trader,
    sellAsset: TOKEN,
    buyAsset: GPU,
    sellAmount: 1_234_567_890_123n,
    buyAmount: 98_765n,
    kind: 'sell',
    partiallyFillable: false,
    firstBatch: h,
    lastBatch: h,
    nonce: 5n,
    app: `0x${'00'.repeat(32)}`,
    ...over,
  }
}
function signed(key: Uint8Array, o: Order): SignedOrder {
  return { order: o, signature: signOrder(domain, o, key) }
}
function seal(key: Uint8Array, o: Order, seed = 'r'): SealedOrder {
  return sealOrder({
    domain,
    signedOrder: signed(key, o),
    batchPublicKey: batchPublicKey(epoch.public, o.firstBatch),
    traderKey: key,
    nonce: 1n,
    rng: deterministicRng(seed),
  })
}

describe('sealed orders (ECIES)', () => {
  it('seals and opens an order; the envelope verifies and survives the wire', () => {
    const s = seal(keyA, order(traderA, 41n))
    verifySealedEnvelope(domain, s)
    const wire = decodeSealedOrder(encodeSealedOrder(s))
    expect(orderIdOf(wire)).toBe(orderIdOf(s))
    const r = openSealedOrder(domain, wire, skOf(41n))
    expect(r).toEqual({ ok: true, order: signed(keyA, order(traderA, 41n)) })
  })

  it('with fewer than t+1 shares nothing decrypts', () => {
    const s = seal(keyA, order(traderA, 41n))
    // t = 1: one share alone. Interpolating it "as if" it were enough gives a wrong key.
    const guess = interpolateSecret([{ index: 2, value: scalarFromHex(epoch.shares[1][1]) }])
    const r = openSealedOrder(domain, s, scalarToBytes(guess))
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason).toBe('SEAL_DECRYPT_FAILED')
  })

  it('a ciphertext for batch h cannot be opened as h+1 (wrong key, and AAD names h)', () => {
    const s = seal(keyA, order(traderA, 41n))
    // Re-enveloped (validly signed) for batch 42: the key of 42 and the key of 41 both fail.
    const moved = reEnvelope(s, keyA, { batch: 42n })
    for (const h of [41n, 42n]) {
      const r = openSealedOrder(domain, moved, skOf(h))
      expect(r.ok ? 'opened' : r.reason).toBe('SEAL_DECRYPT_FAILED')
    }
  })

  it('another network cannot open it (AAD and KDF name the network)', () => {
    const s = seal(keyA, order(traderA, 41n))
    const r = openSealedOrder(otherDomain, s, skOf(41n))
    expect(r.ok ? 'opened' : r.reason).toBe('SEAL_DECRYPT_FAILED')
  })

  it("copy attack: trader B re-signs A's ciphertext under B's own envelope — it does not open", () => {
    const a = seal(keyA, order(traderA, 41n))
    const copy = reEnvelope(a, keyB, { trader: traderB })
    verifySealedEnvelope(domain, copy) // a perfectly valid envelope: intake would accept it...
    expect(orderIdOf(copy)).not.toBe(orderIdOf(a))
    const r = openSealedOrder(domain, copy, skOf(41n))
    // ...but the AAD binds trader A, so GCM refuses it: B cannot copy (or front-run with) A's bid.
    expect(r.ok ? 'opened' : r.reason).toBe('SEAL_DECRYPT_FAILED')
    // And even with a forged AAD, the inner order names and is signed by A, not B: the trader check
    // would drop it as SEAL_TRADER_MISMATCH (tested below with an inner order of another trader).
  })

  it("sealing someone else's signed inner order under one's own key is refused or dropped", () => {
    // B seals A's signed order: sealOrder refuses; hand-built, it unseals to SEAL_TRADER_MISMATCH.
    expect(() =>
      sealOrder({
        domain,
        signedOrder: signed(keyA, order(traderA, 41n)),
        batchPublicKey: batchPublicKey(epoch.public, 41n),
        traderKey: keyB,
        nonce: 1n,
      }),
    ).toThrow(/ORDER_BAD_SIGNATURE/)
    const forged = sealUnchecked(keyB, signed(keyA, order(traderA, 41n)), 41n)
    const r = openSealedOrder(domain, forged, skOf(41n))
    expect(r.ok ? 'opened' : r.reason).toBe('SEAL_TRADER_MISMATCH')
  })

  it('an inner order for another batch, or with a bad inner signature, is dropped with its reason', () => {
    const wrongBatch = sealUnchecked(keyA, signed(keyA, order(traderA, 42n)), 41n)
    const r1 = openSealedOrder(domain, wrongBatch, skOf(41n))
    expect(r1.ok ? 'opened' : r1.reason).toBe('SEAL_WRONG_BATCH')
    const o = order(traderA, 41n)
    const badSig = sealUnchecked(
      keyA,
      { order: o, signature: signOrder(domain, { ...o, nonce: 6n }, keyA) },
      41n,
    )
    const r2 = openSealedOrder(domain, badSig, skOf(41n))
    expect(r2.ok ? 'opened' : r2.reason).toBe('ORDER_BAD_SIGNATURE')
    // verifyInnerSignature: false defers the check to the caller (bulk / native recovery).
    const r3 = openSealedOrder(domain, badSig, skOf(41n), { verifyInnerSignature: false })
    expect(r3.ok).toBe(true)
    if (r3.ok) expect(checkInnerSignature(domain, r3.order)?.reason).toBe('ORDER_BAD_SIGNATURE')
  })

  it('garbage payloads unseal to a reason, never a throw', () => {
    const s = seal(keyA, order(traderA, 41n))
    if (s.payload.kind !== 'sealed') throw new Error('sealed')
    const cases: SealedOrder[] = [
      { ...s, payload: { ...s.payload, ephemeralKey: `0x02${'00'.repeat(32)}` } },
      { ...s, payload: { ...s.payload, ciphertext: '0x00' } },
      { ...s, payload: { ...s.payload, ciphertext: `0x${'ab'.repeat(336)}` } },
      { ...s, payload: { kind: 'plain', order: signed(keyA, order(traderA, 41n)) } },
    ]
    const reasons = cases.map((c) => {
      const r = openSealedOrder(domain, c, skOf(41n))
      return r.ok ? 'opened' : r.reason
    })
    expect(reasons).toEqual([
      'SEAL_BAD_EPHEMERAL_KEY',
      'SEAL_DECRYPT_FAILED',
      'SEAL_DECRYPT_FAILED',
      'SEAL_NOT_SEALED',
    ])
  })

  it('ciphertexts of different orders have equal lengths (one padding class)', () => {
    const big = (1n << 256n) - 1n
    const variants: Order[] = [
      order(traderA, 41n),
      order(traderA, 41n, { kind: 'buy', sellAmount: 1n, buyAmount: 1n, nonce: 0n }),
      order(traderA, 41n, { sellAmount: big, buyAmount: big, nonce: big, partiallyFillable: true }),
      order(traderA, 41n, { sellAsset: GPU, buyAsset: TOKEN, lastBatch: 1000n, app: `0x${'ff'.repeat(32)}` }),
    ]
    const lengths = new Set<number>()
    const envelopeLengths = new Set<number>()
    for (const [i, o] of variants.entries()) {
      const s = seal(keyA, o, `len${i}`)
      if (s.payload.kind !== 'sealed') throw new Error('sealed')
      lengths.add(fromHex(s.payload.ciphertext).length)
      envelopeLengths.add(encodeSealedOrder(s).length)
      expect(encode(signedOrderCodec, signed(keyA, o)).length + 2).toBeLessThanOrEqual(
        SEAL_PADDING_CLASSES[0],
      )
    }
    expect([...lengths]).toEqual([SEAL_PADDING_CLASSES[0] + 16])
    expect(envelopeLengths.size).toBe(1)
  })

  it('byte search: no plaintext field of the order appears in what a node holds before the decision', () => {
    const o = order(traderA, 41n, {
      sellAmount: 0x1122334455667788n,
      buyAmount: 0x99aabbccddeeffn,
      nonce: 0xfeedbeefn,
    })
    const s = seal(keyA, o)
    const wire = encodeSealedOrder(s)
    const needles = [
      fromHex(o.sellAsset).subarray(12), // token address
      fromHex(o.buyAsset).subarray(0, 8),
      fromHex('0x1122334455667788'),
      fromHex('0x99aabbccddeeff'),
      fromHex('0xfeedbeef'),
      fromHex(signed(keyA, o).signature.r).subarray(0, 8),
    ]
    for (const needle of needles) expect(indexOf(wire, needle)).toBe(-1)
    // The encoded inner order after its (public) trader address is nowhere in the envelope either.
    expect(indexOf(wire, encode(signedOrderCodec, signed(keyA, o)).subarray(20, 44))).toBe(-1)
  })

  it('unsealBatch opens a batch and reports each failure', () => {
    const good = seal(keyA, order(traderA, 41n), 'g')
    const copied = reEnvelope(good, keyB, { trader: traderB })
    const early = seal(keyB, order(traderB, 42n), 'e')
    const res = unsealBatch(
      domain,
      41n,
      [good, copied, early].map((s) => ({ orderId: orderIdOf(s), sealed: s })),
      skOf(41n),
    )
    expect(res.map((r) => (r.result.ok ? 'ok' : r.result.reason))).toEqual([
      'ok',
      'SEAL_DECRYPT_FAILED',
      'SEAL_WRONG_BATCH',
    ])
    expect(res[1].trader).toBe(traderB)
  })
})

function reEnvelope(
  s: SealedOrder,
  key: Uint8Array,
  over: Partial<Pick<SealedOrder, 'trader' | 'batch'>>,
): SealedOrder {
  const trader = over.trader ?? s.trader
  const batch = over.batch ?? s.batch
  const payloadHash = payloadHashOf(s)
  return {
    ...s,
    trader,
    batch,
    signature: signDigest(sealedOrderDigest(domain, { trader, batch, payloadHash, nonce: s.nonce }), key),
  }
}

/** A client that skips sealOrder's checks: seals any inner order for batch h under `key`, by the documented construction. */
function sealUnchecked(key: Uint8Array, so: SignedOrder, h: bigint): SealedOrder {
  const trader = addressOf(key)
  const r = scalarToBytes(12345n)
  const R = secp256k1.getPublicKey(r, true)
  const S = secp256k1.getSharedSecret(r, fromHex(batchPublicKey(epoch.public, h)), true)
  const hb = new Uint8Array(8)
  new DataView(hb.buffer).setBigUint64(0, h)
  const info = concatBytes(uintToWord(domain.chainId), fromHex(domain.verifyingContract), hb, R)
  const aesKey = hkdf(sha256, S.subarray(1), SEAL_KDF_SALT, info, 32)
  const ct = gcm(aesKey, new Uint8Array(12), sealAad(domain, h, trader)).encrypt(
    padPlaintext(encode(signedOrderCodec, so)),
  )
  const payload = { kind: 'sealed' as const, ephemeralKey: toHex(R), ciphertext: toHex(ct) }
  const base: SealedOrder = { trader, batch: h, nonce: 9n, payload, signature: { r: '0x', s: '0x', v: 27 } }
  return reEnvelope(base, key, {})
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}
