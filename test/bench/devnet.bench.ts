/**
 * End to end on a 4-validator devnet (real processes, anvil, sealing on): a load generator keeps sealed
 * orders flowing through AllotClient into the validators' APIs at a fixed offered rate, many in flight,
 * each for the first open batch, half selling TKA and half TKB so that they cross. It measures
 *   - latency from `submitOrder` (before sealing) to the moment a finalized batch shows the order filled
 *     (the node's `watchBatches` stream), beside its floor, the batch interval; an order its batch was
 *     decided without (ORDER_MISSED_BATCH) is sealed again, as `placeOrder` does, and counts from its first try;
 *   - every acknowledged order's final status by reason, asked at the node that took it;
 *   - sustained throughput, orders filled and settled on chain per second of the run, beside the
 *     machine's crypto ceiling for a devnet that shares its cores: curve operations/s ÷ the curve
 *     operations each order costs (the client's sealing ECDH and two signatures; on each validator the
 *     envelope recovery, the unsealing ECDH and the inner recovery).
 * ALLOT_BENCH_RATE (orders/s offered, default 40) and ALLOT_BENCH_SECONDS (default 20) shape the load.
 */
import '@allot/protocol/polyfill'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AllotClient } from '@allot/node'
import { type Hex, type OrderStatus, privateKeyFromHex, signDigest } from '@allot/protocol'
import { ecdhFast, publicKeyFast, recoverAddressFast } from '../../packages/node/src/crypto/index.js'
import { devnetDown, devnetUp } from '../../packages/node/src/devnet/index.js'
import { fmt, opsPerSecond, reportAgainst } from '../../scripts/measure.js'

