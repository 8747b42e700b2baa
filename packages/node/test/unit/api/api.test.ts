import {
  addressOf,
  decodeApiRequest,
  decodeApiResponse,
  encodeApiRequest,
  encodeApiResponse,
  type NodeInfo,
  privateKeyFromHex,
  recoverOrderSigner,
} from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { buildOrder, firstReachableBatch, sealPlain } from '../../../src/api/index.js'

const info: NodeInfo = {
  peerId: '12D3KooW',
  peers: 3,
  height: 4n,
  finalized: 3n,
  settled: 2n,
  openBatch: 5n,
  version: '0.1.0',
  networkId: 'unit',
  chainId: 7n,
  settlement: '0x5e77000000000000000000000000000000000001',
  rpcUrl: null,
  assets: [
    {
      symbol: 'TKA',
      kind: 'token',
      ref: '0x00000000000000000000000000000000000000aa',
      assetId: `0x${'0'.repeat(62)}aa`,
      decimals: 18,
    },
    {
      symbol: 'TKB',
      kind: 'token',
      ref: '0x00000000000000000000000000000000000000bb',
      assetId: `0x${'0'.repeat(62)}bb`,
      decimals: 18,
    },
  ],
  listenAddrs: [],
  mempoolSize: 0,
  sealing: false,
  batchIntervalMs: 1000,
  intakeCutoffMs: 200,
  submitMarginMs: 300,
  openBatchClosesInMs: 600,
  validators: [{ address: '0x0000000000000000000000000000000000000001', peerId: '12D3KooW' }],
}
const key = privateKeyFromHex(`0x${'42'.repeat(32)}`)

describe('API codecs and client checks', () => {
  it('round-trips requests and responses deterministically', () => {
    const order = sealPlain(
      { chainId: 7n, verifyingContract: info.settlement },
      buildOrder(info, { sell: 'TKA', sellAmount: 5n, buy: 'tkb', buyAmount: 4n, nonce: 1n }, addressOf(key)),
      key,
    )
    for (const r of [
      { kind: 'submit' as const, order },
      { kind: 'batch' as const, height: null },
      { kind: 'batch' as const, height: 3n },
      { kind: 'info' as const },
      { kind: 'watchBatches' as const },
    ]) {
      const b = encodeApiRequest(r)
      expect(decodeApiRequest(b)).toEqual(r)
      expect(encodeApiRequest(decodeApiRequest(b))).toEqual(b)
    }
    for (const r of [
      { kind: 'error' as const, code: 'ORDER_BAD_AMOUNT', message: 'x' },
      { kind: 'info' as const, info },
      { kind: 'submitted' as const, orderId: `0x${'01'.repeat(32)}` as const, targetBatch: 5n },
    ])
      expect(decodeApiResponse(encodeApiResponse(r))).toEqual(r)
  })

  it('targets the first batch it can reach with the node’s margin, never a closing one; +N after it', () => {
    // 600 ms left of batch 5, margin 300: batch 5 while 300 ms or more remain once the order arrives.
    expect(firstReachableBatch(info)).toBe(5n)
    expect(firstReachableBatch(info, 300)).toBe(5n)
    expect(firstReachableBatch(info, 301)).toBe(6n)
    expect(firstReachableBatch({ ...info, openBatchClosesInMs: 0 })).toBe(6n)
    // A client seconds late (a loaded machine) aims as many batches further, one per interval.
    expect(firstReachableBatch(info, 1300)).toBe(6n)
    expect(firstReachableBatch(info, 1301)).toBe(7n)
    expect(firstReachableBatch(info, 5000)).toBe(10n)
    const trader = addressOf(key)
    const spec = { sell: 'TKA', sellAmount: 5n, buy: 'TKB', buyAmount: 4n }
    expect(buildOrder(info, spec, trader).firstBatch).toBe(5n)
    expect(buildOrder(info, spec, trader, 450).firstBatch).toBe(6n)
    const plus2 = buildOrder(info, { ...spec, batchOffset: 2, validBatches: 3 }, trader, 450)
    expect([plus2.firstBatch, plus2.lastBatch]).toEqual([8n, 10n])
    expect(() => buildOrder(info, { ...spec, batch: 9n, batchOffset: 1 }, trader)).toThrow(/ORDER_BAD_BATCH/)
    expect(() => buildOrder(info, { ...spec, batchOffset: -1 }, trader)).toThrow(/ORDER_BAD_BATCH/)
    expect(() => buildOrder(info, { ...spec, batch: 4n }, trader)).toThrow(/ORDER_TARGET_CLOSED/)
  })

  it('builds orders for the first open batch, signed by the trader', () => {
    const o = buildOrder(
      info,
      {
        sell: 'TKA',
        sellAmount: 5n,
        buy: '0x00000000000000000000000000000000000000BB',
        buyAmount: 4n,
        validBatches: 3,
      },
      addressOf(key),
    )
    expect(o.firstBatch).toBe(5n)
    expect(o.lastBatch).toBe(7n)
    const s = sealPlain({ chainId: 7n, verifyingContract: info.settlement }, o, key)
    if (s.payload.kind !== 'plain') throw new Error('plain expected')
    expect(
      recoverOrderSigner({ chainId: 7n, verifyingContract: info.settlement }, o, s.payload.order.signature),
    ).toBe(addressOf(key))
  })

  it.each([
    [{ sell: 'XYZ', sellAmount: 5n, buy: 'TKB', buyAmount: 4n }, 'ORDER_UNKNOWN_ASSET'],
    [{ sell: 'TKA', sellAmount: 0n, buy: 'TKB', buyAmount: 4n }, 'ORDER_BAD_AMOUNT'],
    [{ sell: 'TKA', sellAmount: 1n << 256n, buy: 'TKB', buyAmount: 4n }, 'ORDER_BAD_AMOUNT'],
    [{ sell: 'TKA', sellAmount: 5n, buy: 'TKA', buyAmount: 4n }, 'ORDER_BAD_ASSET'],
    [{ sell: 'TKA', sellAmount: 5n, buy: 'TKB', buyAmount: 4n, batch: 2n }, 'ORDER_TARGET_CLOSED'],
    [{ sell: 'TKA', sellAmount: 5n, buy: 'TKB', buyAmount: 4n, validBatches: 0 }, 'ORDER_BAD_BATCH'],
  ])('refuses %o with %s before signing', (spec, code) => {
    expect(() => buildOrder(info, spec, addressOf(key))).toThrow(new RegExp(`^${code}`))
  })
})
