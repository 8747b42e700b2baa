// The shortcuts intake takes for throughput must give exactly what the slow, obvious paths give.
import {
  checkSignatureShape,
  decode,
  decodeSealedOrder,
  deterministicRng,
  encode,
  encodeSealedOrder,
  fromHex,
  type Hex,
  keccak256,
  orderIdOf,
  payloadHashOf,
  type SealedOrder,
  sealedOrderDigest,
  toHex,
} from '@allot/protocol'
import * as lp from 'it-length-prefixed'
import { describe, expect, it } from 'vitest'
import {
  batchedExists,
  envelopeDigester,
  payloadHashBytes,
  rawSignatureFault,
  readSealedEnvelope,
  screenedExists,
  signatureOf,
  storedOrderBytes,
} from '../../../src/mempool/index.js'
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
      expect(toHex(payloadHashBytes(bytes))).toBe(payloadHashOf(o))
      expect(toHex(keccak256(bytes))).toBe(orderIdOf(o))
    }
  })

  it('reads sealed envelopes in place exactly as decodeSealedOrder does, and defers everything else to it', () => {
    const nonces = [0n, 1n, 255n, 256n, 2n ** 48n - 1n, 2n ** 48n, 2n ** 64n, 2n ** 256n - 1n]
    const orders = [
      ...nonces.map((n) => sealedPayload(n, 336)),
      sealedPayload(3n, 4096),
      sealedPayload(4n, 0),
      {
        ...sealedPayload(5n, 10),
        payload: { kind: 'sealed' as const, ephemeralKey: '0x' as Hex, ciphertext: hex(3, 'aa') },
      },
      { ...sealedPayload(6n, 10), batch: 2n ** 64n - 1n, trader: hex(20, 'ff') },
      // batches either side of the largest read without BigInt arithmetic (2^53 - 1)
      { ...sealedPayload(7n, 10), batch: 2n ** 53n - 1n },
      { ...sealedPayload(8n, 10), batch: 2n ** 53n },
    ]
    for (const o of orders) {
      const bytes = encodeSealedOrder(o)
      const d = decodeSealedOrder(bytes)
      expect(readSealedEnvelope(bytes)).toEqual({ trader: d.trader, batch: d.batch, nonce: d.nonce })
    }
    // A plain payload is not read in place.
    expect(readSealedEnvelope(encodeSealedOrder(plain(1n)))).toBeNull()
    // Mutations (bytes changed, cut, added): read in place exactly when they decode to a sealed payload.
    const rnd = deterministicRng('envelope-mutations')
    const byte = () => Number(rnd(1)[0])
    const base = encodeSealedOrder(sealedPayload(77n, 40))
    let agreed = 0
    for (let i = 0; i < 4000; i++) {
      let m = base.slice()
      const what = byte() % 4
      if (what === 0) m[byte() % m.length] = byte()
      else if (what === 1) m[[28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39][byte() % 12]] = byte() % 40
      else if (what === 2) m = m.slice(0, byte() % m.length)
      else m = new Uint8Array([...m, byte()])
      let want: SealedOrder | null = null
      try {
        const d = decodeSealedOrder(m)
        if (d.payload.kind === 'sealed') want = d
      } catch {}
      const got = readSealedEnvelope(m)
      expect(got).toEqual(want && { trader: want.trader, batch: want.batch, nonce: want.nonce })
      if (want) agreed++
    }
    expect(agreed).toBeGreaterThan(100)
  })

  it('computes the envelope digest from the bytes as sealedOrderDigest does', () => {
    const domains = [
      { chainId: 31337n, verifyingContract: hex(20, '5e') },
      { chainId: 2n ** 200n, verifyingContract: hex(20, '01') },
    ]
    for (const domain of domains) {
      const digest = envelopeDigester(domain)
      for (const o of [
        plain(0n),
        plain(2n ** 255n),
        sealedPayload(1n, 336),
        sealedPayload(2n ** 70n, 4096),
      ]) {
        const want = sealedOrderDigest(domain, {
          trader: o.trader,
          batch: o.batch,
          payloadHash: payloadHashOf(o),
          nonce: o.nonce,
        })
        expect(toHex(digest(encodeSealedOrder(o)))).toBe(toHex(want))
      }
    }
  })

  it('checks a signature shape from its bytes as checkSignatureShape does', () => {
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
    const words = [0n, 1n, n / 2n - 1n, n / 2n, n / 2n + 1n, n - 1n, n, n + 1n, 2n ** 256n - 1n]
    const word = (x: bigint) => `0x${x.toString(16).padStart(64, '0')}` as Hex
    for (const r of words)
      for (const s of words)
        for (const v of [0, 26, 27, 28, 29]) {
          const sig = { r: word(r), s: word(s), v }
          let want: string | null = null
          try {
            checkSignatureShape(sig, 'X')
          } catch (e) {
            want = (e as Error).message.replace('X: ', '')
          }
          const raw = new Uint8Array([...fromHex(sig.r), ...fromHex(sig.s), v])
          expect(rawSignatureFault(raw)).toBe(want)
          expect(signatureOf(raw)).toEqual(sig)
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
    const [a, b] = await Promise.all([exists(['yes1', 'no1']), exists(['yes2', 'no2', 'no3'])])
    expect(a).toEqual([true, false])
    expect(b).toEqual([true, false, false])
    expect(calls).toEqual([['yes1', 'no1', 'yes2', 'no2', 'no3']])
    expect(await exists(['yes3'])).toEqual([true])
    expect(await exists([])).toEqual([])
    expect(calls).toHaveLength(2)

    const failing = batchedExists(async () => {
      throw new Error('disk gone')
    })
    await expect(Promise.all([failing(['a']), failing(['b'])])).rejects.toThrow('disk gone')
  })

  it('looks up only what the screen cannot rule out, and answers at once when it rules out all', async () => {
    const asked: string[][] = []
    const exists = screenedExists(
      (k: string) => k.startsWith('maybe'),
      async (ks: string[]) => {
        asked.push(ks)
        return ks.map((k) => k.endsWith('yes'))
      },
    )
    expect(exists(['no1', 'no2'])).toEqual([false, false]) // an array, not a promise
    expect(exists([])).toEqual([])
    expect(asked).toEqual([])
    expect(await exists(['no1', 'maybe-yes', 'no2', 'maybe-no', 'maybe2-yes'])).toEqual([
      false,
      true,
      false,
      false,
      true,
    ])
    expect(asked).toEqual([['maybe-yes', 'maybe-no', 'maybe2-yes']])
    const failing = screenedExists(
      () => true,
      async () => {
        throw new Error('disk gone')
      },
    )
    await expect(failing(['a'])).rejects.toThrow('disk gone')
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