const RATE = Number(process.env.ALLOT_BENCH_RATE ?? 40)
const SECONDS = Number(process.env.ALLOT_BENCH_SECONDS ?? 20)
const MAX_IN_FLIGHT = 64
const BATCH_MS = 1000
const E18 = 10n ** 18n
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const dir = mkdtempSync(join(tmpdir(), 'allot-bench-'))
try {
  const d = await devnetUp({
    dir,
    validators: 4,
    batchMs: BATCH_MS,
    accounts: 4,
    chain: 'anvil',
    reset: false,
  })
  const clients = await Promise.all(d.nodes.map((n) => AllotClient.connect(n.api, { timeoutMs: 30_000 })))
  const keys = d.accounts.map((a) => privateKeyFromHex(a.privateKey))

  // Per envelope the node acknowledged: when its logical order was first handed to submitOrder, and which
  // node took it (its status is asked there: another node may never have held it).
  const startedAt = new Map<Hex, number>()
  const nodeOf = new Map<Hex, number>()
  const filledAt = new Map<Hex, number>()
  const heightOf = new Map<Hex, bigint>()
  const settledAt = new Map<bigint, number>()
  const failures = new Map<string, number>()
  /** The last envelope of each logical order (a re-sealed one replaces the one that missed its batch). */
  const finalIds: Hex[] = []
  let resealed = 0

  // Fills as the network finalizes them: one stream from one validator.
  const watch = new AbortController()
  let finalizedHeight = 0n
  const heightWaiters: { h: bigint; wake: () => void }[] = []
  const untilFinalized = (h: bigint) =>
    h <= finalizedHeight ? Promise.resolve() : new Promise<void>((wake) => heightWaiters.push({ h, wake }))
  // The stream is opened again if it fails (a loaded machine can time it out): waiters would wait forever.
  let watchRestarts = 0
  const watching = (async () => {
    while (!watch.signal.aborted) {
      const stream = await AllotClient.connect(d.nodes[3].api, { timeoutMs: 600_000 })
      try {
        for await (const b of stream.watchBatches(watch.signal)) {
          const now = performance.now()
          for (const f of b.fills) {
            if (!startedAt.has(f.orderId) || filledAt.has(f.orderId)) continue
            filledAt.set(f.orderId, now)
            heightOf.set(f.orderId, b.height)
          }
          if (b.height > finalizedHeight) finalizedHeight = b.height
          for (let k = heightWaiters.length - 1; k >= 0; k--)
            if (heightWaiters[k].h <= finalizedHeight) heightWaiters.splice(k, 1)[0].wake()
        }
      } catch {
        if (!watch.signal.aborted) watchRestarts++
      } finally {
        await stream.close().catch(() => {})
      }
    }
  })()

  // Settlement as it happens: each batch with our fills, polled until the node has seen it settled on chain.
  let polling = true
  const settling = (async () => {
    while (polling) {
      for (const h of new Set(heightOf.values())) {
        if (settledAt.has(h)) continue
        const b = await clients[0].batch(h).catch(() => undefined)
        if (b?.settlement) settledAt.set(h, performance.now())
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  })()

  // An acknowledged order is followed once a batch at or past its own is finalized: if its node says its
  // batch was decided without it (ORDER_MISSED_BATCH), it is sealed again for the next batch it can reach,
  // as `AllotClient.placeOrder` does (at most 3 times), and its latency still counts from the first attempt.
  const follow = async (id: Hex, target: bigint, n: number, resubmit: () => Promise<void>, tries: number) => {
    await Promise.race([untilFinalized(target), sleep(10 * BATCH_MS)])
    if (filledAt.has(id)) return
    // Its node decides the batch about when the stream shows it final; a node that lags is given a minute.
    let s: OrderStatus | undefined
    for (const until = Date.now() + 60_000; Date.now() < until; await sleep(250)) {
      s = await clients[n].status(id).catch(() => undefined)
      if (s && s.status !== 'pending') break
    }
    if (s?.status === 'expired' && s.error?.code === 'ORDER_MISSED_BATCH' && tries < 3) {
      resealed++
      await resubmit()
    }
  }
  const following: Promise<void>[] = []

  // The load: one order every 1/RATE s, up to MAX_IN_FLIGHT unacknowledged.
  let inFlight = 0
  const pending: Promise<void>[] = []
  const runStart = performance.now()
  const total = Math.round(RATE * SECONDS)
  for (let i = 0; i < total; i++) {
    const due = runStart + (i * 1000) / RATE
    const wait = due - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    while (inFlight >= MAX_IN_FLIGHT) await new Promise((r) => setTimeout(r, 1))
    const side = i % 2
    const amount = BigInt(1 + (i % 5)) * E18
    const spec =
      side === 0
        ? { sell: 'TKA', sellAmount: amount, buy: 'TKB', buyAmount: (amount * 9n) / 10n }
        : { sell: 'TKB', sellAmount: amount, buy: 'TKA', buyAmount: (amount * 9n) / 10n }
    const t0 = performance.now()
    const n = i % 4
    const slot = finalIds.length
    finalIds.push('0x' as Hex)
    const submit = (tries: number): Promise<void> =>
      clients[n].submitOrder({ ...spec, partiallyFillable: true }, keys[n]).then(
        (r) => {
          startedAt.set(r.orderId, t0)
          nodeOf.set(r.orderId, n)
          finalIds[slot] = r.orderId
          following.push(follow(r.orderId, r.targetBatch, n, () => submit(tries + 1), tries))
        },
        (e: Error) => {
          const code = (e as { code?: string }).code ?? e.message
          failures.set(code, (failures.get(code) ?? 0) + 1)
        },
      )
    inFlight++
    pending.push(
      submit(0).finally(() => {
        inFlight--
      }),
    )
  }
  await Promise.all(pending)
  const offeredEnd = performance.now()
  // Every acknowledged order followed until its batch was decided (re-sealed ones included).
  for (let k = 0; k < following.length; k++) await following[k]

  // Let the last batches finalize and settle: until no new fill for 5 s and every batch with fills settled.
  const deadline = Date.now() + 120_000
  let lastCount = -1
  let lastChange = Date.now()
  while (Date.now() < deadline) {
    if (filledAt.size !== lastCount) {
      lastCount = filledAt.size
      lastChange = Date.now()
    }
    const heights = new Set(heightOf.values())
    if (Date.now() - lastChange > 5000 && [...heights].every((h) => settledAt.has(h))) break
    await new Promise((r) => setTimeout(r, 250))
  }
  polling = false
  await settling
  const heights = [...new Set(heightOf.values())]
  // Every acknowledged order's final status, asked at the node that took it, by reason: the figures say
  // nothing without it. "unknown" is an order its own node cannot account for.
  const byReason = new Map<string, number>()
  const acknowledged = finalIds.filter((id) => id !== '0x')
  const statuses = await Promise.all(
    acknowledged.map((id) =>
      clients[nodeOf.get(id) ?? 0].status(id).then(
        (s) => (s.error ? `${s.status}: ${s.error.code}` : s.status),
        (e: Error) => `unknown: ${(e as { code?: string }).code ?? e.message}`,
      ),
    ),
  )
  for (const r of statuses) byReason.set(r, (byReason.get(r) ?? 0) + 1)
  watch.abort()
  await watching
  for (const c of clients) await c.close()

  const lat = [...filledAt.entries()].map(([id, t]) => t - (startedAt.get(id) ?? t)).sort((x, y) => x - y)
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? Number.NaN
  const settledOrders = [...heightOf.entries()].filter(([, h]) => settledAt.has(h)).length
  const lastSettled = Math.max(...settledAt.values())

  // Ceiling: curve operations per order on these cores. Client: sealing ECDH + 2 signatures (counted as
  // recoveries: a signature costs less). Each of 4 validators: envelope recovery, unsealing ECDH, inner recovery.
  const digest = new Uint8Array(32).fill(7)
  const signature = signDigest(digest, keys[0])
  const recoverPerS = opsPerSecond(() => recoverAddressFast(digest, signature), 1000)
  const peer = publicKeyFast(keys[1])
  const ecdhPerS = opsPerSecond(() => ecdhFast(keys[0], peer), 1000)
  const secondsPerOrder = 3 / recoverPerS + 4 * (2 / recoverPerS + 1 / ecdhPerS)
  const ceiling = 1 / secondsPerOrder

  console.log(
    `offered ${total} orders at ${RATE}/s for ${SECONDS} s (${fmt(offeredEnd - runStart)} ms to hand them over); ` +
      `acknowledged ${acknowledged.length} (${resealed} sealed again after missing their batch), ` +
      `seen filled ${filledAt.size} in ${heights.length} batches (the stream reopened ${watchRestarts} times), ` +
      `settled ${settledOrders}; ` +
      `refused: ${failures.size ? JSON.stringify(Object.fromEntries(failures)) : 'none'}`,
  )
  console.log(
    `final status of every acknowledged order, at its own node: ${JSON.stringify(Object.fromEntries([...byReason].sort()))}`,
  )
  reportAgainst('submit → filled, p50', pct(50), 'ms', 'batch interval', BATCH_MS)
  reportAgainst('submit → filled, p99', pct(99), 'ms', 'batch interval', BATCH_MS)
  reportAgainst(
    'sustained, submit → settled',
    (settledOrders * 1000) / (lastSettled - runStart),
    'orders/s',
    `crypto ceiling (${fmt(recoverPerS)} recover/s, ${fmt(ecdhPerS)} ECDH/s; 11 curve ops per order)`,
    ceiling,
  )
} finally {
  // ALLOT_BENCH_KEEP=1 keeps the devnet's directory (logs) for a look afterwards.
  const keep = process.env.ALLOT_BENCH_KEEP === '1'
  await devnetDown(dir, !keep)
  if (keep) console.log(`devnet directory kept: ${dir}`)
  else rmSync(dir, { recursive: true, force: true })
}
