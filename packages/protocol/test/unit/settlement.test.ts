import { encodeAbiParameters, keccak256, parseAbiParameters } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  type ClearingResult,
  encodeSettlementPayload,
  resourceAssetId,
  resultHashOf,
  SETTLEMENT_ABI_TYPES,
  toHex,
  tokenAssetId,
} from '../../src/index.js'

const A = tokenAssetId('0x1111111111111111111111111111111111111111')
const B = tokenAssetId('0x2222222222222222222222222222222222222222')
const R = resourceAssetId('gpu.h100-hour')
const [x, y] = [A, B].sort()

const result: ClearingResult = {
  height: 12n,
  prevHeight: 10n,
  chainRef: 99n,
  batchHash: `0x${'cd'.repeat(32)}`,
  assets: [x, y, R].sort() as `0x${string}`[],
  prices: [3n, 5n, 7n],
  fills: [
    {
      orderId: `0x${'01'.repeat(32)}`,
      order: {
        order: {
          trader: '0x3333333333333333333333333333333333333333',
          sellAsset: A,
          buyAsset: B,
          sellAmount: 100n,
          buyAmount: 50n,
          kind: 'sell',
          partiallyFillable: false,
          firstBatch: 12n,
          lastBatch: 12n,
          nonce: 1n,
          app: `0x${'00'.repeat(32)}`,
        },
        signature: { r: `0x${'aa'.repeat(32)}`, s: `0x${'0b'.repeat(32)}`, v: 28 },
      },
      sold: 100n,
      bought: 60n,
      fee: 1n,
    },
  ],
  leases: [
    {
      provider: '0x4444444444444444444444444444444444444444',
      consumer: '0x5555555555555555555555555555555555555555',
      resource: R,
      quantity: 3n,
      quoteAsset: B,
      payment: 21n,
    },
  ],
  penalties: [
    {
      trader: '0x6666666666666666666666666666666666666666',
      orderId: `0x${'02'.repeat(32)}`,
      evidence: {
        batch: 7n,
        payloadHash: `0x${'03'.repeat(32)}`,
        nonce: 9n,
        signature: { v: 28, r: `0x${'04'.repeat(32)}`, s: `0x${'05'.repeat(32)}` },
      },
    },
  ],
}

describe('settlement payload', () => {
  it('is exactly abi.encode(BatchSettlement), as viem encodes it', () => {
    const t = SETTLEMENT_ABI_TYPES
    const params = parseAbiParameters([
      `(uint64 height, uint64 prevHeight, uint64 chainRef, bytes32 batchHash, bytes32[] assets, uint256[] prices, ((${t.OrderData}) order, uint8 v, bytes32 r, bytes32 s, uint256 sold, uint256 bought, uint256 fee, uint16 sellIndex, uint16 buyIndex)[] fills, (${t.LeaseData})[] leases, (${t.PenaltyData})[] penalties)`,
    ])
    const f = result.fills[0]
    const idx = (a: string) => result.assets.indexOf(a as `0x${string}`)
    const viemBytes = encodeAbiParameters(params, [
      {
        height: result.height,
        prevHeight: result.prevHeight,
        chainRef: result.chainRef,
        batchHash: result.batchHash,
        assets: result.assets,
        prices: result.prices,
        fills: [
          {
            order: { ...f.order.order, kind: 0 },
            v: f.order.signature.v,
            r: f.order.signature.r,
            s: f.order.signature.s,
            sold: f.sold,
            bought: f.bought,
            fee: f.fee,
            sellIndex: idx(f.order.order.sellAsset),
            buyIndex: idx(f.order.order.buyAsset),
          },
        ],
        leases: result.leases,
        penalties: result.penalties.map((p) => ({
          trader: p.trader,
          orderId: p.orderId,
          batch: p.evidence.batch,
          payloadHash: p.evidence.payloadHash,
          nonce: p.evidence.nonce,
          ...p.evidence.signature,
        })),
      },
    ])
    expect(toHex(encodeSettlementPayload(result))).toBe(viemBytes)
    expect(resultHashOf(result)).toBe(keccak256(viemBytes))
  })
})
