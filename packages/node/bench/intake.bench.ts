// Intake: orders/s one node (its own process) accepts over the p2p API from this process, beside the
// ceiling — secp256k1 recoveries/s on the cores the node has, with the fastest backend (libsecp256k1
// native addon) and with noble, measured in this run. The orders are what a network carries: sealed
// (genesis sealing on), each encrypted to its batch's key PK_h and signed by its trader, built by the
// client before the timed part. A sealed order costs one recovery at intake, so the ceiling in
// orders/s is recoveries/s, measured before and after the intake runs. 32,000 orders (the node's steady
// state, not its warm-up) sent in `submitMany` requests (128 orders each, 8 in flight), and, to
// compare, as single `submit` requests (32 in flight). INTAKE_ORDERS, INTAKE_SINGLE_ORDERS,
// INTAKE_PER_REQUEST and INTAKE_IN_FLIGHT override the counts.
// BENCH_CPU_PROF=<dir> writes a --cpu-prof profile of the node process there.
import '@allot/protocol/polyfill'
import { availableParallelism } from 'node:os'
import { encodeSealedOrder, keccak256, privateKeyFromHex, signDigest } from '@allot/protocol'
import { AllotClient } from '../src/api/index.js'
import { createWorkerVerifier, type RecoveryJob } from '../src/mempool/index.js'
import { benchGenesis, makeSealedOrders, NodeProcess } from './support.js'

const cores = availableParallelism()
const N = Number(process.env.INTAKE_ORDERS ?? 32_000)
const SINGLE = Number(process.env.INTAKE_SINGLE_ORDERS ?? 2_000)
const WARM = 500
const MANY_IN_FLIGHT = Number(process.env.INTAKE_IN_FLIGHT ?? 8)
const PER_REQUEST = Number(process.env.INTAKE_PER_REQUEST ?? 128)

let nativeCpuUs = 0 // CPU µs per native recovery (all threads), from the ceiling run

async function recoveriesPerSecond(backend: 'noble' | 'native', n: number): Promise<number> {
  const v = createWorkerVerifier({ threads: cores, backend, chunk: 64 })
  const key = privateKeyFromHex(`0x${'07'.repeat(32)}`)
  const jobs: RecoveryJob[] = Array.from({ length: 256 }, (_, i) => {
    const digest = keccak256(new Uint8Array([i, i >> 8]))
    return { digest, signature: signDigest(digest, key) }
  })
  await v.recover(jobs) // warm up
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const rounds = Math.ceil(n / jobs.length)
  await Promise.all(Array.from({ length: rounds }, () => v.recover(jobs)))
  const rate = (rounds * jobs.length) / ((performance.now() - t0) / 1000)
  const c = process.cpuUsage(c0)
  if (backend === 'native') nativeCpuUs = (c.user + c.system) / (rounds * jobs.length)
  await v.close()
  return rate
}

interface Run {
  orders: number
  rate: number
  nodeUs: number
  clientUs: number
}

/** Times `send` over `orders`, with the CPU both processes spend on them. */
async function timed(node: NodeProcess, orders: number, send: () => Promise<void>): Promise<Run> {
  const cpu0 = await node.call<{ cpuUs: number }>('cpu')
  const me0 = process.cpuUsage()
  const t0 = performance.now()
  await send()
  const secs = (performance.now() - t0) / 1000
  const me = process.cpuUsage(me0)
  const cpu1 = await node.call<{ cpuUs: number }>('cpu')
  return {
    orders,
    rate: orders / secs,
    nodeUs: (cpu1.cpuUs - cpu0.cpuUs) / orders,
    clientUs: (me.user + me.system) / orders,
  }
}

const nativeRate = await recoveriesPerSecond('native', 60_000)
const nobleRate = await recoveriesPerSecond('noble', 3_000)
const b0 = performance.now()
const all = makeSealedOrders(WARM + N + SINGLE, 32, 7)
const buildSecs = (performance.now() - b0) / 1000
// A client encodes each order once, when it builds it; the timed part sends those bytes.
const encoded = all.map((o) => encodeSealedOrder(o))
const orderBytes = encoded[0].length

