// Issue 22, items 4 and 5, in one process: four sealing validators (real libp2p, gossipsub, level, no chain)
// decide, open and clear a batch of crossing sealed orders and a garbled one. Then (1) every metric family
// the node defines has been recorded on every node — a family no run moves is a defect, unless it is listed
// below with the reason it stays at zero here — and (2) after `stop()` nothing the nodes created is left:
// no interval or timeout still pending, no socket, server or worker more than before they started.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AllotClient, createNodeMetrics, createRegistry, type NodeMetrics } from '@allot/node'

type Registry = ReturnType<typeof createRegistry>

import {
  addressOf,
  dealEpoch,
  deterministicRng,
  type Hex,
  type PrivateKey,
  privateKeyFromHex,
  sealOrder,
  signOrder,
} from '@allot/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildOrder } from '../packages/node/src/api/client.js'
import { type RunningNode, runNode } from '../packages/node/src/run.js'
import { validatorGenesis, waitFor } from './node-fixtures.js'

const keys: PrivateKey[] = [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(0x60 + i))
const trader = (i: number) => privateKeyFromHex(`0x${(i + 0x91).toString(16).padStart(64, '0')}`)

/** Families that legitimately stay at zero in a calm in-process run: exported with a 0 sample all the same. */
const ZERO_WHEN_CALM: Record<string, string> = {
  allot_consensus_round: 'every height is decided in round 0 when all validators are up (may be > 0)',
  allot_consensus_timeouts_total:
    'no step times out while every validator is up (may be > 0 on a slow machine)',
  allot_consensus_bad_signatures_total: 'honest validators only',
  allot_consensus_equivocations_total: 'honest validators only',
  allot_consensus_result_mismatches_total: 'every validator computes the same result',
  allot_sealing_shares_missing: 'back to 0 once the batch opened',
  allot_sealing_dkg_outcomes_total: 'no DKG is due in a short run: the dealt epoch covers 400 heights',
  allot_mempool_orders:
    'empty again once its orders are decided (checked against the mempool while they wait)',
}
/** Families only a chain moves: none here (stub chain view); test/metrics.e2e.test.ts checks them on a devnet. */
const NEEDS_A_CHAIN: Record<string, string> = {
  allot_settlement_transactions_total: 'no chain',
  allot_settlement_reverts_total: 'no chain',
  allot_settlement_gas_used_total: 'no chain',
  allot_settlement_blocks_behind: 'no chain',
  allot_settlement_settled_height: 'no chain',
}

interface TimerRecord {
  kind: 'interval' | 'timeout'
  handle: NodeJS.Timeout
  stack: string
}

/** Records every interval and timeout set while `recording` (their creation stack for the failure message). */
function recordTimers() {
  const made: TimerRecord[] = []
  let recording = false
  const realInterval = globalThis.setInterval
  const realTimeout = globalThis.setTimeout
  const wrap =
    (kind: TimerRecord['kind'], real: typeof setTimeout) =>
    (...args: Parameters<typeof setTimeout>) => {
      const handle = real(...args) as unknown as NodeJS.Timeout
      if (recording) made.push({ kind, handle, stack: new Error().stack ?? '' })
      return handle
    }
  globalThis.setInterval = wrap(
    'interval',
    realInterval as typeof setTimeout,
  ) as unknown as typeof setInterval
  globalThis.setTimeout = wrap('timeout', realTimeout) as unknown as typeof setTimeout
  return {
    made,
    set recording(on: boolean) {
      recording = on
    },
    restore() {
      globalThis.setInterval = realInterval
      globalThis.setTimeout = realTimeout
    },
  }
}

/** Node's own flag: set once a timer is cleared or (a timeout) has fired. */
const pending = (t: TimerRecord) => !(t.handle as unknown as { _destroyed: boolean })._destroyed

function resourceCounts(): Map<string, number> {
  const m = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1)
  return m
}

