// Intake: orders/s one node (its own process) accepts over the p2p API from this process, beside the
// ceiling — secp256k1 recoveries/s on the cores the node has, with the fastest backend (libsecp256k1
// native addon) and with noble, measured in this run. The orders are what a network carries: sealed
// (genesis sealing on), each encrypted to its batch's key PK_h and signed by its trader, built by the
// client before the timed part. A sealed order costs one recovery at intake, so the ceiling in
// orders/s is recoveries/s.
//
// This machine's speed drifts by a quarter and more within a minute (other tenants), so a ceiling
// measured once, a minute away from the intake it is compared with, makes the ratio a coin toss. The
// run is therefore in rounds: the ceiling, then 8,000 orders of intake, then the ceiling again, four
// times (the ceilings between rounds serve both neighbours); each round's intake is compared with the
// mean of the ceilings on either side, and the figure is the median round. Node and client are warmed
// first with 16,000 orders, 32 requests (their JITs settle: a node runs for days, and the first seconds
// of TurboFan compiling are not its steady state; after 13–16 requests the client still spent 12–15
// µs per order where it settles at 5–7). Orders go in `submitMany` requests as full as the API allows
// (API_LIMITS.maxSubmitManyOrders, 512; 8 in flight), and, to compare, as single `submit` requests
// (32 in flight). INTAKE_ORDERS (all rounds), INTAKE_ROUNDS, INTAKE_WARM, INTAKE_SINGLE_ORDERS,
// INTAKE_PER_REQUEST and INTAKE_IN_FLIGHT override the counts. BENCH_CPU_PROF=<dir> writes a
// --cpu-prof profile of the node process there.
import '@allot/protocol/polyfill'
import { availableParallelism } from 'node:os'
import { API_LIMITS, encodeSealedOrder, keccak256, privateKeyFromHex, signDigest } from '@allot/protocol'
import { AllotClient } from '../src/api/index.js'
import { createWorkerVerifier, type RecoveryJob } from '../src/mempool/index.js'
import { benchGenesis, makeSealedOrders, NodeProcess } from './support.js'

const cores = availableParallelism()
const N = Number(process.env.INTAKE_ORDERS ?? 32_000)
const ROUNDS = Number(process.env.INTAKE_ROUNDS ?? 4)
const SINGLE = Number(process.env.INTAKE_SINGLE_ORDERS ?? 2_000)
const WARM = Number(process.env.INTAKE_WARM ?? 16_000)
const MANY_IN_FLIGHT = Number(process.env.INTAKE_IN_FLIGHT ?? 8)
const PER_REQUEST = Number(process.env.INTAKE_PER_REQUEST ?? API_LIMITS.maxSubmitManyOrders)

const ceilingKey = privateKeyFromHex(`0x${'07'.repeat(32)}`)
const jobs: RecoveryJob[] = Array.from({ length: 256 }, (_, i) => {
  const digest = keccak256(new Uint8Array([i, i >> 8]))
  return { digest, signature: signDigest(digest, ceilingKey) }
})

/** A ceiling measurement: recoveries/s on all cores, and the CPU µs (all threads) each one costs. */
interface Ceiling {
  rate: number
  cpuUs: number
}

