// Issue 19 at the pipeline (no chain, no socket: a stub chain view, level in a temporary folder).
// Point 8: every bad envelope of a batch carries its own penalty with its evidence, so one trader with
// several cannot make a certified result unsettleable. Point 9: the balance view of batch h+1 takes off
// the penalties of certified-unsettled batches, or h+1 spends a bond that h's penalty took (the
// contract then refuses h+1 with InsufficientBalance, and every later batch with it).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Address,
  addressOf,
  type ClearingResult,
  encodeSealedOrder,
  type Hex,
  type Order,
  orderDigest,
  orderIdOf,
  type PrivateKey,
  privateKeyFromHex,
  recoverAddress,
  resultHashOf,
  sealedOrderDigest,
  toHex,
} from '@allot/protocol'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sealPlain } from '../../../src/api/client.js'
import { BatchPipeline } from '../../../src/batch/index.js'
import { domainOf, type Genesis, parseGenesis } from '../../../src/config/index.js'
import { Mempool } from '../../../src/mempool/index.js'
import { NodeStorage } from '../../../src/storage/index.js'

const TKA: Address = '0x00000000000000000000000000000000000000aa'
const TKB: Address = '0x00000000000000000000000000000000000000bb'
const FEE = 100n
const key = (i: number): PrivateKey => privateKeyFromHex(`0x${(0x700 + i).toString(16).padStart(64, '0')}`)

const genesis: Genesis = parseGenesis({
  networkId: 'pipeline-funds',
  chainId: '31337',
  settlement: '0x5e77000000000000000000000000000000000001',
  genesisTime: 0,
  validators: [],
  batchIntervalMs: 1000,
  intakeCutoffMs: 100,
  inclusionGraceMs: 500,
  bond: { token: 'TKA', minBond: '1', invalidOrderFee: FEE.toString(), allowance: '1000' },
  feeBps: 0,
  maxOrdersPerBatch: 100,
  maxFillsPerBatch: 100,
  perTraderMaxOrdersPerBatch: 100,
  assets: [
    { symbol: 'TKA', kind: 'token', address: TKA, decimals: 18 },
    { symbol: 'TKB', kind: 'token', address: TKB, decimals: 18 },
  ],
  sealing: { enabled: false },
})
const domain = domainOf(genesis)
const [A, B] = genesis.assets.map((a) => a.id)

let dir: string
let storage: NodeStorage
let pipeline: BatchPipeline
/** Escrow on chain (as of every chainRef here: nothing settles during these tests). */
let available: Map<string, bigint>
/** On-chain invalidations: `trader digest` → block. */
let invalidations: Map<string, bigint>
/** Voided heights → the block of their BatchVoided. */
let voids: Map<bigint, bigint>
/** Envelopes peers hold, by id: the pipeline fetches decided orders it lacks from them. */
const held = new Map<Hex, Uint8Array>()
let nonce = 1n
const orders = new Map<Hex, Order>()

function envelope(k: PrivateKey, h: bigint, o: Partial<Order>): Hex {
  const order: Order = {
    trader: addressOf(k),
    sellAsset: A,
    buyAsset: B,
    sellAmount: 100n,
    buyAmount: 100n,
    kind: 'sell',
    partiallyFillable: true,
    firstBatch: h,
    lastBatch: h,
    nonce: nonce++,
    app: `0x${'00'.repeat(32)}`,
    ...o,
  }
  const sealed = sealPlain(domain, order, k)
  const id = orderIdOf(sealed)
  orders.set(id, order)
  held.set(id, encodeSealedOrder(sealed))
  return id
}

async function decide(h: bigint, ids: Hex[], chainRef = 1n): Promise<ClearingResult> {
  await pipeline.decided(
    { height: h, parentHash: `0x${'00'.repeat(32)}`, timestamp: 0n, chainRef, orderIds: [...ids].sort() },
    addressOf(key(99)),
  )
  // The result each validator computed and signed (kept in memory until certified).
  const r = await pipeline.resultAt(h)
  if (!r) throw new Error(`no result at ${h}`)
  return r.result
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'allot-pipeline-'))
  storage = await NodeStorage.open(join(dir, 'db'))
  available = new Map()
  invalidations = new Map()
  voids = new Map()
  held.clear()
  pipeline = new BatchPipeline({
    genesis,
    domain,
    storage,
    mempool: new Mempool(storage),
    chain: {
      available: async (trader, asset) => available.get(`${trader.toLowerCase()} ${asset}`) ?? 0n,
      // Nothing settles in these tests; a void consumes its height (the contract's lastHeight moves).
      settledHeightAt: async (c) => [...voids].reduce((m, [h, block]) => (block <= c && h > m ? h : m), 0n),
      voidedBetween: async (from, to) => [...voids].filter(([, b]) => b >= from && b <= to).map(([h]) => h),
      invalidatedAt: async (orders) =>
        orders.map((o) => invalidations.get(`${o.trader.toLowerCase()} ${o.digest}`) ?? 0n),
    },
    attest: async () => {},
    logger: pino({ level: 'silent' }),
    peers: {
      envelopes: async (ids) => ids.flatMap((id) => held.get(id) ?? []),
      certificate: async () => undefined,
    },
  })
  await pipeline.start()
})
afterEach(async () => {
  pipeline.stop()
  await storage.close()
  rmSync(dir, { recursive: true, force: true })
})

