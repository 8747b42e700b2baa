import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  addressOf,
  encodeSealedOrder,
  type Hex,
  type NetworkDomain,
  type Order,
  orderIdOf,
  type PrivateKey,
  privateKeyFromHex,
  type SealedOrder,
} from '@allot/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { orderStatusOf, sealPlain } from '../../../src/api/index.js'
import {
  createInlineVerifier,
  entryOf,
  GenesisBondReader,
  GenesisClockSchedule,
  Mempool,
  OrderIntake,
} from '../../../src/mempool/index.js'
import { NodeStorage } from '../../../src/storage/index.js'

const domain: NetworkDomain = { chainId: 7n, verifyingContract: '0x5e77000000000000000000000000000000000001' }
const A = `0x${'0'.repeat(62)}aa` as Hex
const B = `0x${'0'.repeat(62)}bb` as Hex
const key = (i: number): PrivateKey => privateKeyFromHex(`0x${(i + 1).toString(16).padStart(64, '0')}`)
const NOW = 1_700_000_000_000

function sealed(k: PrivateKey, batch: bigint, nonce: bigint, over: Partial<Order> = {}): SealedOrder {
  const o: Order = {
    trader: addressOf(k),
    sellAsset: A,
    buyAsset: B,
    sellAmount: 10n,
    buyAmount: 9n,
    kind: 'sell',
    partiallyFillable: false,
    firstBatch: batch,
    lastBatch: batch,
    nonce,
    app: `0x${'0'.repeat(64)}`,
    ...over,
  }
  return sealPlain(domain, o, k)
}

describe('schedule', () => {
  it('opens the first batch whose proposal is beyond the cut-off', () => {
    const s = new GenesisClockSchedule({
      genesisTime: 0,
      batchIntervalMs: 1000,
      intakeCutoffMs: 200,
      now: () => 0,
    })
    expect(s.openBatch(0)).toBe(1n)
    expect(s.openBatch(799)).toBe(1n)
    expect(s.openBatch(800)).toBe(2n) // batch 1 is proposed at 1000: closer than 200 ms
    expect(s.proposalTime(3n)).toBe(3000)
    expect(() => s.checkOpen(1n, 900)).toThrow(/ORDER_TARGET_CLOSED/)
    expect(() => s.checkOpen(200n, 900)).toThrow(/ORDER_BAD_BATCH/)
    s.checkOpen(2n, 900)
  })
})

