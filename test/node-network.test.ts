import { AllotClient } from '@allot/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, connectRing, testGenesis, traderKey, waitFor, waitForMesh } from './node-fixtures.js'

describe('4 nodes on loopback: API intake, gossip, durable mempool, sync after restart', () => {
  const cluster = new Cluster(testGenesis())
  let client: AllotClient

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) await cluster.add()
    await connectRing(cluster.nodes, 3)
    await waitForMesh(cluster.nodes, 3)
    client = await AllotClient.connect(cluster.nodes[0].apiAddrs()[0])
  })
  afterAll(async () => {
    await client?.close()
    await cluster.stopAll()
  })

  it('orders submitted to one node reach all four mempools', async () => {
    const ids: string[] = []
    for (let i = 0; i < 20; i++) {
      const r = await client.submitOrder(
        { sell: 'TKA', sellAmount: BigInt(1000 + i), buy: 'TKB', buyAmount: 900n, nonce: BigInt(i) },
        traderKey(i % 4),
      )
      expect(r.status).toBe('pending')
      ids.push(r.orderId)
    }
    await waitFor(
      () => cluster.nodes.every((n) => ids.every((id) => n.mempool.has(id as `0x${string}`))),
      10_000,
      'orders everywhere',
    )
    const st = await client.status(ids[0] as `0x${string}`)
    expect(st.status).toBe('pending')
    const info = await client.info()
    expect(info.mempoolSize).toBe(20)
    expect(info.networkId).toBe('testnet')
    expect(info.peers).toBeGreaterThanOrEqual(3)
  })

  it('a restarted node keeps its mempool and catches up through sync', async () => {
    const victim = cluster.nodes[3]
    const dir = cluster.dirs[3]
    const before = victim.mempool.size
    await victim.stop()
    cluster.nodes.splice(3, 1)
    // Orders submitted while it is down: nobody re-broadcasts them; it must pull them.
    const missed: string[] = []
    for (let i = 0; i < 10; i++) {
      const r = await client.submitOrder(
        { sell: 'TKB', sellAmount: 500n, buy: 'TKA', buyAmount: 400n, nonce: BigInt(100 + i) },
        traderKey(5),
      )
      missed.push(r.orderId)
    }
    const back = await cluster.add({}, dir)
    expect(back.mempool.size).toBe(before)
    await connectRing([back, ...cluster.nodes.slice(0, 3)], 1)
    await waitFor(() => missed.every((id) => back.mempool.has(id as `0x${string}`)), 10_000, 'catch-up')
    await back.syncIdle()
    expect(back.mempool.size).toBe(before + 10)
  })

  it('a cancellation spreads like an order', async () => {
    const r = await client.submitOrder(
      { sell: 'TKA', sellAmount: 7n, buy: 'TKB', buyAmount: 7n, nonce: 999n },
      traderKey(7),
    )
    await waitFor(() => cluster.nodes.every((n) => n.mempool.has(r.orderId)), 10_000, 'order everywhere')
    const envelope = cluster.nodes[0].mempool.get(r.orderId)?.bytes as Uint8Array
    await client.cancel(r.orderId, traderKey(7))
    await waitFor(() => cluster.nodes.every((n) => !n.mempool.has(r.orderId)), 10_000, 'cancel everywhere')
    expect((await client.status(r.orderId)).status).toBe('cancelled')
    // A replay once the status is on disk (not only in memory) is still a duplicate: intake's
    // final-status filter flagged the id when the cancellation was written.
    for (const n of cluster.nodes) await n.mempool.flush()
    expect(cluster.nodes[0].mempool.finalStatus(r.orderId)).toBeUndefined()
    expect(await client.submitMany([envelope])).toMatchObject([{ kind: 'error', code: 'ORDER_DUPLICATE' }])
    expect(cluster.nodes[0].mempool.has(r.orderId)).toBe(false)
  })
})
