// Issue 24, sync amplification: a 64-byte request can draw an answer of up to 8 MiB. Each peer has a
// budget of answer bytes per second besides its request rate (level in a temporary folder; no socket).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  addressOf,
  decode,
  encode,
  encodeSealedOrder,
  type Hex,
  type Order,
  orderIdOf,
  privateKeyFromHex,
  syncRequestCodec,
  syncResponseCodec,
} from '@allot/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { createSyncHandler, sealPlain } from '../../../src/api/index.js'
import { entryOf, Mempool } from '../../../src/mempool/index.js'
import { NodeStorage } from '../../../src/storage/index.js'

const domain = { chainId: 7n, verifyingContract: '0x5e77000000000000000000000000000000000001' as const }
const dirs: string[] = []
const stores: NodeStorage[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('sync answers per peer', () => {
  it('draw on a byte budget: past it API_RATE_LIMITED, refilled with time, per peer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allot-sync-'))
    dirs.push(dir)
    const storage = await NodeStorage.open(dir)
    stores.push(storage)
    const mempool = new Mempool(storage)
    const ids: Hex[] = []
    for (let i = 0; i < 20; i++) {
      const k = privateKeyFromHex(`0x${(i + 1).toString(16).padStart(64, '0')}`)
      const o: Order = {
        trader: addressOf(k),
        sellAsset: `0x${'0'.repeat(62)}aa`,
        buyAsset: `0x${'0'.repeat(62)}bb`,
        sellAmount: 10n,
        buyAmount: 9n,
        kind: 'sell',
        partiallyFillable: true,
        firstBatch: 1n,
        lastBatch: 1n,
        nonce: 1n,
        app: `0x${'0'.repeat(64)}`,
      }
      const s = sealPlain(domain, o, k)
      ids.push(orderIdOf(s))
      await mempool.add(entryOf(orderIdOf(s), s, encodeSealedOrder(s), false, 0))
    }
    let now = 0
    // 8 KiB of answers a second (and a bucket that holds one largest answer, 8 MiB, when full): start it
    // empty by spending it, then count.
    const handler = createSyncHandler(mempool, storage, {
      perPeerBytesPerSecond: 8 * 1024,
      perPeerPerSecond: 1_000_000, // the request count is not what is under test
      now: () => now,
    })
    const ask = async (peer: string) => {
      const r = decode(
        syncResponseCodec,
        await handler(encode(syncRequestCodec, { kind: 'ordersById', ids }), { peer }),
        8 * 1024 * 1024,
      )
      return r.kind === 'error' ? r.code : r.kind
    }
    // One answer's size (20 orders), then: the full bucket (8 MiB, one largest answer) serves ⌈8 MiB / size⌉.
    const size = (await handler(encode(syncRequestCodec, { kind: 'ordersById', ids }), { peer: 'probe' }))
      .length
    const drain = async (peer: string) => {
      let n = 0
      while ((await ask(peer)) === 'orders') n++
      return n
    }
    const served = await drain('greedy')
    expect(served).toBe(Math.ceil((8 * 1024 * 1024) / size))
    expect(await ask('greedy')).toBe('API_RATE_LIMITED')
    // Another peer is not affected.
    expect(await ask('polite')).toBe('orders')
    // A flood of fresh peer ids does not reset the greedy peer's spent budget.
    for (let i = 0; i < 5000; i++)
      await handler(encode(syncRequestCodec, { kind: 'orderIds', after: null, limit: 1 }), {
        peer: `sybil-${i}`,
      })
    expect(await ask('greedy')).toBe('API_RATE_LIMITED')
    // Two seconds later the greedy peer has 16 KiB more: about 16 KiB of answers, no more.
    now += 2000
    const again = await drain('greedy')
    expect(again).toBeGreaterThanOrEqual(Math.floor((16 * 1024) / size) - 1)
    expect(again).toBeLessThanOrEqual(Math.ceil((16 * 1024) / size) + 1)
  })
})
