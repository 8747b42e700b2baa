// The CLI as issue 21 asks it to be used (docs/cli.md "Aiming", "Amounts", "Which batch an order targets",
// "Many orders"): against one running node in process (runCli), no chain, no consensus.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AllotNode } from '@allot/node'
import { decodeSealedOrder, type Hex, toHex } from '@allot/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../packages/node/src/cli/program.js'
import { Cluster, testGenesis, traderAddress, traderKey } from './node-fixtures.js'

const E18 = 10n ** 18n

async function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const o = process.stdout.write.bind(process.stdout)
  const e = process.stderr.write.bind(process.stderr)
  const saved: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k]
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write
  process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write
  try {
    const code = await runCli(['node', 'allot', ...args])
    return { code, out: out.join(''), err: err.join('') }
  } finally {
    process.stdout.write = o
    process.stderr.write = e
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

/** The plain order a node holds for `id` (the test network does not seal). */
function heldOrder(node: AllotNode, id: string) {
  const env = node.mempool.order(id as Hex)
  if (env?.payload.kind !== 'plain') throw new Error(`no plain order ${id}`)
  return env.payload.order.order
}

async function until<T>(f: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = f()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`never: ${what}`)
}

describe('allot CLI: aiming, info, readable amounts, batches, many orders', () => {
  const cluster = new Cluster(testGenesis({ networkId: 'cliuse' }))
  const dir = mkdtempSync(join(tmpdir(), 'allot-cliuse-'))
  const devnetDir = join(dir, 'devnet')
  // No config file of the machine's user leaks in: each test names its own.
  const noConfig = { ALLOT_CONFIG: join(dir, 'none.json'), ALLOT_NODE: undefined, ALLOT_KEY: undefined }
  let node: AllotNode
  let api: string

  beforeAll(async () => {
    node = await cluster.add()
    api = node.apiAddrs()[0]
    // A devnet.json as `devnet up` writes it, naming this node and two trader keys.
    mkdirSync(devnetDir)
    writeFileSync(
      join(devnetDir, 'devnet.json'),
      JSON.stringify({
        nodes: [{ index: 0, api }],
        accounts: [0, 1].map((i) => ({ address: traderAddress(i), privateKey: toHex(traderKey(i)) })),
      }),
    )
  })
  afterAll(async () => {
    await cluster.stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it('info: network, open batch and when it closes, margin, assets with decimals, validators, sync', async () => {
    const r = await cli(['info', '--node', api, '--json'], noConfig)
    expect(r.code, r.err).toBe(0)
    const i = JSON.parse(r.out)
    expect(i).toMatchObject({
      networkId: 'cliuse',
      chainId: '31337',
      batchIntervalMs: 600_000,
      intakeCutoffMs: 1_000,
      submitMarginMs: 0, // this genesis has inclusionGraceMs 500 < intakeCutoffMs: no gossip allowance
      openBatch: '1',
      inSync: true,
      validators: [],
      sealing: false,
    })
    expect(i.openBatchClosesInMs).toBeGreaterThan(500_000)
    expect(i.openBatchClosesInMs).toBeLessThanOrEqual(600_000)
    expect(i.assets).toContainEqual({
      symbol: 'TKA',
      kind: 'token',
      id: `0x${'0'.repeat(62)}aa`,
      decimals: 18,
      address: '0x00000000000000000000000000000000000000aa',
    })
    expect(i.assets).toContainEqual(
      expect.objectContaining({ symbol: 'CPU', decimals: 0, class: 'cpu.vcore-hour' }),
    )
    const human = await cli(['info', '--node', api], noConfig)
    expect(human.out).toMatch(/open batch 1 closes for orders in \d+ ms/)
    expect(human.out).toMatch(/TKA\s+token\s+18 decimals/)
  })

  it('aims by flag, then ALLOT_NODE, then the config file; says how when none is given', async () => {
    const none = await cli(['info', '--json'], noConfig)
    expect(none.code).toBe(1)
    expect(JSON.parse(none.err).error.code).toBe('CLI_MISSING_FLAG')
    expect(JSON.parse(none.err).error.message).toMatch(/ALLOT_NODE.*allot config set node/)

    const byEnv = await cli(['info', '--json'], { ...noConfig, ALLOT_NODE: api })
    expect(byEnv.code, byEnv.err).toBe(0)
    expect(JSON.parse(byEnv.out).networkId).toBe('cliuse')

    // The config file, written by `allot config set`, in $XDG_CONFIG_HOME/allot/config.json.
    const xdg = join(dir, 'xdg')
    const cfgEnv = { ALLOT_CONFIG: undefined, XDG_CONFIG_HOME: xdg, ALLOT_NODE: undefined }
    expect((await cli(['config', 'set', 'node', api], cfgEnv)).code).toBe(0)
    const list = await cli(['config', 'list', '--json'], cfgEnv)
    expect(JSON.parse(list.out)).toEqual({ path: join(xdg, 'allot', 'config.json'), settings: { node: api } })
    const byConfig = await cli(['info', '--json'], cfgEnv)
    expect(byConfig.code, byConfig.err).toBe(0)
    expect(JSON.parse((await cli(['config', 'get', 'node', '--json'], cfgEnv)).out).value).toBe(api)
    const bad = await cli(['config', 'set', 'nodes', 'x', '--json'], cfgEnv)
    expect([bad.code, JSON.parse(bad.err).error.code]).toEqual([1, 'CLI_BAD_CONFIG'])

    // The environment overrides the file, the flag overrides both: a bad env value with a good flag works.
    const unreachable = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWMJ9FxxefSds5aJZx7ZqZrow9cbAjdgFt1QsPt8iHmVHq'
    expect((await cli(['info', '--json'], { ...cfgEnv, ALLOT_NODE: unreachable })).code).toBe(2)
    expect((await cli(['info', '--node', api, '--json'], { ...cfgEnv, ALLOT_NODE: unreachable })).code).toBe(
      0,
    )
    expect((await cli(['config', 'unset', 'node'], cfgEnv)).code).toBe(0)
    expect((await cli(['info', '--json'], cfgEnv)).code).toBe(1)
  })

  it('devnet:N names a devnet node and account; amounts in decimals, raw only when asked', async () => {
    const env = { ...noConfig, ALLOT_DEVNET_DIR: devnetDir }
    const sub = await cli(
      [
        'order',
        'submit',
        '--node',
        'devnet:0',
        '--key',
        'devnet:1',
        '--sell',
        '1.5',
        'TKA',
        '--buy',
        'TKB:1.25',
        '--no-retry',
        '--json',
      ],
      env,
    )
    expect(sub.code, sub.err).toBe(0)
    const s = JSON.parse(sub.out)
    expect(s).toMatchObject({ status: 'pending', targetBatch: '1' })
    expect(heldOrder(node, s.orderId)).toMatchObject({
      trader: traderAddress(1).toLowerCase(),
      sellAmount: 15n * 10n ** 17n,
      buyAmount: 125n * 10n ** 16n,
    })
    // ALLOT_KEY and --dir; raw base units by suffix and by --raw; CPU has 0 decimals.
    const raw = await cli(
      [
        'order',
        'submit',
        '--node',
        'devnet:0',
        '--dir',
        devnetDir,
        '--sell',
        'TKA:5000wei',
        '--buy',
        '3',
        'CPU',
        '--batch',
        '+2',
        '--no-retry',
        '--json',
      ],
      { ...noConfig, ALLOT_KEY: 'devnet:0' },
    )
    expect(raw.code, raw.err).toBe(0)
    const r = JSON.parse(raw.out)
    expect(r.targetBatch).toBe('3')
    expect(heldOrder(node, r.orderId)).toMatchObject({
      trader: traderAddress(0).toLowerCase(),
      sellAmount: 5000n,
      buyAmount: 3n,
      firstBatch: 3n,
    })
    const flagRaw = await cli(
      [
        'order',
        'submit',
        '--node',
        api,
        '--key',
        'devnet:0',
        '--dir',
        devnetDir,
        '--raw',
        '--sell',
        'TKA:7',
        '--buy',
        'TKB:6',
        '--no-retry',
        '--json',
      ],
      noConfig,
    )
    expect(heldOrder(node, JSON.parse(flagRaw.out).orderId)).toMatchObject({ sellAmount: 7n, buyAmount: 6n })
    // Human output in decimals.
    const human = await cli(
      [
        'order',
        'submit',
        '--node',
        api,
        '--key',
        'devnet:0',
        '--dir',
        devnetDir,
        '--sell',
        '2',
        'TKB',
        '--buy',
        '1.75',
        'TKA',
        '--no-retry',
      ],
      noConfig,
    )
    expect(human.out).toMatch(/pending {2}batch 1 {2}sell 2 TKB for at least 1.75 TKA/)
    const quiet = await cli(
      [
        'order',
        'submit',
        '--node',
        api,
        '--key',
        'devnet:0',
        '--dir',
        devnetDir,
        '--sell',
        '2 TKB',
        '--buy',
        '1 TKA',
        '--no-retry',
        '-q',
      ],
      noConfig,
    )
    expect(quiet.out).toMatch(/^0x[0-9a-f]{64}\n$/)
    expect(heldOrder(node, quiet.out.trim())).toMatchObject({ sellAmount: 2n * E18 })

    for (const [args, code] of [
      [['--sell', '1.0000000000000000001', 'TKA', '--buy', 'TKB:1'], 'ORDER_BAD_AMOUNT'],
      [['--sell', '-1', 'TKA', '--buy', 'TKB:1'], 'ORDER_BAD_AMOUNT'],
      [['--sell', 'TKA:100000000000000000000', '--buy', 'TKB:1'], 'ORDER_BAD_AMOUNT'],
      [['--sell', '1.5', 'CPU', '--buy', 'TKB:1'], 'ORDER_BAD_AMOUNT'],
      [['--sell', '1', 'NOPE', '--buy', 'TKB:1'], 'ORDER_UNKNOWN_ASSET'],
      [['--sell', 'TKA', '--buy', 'TKB:1'], 'CLI_BAD_FLAG'],
      [['--sell', '1', 'TKA', '--buy', 'TKB:1', '--batch', 'soon'], 'ORDER_BAD_BATCH'],
      [['--node', 'devnet:7', '--sell', '1', 'TKA', '--buy', 'TKB:1'], 'CLI_BAD_FLAG'],
    ] as const) {
      const before = node.mempool.size
      const bad = await cli(['order', 'submit', '--key', 'devnet:0', '--no-retry', '--json', ...args], {
        ...env,
        ALLOT_NODE: api,
      })
      expect([bad.code, JSON.parse(bad.err).error.code], args.join(' ')).toEqual([1, code])
      expect(node.mempool.size).toBe(before)
    }
    // Balances for people in decimals (this test network grants every address 1000 base units of TKA).
    const bal = await cli(['balance', traderAddress(0), '--node', api], noConfig)
    expect(bal.out).toMatch(/TKA +escrow 0\.000000000000001 {2}available 0\.000000000000001/)
    // The devnet commands' own --dir follows ALLOT_DEVNET_DIR too (this fake devnet has no logs).
    const logs = await cli(['devnet', 'logs', '0'], env)
    expect(logs.code).toBe(1)
    expect(logs.err).toContain(`DEVNET_NOT_RUNNING: no log at ${join(devnetDir, 'logs', 'node-0.log')}`)
    const noDevnet = await cli(
      ['info', '--node', 'devnet:0', '--dir', join(dir, 'nowhere'), '--json'],
      noConfig,
    )
    expect([noDevnet.code, JSON.parse(noDevnet.err).error.code]).toEqual([1, 'DEVNET_NOT_RUNNING'])
  })

  it('follows an order until its batch is decided and seals it again when it missed it', async () => {
    const before = new Set(node.mempool.ordersForBatch(1n).map((e) => e.id))
    const running = cli(
      [
        'order',
        'submit',
        '--node',
        api,
        '--key',
        'devnet:1',
        '--dir',
        devnetDir,
        '--sell',
        '4 TKA',
        '--buy',
        '3 TKB',
        '--json',
      ],
      noConfig,
    )
    const fresh = () => node.mempool.ordersForBatch(1n).find((e) => !before.has(e.id))
    // Batch 1 is decided without it (it reached the proposer too late): the client seals it again…
    const first = await until(fresh, 'the first envelope')
    const keep = [...before].filter((id) => node.mempool.has(id))
    await node.mempool.markDecided(keep, 1n)
    const second = await until(() => {
      const e = fresh()
      return e && e.id !== first.id ? e : undefined
    }, 'the second envelope')
    // …and this time batch 1 (still open on this clock) takes it.
    await node.mempool.markDecided([second.id], 1n)
    const r = await running
    expect(r.code, r.err).toBe(0)
    const j = JSON.parse(r.out)
    expect(j).toMatchObject({ orderId: second.id, status: 'included', targetBatch: '1' })
    expect(j.attempts).toEqual([
      expect.objectContaining({
        orderId: first.id,
        status: 'expired',
        error: expect.objectContaining({ code: 'ORDER_MISSED_BATCH' }),
      }),
      expect.objectContaining({ orderId: second.id, status: 'included' }),
    ])
    expect(decodeSealedOrder(second.bytes).nonce).not.toBe(decodeSealedOrder(first.bytes).nonce)
  })

  it('submits many orders from --in, one outcome each; exit 1 when any is refused', async () => {
    const file = join(dir, 'orders.json')
    writeFileSync(
      file,
      JSON.stringify([
        { sell: '10 TKA', buy: '9 TKB', partial: true },
        { sell: 'TKB:2.5', buy: 'TKA:2', batch: '+1' },
        { sell: '1 NOPE', buy: '1 TKA' },
        { sell: '1 TKA', buy: '1 TKB', validBatches: 0 },
      ]),
    )
    const r = await cli(
      [
        'order',
        'submit',
        '--in',
        file,
        '--node',
        api,
        '--key',
        'devnet:0',
        '--dir',
        devnetDir,
        '--no-retry',
        '--json',
      ],
      noConfig,
    )
    expect(r.code).toBe(1)
    expect(JSON.parse(r.err).error.code).toBe('ORDER_SOME_REFUSED')
    const { orders } = JSON.parse(r.out)
    expect(
      orders.map((o: { ok: boolean; status?: string; code?: string }) => [o.ok, o.status ?? o.code]),
    ).toEqual([
      [true, 'pending'],
      [true, 'pending'],
      [false, 'ORDER_UNKNOWN_ASSET'],
      [false, 'ORDER_BAD_BATCH'],
    ])
    expect(orders[1].targetBatch).toBe('2')
    expect(heldOrder(node, orders[0].orderId)).toMatchObject({
      sellAmount: 10n * E18,
      buyAmount: 9n * E18,
      partiallyFillable: true,
    })
    expect(heldOrder(node, orders[1].orderId)).toMatchObject({ sellAmount: 25n * 10n ** 17n, firstBatch: 2n })

    const good = join(dir, 'good.json')
    writeFileSync(
      good,
      JSON.stringify({
        orders: [
          { sell: '1 TKA', buy: '1 TKB' },
          { sell: '2 TKB', buy: '1 TKA' },
        ],
      }),
    )
    const table = await cli(
      ['order', 'submit', '--in', good, '--node', api, '--key', 'devnet:0', '--dir', devnetDir, '--no-retry'],
      noConfig,
    )
    expect(table.code, table.err).toBe(0)
    expect(table.out).toMatch(/^ {3}0 {2}0x[0-9a-f]{64} {2}pending +batch 1 {2}1 TKA → 1 TKB$/m)
    expect(table.out).toMatch(/2 of 2 orders acknowledged/)
    const both = await cli(
      [
        'order',
        'submit',
        '--in',
        good,
        '--sell',
        '1',
        'TKA',
        '--node',
        api,
        '--key',
        'devnet:0',
        '--dir',
        devnetDir,
      ],
      noConfig,
    )
    expect(both.code).toBe(1)
    expect(both.err).toMatch(/CLI_BAD_FLAG/)
  })
})
