/**
 * `allot batch export` on a real validator (in process: consensus, the batch pipeline, the p2p API): a few
 * batches with crossing, resting, fill-or-kill and buy orders are exported through the client into a
 * history file, read with the backtest's reader and replayed with its engine. The replayed prices and
 * fills equal the node's results at every exported height: what a backtest measures is what the network did.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clearWindow, type MechanismConfig, parseHistory, windowsOf } from '@allot/backtest'
import { AllotClient } from '@allot/node'
import type { PrivateKey } from '@allot/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportBatches } from '../packages/node/src/cli/commands/batch-export.js'
import { buildProgram, isUserError } from '../packages/node/src/cli/program.js'
import { type RunningNode, runNode } from '../packages/node/src/run.js'
import { testGenesis, traderAddress, traderKey, validatorGenesis, waitFor } from './node-fixtures.js'

const validatorKey: PrivateKey = new Uint8Array(32).fill(0x62)
const E18 = 10n ** 18n
const FEE_BPS = 25

const short = traderAddress(1).toLowerCase()

let running: RunningNode
let client: AllotClient
const dirs: string[] = []

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-export-'))
  dirs.push(dir)
  const base = validatorGenesis('export-test', [validatorKey], { enabled: false })
  running = await runNode({
    genesis: testGenesis({
      networkId: base.networkId,
      genesisTime: base.genesisTime,
      validators: base.validators,
      batchIntervalMs: 500,
      intakeCutoffMs: 100,
      inclusionGraceMs: 500,
      timeouts: { proposeMs: 1000, prevoteMs: 300, precommitMs: 300, deltaMs: 200, capMs: 3000 },
      maxOrdersPerBatch: 1000,
      perTraderMaxOrdersPerBatch: 100,
      feeBps: FEE_BPS,
    }),
    dataDir: dir,
    validatorKey,
    verifier: { threads: 1 },
    // Trader 1 has less than it offers: the solver caps its fill, and so must the replay.
    chainView: {
      available: async (trader) => (trader.toLowerCase() === short ? 2n * E18 : 10n ** 24n),
      settledHeightAt: async () => 0n,
    },
  })
  await waitFor(async () => (running.consensus?.height ?? 0n) >= 2n, 20_000, 'consensus running')
  client = await AllotClient.connect(running.node.apiAddrs()[0])
}, 40_000)

afterAll(async () => {
  await client?.close()
  await running?.stop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** `allot …` in process; what it writes to stdout. */
async function cli(...args: string[]): Promise<string> {
  const program = await buildProgram(['node', 'allot', ...args])
  const out: string[] = []
  const o = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write
  try {
    await program.parseAsync(args, { from: 'user' })
  } finally {
    process.stdout.write = o
  }
  return out.join('')
}

