// A node in its own process for the benchmarks, driven over IPC by bench/support.ts's NodeProcess.
import '@allot/protocol/polyfill'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeSealedOrder, encodeSealedOrder, orderIdOf, toHex } from '@allot/protocol'
import { multiaddr } from '@multiformats/multiaddr'
import { destination, pino } from 'pino'
import { parseGenesis } from '../src/config/index.js'
import { entryOf } from '../src/mempool/index.js'
import { createNodeMetrics, createRegistry } from '../src/metrics/index.js'
import { keepAlive } from '../src/network/index.js'
import { createNode } from '../src/node.js'

const metrics = createNodeMetrics(createRegistry(false))

const args = JSON.parse(process.env.BENCH_ARGS ?? '{}')
const dir = mkdtempSync(join(tmpdir(), 'allot-bench-'))
const arrivals = new Map<string, number>()
const raw = new Map<string, number>()
const RAW_TOPIC = '/allot/bench/raw/1'

const node = await createNode({
  genesis: parseGenesis(args.genesis),
  dataDir: dir,
  verifier: { threads: args.threads, backend: args.backend ?? 'native' },
  gossipBundleMs: args.bundleMs,
  onOrderAdded: args.track
    ? (e) => arrivals.set(e.id, performance.timeOrigin + performance.now())
    : undefined,
  syncOnConnect: false,
  metrics,
  logger: pino({ level: 'warn' }, destination(2)),
})
await node.start()
node.gossip.subscribe(RAW_TOPIC, {
  maxBytes: 1 << 20,
  validate: async (data) => data,
  handle: (data) =>
    raw.set(toHex(data.subarray(data.length - 16)), performance.timeOrigin + performance.now()),
})

async function handle(m: Record<string, unknown>): Promise<Record<string, unknown>> {
  switch (m.cmd) {
    case 'info':
      return { addr: node.apiAddrs()[0], peerId: node.peerId, pid: process.pid }
    case 'dial':
      await node.host.dial(multiaddr(m.addr as string))
      await keepAlive(node.host, [m.addr as string])
      return {}
    case 'topicPeers':
      return { orders: node.gossip.peersOn(node.ordersTopic), raw: node.gossip.peersOn(RAW_TOPIC) }
    case 'arrivals':
      // Counts only while polling: serialising thousands of timestamps every 100 ms costs CPU the
      // benchmark would charge to gossip.
      if (m.countOnly) return { arrivals: arrivals.size, raw: raw.size, size: node.mempool.size }
      return { arrivals: Object.fromEntries(arrivals), raw: Object.fromEntries(raw), size: node.mempool.size }
    case 'publishRaw': {
      const sent: Record<string, number> = {}
      const pending: Promise<number>[] = []
      for (const h of m.payloads as string[]) {
        const data = Buffer.from(h.slice(2), 'hex')
        sent[toHex(data.subarray(data.length - 16))] = performance.timeOrigin + performance.now()
        pending.push(node.gossip.publish(RAW_TOPIC, data))
        // As the API does: publish without waiting on each, but let the event loop breathe.
        if (pending.length % 32 === 0) await new Promise((r) => setImmediate(r))
      }
      await Promise.all(pending)
      return { sent }
    }
    case 'fill': {
      // Memory benchmark: holds n well-formed orders (added directly; their signatures are not the point here).
      const template = decodeSealedOrder(Buffer.from((m.template as string).slice(2), 'hex'))
      for (let i = 0; i < (m.n as number); i++) {
        const o = {
          ...template,
          nonce: BigInt(i + 1),
          trader: `0x${(i % 5000).toString(16).padStart(40, '0')}` as const,
        }
        const bytes = encodeSealedOrder(o)
        await node.mempool.add(entryOf(orderIdOf(o), o, bytes, i % 10 === 0, Date.now()))
      }
      await node.mempool.flush()
      globalThis.gc?.()
      await new Promise((r) => setTimeout(r, 200))
      globalThis.gc?.()
      return { size: node.mempool.size, rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed }
    }
    case 'verdicts':
      return {
        verdicts: (await metrics.network.gossip.get()).values.map(
          (v) => `${v.labels.topic} ${v.labels.verdict} ${v.labels.code} ${v.value}`,
        ),
      }
    case 'gossipState': {
      // Diagnostics: per peer, the outbound gossip stream's queue and status, the connection, the score.
      const ps = node.host.services.pubsub as unknown as {
        streamsOutbound: Map<
          string,
          { pushable: { readableLength: number }; rawStream: { status: string; writeStatus?: string } }
        >
        streamsInbound: Map<string, { rawStream: { status: string; readStatus?: string } }>
        getScore(id: string): number
      }
      const peers: Record<string, unknown>[] = []
      for (const c of node.host.getConnections()) {
        const id = c.remotePeer.toString()
        const o = ps.streamsOutbound.get(id)
        const i = ps.streamsInbound.get(id)
        peers.push({
          peer: id.slice(-6),
          conn: c.status,
          streams: c.streams.length,
          out: o && {
            queued: o.pushable.readableLength,
            status: o.rawStream.status,
            write: o.rawStream.writeStatus,
          },
          in: i && { status: i.rawStream.status, read: i.rawStream.readStatus },
          score: ps.getScore(id),
        })
      }
      return { self: node.peerId.slice(-6), peers }
    }
    case 'cpu': {
      // CPU this process used (all threads: user + system, µs) and its main thread's busy time (ms).
      const u = process.cpuUsage()
      return { cpuUs: u.user + u.system, mainMs: performance.eventLoopUtilization().active }
    }
    case 'rss':
      globalThis.gc?.()
      return { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed }
    default:
      throw new Error(`unknown command ${String(m.cmd)}`)
  }
}

process.on('message', (m: Record<string, unknown>) => {
  handle(m).then(
    (r) => process.send?.({ id: m.id, ...r }),
    (e) => process.send?.({ id: m.id, error: (e as Error).message }),
  )
})
const stop = async () => {
  await node.stop().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.once('disconnect', stop)
