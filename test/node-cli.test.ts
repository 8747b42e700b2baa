// The node's CLI commands (CLI.md) against a running node, run in-process through runCli.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, testGenesis } from './node-fixtures.js'
import { cliInProcess } from './support/cli-in-process.js'

const cli = cliInProcess

describe('allot CLI against a running node', () => {
  const cluster = new Cluster(testGenesis({ networkId: 'clitest' }))
  const dir = mkdtempSync(join(tmpdir(), 'allot-cli-'))
  let api: string

  beforeAll(async () => {
    process.env.ALLOT_KEY_PASSWORD = 'pw'
    process.env.ALLOT_KEYSTORE_LIGHT = '1'
    api = (await cluster.add()).apiAddrs()[0]
  })
  afterAll(async () => {
    await cluster.stopAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it('keys generate, order submit/status/cancel/watch, balance, batch show', async () => {
    const ks = join(dir, 'trader.json')
    const gen = await cli('keys', 'generate', '--out', ks, '--json')
    expect(gen.code).toBe(0)
    const { address } = JSON.parse(gen.out)
    expect(JSON.parse(readFileSync(ks, 'utf8')).version).toBe(3)

    const sub = await cli(
      'order',
      'submit',
      '--node',
      api,
      '--key',
      ks,
      '--sell',
      'TKA:1000',
      '--buy',
      'TKB:900',
      '--raw',
      '--no-retry',
      '--json',
    )
    expect(sub.code).toBe(0)
    const s = JSON.parse(sub.out)
    expect(s).toMatchObject({ status: 'pending', targetBatch: '1' })

    const st = await cli('order', 'status', s.orderId, '--node', api, '--json')
    expect(JSON.parse(st.out)).toEqual({
      orderId: s.orderId,
      status: 'pending',
      batch: '1',
      settlement: null,
    })

    const bad = await cli(
      'order',
      'submit',
      '--node',
      api,
      '--key',
      ks,
      '--sell',
      'NOPE:1',
      '--buy',
      'TKB:1',
      '--json',
    )
    expect(bad.code).toBe(1)
    expect(JSON.parse(bad.err).error.code).toBe('ORDER_UNKNOWN_ASSET')
    const zero = await cli('order', 'submit', '--node', api, '--key', ks, '--sell', 'TKA:0', '--buy', 'TKB:1')
    expect(zero.code).toBe(1)
    expect(zero.err).toContain('ORDER_BAD_AMOUNT')

    const bal = await cli('balance', address, '--node', api, '--json')
    expect(JSON.parse(bal.out)).toEqual({
      address: address.toLowerCase(),
      balances: { TKA: { escrow: '1000', available: '1000', pendingWithdrawal: '0' } },
    })

    const batch = await cli('batch', 'show', 'latest', '--node', api, '--json')
    expect(batch.code, batch.err).toBe(1)
    expect(JSON.parse(batch.err).error.code).toBe('BATCH_NOT_FOUND')

    const can = await cli('order', 'cancel', s.orderId, '--node', api, '--key', ks, '--json')
    expect(JSON.parse(can.out)).toEqual({ orderId: s.orderId, status: 'cancelled' })
    const watch = await cli('order', 'watch', s.orderId, '--node', api, '--json')
    expect(watch.code).toBe(0)
    expect(JSON.parse(watch.out.trim().split('\n').at(-1) as string).status).toBe('cancelled')

    const down = await cli(
      'order',
      'status',
      s.orderId,
      '--node',
      '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWMJ9FxxefSds5aJZx7ZqZrow9cbAjdgFt1QsPt8iHmVHq',
    )
    expect(down.code).toBe(2)
  })
})