describe('a 4-validator sealing network: every metric recorded, nothing left after stop', () => {
  const g = validatorGenesis('metrics-test', keys)
  const dirs: string[] = []
  const nodes: RunningNode[] = []
  const registries: Registry[] = []
  const metrics: NodeMetrics[] = []
  let client: AllotClient | undefined
  const timers = recordTimers()
  let before: Map<string, number>

  beforeAll(async () => {
    before = resourceCounts()
    timers.recording = true
    const dealt = dealEpoch({
      startHeight: 1n,
      length: 400,
      n: 4,
      t: 1,
      rng: deterministicRng('metrics-test'),
    })
    const sorted = keys.map((k) => addressOf(k)).sort()
    for (const k of keys) {
      const dir = mkdtempSync(join(tmpdir(), 'allot-metrics-'))
      dirs.push(dir)
      const registry = createRegistry(false)
      const m = createNodeMetrics(registry)
      registries.push(registry)
      metrics.push(m)
      nodes.push(
        await runNode({
          genesis: g,
          dataDir: dir,
          validatorKey: k,
          verifier: { threads: 1 },
          sealingEpoch: { public: dealt.public, shares: dealt.shares[sorted.indexOf(addressOf(k))] },
          unsealDeadlineMs: 10_000,
          chainView: { available: async () => 10n ** 24n, settledHeightAt: async () => 0n },
          metrics: m,
          metricsHttp: { registry, port: 0, host: '127.0.0.1' },
        }),
      )
    }
    const dials: Promise<unknown>[] = []
    for (let i = 0; i < 4; i++)
      for (let j = i + 1; j < 4; j++)
        dials.push(nodes[i].node.host.dial(nodes[j].node.host.getMultiaddrs()[0]))
    await Promise.all(dials)
    client = await AllotClient.connect(nodes[0].node.apiAddrs()[0])
    await waitFor(() => nodes.every((n) => (n.consensus?.height ?? 0n) >= 3n), 20_000, 'consensus running')
  }, 60_000)

  afterAll(async () => {
    timers.restore()
    await client?.close()
    await Promise.allSettled(nodes.map((n) => n.stop()))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('runs its services in order: metrics, node, sealing, dkg, batch, consensus', () => {
    for (const n of nodes)
      expect(n.services()).toEqual(['metrics', 'node', 'sealing', 'dkg', 'batch', 'consensus'])
  })

  it('a batch with crossing sealed orders and a garbled one is cleared on every node', async () => {
    const c = client as AllotClient
    const info = await c.info()
    const h = info.openBatch + 3n
    // Sealed to PK_{h+1}: accepted at intake, never opens: a penalty. Sent first, with the most time to spread.
    const domain = { chainId: info.chainId, verifyingContract: info.settlement }
    const order = buildOrder(
      info,
      { sell: 'TKA', sellAmount: 5n, buy: 'TKB', buyAmount: 5n, batch: h, nonce: 2n },
      addressOf(trader(2)),
    )
    const garbled = await c.submit(
      sealOrder({
        domain,
        signedOrder: { order, signature: signOrder(domain, order, trader(2)) },
        batchPublicKey: await c.batchKey(h + 1n),
        traderKey: trader(2),
        nonce: 2n,
      }),
    )
    const spec = { sellAmount: 1000n, buyAmount: 900n, batch: h, nonce: 1n, partiallyFillable: true }
    const a = await c.submitOrder({ ...spec, sell: 'TKA', buy: 'TKB' }, trader(0))
    const b = await c.submitOrder({ ...spec, sell: 'TKB', buy: 'TKA' }, trader(1))
    // The mempool gauge follows the mempool (read at the same instant: decided or not by now).
    expect((await metrics[0].mempool.orders.get()).values[0]?.value).toBe(nodes[0].node.mempool.size)
    const final = async (id: Hex) => !['pending', 'included'].includes((await c.status(id)).status)
    await waitFor(
      async () => (await final(a.orderId)) && (await final(b.orderId)) && (await final(garbled.orderId)),
      30_000,
      'the three orders final',
    )
    expect((await c.status(garbled.orderId)).status).toBe('rejected')
    expect(['filled', 'partially_filled']).toContain((await c.status(a.orderId)).status)
    await waitFor(
      () => nodes.every((n) => (n.pipeline?.lastCertified ?? 0n) >= h),
      30_000,
      'the batch certified on every node',
    )
  }, 90_000)

  it('every metric family is recorded on every node, or listed with the reason it is zero', async () => {
    for (const [i, registry] of registries.entries()) {
      const families = (await registry.getMetricsAsJSON()).filter((f) => f.name.startsWith('allot_'))
      // Every family the factories define is exported, with at least one sample.
      expect(families.map((f) => f.name).sort()).toEqual(
        Object.values(metrics[i])
          .flatMap((group) =>
            Object.values(group).map((metric) => (metric as unknown as { name: string }).name),
          )
          .sort(),
      )
      const silent: string[] = []
      for (const f of families) {
        expect(f.values.length, `${f.name} on node ${i} has no sample`).toBeGreaterThan(0)
        // A histogram is recorded when its count moved; a counter or gauge when some sample is not 0.
        const values =
          String(f.type) === 'histogram'
            ? f.values.filter((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))
            : f.values
        const recorded = values.some((v) => v.value !== 0)
        if (!recorded && !(f.name in ZERO_WHEN_CALM) && !(f.name in NEEDS_A_CHAIN)) silent.push(f.name)
      }
      expect(silent, `families defined but never recorded on node ${i}`).toEqual([])
    }
  })

  it('the metrics endpoint serves every family', async () => {
    const url = nodes[1].metricsServer?.url as string
    const text = await (await fetch(url)).text()
    for (const name of Object.values(metrics[1]).flatMap((group) =>
      Object.values(group).map((m) => (m as unknown as { name: string }).name),
    ))
      expect(text).toContain(`# TYPE ${name} `)
    expect((await fetch(url.replace('/metrics', '/nothing'))).status).toBe(404)
  })

  it('after stop, no timer, socket, server or worker the nodes created is left', async () => {
    await (client as AllotClient).close()
    client = undefined
    await Promise.all(nodes.map((n) => n.stop()))
    timers.recording = false
    for (const n of nodes) expect(n.services()).toEqual([])
    expect(timers.made.filter((t) => t.kind === 'interval').length).toBeGreaterThan(0)
    // Timeouts set just before stop may still be due: wait for them (fired or cleared), but not for ever.
    const left = () => timers.made.filter(pending)
    await waitFor(() => left().length === 0, 15_000, 'timers pending').catch(() => {})
    expect(
      left().map((t) => `${t.kind}\n${t.stack.split('\n').slice(2, 9).join('\n')}`),
      'timers still pending after stop',
    ).toEqual([])
    // Sockets, servers, workers, file requests: back to what there was before the nodes started.
    const over = () =>
      [...resourceCounts()].filter(([kind, n]) => n > (before.get(kind) ?? 0)).map(([k, n]) => `${k} ×${n}`)
    await waitFor(() => over().length === 0, 15_000, 'resources released').catch(() => {})
    expect(over(), `active resources now, before: ${JSON.stringify([...before])}`).toEqual([])
  }, 60_000)
})
