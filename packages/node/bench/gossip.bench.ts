// Gossip: 4 nodes in separate processes on loopback, orders submitted over the API to one; orders/s
// that reach every mempool and p50/p99 time to reach all four, beside raw gossipsub throughput of
// the same payloads between the same 4 processes (a topic whose validator accepts at once).
// All bursts run on the same processes, one after another (raw, orders, a second orders burst):
// a later burst that never arrived was the connection monitor cutting busy peers (docs/node.md).
// Each burst also reports the CPU time every process spent per message (process.cpuUsage, all
// threads) and the rate those costs allow on the machine's cores: the ceiling arithmetic.
import '@allot/protocol/polyfill'
import { availableParallelism } from 'node:os'
import { encode, encodeSealedOrder, orderGossipCodec, orderIdOf, type SealedOrder } from '@allot/protocol'
import { AllotClient } from '../src/api/index.js'
import { benchGenesis, makeSealedOrders, NodeProcess, percentile } from './support.js'

const N = Number(process.env.GOSSIP_ORDERS ?? 2000)
const PER_REQUEST = Number(process.env.GOSSIP_PER_REQUEST ?? 32)
const IN_FLIGHT = Number(process.env.GOSSIP_IN_FLIGHT ?? 4)
/** Offered rate of the paced burst (orders/s), and its tick. */
const PACED_RATE = Number(process.env.GOSSIP_RATE ?? 1000)
const TICK_MS = Number(process.env.GOSSIP_TICK_MS ?? 10)
/** The nodes' `gossipBundleMs` (how long an accepted order may wait to share a bundle). */
const BUNDLE_MS = Number(process.env.GOSSIP_BUNDLE_MS ?? 0)

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
  // BENCH_PROF=<dir>: CPU profiles of node 0 (API + publisher) and node 1 (a receiver), written when they stop.
  const prof = (i: number) =>
    process.env.BENCH_PROF && i < 2 ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []
  const nodes = Array.from({ length: 4 }, (_, i) =>
    NodeProcess.spawn({ genesis, threads: 1, backend: 'native', track: true, bundleMs: BUNDLE_MS }, prof(i)),
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

const cores = availableParallelism()
type Cpu = { cpuUs: number }
/** CPU µs per message of each node process and of this (the submitting) process over `f`. */
async function cpuOf<T>(nodes: NodeProcess[], n: number, f: () => Promise<T>) {
  const before = await Promise.all(nodes.map((p) => p.call<Cpu>('cpu')))
  const me = process.cpuUsage()
  const value = await f()
  const mine = process.cpuUsage(me)
  const after = await Promise.all(
    nodes.map((p, i) => p.call<Cpu>('cpu').then((c) => c.cpuUs - before[i].cpuUs)),
  )
  const perNode = after.map((us) => us / n)
  const bench = (mine.user + mine.system) / n
  const total = perNode.reduce((a, b) => a + b, 0) + bench
  return { value, perNode, bench, total, ceiling: (cores * 1e6) / total }
}
const cpuLine = (c: { perNode: number[]; bench: number; total: number; ceiling: number }) =>
  `CPU µs per message: nodes ${c.perNode.map((x) => x.toFixed(0)).join(' / ')}, submitting process ${c.bench.toFixed(0)}; ` +
  `${c.total.toFixed(0)} µs in all → at most ${c.ceiling.toFixed(0)}/s on ${cores} cores`

type Counts = { arrivals: number; raw: number; size: number }
const counts = (nodes: NodeProcess[]) =>
  Promise.all(nodes.map((n) => n.call<Counts>('arrivals', { countOnly: true })))
const arrivalsOf = (nodes: NodeProcess[]) =>
  Promise.all(
    nodes.map((n) => n.call<{ arrivals: Record<string, number>; raw: Record<string, number> }>('arrivals')),
  )

/** Waits until every mempool has taken `target` orders since it started. */
const allArrived = (nodes: NodeProcess[], target: number) =>
  waitUntil(
    async () => (await counts(nodes)).every((x) => x.arrivals >= target),
    120_000,
    'orders in all mempools',
  )

/** Each order's time from its send to its arrival in the last of the four mempools, and the rate. */
async function deliveries(nodes: NodeProcess[], ids: string[], sentAt: Map<string, number>) {
  const got = (await arrivalsOf(nodes)).map((a) => a.arrivals)
  const reached = ids.map((id) => Math.max(...got.map((a) => a[id])))
  return stats(
    ids.map((id, i) => reached[i] - (sentAt.get(id) as number)),
    Math.min(...sentAt.values()),
    Math.max(...reached),
  )
}

/** Raw gossipsub: node 0 publishes the payloads; done once all three peers have every one. */
async function rawGossip(nodes: NodeProcess[], orders: SealedOrder[]) {
  // Same payload size; first byte changed so these never collide with order messages' ids.
  const payloads = orders.map(
    (o) =>
      `0xff${Buffer.from(encode(orderGossipCodec, { kind: 'order', order: o }))
        .subarray(1)
        .toString('hex')}`,
  )
  const target = (await counts(nodes))[1].raw + payloads.length
  const c = await cpuOf(nodes, orders.length, async () => {
    const r = await nodes[0].call<{ sent: Record<string, number> }>('publishRaw', { payloads })
    await waitUntil(
      async () => (await counts(nodes.slice(1))).every((x) => x.raw >= target),
      120_000,
      'raw arrivals',
    )
    return r.sent
  })
  const sent = c.value
  const got = (await arrivalsOf(nodes.slice(1))).map((a) => a.raw)
  const keys = Object.keys(sent)
  const reached = keys.map((k) => Math.max(...got.map((a) => a[k])))
  return {
    ...c,
    ...stats(
      keys.map((k, i) => reached[i] - sent[k]),
      Math.min(...Object.values(sent)),
      Math.max(...reached),
    ),
    size: payloads[0].length / 2 - 1,
  }
}

/** Sends the encoded orders through a client, calling `sent(from, to)` as each range goes out. */
type Sender = (
  client: AllotClient,
  encoded: Uint8Array[],
  sent: (from: number, to: number) => void,
) => Promise<void>

/**
 * Orders through node 0's API (encoded before the timed part, as a client holding signed orders would
 * send them) by `send`; done once all four mempools hold every one. An order's time starts when its
 * request is sent.
 */
async function orderGossip(nodes: NodeProcess[], addr: string, orders: SealedOrder[], send: Sender) {
  const ids = orders.map((o) => orderIdOf(o))
  const encoded = orders.map((o) => encodeSealedOrder(o))
  const target = (await counts(nodes))[0].arrivals + orders.length
  const client = await AllotClient.connect(addr, { deadlineMs: 60_000 })
  const sentAt = new Map<string, number>()
  const sent = (from: number, to: number) => {
    const at = performance.timeOrigin + performance.now()
    for (let i = from; i < to; i++) sentAt.set(ids[i], at)
  }
  const c = await cpuOf(nodes, orders.length, async () => {
    try {
      await send(client, encoded, sent)
    } finally {
      await client.close()
    }
    await allArrived(nodes, target)
  })
  return { ...c, ...(await deliveries(nodes, ids, sentAt)) }
}

function expectAccepted(outcomes: { kind: string }[]): void {
  const refused = outcomes.find((o) => o.kind !== 'submitted')
  if (refused) throw new Error(`refused: ${JSON.stringify(refused)}`)
}

/** Saturation: `submitMany` requests of PER_REQUEST, IN_FLIGHT at once, the next sent as one is answered. */
const saturating: Sender = async (client, encoded, sent) => {
  let next = 0
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < encoded.length) {
        const from = next
        next = Math.min(encoded.length, next + PER_REQUEST)
        sent(from, next)
        expectAccepted(await client.submitMany(encoded.slice(from, next)))
      }
    }),
  )
}