async function recoveries(backend: 'noble' | 'native', n: number): Promise<Ceiling> {
  const v = createWorkerVerifier({ threads: cores, backend, chunk: 64 })
  await v.recover(jobs) // warm up
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const rounds = Math.ceil(n / jobs.length)
  await Promise.all(Array.from({ length: rounds }, () => v.recover(jobs)))
  const rate = (rounds * jobs.length) / ((performance.now() - t0) / 1000)
  const c = process.cpuUsage(c0)
  await v.close()
  return { rate, cpuUs: (c.user + c.system) / (rounds * jobs.length) }
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

const noble = await recoveries('noble', 3_000)
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
/** One round: its intake and the ceilings measured just before and just after it. */
interface Round extends Run {
  before: Ceiling
  after: Ceiling
}
let client: AllotClient | undefined
let runs: { rounds: Round[]; s: Run } | undefined
try {
  const { addr } = await node.call<{ addr: string }>('info')
  const c = await AllotClient.connect(addr, { deadlineMs: 30_000 })
  client = c
  const expectAccepted = (outcomes: { kind: string }[]) => {
    const bad = outcomes.find((o) => o.kind !== 'submitted')
    if (bad) throw new Error(`refused: ${JSON.stringify(bad)}`)
  }
  /** `orders` in `submitMany` requests of PER_REQUEST orders, MANY_IN_FLIGHT at once. */
  const sendMany = async (orders: Uint8Array[]) => {
    let next = 0
    await Promise.all(
      Array.from({ length: MANY_IN_FLIGHT }, async () => {
        while (next < orders.length) {
          const request = orders.slice(next, next + PER_REQUEST)
          next += PER_REQUEST
          expectAccepted(await c.submitMany(request))
        }
      }),
    )
  }
  await sendMany(encoded.slice(0, WARM)) // warm up, as the timed part sends
  const many = encoded.slice(WARM, WARM + N)
  const single = all.slice(WARM + N)

  // submitMany in ROUNDS rounds, each between two ceiling measurements (the node idle while they run).
  const rounds: Round[] = []
  const perRound = Math.ceil(many.length / ROUNDS)
  let before = await recoveries('native', 20_000)
  for (let r = 0; r < ROUNDS; r++) {
    const part = many.slice(r * perRound, (r + 1) * perRound)
    const run = await timed(node, part.length, () => sendMany(part))
    const after = await recoveries('native', 20_000)
    rounds.push({ ...run, before, after })
    before = after
  }
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

  runs = { rounds, s }
} finally {
  await client?.close()
  await node.kill()
}

const { rounds, s } = runs as { rounds: Round[]; s: Run }
const ceilingOf = (r: Round) => (r.before.rate + r.after.rate) / 2
const ratio = (r: Round) => r.rate / ceilingOf(r)
const ratios = rounds.map(ratio).sort((a, b) => a - b)
const mid = Math.floor(ratios.length / 2)
const medianRatio = ratios.length % 2 === 1 ? ratios[mid] : (ratios[mid - 1] + ratios[mid]) / 2
const pct = (x: number) => `${(100 * x).toFixed(0)}%`
/** Orders/s the cores allow when node and client spend this much CPU per order. */
const allow = (nodeUs: number, clientUs: number) => (cores * 1e6) / (nodeUs + clientUs)
const sum = (f: (r: Round) => number) => rounds.reduce((a, r) => a + f(r), 0)
const orders = sum((r) => r.orders)
const secs = sum((r) => r.orders / r.rate)
const nodeUs = sum((r) => r.nodeUs * r.orders) / orders
const clientUs = sum((r) => r.clientUs * r.orders) / orders
const ceilings = [rounds[0].before, ...rounds.map((r) => r.after)]
const recoveryUs = ceilings.reduce((a, c) => a + c.cpuUs, 0) / ceilings.length
const ceilingMean = sum(ceilingOf) / rounds.length
console.log(`cores: ${cores}`)
console.log(
  `ceiling: secp256k1 recoveries/s on ${cores} cores — native libsecp256k1 ${ceilingMean.toFixed(0)}/s (the mean over the rounds; ${recoveryUs.toFixed(0)} µs of CPU each), noble ${noble.rate.toFixed(0)}/s`,
)
console.log(
  `orders: sealed, ${orderBytes} bytes, 32 traders, built and encoded before the timed part (${buildSecs.toFixed(1)} s); ceiling in sealed orders/s (1 recovery each) = recoveries/s; node and client warmed with ${WARM} orders`,
)
for (const [i, r] of rounds.entries())
  console.log(
    `  round ${i + 1}: ceiling ${r.before.rate.toFixed(0)}/s before, ${r.after.rate.toFixed(0)}/s after; intake ${r.rate.toFixed(0)} orders/s = ${pct(ratio(r))} of their mean; CPU per order: node ${r.nodeUs.toFixed(0)} µs, client ${r.clientUs.toFixed(0)} µs`,
  )
console.log(
  `intake over the p2p API, submitMany (${orders} orders in ${rounds.length} rounds, ${PER_REQUEST} per request, ${MANY_IN_FLIGHT} requests in flight): ${(orders / secs).toFixed(0)} orders/s; the median round = ${pct(medianRatio)} of its ceiling (rounds ${pct(ratios[0])}–${pct(ratios[ratios.length - 1])})`,
)
// The client shares the cores: what each side spends per order says what the cores allow.
console.log(
  `  CPU per order (all threads, all rounds): node ${nodeUs.toFixed(0)} µs, client ${clientUs.toFixed(0)} µs → the two together allow at most ${allow(nodeUs, clientUs).toFixed(0)} orders/s on ${cores} cores = ${pct(recoveryUs / (nodeUs + clientUs))} of the ceiling in CPU terms (one recovery: ${recoveryUs.toFixed(0)} µs)`,
)
console.log(
  `intake over the p2p API, single submit (${s.orders} orders, 32 in flight): ${s.rate.toFixed(0)} orders/s = ${pct(s.rate / ceilingMean)}; CPU per order: node ${s.nodeUs.toFixed(0)} µs, client ${s.clientUs.toFixed(0)} µs → ≤ ${allow(s.nodeUs, s.clientUs).toFixed(0)}/s`,
)