describe('mempool and intake', () => {
  const dirs: string[] = []
  const stores: NodeStorage[] = []
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => {})
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  async function setup(maxOrders = 100, dir = mkdtempSync(join(tmpdir(), 'allot-mp-')), at = NOW) {
    dirs.push(dir)
    const storage = await NodeStorage.open(dir)
    stores.push(storage)
    const mempool = new Mempool(storage, { maxOrders })
    await mempool.load()
    const intake = new OrderIntake({
      rules: {
        domain,
        assets: new Set([A, B]),
        sealingEnabled: false,
        perTraderMaxOrdersPerBatch: 3,
        minBond: 5n,
      },
      schedule: new GenesisClockSchedule({
        genesisTime: NOW,
        batchIntervalMs: 1000,
        intakeCutoffMs: 100,
        now: () => at,
      }),
      mempool,
      verifier: createInlineVerifier(),
      bonds: new GenesisBondReader(10n, new Map([[addressOf(key(9)), 1n]])),
      knownFinal: async (ids) => (await storage.orderStatus.getMany(ids)).map((s) => s !== undefined),
      now: () => at,
    })
    return { storage, mempool, intake, dir }
  }

  it('takes valid orders, refuses with codes, and keeps them across a restart', async () => {
    const { mempool, intake, storage, dir } = await setup()
    const o = sealed(key(1), 1n, 1n)
    const a = await intake.submit(encodeSealedOrder(o), true)
    expect(a.orderId).toBe(orderIdOf(o))
    await expect(intake.submit(o, true)).rejects.toMatchObject({ code: 'ORDER_DUPLICATE' })
    await expect(intake.submit(sealed(key(1), 1n, 1n, { buyAmount: 1n }), true)).rejects.toMatchObject({
      code: 'ORDER_DUPLICATE',
    })
    await expect(intake.submit(sealed(key(9), 1n, 1n), true)).rejects.toMatchObject({
      code: 'ORDER_INSUFFICIENT_BOND',
    })
    await intake.submit(sealed(key(1), 1n, 2n), false)
    await intake.submit(sealed(key(1), 1n, 3n), false)
    await expect(intake.submit(sealed(key(1), 1n, 4n), false)).rejects.toMatchObject({
      code: 'ORDER_RATE_LIMITED',
    })
    await expect(intake.submit(new Uint8Array(5000), false)).rejects.toMatchObject({ code: 'WIRE_TOO_LARGE' })
    await expect(intake.submit(new Uint8Array([1, 2, 3]), false)).rejects.toMatchObject({
      code: 'WIRE_MALFORMED',
    })
    expect(mempool.size).toBe(3)
    expect(mempool.ordersForBatch(1n)).toHaveLength(3)
    expect(mempool.ordersForBatch(2n)).toHaveLength(0)
    // cancellation and its replay
    const { signDigest, cancelDigest } = await import('@allot/protocol')
    const cancel = {
      trader: addressOf(key(1)),
      orderId: a.orderId,
      signature: signDigest(cancelDigest(domain, { trader: addressOf(key(1)), orderId: a.orderId }), key(1)),
    }
    await intake.cancel(cancel)
    expect(mempool.has(a.orderId)).toBe(false)
    await expect(intake.cancel(cancel)).rejects.toMatchObject({ code: 'ORDER_DUPLICATE' })
    await expect(intake.submit(o, true)).rejects.toMatchObject({ code: 'ORDER_DUPLICATE' }) // replay after cancel
    await mempool.flush()
    await storage.close()
    stores.splice(0)
    const again = await setup(100, dir)
    expect(again.mempool.size).toBe(2)
    expect((await again.storage.orderStatus.get(a.orderId))?.status).toBe('cancelled')
    // expiry pruning
    expect(await again.mempool.pruneExpired(2n)).toBe(2)
    expect(again.mempool.size).toBe(0)
  })

  it('answers for a removed order while its final status is being written: no ORDER_NOT_FOUND, no replay', async () => {
    const { mempool, intake, storage } = await setup()
    const o = sealed(key(1), 1n, 1n)
    const { orderId } = await intake.submit(o, true)
    // The order leaves the mempool at once; its record goes to level with the next write. A status query
    // and a replay in that moment (their level reads start before the write) see the final status.
    const removing = mempool.remove([orderId], 'included', { batch: 1n })
    expect(mempool.has(orderId)).toBe(false)
    const status = orderStatusOf({ mempool, storage }, orderId)
    const replay = intake.submit(o, true)
    expect((await status).status).toBe('included')
    await expect(replay).rejects.toMatchObject({ code: 'ORDER_DUPLICATE' })
    await removing
    expect(mempool.finalStatus(orderId)).toBeUndefined()
    expect((await storage.orderStatus.get(orderId))?.status).toBe('included')
    expect((await orderStatusOf({ mempool, storage }, orderId)).status).toBe('included')
    await expect(intake.submit(o, true)).rejects.toMatchObject({ code: 'ORDER_DUPLICATE' })
  })

  it('an order its earlier batch did include (decided before a restart) leaves, its status kept', async () => {
    // The devnet crash drill: a validator died after batch 1 was decided with the order but before the
    // mempool heard of it; after the restart the pipeline wrote `filled`, and the next decision marked the
    // order, still held, `expired` (ORDER_MISSED_BATCH) over it.
    const { mempool, intake, storage } = await setup()
    const filled = await intake.submit(sealed(key(1), 1n, 1n), true)
    const pending = await intake.submit(sealed(key(2), 1n, 2n), true)
    const content = (ids: Hex[]) => ({
      height: 1n,
      parentHash: `0x${'00'.repeat(32)}` as Hex,
      timestamp: 1000n,
      chainRef: 0n,
      orderIds: ids,
    })
    await storage.batches.put(1n, content([filled.orderId, pending.orderId]))
    await storage.orderStatus.put(filled.orderId, {
      orderId: filled.orderId,
      status: 'filled',
      batch: 1n,
      filled: { sold: 1n, bought: 1n },
      txHash: null,
      error: null,
    })
    const r = await mempool.markDecided([], 2n)
    expect(r.missed).toEqual([])
    expect(mempool.has(filled.orderId) || mempool.has(pending.orderId)).toBe(false)
    await mempool.flush()
    expect((await storage.orderStatus.get(filled.orderId))?.status).toBe('filled')
    // one with no final status yet is recorded as included in its own batch (the pipeline's comes later)
    expect(await storage.orderStatus.get(pending.orderId)).toMatchObject({ status: 'included', batch: 1n })
  })

  it('ends an order its batch was decided without as expired, ORDER_MISSED_BATCH, at the decision', async () => {
    const { mempool, intake, storage } = await setup()
    const inA = await intake.submit(sealed(key(1), 1n, 1n), true)
    const missed = await intake.submit(sealed(key(2), 1n, 2n), true)
    const later = await intake.submit(sealed(key(3), 2n, 3n), true)
    const r = await mempool.markDecided([inA.orderId], 1n)
    expect(r.missed).toEqual([missed.orderId])
    expect((await orderStatusOf({ mempool, storage }, inA.orderId)).status).toBe('included')
    const s = await orderStatusOf({ mempool, storage }, missed.orderId)
    expect(s).toMatchObject({ status: 'expired', batch: 1n, error: { code: 'ORDER_MISSED_BATCH' } })
    expect(s.error?.message).toMatch(/batch 1 was decided without it: it reached the proposer too late/)
    // An order for a later batch waits for its own.
    expect(mempool.has(later.orderId)).toBe(true)
    await mempool.flush()
    expect((await storage.orderStatus.get(missed.orderId))?.error?.code).toBe('ORDER_MISSED_BATCH')
    // The prune timer never runs ahead of the decisions processed here: batch 2 is not decided yet.
    expect(await mempool.pruneExpired(10n)).toBe(0)
    expect(mempool.has(later.orderId)).toBe(true)
  })

  it('takes an order past its cut-off when a proposal names it, not when it is new', async () => {
    // 50 ms before batch 1 is proposed: closed for new orders (cut-off 100 ms), still the height at work.
    const { intake } = await setup(100, undefined, NOW + 950)
    const o = sealed(key(1), 1n, 1n)
    await expect(intake.submit(o, false)).rejects.toMatchObject({ code: 'ORDER_TARGET_CLOSED' })
    await expect(intake.submit(o, false, { referenced: true })).resolves.toMatchObject({
      orderId: expect.any(String),
    })
  })

  it('checks signatures before bonds: a stranger’s forged orders buy no chain read (issue 24)', async () => {
    const { intake } = await setup()
    const reads: string[] = []
    const bonds = (intake as unknown as { d: { bonds: { bondOf: (t: string) => bigint } } }).d.bonds
    const bondOf = bonds.bondOf.bind(bonds)
    bonds.bondOf = (t) => {
      reads.push(t)
      return bondOf(t)
    }
    // 8 orders each signed by another key than its trader's: refused for the signature, no bond read.
    const forged = Array.from({ length: 8 }, (_, i) => {
      const o = sealed(key(20 + i), 1n, 1n)
      const other = sealed(key(40 + i), 1n, 1n)
      return { ...o, signature: other.signature }
    })
    const out = await intake.submitMany(forged, false)
    expect(out.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'))).toEqual(
      Array(8).fill('ORDER_BAD_SIGNATURE'),
    )
    expect(reads).toEqual([])
    // A good one is read once.
    await intake.submit(sealed(key(30), 1n, 1n), false)
    expect(reads).toEqual([addressOf(key(30))])
  })

  it('a referenced order may not target a batch far past consensus (issue 24)', async () => {
    const { intake } = await setup(100, undefined, NOW + 950)
    // Consensus works on height 1: 64 ahead is still a proposal of a lagging peer, 66 is a planted order.
    await expect(intake.submit(sealed(key(2), 65n, 1n), false, { referenced: true })).resolves.toBeDefined()
    await expect(intake.submit(sealed(key(3), 66n, 1n), false, { referenced: true })).rejects.toMatchObject({
      code: 'ORDER_BAD_BATCH',
    })
  })

  it('a proposal’s order is taken past the nonce, the cap and the bond, a new one is not (issue 24)', async () => {
    const { intake, mempool } = await setup()
    // One nonce, two envelopes: the first is taken, the second refused when new, taken when referenced.
    const e1 = sealed(key(1), 1n, 7n)
    const e2 = sealed(key(1), 1n, 7n, { buyAmount: 8n })
    await intake.submit(e1, false)
    await expect(intake.submit(e2, false)).rejects.toMatchObject({ code: 'ORDER_DUPLICATE' })
    await intake.submit(e2, false, { referenced: true })
    expect(mempool.has(orderIdOf(e1)) && mempool.has(orderIdOf(e2))).toBe(true)
    // The same envelope twice is still a duplicate.
    await expect(intake.submit(e2, false, { referenced: true })).rejects.toMatchObject({
      code: 'ORDER_DUPLICATE',
    })
    // A third envelope of the nonce, new: still refused.
    await expect(intake.submit(sealed(key(1), 1n, 7n, { buyAmount: 7n }), false)).rejects.toMatchObject({
      code: 'ORDER_DUPLICATE',
    })
    // The cap (3): the trader already has 2 for batch 1; one more new, then refused; referenced past it.
    await intake.submit(sealed(key(1), 1n, 8n), false)
    await expect(intake.submit(sealed(key(1), 1n, 9n), false)).rejects.toMatchObject({
      code: 'ORDER_RATE_LIMITED',
    })
    await intake.submit(sealed(key(1), 1n, 9n), false, { referenced: true })
    expect(mempool.countFor(addressOf(key(1)).toLowerCase() as Hex, 1n)).toBe(4)
    // The bond (key 9 holds 1 < 5): refused when new, taken when a proposal names it.
    const poor = sealed(key(9), 1n, 1n)
    await expect(intake.submit(poor, false)).rejects.toMatchObject({ code: 'ORDER_INSUFFICIENT_BOND' })
    await intake.submit(poor, false, { referenced: true })
    // What stays objective for referenced orders: the signature, and a replay of a final status.
    const forged = { ...sealed(key(2), 1n, 1n), signature: sealed(key(3), 1n, 1n).signature }
    await expect(intake.submit(forged, false, { referenced: true })).rejects.toMatchObject({
      code: 'ORDER_BAD_SIGNATURE',
    })
    await mempool.remove([orderIdOf(e2)], 'included', { batch: 1n })
    await expect(intake.submit(e2, false, { referenced: true })).rejects.toMatchObject({
      code: 'ORDER_DUPLICATE',
    })
  })

  it('two envelopes of one nonce in one referenced fetch are both taken (issue 24)', async () => {
    const { intake, mempool } = await setup()
    const e1 = sealed(key(4), 1n, 7n)
    const e2 = sealed(key(4), 1n, 7n, { buyAmount: 8n })
    const out = await intake.submitMany([e1, e2], false, { referenced: true })
    expect(out.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled'])
    // new, in one request: the second is refused as before
    const f1 = sealed(key(5), 1n, 7n)
    const f2 = sealed(key(5), 1n, 7n, { buyAmount: 8n })
    const fresh = await intake.submitMany([f1, f2], false)
    expect(fresh.map((r) => r.status)).toEqual(['fulfilled', 'rejected'])
    expect(mempool.size).toBe(3)
  })

  it('evicts the furthest-expiring foreign orders first, never local ones', async () => {
    const { mempool, storage } = await setup(3)
    const add = (k: number, batch: bigint, local: boolean) => {
      const o = sealed(key(k), batch, BigInt(k))
      return mempool.add(entryOf(orderIdOf(o), o, encodeSealedOrder(o), local, NOW)).then(() => orderIdOf(o))
    }
    const local1 = await add(1, 5n, true)
    const far = await add(2, 9n, false)
    const near = await add(3, 2n, false)
    const local2 = await add(4, 7n, true) // full: evicts `far`
    expect(mempool.has(far)).toBe(false)
    expect([local1, near, local2].every((id) => mempool.has(id))).toBe(true)
    await expect(add(5, 8n, false)).rejects.toMatchObject({ code: 'ORDER_MEMPOOL_FULL' }) // no nearer foreign to evict
    const nearer = await add(6, 1n, false) // evicts `near` (expires later than it)
    expect(mempool.has(near)).toBe(false)
    expect(mempool.has(nearer)).toBe(true)
    await add(7, 3n, true) // a local order evicts the last foreign one
    await expect(add(8, 3n, true)).rejects.toMatchObject({ code: 'ORDER_MEMPOOL_FULL' }) // only local ones left
    await mempool.flush()
    let stored = 0
    for await (const _ of storage.orders.entries()) stored++
    expect(stored).toBe(3)
  })

  it('an order evicted by a later one of the same addMany is not left on disk', async () => {
    const { mempool, storage } = await setup(2)
    const entry = (k: number, batch: bigint, local: boolean) => {
      const o = sealed(key(k), batch, BigInt(k))
      return entryOf(orderIdOf(o), o, encodeSealedOrder(o), local, NOW)
    }
    const [foreign, local1, local2] = [entry(1, 9n, false), entry(2, 5n, true), entry(3, 5n, true)]
    // full after two: the third (local) evicts the foreign one stored a moment earlier in this batch
    expect(await mempool.addMany([foreign, local1, local2])).toEqual([null, null, null])
    expect(mempool.has(foreign.id)).toBe(false)
    await mempool.flush()
    const onDisk: string[] = []
    for await (const [id] of storage.orders.entries()) onDisk.push(id)
    expect(onDisk.sort()).toEqual([local1.id, local2.id].sort())
  })
})
