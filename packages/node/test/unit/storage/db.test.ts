import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BatchView } from '@allot/protocol'
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
})