const fund = (k: PrivateKey, asset: Hex, amount: bigint) =>
  available.set(`${addressOf(k).toLowerCase()} ${asset}`, amount)

describe('penalties in the batch pipeline', () => {
  it('charges each bad envelope of one trader on its own, each with its signed envelope as evidence', async () => {
    const bad = key(1)
    fund(bad, A, 1000n)
    // Three envelopes of one trader in one batch, none fundable (no TKB, fill-or-kill beyond the balance).
    const ids = [
      envelope(bad, 1n, { sellAsset: B, buyAsset: A }),
      envelope(bad, 1n, { sellAsset: B, buyAsset: A, partiallyFillable: false }),
      envelope(bad, 1n, { sellAsset: A, buyAsset: B, sellAmount: 5000n, partiallyFillable: false }),
    ]
    const r = await decide(1n, ids)
    expect(r.penalties.map((p) => p.orderId).sort()).toEqual([...ids].sort())
    for (const p of r.penalties) {
      expect(p.evidence.batch).toBe(1n)
      const digest = sealedOrderDigest(domain, { trader: p.trader, ...p.evidence })
      expect(recoverAddress(digest, p.evidence.signature)).toBe(addressOf(bad).toLowerCase())
    }
  })

  it("the next batch's balance view takes off the bond that a certified-unsettled batch's penalty took", async () => {
    const t = key(2)
    const u = key(3)
    fund(t, A, 150n) // its bond: after batch 1's penalty of 100, 50 are left
    fund(u, B, 10_000n)
    // Batch 1: t's envelope it cannot fund (no TKB at all): penalised 100 of its TKA.
    const r1 = await decide(1n, [envelope(t, 1n, { sellAsset: B, buyAsset: A })])
    expect(r1.penalties.map((p) => p.trader)).toEqual([addressOf(t).toLowerCase()])
    // Batch 2, before batch 1 settles: t sells all the TKA it had, u buys it.
    const r2 = await decide(2n, [
      envelope(t, 2n, { sellAsset: A, buyAsset: B, sellAmount: 150n, buyAmount: 150n }),
      envelope(u, 2n, { sellAsset: B, buyAsset: A, sellAmount: 1000n, buyAmount: 150n }),
    ])
    const sold = r2.fills
      .filter((f) => f.order.order.trader.toLowerCase() === addressOf(t).toLowerCase())
      .reduce((s, f) => s + f.sold + f.fee, 0n)
    expect(sold).toBeGreaterThan(0n)
    expect(sold).toBeLessThanOrEqual(150n - FEE)
  })
})

describe('point 5: on-chain cancel', () => {
  it('leaves out an order its trader invalidated by the batch chainRef, and says it was cancelled', async () => {
    const t = key(4)
    const u = key(5)
    fund(t, A, 1000n)
    fund(u, B, 1000n)
    // Valid in several batches (a resting order): the kind the contract lets its trader invalidate.
    const cancelled = envelope(t, 1n, { sellAsset: A, buyAsset: B, lastBatch: 50n })
    const kept = envelope(u, 1n, { sellAsset: B, buyAsset: A })
    const o = orders.get(cancelled) as Order
    // Invalidated at block 1: the batch's chainRef (1) sees it.
    invalidations.set(`${addressOf(t).toLowerCase()} ${toHex(orderDigest(domain, o))}`, 1n)
    const r = await decide(1n, [cancelled, kept])
    expect(r.fills).toEqual([])
    await pipeline.certified({ height: 1n, resultHash: resultHashOf(r), signatures: [] })
    expect((await storage.orderStatus.get(cancelled))?.status).toBe('cancelled')
    expect((await storage.orderStatus.get(cancelled))?.error?.code).toBe('ORDER_INVALIDATED')
  })
})

