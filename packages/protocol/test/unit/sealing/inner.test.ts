import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decode, decodeSignedOrder, encode, type SignedOrder, signedOrderCodec } from '../../../src/index.js'

const hexOf = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => `0x${Buffer.from(b).toString('hex')}` as const)
const u256 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n }),
  fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
  fc.constant(0n),
)
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })
const signedOrder: fc.Arbitrary<SignedOrder> = fc.record({
  order: fc.record({
    trader: hexOf(20),
    sellAsset: hexOf(32),
    buyAsset: hexOf(32),
    sellAmount: u256,
    buyAmount: u256,
    kind: fc.constantFrom('sell' as const, 'buy' as const),
    partiallyFillable: fc.boolean(),
    firstBatch: u64,
    lastBatch: u64,
    nonce: u256,
    app: hexOf(32),
  }),
  signature: fc.record({ r: hexOf(32), s: hexOf(32), v: fc.integer({ min: 0, max: 255 }) }),
})

function outcome(f: () => SignedOrder): unknown {
  try {
    return f()
  } catch (e) {
    return (e as { code?: string }).code ?? 'threw'
  }
}

describe('decodeSignedOrder (unsealing fast path)', () => {
  it('equals the codec on every valid order', () => {
    fc.assert(
      fc.property(signedOrder, (so) => {
        const b = encode(signedOrderCodec, so)
        expect(decodeSignedOrder(b)).toEqual(decode(signedOrderCodec, b))
        expect(decodeSignedOrder(b)).toEqual(so)
      }),
      { numRuns: 300, seed: 11 },
    )
  })

  it('accepts and rejects exactly what the codec does on mutated bytes', () => {
    fc.assert(
      fc.property(
        signedOrder,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: -3, max: 3 }),
        (so, flips, resize) => {
          const enc = encode(signedOrderCodec, so)
          let b = enc.slice()
          for (const [at, v] of flips) b[at % b.length] = v
          if (resize < 0) b = b.subarray(0, b.length + resize)
          if (resize > 0) b = Uint8Array.from([...b, ...new Array(resize).fill(0)])
          expect(outcome(() => decodeSignedOrder(b))).toEqual(outcome(() => decode(signedOrderCodec, b)))
        },
      ),
      { numRuns: 600, seed: 12 },
    )
  })
})