const node = NodeProcess.spawn(
  {
    genesis: { ...benchGenesis('intake'), sealing: { enabled: true } },
    threads: cores,
    backend: 'native',
  },
  process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [],
)
let client: AllotClient | undefined
let runs: { m: Run; s: Run } | undefined
try {
  const { addr } = await node.call<{ addr: string }>('info')
  const c = await AllotClient.connect(addr, { deadlineMs: 30_000 })
  client = c
  const expectAccepted = (outcomes: { kind: string }[]) => {
    const bad = outcomes.find((o) => o.kind !== 'submitted')
    if (bad) throw new Error(`refused: ${JSON.stringify(bad)}`)
  }
  expectAccepted(await c.submitMany(encoded.slice(0, WARM))) // warm up
  const many = encoded.slice(WARM, WARM + N)
  const single = all.slice(WARM + N)

  // submitMany: requests of PER_REQUEST orders, MANY_IN_FLIGHT at once.
  const m = await timed(node, many.length, async () => {
    let next = 0
    await Promise.all(
      Array.from({ length: MANY_IN_FLIGHT }, async () => {
        while (next < many.length) {
          const part = many.slice(next, next + PER_REQUEST)
          next += PER_REQUEST
          expectAccepted(await c.submitMany(part))
        }
      }),
    )
  })
  // single submits, 32 in flight.
  const s = await timed(node, single.length, async () => {
    let next = 0
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < single.length) await c.submit(single[next++])
      }),
    )
  })
  const info = await c.info()
  if (info.mempoolSize !== all.length)
    throw new Error(`mempool holds ${info.mempoolSize}, expected ${all.length}`)

  runs = { m, s }
} finally {
  await client?.close()
  await node.kill()
}

// The ceiling again, the node gone: this machine's speed drifts over a minute (other tenants), and
// the intake runs sit between the two measurements.
const nativeAfter = await recoveriesPerSecond('native', 60_000)
const ceiling = (nativeRate + nativeAfter) / 2
const { m, s } = runs as { m: Run; s: Run }
const pct = (r: number) => `${((100 * r) / ceiling).toFixed(0)}%`
const allow = (r: Run) => (cores * 1e6) / (r.nodeUs + r.clientUs)
console.log(`cores: ${cores}`)
console.log(
  `ceiling: secp256k1 recoveries/s on ${cores} cores — native libsecp256k1 ${ceiling.toFixed(0)}/s (the mean of ${nativeRate.toFixed(0)}/s before the intake runs and ${nativeAfter.toFixed(0)}/s after; ${nativeCpuUs.toFixed(0)} µs of CPU each), noble ${nobleRate.toFixed(0)}/s`,
)
console.log(
  `orders: sealed, ${orderBytes} bytes, 32 traders, built and encoded before the timed part (${buildSecs.toFixed(1)} s); ceiling in sealed orders/s (1 recovery each) = ${ceiling.toFixed(0)}/s`,
)
console.log(
  `intake over the p2p API, submitMany (${m.orders} orders, ${PER_REQUEST} per request, ${MANY_IN_FLIGHT} requests in flight): ${m.rate.toFixed(0)} orders/s = ${pct(m.rate)} of the ceiling`,
)
// The client shares the cores: what each side spends per order says what the cores allow.
console.log(
  `  CPU per order (all threads): node ${m.nodeUs.toFixed(0)} µs, client ${m.clientUs.toFixed(0)} µs → the two together allow at most ${allow(m).toFixed(0)} orders/s on ${cores} cores = ${pct(allow(m))} of the ceiling; its recovery costs ${nativeCpuUs.toFixed(0)} µs of it`,
)
console.log(
  `intake over the p2p API, single submit (${s.orders} orders, 32 in flight): ${s.rate.toFixed(0)} orders/s = ${pct(s.rate)}; CPU per order: node ${s.nodeUs.toFixed(0)} µs, client ${s.clientUs.toFixed(0)} µs → ≤ ${allow(s).toFixed(0)}/s`,
)
