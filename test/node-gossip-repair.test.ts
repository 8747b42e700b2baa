// Issue 25: an order that a forward missed must still reach every node. Deterministic: a 16-node ring
// where each node dials the next 2, so every node has 4 peers — gossipsub's Dlo: a mesh below it grafts
// every peer it can, so once the heartbeat has built the meshes no peer is left outside one (as in a
// 4-validator network) — and the entry node's four neighbours drop every forward they would make. The
// orders reach them (the entry node publishes to all its peers) and stop there unless something
// repairs the loss: gossipsub advertises (IHAVE) only to peers outside its mesh, and here there are none.
import type { AllotNode } from '@allot/node'
import { AllotClient } from '@allot/node'
import { afterEach, describe, expect, it } from 'vitest'
import { Cluster, connectRing, testGenesis, traderKey, waitFor, waitForFullMesh } from './node-fixtures.js'

const ENTRY = 5
/** Ring neighbours of ENTRY (i ± 1..2): they receive the entry node's publish and forward nothing. */
const FIRST_HOP = [3, 4, 6, 7]
/** Everyone else, two to four hops out. */
const FAR = [0, 1, 2, 8, 9, 10, 11, 12, 13, 14, 15]
/** gossipsub heartbeat of createHost (ms). */
const HEARTBEAT_MS = 700
/**
 * The repair's bound: a first-hop node advertises at its next heartbeat (≤ 1 interval), the far node
 * asks and gets the bundle (a round trip), validates it and forwards it through its own mesh (not
 * dropped); then up to three more hops of plain forwarding. Three heartbeats cover it with room for a busy machine.
 */
const REPAIR_BOUND_MS = 3 * HEARTBEAT_MS + 1_000

/** Makes a node drop every message gossipsub would forward (the loss under test). */
function dropForwards(node: AllotNode): void {
  const g = node.host.services.pubsub as unknown as { forwardMessage: (...a: unknown[]) => void }
  g.forwardMessage = () => {}
}

async function submitOrders(node: AllotNode, n: number): Promise<`0x${string}`[]> {
  const client = await AllotClient.connect(node.apiAddrs()[0])
  try {
    const ids: `0x${string}`[] = []
    for (let i = 0; i < n; i++) {
      const r = await client.submitOrder(
        { sell: 'TKA', sellAmount: 10n + BigInt(i), buy: 'TKB', buyAmount: 9n, nonce: BigInt(i) },
        traderKey(i % 6),
      )
      ids.push(r.orderId)
    }
    return ids
  } finally {
    await client.close()
  }
}

const missing = (nodes: AllotNode[], ids: string[]) =>
  nodes.flatMap((n, i) => (ids.every((id) => n.mempool.has(id as `0x${string}`)) ? [] : [i]))

async function ringOf16(gossipRepair: boolean): Promise<Cluster> {
  // syncOnConnect off: the only way an order travels here is gossip, which is what is under test.
  const cluster = new Cluster(testGenesis({ networkId: 'gossip-repair' }))
  for (let i = 0; i < 16; i++) await cluster.add({ gossipRepair, syncOnConnect: false })
  await connectRing(cluster.nodes, 2)
  await waitForFullMesh(cluster.nodes, 20_000)
  for (const i of FIRST_HOP) dropForwards(cluster.nodes[i])
  return cluster
}

describe('gossip repair in a 16-node ring whose first hop drops its forwards', () => {
  let cluster: Cluster | undefined
  afterEach(async () => {
    await cluster?.stopAll()
    cluster = undefined
  })

  it('without the repair, nodes two or more hops out never get the orders (the loss of issue 25)', {
    timeout: 60_000,
  }, async () => {
    cluster = await ringOf16(false)
    const ids = await submitOrders(cluster.nodes[ENTRY], 8)
    // The first hop has them (the entry node publishes to every peer)...
    await waitFor(
      () => FIRST_HOP.every((i) => missing([cluster!.nodes[i]], ids).length === 0),
      10_000,
      'first hop',
    )
    // ...and for as long as the repair would take, nobody further out does.
    await new Promise((r) => setTimeout(r, REPAIR_BOUND_MS))
    expect(missing(cluster.nodes, ids)).toEqual(FAR)
  })

  it(`with the repair, every order reaches all 16 nodes within ${REPAIR_BOUND_MS} ms`, {
    timeout: 60_000,
  }, async () => {
    cluster = await ringOf16(true)
    const ids = await submitOrders(cluster.nodes[ENTRY], 24)
    const t0 = Date.now()
    await waitFor(() => missing(cluster!.nodes, ids).length === 0, 20_000, 'orders on all 16')
    expect(Date.now() - t0).toBeLessThan(REPAIR_BOUND_MS)
    for (const n of cluster.nodes) expect(n.mempool.size).toBe(24)
  })
})
