// The shortcuts intake takes for throughput must give exactly what the slow, obvious paths give.
import {
  decode,
  encode,
  encodeSealedOrder,
  type Hex,
  keccak256,
  orderIdOf,
  payloadHashOf,
  type SealedOrder,
  toHex,
} from '@allot/protocol'
import * as lp from 'it-length-prefixed'
import { describe, expect, it } from 'vitest'
import { batchedExists, payloadHashOfEnvelope, storedOrderBytes } from '../../../src/mempool/index.js'
import { lengthPrefixed } from '../../../src/network/index.js'
import { storedOrderCodec } from '../../../src/storage/index.js'

const hex = (n: number, byte: string): Hex => `0x${byte.repeat(n)}` as Hex
const sig = { r: hex(32, '11'), s: hex(32, '22'), v: 27 }

function plain(nonce: bigint): SealedOrder {
  return {
    trader: hex(20, 'ab'),
    batch: 5n,
    nonce,
    payload: {
      kind: 'plain',
      order: {
        order: {
          trader: hex(20, 'ab'),
          sellAsset: hex(32, '0a'),
          buyAsset: hex(32, '0b'),
          sellAmount: 10n ** 24n + nonce,
          buyAmount: 1n,
          kind: 'buy',
          partiallyFillable: false,
          firstBatch: 5n,
          lastBatch: 9n,
          nonce,
          app: hex(32, '00'),
        },
        signature: sig,
      },
    },
    signature: { ...sig, v: 28 },
  }
}

function sealedPayload(nonce: bigint, ciphertextBytes: number): SealedOrder {
  return {
    trader: hex(20, 'cd'),
    batch: 7n,
    nonce,
    payload: { kind: 'sealed', ephemeralKey: hex(33, '02'), ciphertext: hex(ciphertextBytes, 'ee') },
    signature: sig,
  }
}

describe('intake fast paths', () => {
  it('hashes the payload and the id straight from the envelope bytes', () => {
    // Nonces of every u256 length (0 to 32 bytes) move the payload's offset.
    const nonces = [0n, 1n, 255n, 256n, 2n ** 64n, 2n ** 255n + 12345n]
    const orders = [
      ...nonces.map(plain),
      ...nonces.map((n) => sealedPayload(n, 200)),
      sealedPayload(3n, 4096),
      sealedPayload(4n, 0),
    ]
    for (const o of orders) {
      const bytes = encodeSealedOrder(o)
      expect(payloadHashOfEnvelope(bytes)).toBe(payloadHashOf(o))
      expect(toHex(keccak256(bytes))).toBe(orderIdOf(o))
    }
  })

  it('writes a stored order exactly as storedOrderCodec does', () => {
    for (const [o, local, at] of [
      [plain(1n), true, 0],
      [sealedPayload(2n, 300), false, 1_700_000_000_123],
    ] as const) {
      const bytes = encodeSealedOrder(o)
      const viaCodec = encode(storedOrderCodec, { envelope: toHex(bytes), local, receivedAt: BigInt(at) })
      expect(storedOrderBytes(bytes, local, at)).toEqual(viaCodec)
      expect(decode(storedOrderCodec, storedOrderBytes(bytes, local, at)).envelope).toBe(toHex(bytes))
    }
  })

  it('answers lookups of one macrotask with one getMany, in order, and passes failures on', async () => {
    const calls: string[][] = []
    const exists = batchedExists(async (ks: string[]) => {
      calls.push(ks)
      return ks.map((k) => (k.startsWith('yes') ? {} : undefined))
    })
    const answers = await Promise.all(['yes1', 'no1', 'yes2', 'no2'].map((k) => exists(k)))
    expect(answers).toEqual([true, false, true, false])
    expect(calls).toEqual([['yes1', 'no1', 'yes2', 'no2']])
    expect(await exists('yes3')).toBe(true)
    expect(calls).toHaveLength(2)

    const failing = batchedExists(async () => {
      throw new Error('disk gone')
    })
    await expect(Promise.all([failing('a'), failing('b')])).rejects.toThrow('disk gone')
  })

  it('frames requests as it-length-prefixed does, several to a chunk', async () => {
    const frames = [new Uint8Array(0), new Uint8Array(5).fill(1), new Uint8Array(300).fill(2)]
    const chunk = lengthPrefixed(frames)
    const expected = Buffer.concat(frames.map((f) => lp.encode.single(f).subarray()))
    expect(Buffer.from(chunk)).toEqual(expected)
    const back: Uint8Array[] = []
    for await (const f of lp.decode([chunk])) back.push(f.subarray())
    expect(back.map((b) => b.length)).toEqual([0, 5, 300])
  })
})
