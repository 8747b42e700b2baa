// Intake: orders/s one node (its own process) accepts over the p2p API from this process, beside the
// ceiling — secp256k1 recoveries/s on the cores the node has, with the fastest backend (libsecp256k1
// native addon) and with noble, measured in this run. A plain-payload order costs 2 recoveries
// (envelope + inner order), a sealed one 1: the order ceiling is given for both.
// BENCH_CPU_PROF=<dir> writes a --cpu-prof profile of the node process there.
import '@allot/protocol/polyfill'
import { availableParallelism } from 'node:os'
import { keccak256, privateKeyFromHex, signDigest } from '@allot/protocol'
import { AllotClient } from '../src/api/index.js'
import { createWorkerVerifier, type RecoveryJob } from '../src/mempool/index.js'
import { benchGenesis, makeOrders, NodeProcess } from './support.js'

const cores = availableParallelism()
const N = Number(process.env.INTAKE_ORDERS ?? 6000)

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

const nativeRate = await recoveriesPerSecond('native', 60_000)
const nobleRate = await recoveriesPerSecond('noble', 3_000)
const orders = makeOrders(N, 32)

const node = NodeProcess.spawn(
  { genesis: benchGenesis('intake'), threads: cores, backend: 'native' },
  process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [],
)
let client: AllotClient | undefined
try {
  const { addr } = await node.call<{ addr: string }>('info')
  client = await AllotClient.connect(addr, { deadlineMs: 30_000 })
  await Promise.all(orders.slice(0, 200).map((o) => client?.submit(o))) // warm up
  const rest = orders.slice(200)
  const cpu0 = await node.call<{ cpuUs: number }>('cpu')
  const me0 = process.cpuUsage()
  const t0 = performance.now()
  let next = 0
  const lanes = Array.from({ length: 32 }, async () => {
    while (next < rest.length) await client?.submit(rest[next++])
  })
  await Promise.all(lanes)
  const secs = (performance.now() - t0) / 1000
  const rate = rest.length / secs
  const me = process.cpuUsage(me0)
  const nodeUs = ((await node.call<{ cpuUs: number }>('cpu')).cpuUs - cpu0.cpuUs) / rest.length
  const clientUs = (me.user + me.system) / rest.length
  const info = await client.info()
  if (info.mempoolSize !== N) throw new Error(`mempool holds ${info.mempoolSize}, expected ${N}`)
  console.log(`cores: ${cores}`)
  console.log(
    `ceiling: secp256k1 recoveries/s on ${cores} cores — native libsecp256k1 ${nativeRate.toFixed(0)}/s, noble ${nobleRate.toFixed(0)}/s`,
  )
  console.log(
    `ceiling in orders/s (native): plain payload (2 recoveries) ${(nativeRate / 2).toFixed(0)}/s, sealed (1) ${nativeRate.toFixed(0)}/s`,
  )
  console.log(
    `intake over the p2p API (plain payloads, ${rest.length} orders, 32 in flight): ${rate.toFixed(0)} orders/s = ${((100 * rate) / (nativeRate / 2)).toFixed(0)}% of the plain-order ceiling`,
  )
  // The client shares the cores: what each side spends per order says what the cores allow.
  console.log(
    `CPU per order (all threads): node ${nodeUs.toFixed(0)} µs, client ${clientUs.toFixed(0)} µs → the two together allow at most ${((cores * 1e6) / (nodeUs + clientUs)).toFixed(0)} orders/s on ${cores} cores; its 2 recoveries cost ${(2 * nativeCpuUs).toFixed(0)} µs of it`,
  )
} finally {
  await client?.close()
  await node.kill()
}
