import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  AllotError,
  batchCertificateCodec,
  batchProposalCodec,
  type Codec,
  decode,
  encode,
  type Hex,
  keyShareCodec,
  type Order,
  orderCancelCodec,
  orderIdOf,
  type SealedOrder,
  type Signature,
  sealedOrderCodec,
  voteCodec,
} from '../../src/index.js'

const SEED = 0x5eed

const hexOf = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => `0x${Buffer.from(b).toString('hex')}` as Hex)
const hexUpTo = (max: number) =>
  fc.uint8Array({ maxLength: max }).map((b) => `0x${Buffer.from(b).toString('hex')}` as Hex)
const u256 = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n })
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const address = hexOf(20)
const bytes32 = hexOf(32)
const signature: fc.Arbitrary<Signature> = fc.record({ r: bytes32, s: bytes32, v: fc.constantFrom(27, 28) })

const order: fc.Arbitrary<Order> = fc.record({
  trader: address,
  sellAsset: bytes32,
  buyAsset: bytes32,
  sellAmount: u256,
  buyAmount: u256,
  kind: fc.constantFrom('sell' as const, 'buy' as const),
  partiallyFillable: fc.boolean(),
  firstBatch: u64,
  lastBatch: u64,
  nonce: u256,
  app: bytes32,
})

const sealedOrder: fc.Arbitrary<SealedOrder> = fc.record({
  trader: address,
  batch: u64,
  nonce: u256,
  payload: fc.oneof(
    fc.record({ kind: fc.constant('sealed' as const), ephemeralKey: hexOf(33), ciphertext: hexUpTo(600) }),
    fc.record({ kind: fc.constant('plain' as const), order: fc.record({ order, signature }) }),
  ),
  signature,
})

const vote = fc.record({
  type: fc.constantFrom('prevote' as const, 'precommit' as const),
  height: u64,
  round: u32,
  valueHash: fc.option(bytes32, { nil: null }),
  validator: address,
  signature,
})

const proposal = fc.record({
  height: u64,
  round: u32,
  content: fc.record({
    height: u64,
    parentHash: bytes32,
    timestamp: u64,
    chainRef: u64,
    orderIds: fc.array(bytes32, { maxLength: 20 }),
  }),
  validRound: fc.integer({ min: -1, max: 1000 }),
  proposer: address,
  signature,
})

const certificate = fc.record({
  height: u64,
  resultHash: bytes32,
  signatures: fc.array(fc.record({ validator: address, signature }), { maxLength: 10 }),
})

const keyShare = fc.record({ height: u64, index: u32, share: bytes32, validator: address, signature })

const orderCancel = fc.record({ trader: address, orderId: bytes32, signature })

// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous table of codecs and their arbitraries
const cases: [string, Codec<any>, fc.Arbitrary<any>][] = [
  ['SealedOrder', sealedOrderCodec, sealedOrder],
  ['OrderCancel', orderCancelCodec, orderCancel],
  ['Vote', voteCodec, vote],
  ['BatchProposal', batchProposalCodec, proposal],
  ['BatchCertificate', batchCertificateCodec, certificate],
  ['KeyShare', keyShareCodec, keyShare],
]

function onlyCodedErrors(f: () => unknown): void {
  try {
    f()
  } catch (e) {
    if (!(e instanceof AllotError) || !/^WIRE_/.test(e.code)) throw e
  }
}

describe('wire encoding', () => {
  for (const [name, codec, arb] of cases) {
    it(`${name}: decode(encode(x)) == x, and encoding is deterministic`, () => {
      fc.assert(
        fc.property(arb, (x) => {
          const bytes = encode(codec, x)
          expect(decode(codec, bytes)).toEqual(x)
          expect(encode(codec, decode(codec, bytes))).toEqual(bytes)
        }),
        { seed: SEED, numRuns: 200 },
      )
    })

    it(`${name}: random and mutated bytes fail only with a coded error`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512 }), (junk) => onlyCodedErrors(() => decode(codec, junk))),
        { seed: SEED, numRuns: 300 },
      )
      fc.assert(
        fc.property(
          arb,
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
          fc.nat({ max: 16 }),
          (x, pos, byte, cut) => {
            const bytes = encode(codec, x)
            const mutated = bytes.slice()
            mutated[pos % mutated.length] = byte
            onlyCodedErrors(() => decode(codec, mutated))
            onlyCodedErrors(() => decode(codec, bytes.subarray(0, Math.max(0, bytes.length - 1 - cut))))
          },
        ),
        { seed: SEED, numRuns: 300 },
      )
    })
  }

  it('rejects trailing bytes, oversize input and non-canonical integers with their codes', () => {
    const v = {
      type: 'prevote' as const,
      height: 1n,
      round: 0,
      valueHash: null,
      validator: `0x${'11'.repeat(20)}` as Hex,
      signature: { r: `0x${'22'.repeat(32)}` as Hex, s: `0x${'33'.repeat(32)}` as Hex, v: 27 },
    }
    const bytes = encode(voteCodec, v)
    const withTrailer = new Uint8Array([...bytes, 0])
    expect(() => decode(voteCodec, withTrailer)).toThrow(/WIRE_TRAILING_BYTES/)
    expect(() => decode(voteCodec, bytes, bytes.length - 1)).toThrow(/WIRE_TOO_LARGE/)
    // a u256 nonce with a leading zero byte is refused (one value, one encoding)
    const sealed = {
      trader: `0x${'11'.repeat(20)}` as Hex,
      batch: 1n,
      nonce: 5n,
      payload: {
        kind: 'sealed' as const,
        ephemeralKey: `0x02${'44'.repeat(32)}` as Hex,
        ciphertext: '0x00' as Hex,
      },
      signature: v.signature,
    }
    const enc = encode(sealedOrderCodec, sealed)
    // nonce sits after trader (20) and batch (8): length byte 1, value 5 → rewrite as length 2, 0x00 0x05
    expect(enc[28]).toBe(1)
    const nonCanonical = new Uint8Array([...enc.subarray(0, 28), 2, 0, 5, ...enc.subarray(30)])
    expect(() => decode(sealedOrderCodec, nonCanonical)).toThrow(/WIRE_MALFORMED/)
  })

  it('the order id is the hash of the whole signed envelope: a new signature or payload is a new id', () => {
    fc.assert(
      fc.property(sealedOrder, bytes32, (o, r) => {
        const other = { ...o, signature: { ...o.signature, r } }
        fc.pre(r !== o.signature.r)
        expect(orderIdOf(other)).not.toBe(orderIdOf(o))
      }),
      { seed: SEED, numRuns: 100 },
    )
  })
})
