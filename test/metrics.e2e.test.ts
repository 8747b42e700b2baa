/**
 * Issue 22, item 4, as an operator meets it: `allot devnet up`, a crossing pair settled on anvil, then
 * `GET` each node's metrics URL (devnet.json) — every family of every stage is there, and those a settled
 * batch must move have moved. Real processes; every one is stopped by PID in afterAll, even on failure.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AllotClient, createNodeMetrics, createRegistry } from '@allot/node'
import { type Hex, privateKeyFromHex } from '@allot/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allot, allotJson } from './support/cli.js'

interface DevnetJson {
  chainPid: number
  nodes: { api: string; metrics: string; pid: number }[]
  accounts: { privateKey: string }[]
}

const E18 = 10n ** 18n
const dir = mkdtempSync(join(tmpdir(), 'allot-metrics-e2e-'))
let devnet: DevnetJson

function pids(): number[] {
  try {
    const d = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as DevnetJson
    return [d.chainPid, ...d.nodes.map((n) => n.pid)].filter((p) => typeof p === 'number')
  } catch {
    return []
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Prometheus text format: family → type, and every sample's value by series name. */
function parseMetrics(text: string): { types: Map<string, string>; samples: Map<string, number[]> } {
  const types = new Map<string, string>()
  const samples = new Map<string, number[]>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) types.set(type[1], type[2])
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line)
    if (!m) continue
    samples.set(m[1], [...(samples.get(m[1]) ?? []), Number(m[3])])
  }
  return { types, samples }
}

/** Every family the node defines (its factories), the list this test holds the endpoint to. */
function definedFamilies(): string[] {
  const m = createNodeMetrics(createRegistry(false))
  return Object.values(m).flatMap((group) =>
    Object.values(group).map((x) => (x as unknown as { name: string }).name),
  )
}

/** A family's "has it moved" figure: a histogram's count, else its samples' largest absolute value. */
function moved(family: string, type: string, samples: Map<string, number[]>): number {
  const values = samples.get(type === 'histogram' ? `${family}_count` : family) ?? []
  return values.reduce((a, v) => Math.max(a, Math.abs(v)), 0)
}

/** Families a settled batch moves on every node. */
const EVERY_NODE = [
  'allot_peers',
  'allot_gossip_messages_total',
  'allot_intake_seconds',
  'allot_api_requests_total',
  'allot_api_request_seconds',
  'allot_consensus_height',
  'allot_consensus_decision_seconds',
  'allot_consensus_certificates_total',
  'allot_batch_processed_total',
  'allot_batch_processed_height',
  'allot_batch_orders_total',
  'allot_batch_fills_total',
  'allot_batch_unseal_seconds',
  'allot_batch_solve_seconds',
  'allot_batch_objective',
  'allot_sealing_shares_received_total',
  'allot_sealing_epoch_start_height',
  'allot_sealing_keyed_through_height',
  'allot_sealing_dkg_stage',
  'allot_settlement_settled_height',
]
/** Families only the validator that sent the settlement transaction moves: non-zero summed over the nodes. */
const SOME_NODE = ['allot_settlement_transactions_total', 'allot_settlement_gas_used_total']
/** Zero in a calm devnet (no fault, no DKG due yet, anvil mines each transaction at once): present all the same. */
const ZERO_WHEN_CALM = [
  'allot_consensus_round',
  'allot_consensus_timeouts_total',
  'allot_consensus_bad_signatures_total',
  'allot_consensus_equivocations_total',
  'allot_consensus_result_mismatches_total',
  'allot_batch_penalties_total',
  'allot_sealing_shares_missing',
  'allot_sealing_dkg_outcomes_total',
  'allot_settlement_reverts_total',
  'allot_settlement_blocks_behind',
  'allot_mempool_orders',
]

describe('devnet metrics', () => {
  beforeAll(async () => {
    devnet = await allotJson<DevnetJson>(
      ['devnet', 'up', '--dir', dir, '--validators', '4', '--batch-ms', '1000', '--accounts', '2'],
      180_000,
    )
  }, 200_000)

  afterAll(async () => {
    const before = pids()
    await allot(['devnet', 'down', '--dir', dir], { timeoutMs: 60_000 }).catch(() => undefined)
    for (const pid of before) if (alive(pid)) process.kill(pid, 'SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }, 90_000)

  it('the lists of this test cover every family the node defines', () => {
    expect([...EVERY_NODE, ...SOME_NODE, ...ZERO_WHEN_CALM].sort()).toEqual(definedFamilies().sort())
  })

  it('after a batch settled, every node serves every family; a settled batch moved its own', async () => {
    const [alice, bob] = devnet.accounts
    const clients = await Promise.all(
      [0, 1].map((i) => AllotClient.connect(devnet.nodes[i].api, { timeoutMs: 30_000 })),
    )
    try {
      const target = (await clients[0].info()).openBatch + 4n
      const side = (c: AllotClient, sell: string, buy: string, key: string) =>
        c.submitOrder(
          { sell, sellAmount: 10n * E18, buy, buyAmount: 9n * E18, partiallyFillable: true, batch: target },
          privateKeyFromHex(key as Hex),
        )
      const [a] = await Promise.all([
        side(clients[0], 'TKA', 'TKB', alice.privateKey),
        side(clients[1], 'TKB', 'TKA', bob.privateKey),
      ])
      // Settled on chain: the order's status carries the settlement transaction.
      for (;;) {
        const s = await clients[0].status(a.orderId)
        if (s.txHash) break
        expect(['pending', 'included', 'filled', 'partially_filled']).toContain(s.status)
        await new Promise((r) => setTimeout(r, 500))
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()))
    }
    // Every node has seen it settled (its follower polls the contract's events each batch interval).
    const scrape = async () =>
      Promise.all(devnet.nodes.map(async (n) => parseMetrics(await (await fetch(n.metrics)).text())))
    let pages = await scrape()
    while (pages.some((p) => moved('allot_settlement_settled_height', 'gauge', p.samples) === 0)) {
      await new Promise((r) => setTimeout(r, 500))
      pages = await scrape()
    }
    const families = definedFamilies()
    const sums = new Map<string, number>()
    for (const [i, { types, samples }] of pages.entries()) {
      for (const f of families) {
        const type = types.get(f)
        expect(type, `${f} missing on node ${i}`).toBeDefined()
        const value = moved(f, type as string, samples)
        sums.set(f, (sums.get(f) ?? 0) + value)
        if (EVERY_NODE.includes(f)) expect(value, `${f} on node ${i}`).toBeGreaterThan(0)
      }
    }
    for (const f of SOME_NODE) expect(sums.get(f), `${f} summed over the nodes`).toBeGreaterThan(0)
  })
})
