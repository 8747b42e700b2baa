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

async function decide(h: bigint, ids: Hex[]): Promise<ClearingResult> {
  await pipeline.decided(
    { height: h, parentHash: `0x${'00'.repeat(32)}`, timestamp: 0n, chainRef: 1n, orderIds: [...ids].sort() },
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
  held.clear()
  pipeline = new BatchPipeline({
    genesis,
    domain,
    storage,
    mempool: new Mempool(storage),
    chain: {
      available: async (trader, asset) => available.get(`${trader.toLowerCase()} ${asset}`) ?? 0n,
      settledHeightAt: async () => 0n,
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
