// Gossip: 4 nodes in separate processes on loopback, orders submitted over the API to one; orders/s
// that reach every mempool and p50/p99 time to reach all four, beside raw gossipsub throughput of
// the same payloads between 4 such processes (a topic whose validator accepts at once).
// Each measurement gets fresh processes (a second burst on the same hosts stalled in our runs — see docs/node.md).
import '@allot/protocol/polyfill'
import { encode, orderGossipCodec, orderIdOf, type SealedOrder } from '@allot/protocol'
import { AllotClient } from '../src/api/index.js'
import { benchGenesis, makeOrders, NodeProcess, percentile } from './support.js'

const N = Number(process.env.GOSSIP_ORDERS ?? 2000)

async function waitUntil(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out: ${what}`)
}

async function withCluster<T>(
  name: string,
  f: (nodes: NodeProcess[], addrs: string[]) => Promise<T>,
): Promise<T> {
  const genesis = benchGenesis(name)
  const nodes = Array.from({ length: 4 }, () =>
    NodeProcess.spawn({ genesis, threads: 1, backend: 'native', track: true }),
  )
  try {
    const infos = await Promise.all(nodes.map((n) => n.call<{ addr: string }>('info')))
    for (let i = 0; i < 4; i++)
      for (let j = i + 1; j < 4; j++) await nodes[i].call('dial', { addr: infos[j].addr })
    await waitUntil(
      async () =>
        (await Promise.all(nodes.map((n) => n.call<{ orders: number; raw: number }>('topicPeers')))).every(
          (p) => p.orders >= 3 && p.raw >= 3,
        ),
      30_000,
      'topic peers',
    )
    return await f(
      nodes,
      infos.map((i) => i.addr),
    )
  } finally {
    await Promise.all(nodes.map((n) => n.kill()))
  }
}

const stats = (lat: number[], start: number, end: number) => ({
  rate: lat.length / ((end - start) / 1000),
  p50: percentile(lat, 50),
  p99: percentile(lat, 99),
})

async function rawGossip(orders: SealedOrder[]) {
  return withCluster('raw', async (nodes) => {
    // Same payload size; first byte changed so these never collide with order messages' ids.
    const payloads = orders.map(
      (o) =>
        `0xff${Buffer.from(encode(orderGossipCodec, { kind: 'order', order: o }))
          .subarray(1)
          .toString('hex')}`,
    )
    const { sent } = await nodes[0].call<{ sent: Record<string, number> }>('publishRaw', { payloads })
    let got: Record<string, number>[] = []
    await waitUntil(
      async () => {
        got = (
          await Promise.all(nodes.slice(1).map((n) => n.call<{ raw: Record<string, number> }>('arrivals')))
        ).map((a) => a.raw)
        return got.every((a) => Object.keys(a).length >= orders.length)
      },
      120_000,
      'raw arrivals',
    )
    const keys = Object.keys(sent)
    const reached = keys.map((k) => Math.max(...got.map((a) => a[k])))
    return {
      ...stats(
        keys.map((k, i) => reached[i] - sent[k]),
        Math.min(...Object.values(sent)),
        Math.max(...reached),
      ),
      size: payloads[0].length / 2 - 1,
    }
  })
}

async function orderGossip(orders: SealedOrder[]) {
  return withCluster('orders', async (nodes, addrs) => {
    const ids = orders.map((o) => orderIdOf(o))
    const client = await AllotClient.connect(addrs[0], { deadlineMs: 60_000 })
    const sentAt = new Map<string, number>()
    try {
      let next = 0
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < orders.length) {
            const i = next++
            sentAt.set(ids[i], performance.timeOrigin + performance.now())
            await client.submit(orders[i])
          }
        }),
      )
    } finally {
      await client.close()
    }
    let got: Record<string, number>[] = []
    await waitUntil(
      async () => {
        got = (
          await Promise.all(nodes.map((n) => n.call<{ arrivals: Record<string, number> }>('arrivals')))
        ).map((a) => a.arrivals)
        return got.every((a) => ids.every((id) => a[id] !== undefined))
      },
      120_000,
      'orders in all mempools',
    )
    const reached = ids.map((id) => Math.max(...got.map((a) => a[id])))
    return stats(
      ids.map((id, i) => reached[i] - (sentAt.get(id) as number)),
      Math.min(...sentAt.values()),
      Math.max(...reached),
    )
  })
}

const orders = makeOrders(N, 32, 3)
const raw = await rawGossip(orders)
const ord = await orderGossip(orders)
console.log(`4 node processes, full mesh on loopback, ${N} plain-payload orders of ${raw.size} bytes`)
console.log(
  `raw gossipsub (no validation): ${raw.rate.toFixed(0)} msgs/s to all 3 peers; p50 ${raw.p50.toFixed(0)} ms, p99 ${raw.p99.toFixed(0)} ms`,
)
console.log(
  `orders via API + full intake on every node: ${ord.rate.toFixed(0)} orders/s in all 4 mempools; time to reach all: p50 ${ord.p50.toFixed(0)} ms, p99 ${ord.p99.toFixed(0)} ms`,
)
console.log('goal: ≥ 2000 orders/s with p99 < 250 ms')