describe('a batch voided on chain (issue 19, issue 20)', () => {
  it('gives its fills back to the remainders still open, and says so in the statuses', async () => {
    const t = key(6)
    const u = key(7)
    const v = key(8)
    fund(t, A, 1000n)
    fund(u, B, 1000n)
    fund(v, B, 1000n)
    // Batch 1: t's resting order (300 A, until batch 10) fills 100 against u's one-shot order.
    const resting = envelope(t, 1n, { sellAmount: 300n, buyAmount: 300n, lastBatch: 10n })
    const oneShot = envelope(u, 1n, { sellAsset: B, buyAsset: A, sellAmount: 100n, buyAmount: 100n })
    const r1 = await decide(1n, [resting, oneShot])
    expect(r1.fills.map((f) => f.sold)).toEqual([100n, 100n])
    await pipeline.certified({ height: 1n, resultHash: resultHashOf(r1), signatures: [] })
    // The contract voids batch 1 at block 5 (certified against a block before an escape): nothing moved.
    voids.set(1n, 5n)
    // Batch 2 sees the void (chainRef 5): t's order has all 300 again, and fills 300 against v.
    const r2 = await decide(
      2n,
      [envelope(v, 2n, { sellAsset: B, buyAsset: A, sellAmount: 300n, buyAmount: 300n })],
      5n,
    )
    const ofT = r2.fills.find((f) => f.order.order.trader.toLowerCase() === addressOf(t).toLowerCase())
    expect(ofT?.sold).toBe(300n)
    expect(r2.prevHeight).toBe(1n) // the voided height stays the one the next batch names
    await pipeline.certified({ height: 2n, resultHash: resultHashOf(r2), signatures: [] })
    expect((await storage.orderStatus.get(resting))?.status).toBe('filled')
    const u1 = await storage.orderStatus.get(oneShot)
    expect(u1?.status).toBe('unfilled')
    expect(u1?.error?.code).toBe('BATCH_VOIDED')
  })
})

describe('a trader who equivocates or splits its cap (issue 24)', () => {
  it('two envelopes of one nonce in a batch: the lower id is kept, the other refused and charged', async () => {
    const t = key(9)
    const u = key(10)
    fund(t, A, 1000n)
    fund(u, B, 1000n)
    const e1 = envelope(t, 1n, { sellAmount: 100n, buyAmount: 100n, nonce: 777n })
    const e2 = envelope(t, 1n, { sellAmount: 200n, buyAmount: 100n, nonce: 777n })
    const counter = envelope(u, 1n, { sellAsset: B, buyAsset: A, sellAmount: 300n, buyAmount: 100n })
    const [keep, drop] = [e1, e2].sort()
    const r = await decide(1n, [e1, e2, counter])
    const ofT = r.fills.filter((f) => f.order.order.trader.toLowerCase() === addressOf(t).toLowerCase())
    expect(ofT.map((f) => f.orderId)).toEqual([keep])
    expect(r.penalties.map((p) => p.orderId)).toEqual([drop])
    const digest = sealedOrderDigest(domain, { trader: r.penalties[0].trader, ...r.penalties[0].evidence })
    expect(recoverAddress(digest, r.penalties[0].evidence.signature)).toBe(addressOf(t).toLowerCase())
    expect((await storage.orderStatus.get(drop))?.error?.code).toBe('ORDER_NONCE_REUSED')
  })

  it('past the per-trader cap, the lowest ids are kept; the rest are refused, by the same rule everywhere', async () => {
    const { oneEnvelopePerNonce } = await import('../../../src/batch/pipeline.js')
    const mk = (id: number, trader: string, nonce: bigint) => ({
      id: `0x${id.toString(16).padStart(64, '0')}` as Hex,
      envelope: { trader: trader as Address, nonce },
    })
    const x = '0x00000000000000000000000000000000000000a1'
    const y = '0x00000000000000000000000000000000000000b2'
    const all = [mk(5, x, 1n), mk(1, x, 2n), mk(3, x, 3n), mk(2, y, 1n), mk(4, x, 2n), mk(6, y, 2n)]
    for (const order of [all, [...all].reverse()]) {
      const { kept, refused } = oneEnvelopePerNonce(order, 2)
      expect(kept.map((k) => Number(k.id))).toEqual([1, 2, 3, 6])
      expect(refused.map((r) => [Number(r.id), r.code])).toEqual([
        [4, 'ORDER_NONCE_REUSED'],
        [5, 'ORDER_RATE_LIMITED'],
      ])
    }
  })
})

describe('point 10: penalties count against the batch gas budget', () => {
  it('a batch carries only the penalties that fit in the gas its fills leave', async () => {
    const { maxPenaltiesFor, SETTLEMENT_GAS } = await import('../../../src/settlement/index.js')
    const w = SETTLEMENT_GAS.perFillWorst
    const p = SETTLEMENT_GAS.perPenalty
    expect(maxPenaltiesFor(189, 189)).toBe(0)
    expect(maxPenaltiesFor(0, 189)).toBe(Number((189n * w) / p))
    expect(maxPenaltiesFor(188, 189)).toBe(Number(w / p))
    // Whatever the split, fills at their worst plus the penalties stay within the fills' budget.
    for (let f = 0; f <= 189; f += 7)
      expect(BigInt(f) * w + BigInt(maxPenaltiesFor(f, 189)) * p).toBeLessThanOrEqual(189n * w)
  })
})
