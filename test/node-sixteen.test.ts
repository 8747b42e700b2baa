import { AllotClient } from '@allot/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, connectRing, testGenesis, traderKey, waitFor, waitForMesh } from './node-fixtures.js'

describe('16 nodes on loopback', () => {
  const cluster = new Cluster(testGenesis({ networkId: 'sixteen' }))
  let client: AllotClient

  beforeAll(async () => {
    for (let i = 0; i < 16; i++) await cluster.add()
    // A sparse overlay (each node dials 3 others, so ≥ 6 links): orders must travel through the mesh.
    await connectRing(cluster.nodes, 3)
    await waitForMesh(cluster.nodes, 2, 40_000).catch((e) => {
      console.log(
        cluster.nodes.map((n) => `${n.host.getPeers().length}/${n.gossip.peersOn(n.ordersTopic)}`).join(' '),
      )
      throw e
    })
    client = await AllotClient.connect(cluster.nodes[5].apiAddrs()[0])
  }, 90_000)
  afterAll(async () => {
    await client?.close()
    await cluster.stopAll()
  })

  it('orders submitted to one node reach all sixteen mempools', { timeout: 60_000 }, async () => {
    const ids: `0x${string}`[] = []
    for (let i = 0; i < 24; i++) {
      const r = await client.submitOrder(
        { sell: 'TKA', sellAmount: 10n + BigInt(i), buy: 'TKB', buyAmount: 9n, nonce: BigInt(i) },
        traderKey(i % 6),
      )
      ids.push(r.orderId)
    }
    await waitFor(
      () => cluster.nodes.every((n) => ids.every((id) => n.mempool.has(id))),
      40_000,
      'orders on all 16',
    )
    for (const n of cluster.nodes) expect(n.mempool.size).toBe(24)
  })
})
