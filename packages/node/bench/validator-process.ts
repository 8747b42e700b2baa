// One validator in its own process for the agreement benchmark (bench/agreement.bench.ts): the node
// as `runNode` assembles it — consensus, sealing (an epoch dealt from a seed every process derives alike),
// the batch pipeline (unsealing, inner signatures, solving, attestation) — with a stub chain view (every
// trader funded) instead of anvil. Driven over IPC: `info`, `pings` (one-hop gossip delays seen here).
import '@allot/protocol/polyfill'
import { addressOf, dealEpoch, deterministicRng, privateKeyFromHex } from '@allot/protocol'
import { destination, pino } from 'pino'
import { parseGenesis } from '../src/config/index.js'
import { runNode } from '../src/run.js'

export const PING_TOPIC = '/allot/bench/ping/1'

interface Args {
  genesis: Record<string, unknown>
  /** Holds the peer key the parent created (so it knows our peer id). */
  dataDir: string
  key: string
  listen: string
  bootstrap: string[]
  epochSeed: string
  epochLength: number
}

const args = JSON.parse(process.env.BENCH_ARGS ?? '{}') as Args
const g = parseGenesis(args.genesis)
const key = privateKeyFromHex(args.key as `0x${string}`)
const sorted = g.validators.map((v) => v.address.toLowerCase()).sort()
const n = sorted.length
const dealt = dealEpoch({
  startHeight: 1n,
  length: args.epochLength,
  n,
  t: Math.floor((n - 1) / 3),
  rng: deterministicRng(args.epochSeed),
})
const dir = args.dataDir
const pings: number[] = []
const r = await runNode({
  genesis: g,
  dataDir: dir,
  listen: [args.listen],
  bootstrap: args.bootstrap,
  validatorKey: key,
  // Intake's signature checks on libsecp256k1, so that preloading the orders does not outlast the run.
  verifier: { threads: 1, backend: 'native' },
  sealingEpoch: { public: dealt.public, shares: dealt.shares[sorted.indexOf(addressOf(key))] },
  chainView: { available: async () => 10n ** 30n, settledHeightAt: async () => 0n },
  logger: pino({ level: process.env.BENCH_LOG ?? 'error' }, destination(2)),
})
r.node.gossip.subscribe(PING_TOPIC, {
  maxBytes: 64,
  validate: async (d) => d,
  handle: (d) => {
    // Sent with the sender's performance.timeOrigin + now(): one machine, one clock.
    const sent = new DataView(d.buffer, d.byteOffset).getFloat64(0)
    pings.push(performance.timeOrigin + performance.now() - sent)
  },
})

process.on('message', (m: { id: number; cmd: string }) => {
  const reply = (x: Record<string, unknown>) => process.send?.({ id: m.id, ...x })
  if (m.cmd === 'info') reply({ pid: process.pid, height: String(r.consensus?.height ?? 0n) })
  else if (m.cmd === 'pings') reply({ pings })
  else if (m.cmd === 'held') {
    // Orders held per target batch (for the heights asked), to check every validator got every order.
    const heights = (m as unknown as { heights: string[] }).heights
    reply({ held: heights.map((h) => r.node.mempool.ordersForBatch(BigInt(h)).length) })
  } else reply({ error: `unknown command ${m.cmd}` })
})
let stopping = false
// The batch pipeline's certificate timer can fire after the store closed (a shutdown-only race): not measured.
process.on('uncaughtException', (e) => {
  if (!stopping) throw e
})
const stop = async () => {
  stopping = true
  await r.stop().catch(() => {})
  process.exit(0)
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
process.once('disconnect', stop)
process.send?.({ id: 0, ready: true })