describe('allot batch export', () => {
  it('exports decided batches that the backtest replays into the node’s own results', async () => {
    const open = (await client.info()).openBatch
    const h1 = open + 3n
    const t = (i: number) => traderKey(i)
    const orders: [PrivateKey, Parameters<AllotClient['submitOrder']>[0]][] = [
      // h1: a resting seller partly filled by a smaller buyer (who holds half of what it offers); the
      // remainder rests into h2 and h3.
      [
        t(0),
        { sell: 'TKA', sellAmount: 10n * E18, buy: 'TKB', buyAmount: 9n * E18, batch: h1, validBatches: 3 },
      ],
      [t(1), { sell: 'TKB', sellAmount: 4n * E18, buy: 'TKA', buyAmount: 3n * E18, batch: h1 }],
      // h2: a fill-or-kill buyer against the remainder.
      [
        t(2),
        {
          sell: 'TKB',
          sellAmount: 5n * E18,
          buy: 'TKA',
          buyAmount: 4n * E18,
          batch: h1 + 1n,
          partiallyFillable: false,
        },
      ],
      // h3: a buy-kind order, another seller, and one that does not cross.
      [
        t(3),
        { sell: 'TKB', sellAmount: 3n * E18, buy: 'TKA', buyAmount: 2n * E18, kind: 'buy', batch: h1 + 2n },
      ],
      [t(4), { sell: 'TKA', sellAmount: 3n * E18, buy: 'TKB', buyAmount: 1n * E18, batch: h1 + 2n }],
      [t(5), { sell: 'TKB', sellAmount: 1n * E18, buy: 'TKA', buyAmount: 5n * E18, batch: h1 + 2n }],
    ]
    for (const [key, spec] of orders) await client.submitOrder({ partiallyFillable: true, ...spec }, key)
    const to = h1 + 3n
    await waitFor(async () => (await client.info()).finalized >= to, 20_000, 'batches finalized')

    const from = h1 - 1n
    const out = join(dirs[0], 'export.jsonl')
    expect(await exportBatches(client, { from, to }, out)).toBe(Number(to - from + 1n))
    const history = parseHistory(readFileSync(out, 'utf8'))
    expect(history.header.source).toBe('export')
    expect(history.batches.map((b) => BigInt(b.height))).toEqual(
      Array.from({ length: Number(to - from + 1n) }, (_, i) => from + BigInt(i)),
    )
    // The remainder of the resting order is in h2's book with what was left of it.
    const seller = traderAddress(0).toLowerCase()
    const rest = history.batches[2].orders.find((o) => o.trader === seller)
    expect(rest?.sellAmount).toBeGreaterThan(0n)
    expect(rest?.sellAmount).toBeLessThan(10n * E18)

    expect(history.batches[1].balances?.[short]).toEqual({
      [history.batches[1].orders.find((o) => o.trader === short)?.sellAsset as string]: 2n * E18,
    })
    const meta = history.header.meta as { feeBps: number; maxFillsPerBatch: number }
    expect(meta.feeBps).toBe(FEE_BPS)
    const config: MechanismConfig = {
      name: 'as recorded',
      feeBps: meta.feeBps,
      maxFillsPerBatch: meta.maxFillsPerBatch,
    }
    let filled = 0
    for (const w of windowsOf(history.header, history.batches, config)) {
      const view = await client.batch(BigInt(w.height))
      const replay = clearWindow(w, history.header, config)
      const nodePrices = Object.fromEntries(
        view.prices.filter((p) => p.price > 0n).map((p) => [p.asset, p.price]),
      )
      expect(replay.prices, `prices at ${w.height}`).toEqual(nodePrices)
      const replayed = [...replay.fills]
        .filter(([, f]) => f.sold > 0n || f.bought > 0n)
        .map(([id, f]) => ({ id, sold: f.sold, bought: f.bought }))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
      const recorded = view.fills
        .map((f) => ({ id: f.orderId as string, sold: f.sold, bought: f.bought }))
        .sort((a, b) => (a.id < b.id ? -1 : 1))
      expect(replayed, `fills at ${w.height}`).toEqual(recorded)
      // The history's recorded result is the node's, fees included.
      const batch = history.batches[w.index]
      expect(batch.result?.resultHash).toBe(view.resultHash)
      for (const f of batch.result?.fills ?? []) expect(replay.fills.get(f.id)?.fee).toBe(f.fee)
      filled += recorded.length
    }
    expect(filled).toBeGreaterThanOrEqual(5)
  }, 60_000)

  it('the command writes the same history to stdout as to --out', async () => {
    const node = running.node.apiAddrs()[0].toString()
    const out = join(dirs[0], 'cli.jsonl')
    const to = running.pipeline?.lastProcessed ?? 0n
    const args = ['export', '--node', node, '--from', '1', '--to', String(to)]
    const stderr = process.stderr.write.bind(process.stderr)
    process.stderr.write = (() => true) as typeof process.stderr.write
    try {
      expect(await cli('batch', ...args, '--out', out)).toBe('')
    } finally {
      process.stderr.write = stderr
    }
    const text = await cli('batch', ...args)
    expect(text).toBe(readFileSync(out, 'utf8'))
    expect(parseHistory(text).batches).toHaveLength(Number(to))
    await expect(cli('batch', 'export', '--node', node, '--from', 'x', '--to', '2')).rejects.toMatchObject({
      code: 'CLI_BAD_FLAG',
    })
  }, 30_000)

  it('refuses heights not processed here and a bad range, with their codes', async () => {
    const last = running.pipeline?.lastProcessed ?? 0n
    await expect(client.batchExportPage(last + 100n, last + 101n)).rejects.toMatchObject({
      code: 'BATCH_EXPORT_NOT_PROCESSED',
    })
    await expect(client.batchExportPage(3n, 2n)).rejects.toMatchObject({ code: 'BATCH_EXPORT_BAD_RANGE' })
    // The user's to fix: the CLI exits 1.
    const e = await client.batchExportPage(3n, 2n).catch((x) => x)
    expect(isUserError(e)).toBe(true)
  })
})
