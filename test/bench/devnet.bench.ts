/**
 * End to end on a 4-validator devnet (real processes, anvil): orders submitted through AllotClient to
 * the validators' APIs in pairs that cross, their latency from submit to `filled` (beside its floor, the
 * batch interval) and the sustained rate from submit to settled (beside the machine's crypto ceiling for
 * a devnet that shares its cores: curve operations/s ÷ the curve operations each order costs).
 */
import '@allot/protocol/polyfill'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AllotClient } from '@allot/node'
import { type Hex, privateKeyFromHex, signDigest } from '@allot/protocol'
import { recoverAddressFast } from '../../packages/node/src/crypto/index.js'
import { devnetDown, devnetUp } from '../../packages/node/src/devnet/index.js'
import { fmt, opsPerSecond, reportAgainst } from '../../scripts/measure.js'

const PAIRS = Number(process.env.ALLOT_BENCH_PAIRS ?? 40)
const BATCH_MS = 1000
const E18 = 10n ** 18n

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
  const clients = await Promise.all(d.nodes.map((n) => AllotClient.connect(n.api)))
  const keys = d.accounts.map((a) => privateKeyFromHex(a.privateKey))
  const submitted = new Map<Hex, number>()
  const filledAt = new Map<Hex, number>()
  const start = performance.now()
  for (let i = 0; i < PAIRS; i++) {
    const k = i % 2
    const [a, b] = [clients[(2 * i) % 4], clients[(2 * i + 1) % 4]]
    const amount = BigInt(1 + (i % 7)) * E18
    // Both orders of a pair name a batch two ahead of the open one, so that the pair meets in one batch.
    const target = (await a.info()).openBatch + 2n
    const ra = await a.submitOrder(
      {
        sell: 'TKA',
        sellAmount: amount,
        buy: 'TKB',
        buyAmount: (amount * 9n) / 10n,
        partiallyFillable: true,
        batch: target,
      },
      keys[2 * k],
    )
    const rb = await b.submitOrder(
      {
        sell: 'TKB',
        sellAmount: amount,
        buy: 'TKA',
        buyAmount: (amount * 9n) / 10n,
        partiallyFillable: true,
        batch: target,
      },
      keys[2 * k + 1],
    )
    const now = performance.now()
    submitted.set(ra.orderId, now)
    submitted.set(rb.orderId, now)
  }
  const submitEnd = performance.now()
  // Poll statuses until every order is final and settled (or a deadline).
  const deadline = Date.now() + 120_000
  const settled = new Set<Hex>()
  while (settled.size < submitted.size && Date.now() < deadline) {
    for (const id of submitted.keys()) {
      if (settled.has(id)) continue
      // An order submitted elsewhere may not have reached node 0 yet: not found is "not yet".
      const s = await clients[0].status(id).catch(() => undefined)
      if (!s) continue
      if ((s.status === 'filled' || s.status === 'partially_filled') && !filledAt.has(id))
        filledAt.set(id, performance.now())
      if (s.txHash || s.status === 'unfilled' || s.status === 'rejected' || s.status === 'expired')
        settled.add(id)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  const end = performance.now()
  const lat = [...filledAt.entries()].map(([id, t]) => t - (submitted.get(id) ?? t)).sort((x, y) => x - y)
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? Number.NaN
  for (const c of clients) await c.close()

  // Ceiling: the curve operations an order costs on this machine — the client signs twice (inner order,
  // envelope); each of the 4 validators recovers the envelope and the inner signature (sealing adds one
  // ECDH each, not yet on in the devnet) — all sharing the same cores.
  const digest = new Uint8Array(32).fill(7)
  const key = keys[0]
  const signature = signDigest(digest, key)
  const recoverPerS = opsPerSecond(() => recoverAddressFast(digest, signature), 1000)
  const opsPerOrder = 2 + 4 * 2
  const ceiling = recoverPerS / opsPerOrder
  const orders = submitted.size
  console.log(
    `orders: ${orders} (${PAIRS} crossing pairs), filled ${filledAt.size}, settled or final ${settled.size}`,
  )
  reportAgainst('submit → filled, p50', pct(50), 'ms', 'batch interval', BATCH_MS)
  reportAgainst('submit → filled, p99', pct(99), 'ms', 'batch interval', BATCH_MS)
  reportAgainst(
    'sustained, submit → settled',
    (orders * 1000) / (end - start),
    'orders/s',
    `crypto ceiling (${fmt(recoverPerS)} native recover/s ÷ ${opsPerOrder})`,
    ceiling,
  )
  console.log(
    `(submitting alone took ${fmt(submitEnd - start)} ms for ${orders} orders, one client call at a time)`,
  )
} finally {
  await devnetDown(dir, true)
  rmSync(dir, { recursive: true, force: true })
}
