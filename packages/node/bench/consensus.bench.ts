import '@allot/protocol/polyfill'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addressOf, keccak256Hex, type PrivateKey, signDigest, voteDigest } from '@allot/protocol'
import { ConsensusService } from '../src/consensus/index.js'
import { recoverAddressFast } from '../src/crypto/index.js'
import { type AllotNode, createNode, parseGenesis } from '../src/index.js'

/**
 * Agreement latency: time from a batch's proposal (its timestamp, the proposer's clock — one machine, one
 * clock) to its certificate at each validator, for empty batches, with n validators as libp2p nodes in ONE
 * process on loopback (sharing this machine's cores). Beside it, the ceiling measured in the same run:
 * 3 loopback gossip delays + the batch's signature work (every validator checks n prevotes, n precommits,
 * n attestations and a proposal), serial on the one thread all validators share here.
 * Not yet measured: batches of 100 / 1,000 orders (intake, unsealing, solving) and separate processes.
 */
const BATCHES = Number(process.env.BENCH_BATCHES ?? 25)
// A connection torn down mid-handshake (nodes stopping, a loaded machine) surfaces as an uncaught libp2p
// error; it is not what this benchmark measures.
process.on('uncaughtException', (e) => console.error(`(ignored: ${e.name}: ${e.message})`))

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

async function run(n: number): Promise<void> {
  const keys: PrivateKey[] = [...Array(n).keys()].map((i) => new Uint8Array(32).fill(0x50 + i))
  const g = parseGenesis({
    networkId: 'bench',
    chainId: '31337',
    settlement: '0x5e77000000000000000000000000000000000001',
    genesisTime: Date.now(),
    validators: keys.map((k, i) => ({
      address: addressOf(k),
      peerId: `p${i}`,
      multiaddr: '/ip4/127.0.0.1/tcp/0',
    })),
    batchIntervalMs: 300,
    intakeCutoffMs: 100,
    inclusionGraceMs: 500,
    timeouts: { proposeMs: 2000, prevoteMs: 500, precommitMs: 500, deltaMs: 250, capMs: 4000 },
    bond: { token: 'TKA', minBond: '1', allowance: '1' },
    maxOrdersPerBatch: 1000,
    maxFillsPerBatch: 1000,
    perTraderMaxOrdersPerBatch: 100,
    assets: [{ symbol: 'TKA', kind: 'token', address: `0x${'aa'.repeat(20)}`, decimals: 18 }],
  })
  const dirs: string[] = []
  const nodes: AllotNode[] = []
  const services: ConsensusService[] = []
  const latencies: number[] = []
  let certified = 0
  try {
    for (let i = 0; i < n; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'allot-bench-'))
      dirs.push(dir)
      const node = await createNode({
        genesis: g,
        dataDir: dir,
        verifier: { threads: 1 },
        validatorKey: keys[i],
      })
      await node.start()
      nodes.push(node)
      const timestamps = new Map<bigint, number>()
      const service: ConsensusService = new ConsensusService(node, {
        validatorKey: keys[i],
        syncIdleMs: 1000,
        onDecided: (d) => {
          timestamps.set(d.height, Number(d.content.timestamp))
          void service.attest(d.height, keccak256Hex(new TextEncoder().encode(d.valueHash)))
        },
        onCertified: (c) => {
          const t = timestamps.get(c.height)
          // Skip the first heights: the mesh and JIT warm up.
          if (t !== undefined && c.height > 3n) latencies.push(Date.now() - t)
          if (i === 0) certified = Number(c.height)
        },
      })
      services.push(service)
    }
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) await nodes[i].host.dial(nodes[j].host.getMultiaddrs()[0])
    }
    // Loopback gossip delay, measured on the orders topic's mesh: publish → first delivery elsewhere.
    await new Promise((r) => setTimeout(r, 1500))
    const delays: number[] = []
    const topic = '/allot/bench/ping/1'
    let sent = 0
    for (const node of nodes) {
      node.gossip.subscribe(topic, {
        maxBytes: 64,
        validate: async (d) => d,
        handle: (d) => {
          const t = Number(new DataView(d.buffer, d.byteOffset).getFloat64(0))
          if (t === sent) delays.push(performance.now() - t)
        },
      })
    }
    await new Promise((r) => setTimeout(r, 1500))
    for (let k = 0; k < 30; k++) {
      const b = new Uint8Array(16)
      sent = performance.now()
      new DataView(b.buffer).setFloat64(0, sent)
      new DataView(b.buffer).setFloat64(8, k)
      await nodes[k % n].gossip.publish(topic, b).catch(() => 0)
      await new Promise((r) => setTimeout(r, 40))
    }
    for (const s of services) await s.start()
    const end = Date.now() + 90_000
    while (certified < BATCHES + 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 100))

    // Signature work per batch, measured now: one recovery of a vote digest.
    const digest = voteDigest(
      { chainId: 1n, verifyingContract: `0x${'11'.repeat(20)}` },
      {
        type: 'prevote',
        height: 1n,
        round: 0,
        valueHash: null,
      },
    )
    const sig = signDigest(digest, keys[0])
    const t0 = performance.now()
    for (let k = 0; k < 200; k++) recoverAddressFast(digest, sig)
    const recoverMs = (performance.now() - t0) / 200
    const checks = n * (3 * n + 1)
    // All validators share this process's one event loop: their checks are serial.
    const workMs = checks * recoverMs
    const delay = pct(delays, 50)
    const ceiling = 3 * delay + workMs
    const p50 = pct(latencies, 50)
    console.log(
      `n=${n}, empty batches, ${latencies.length} certificates: proposal→certificate p50 ${p50.toFixed(0)} ms, p99 ${pct(latencies, 99).toFixed(0)} ms` +
        ` | ceiling ${ceiling.toFixed(1)} ms = 3 × ${delay.toFixed(1)} ms gossip delay (p50 of ${delays.length}) + ${checks} signature checks × ${recoverMs.toFixed(3)} ms, one thread` +
        ` | ratio ${(p50 / ceiling).toFixed(2)}`,
    )
  } finally {
    for (const s of services) await s.stop().catch(() => {})
    for (const node of nodes) await node.stop().catch(() => {})
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
}

await run(4)
if (!process.env.ONLY4) await run(7)
process.exit(0)