/**
 * A fixed offered rate (open loop): every TICK_MS one `submitMany` of the orders due, not waiting for
 * answers — latency at a known load rather than at saturation.
 */
const paced =
  (rate: number): Sender =>
  async (client, encoded, sent) => {
    const start = performance.now()
    const pending: Promise<void>[] = []
    let next = 0
    while (next < encoded.length) {
      const due = Math.min(encoded.length, Math.floor(((performance.now() - start) * rate) / 1000) + 1)
      if (due > next) {
        sent(next, due)
        pending.push(client.submitMany(encoded.slice(next, due)).then(expectAccepted))
        next = due
      }
      await new Promise((r) => setTimeout(r, TICK_MS))
    }
    await Promise.all(pending)
  }

const fmt = (r: { rate: number; p50: number; p99: number }) =>
  `${r.rate.toFixed(0)}/s; time to reach all: p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms`
const bursts = [3, 4, 5, 6].map((seed) => makeSealedOrders(N, 32, seed))
await withCluster('gossip', async (nodes, addrs) => {
  const raw = await rawGossip(nodes, bursts[0])
  console.log(`4 node processes, full mesh on loopback, ${N} sealed orders of ${raw.size} bytes per burst`)
  console.log(`raw gossipsub (no validation), to all 3 peers: ${fmt(raw)}`)
  console.log(`  ${cpuLine(raw)}`)
  for (const [i, orders] of bursts.slice(1, 3).entries()) {
    const ord = await orderGossip(nodes, addrs[0], orders, saturating)
    console.log(
      `orders via API (submitMany, ${PER_REQUEST} per request, ${IN_FLIGHT} in flight) + full intake on every node, burst ${i + 1} on the same processes: ${fmt(ord)} in all 4 mempools`,
    )
    console.log(`  ${cpuLine(ord)}`)
  }
  const atRate = await orderGossip(nodes, addrs[0], bursts[3], paced(PACED_RATE))
  console.log(
    `orders offered at ${PACED_RATE}/s (a submitMany every ${TICK_MS} ms, not waiting for answers): ${fmt(atRate)} in all 4 mempools`,
  )
  console.log(`  ${cpuLine(atRate)}`)
  // How many orders-topic messages carried them (bundles: docs/node.md "Gossip"), as node 1 counted.
  const v = await nodes[1].call<{ verdicts: string[] }>('verdicts')
  const accepted = v.verdicts
    .filter((l) => l.includes('/orders/') && l.includes(' accept '))
    .reduce((a, l) => a + Number(l.split(' ').pop()), 0)
  const orders = N * (bursts.length - 1)
  console.log(
    `orders-topic messages node 1 accepted: ${accepted} for ${orders} orders (${(orders / accepted).toFixed(1)} orders per message)`,
  )
})
console.log('goal: ≥ 2000 orders/s with p99 < 250 ms')
