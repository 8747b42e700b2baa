import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BatchView, type Hex, keccak256, type OrderStatus, toHex } from '@allot/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeStorage } from '../../../src/storage/index.js'

const view = (h: bigint): BatchView => ({
  height: h,
  orderCount: 0,
  prices: [],
  fills: [],
  resultHash: null,
  signers: [],
  settlement: null,
})

describe('storage', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('keeps repositories apart, orders heights numerically, survives reopening, tells watchers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allot-st-'))
    dirs.push(dir)
    let s = await NodeStorage.open(dir)
    const seen: bigint[] = []
    s.on('finalized', (v) => seen.push(v.height))
    for (const h of [2n, 10n, 1n, 255n, 256n]) await s.recordFinalized(view(h))
    expect(seen).toEqual([2n, 10n, 1n, 255n, 256n])
    expect((await s.latestFinalized())?.height).toBe(256n)
    const hs: bigint[] = []
    for await (const [h] of s.results.entries({ gte: 2n, lte: 255n })) hs.push(h)
    expect(hs).toEqual([2n, 10n, 255n])
    const id = `0x${'ab'.repeat(32)}` as const
    await s.orderStatus.put(id, {
      orderId: id,
      status: 'cancelled',
      batch: 3n,
      filled: null,
      txHash: null,
      error: null,
    })
    expect(await s.orders.get(id)).toBeUndefined()
    await s.close()
    s = await NodeStorage.open(dir)
    expect((await s.orderStatus.get(id))?.status).toBe('cancelled')
    expect((await s.results.get(10n))?.height).toBe(10n)
    await s.close()
  })

  it('knows which orders may have a status: puts of this run, and what it finds when opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allot-st-'))
    dirs.push(dir)
    const id = (i: number, salt = 0) => toHex(keccak256(new Uint8Array([salt, i >> 8, i]))) as Hex
    const status = (orderId: Hex): OrderStatus => ({
      orderId,
      status: 'cancelled',
      batch: 3n,
      filled: null,
      txHash: null,
      error: null,
    })
    // a small filter (2^16 bits: 4,096 ids), so reopening over 12,000 statuses takes the resizing pass
    let s = await NodeStorage.open(dir, { statusFilterMinBits: 16 })
    expect(s.mayHaveStatus(id(0))).toBe(false)
    await s.orderStatus.put(id(0), status(id(0)))
    // flagged as soon as the write is prepared, before it lands
    const op = s.orderStatus.putOp(id(1), status(id(1)))
    expect(s.mayHaveStatus(id(1))).toBe(true)
    await s.write([op])
    const many = Array.from({ length: 12_000 }, (_, i) => id(i + 2))
    await s.write(many.map((k) => s.orderStatus.putOp(k, status(k))))
    await s.close()
    s = await NodeStorage.open(dir, { statusFilterMinBits: 16 })
    for (const k of [id(0), id(1), ...many]) expect(s.mayHaveStatus(k)).toBe(true)
    let maybes = 0
    for (let i = 0; i < 10_000; i++) if (s.mayHaveStatus(id(i, 1))) maybes++
    // at 2^16 bits these 12,002 ids would leave ≈ 10 % "maybe"; sized for them, ≈ 0.1 %
    expect(maybes).toBeLessThan(100)
    await s.close()
  })
})
