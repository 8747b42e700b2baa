/**
 * The README's "Five minutes with the devnet", command by command as a user types them, each a new `allot`
 * process, with a person's pauses between them: aimed by ALLOT_NODE / ALLOT_KEY = devnet:N, amounts in
 * whole tokens, two crossing orders without --batch. Also `devnet up --accounts` past anvil's ten accounts
 * and `devnet logs`. Every process is stopped by PID in afterAll (`devnet down`, then any left by PID).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allot, REPO } from './support/cli.js'

interface DevnetJson {
  chainPid: number
  nodes: { index: number; api: string; pid: number }[]
  accounts: { address: string; privateKey: string }[]
}

const dir = mkdtempSync(join(tmpdir(), 'allot-walkthrough-'))
// What the README exports, plus where this devnet lives and a config file of its own (none of the user's).
const env = {
  ALLOT_NODE: 'devnet:0',
  ALLOT_KEY: 'devnet:0',
  ALLOT_DEVNET_DIR: dir,
  ALLOT_CONFIG: join(dir, 'config.json'),
}
const ACCOUNTS = 12 // past anvil's ten accounts (the old limit was 9)
const pause = () => new Promise((r) => setTimeout(r, 1500)) // a person reading the last answer
let devnet: DevnetJson

function pids(): number[] {
  try {
    const d = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as DevnetJson
    return [d.chainPid, ...d.nodes.map((n) => n.pid)].filter((p) => typeof p === 'number')
  } catch {
    return []
  }
}

async function run(args: string[], timeoutMs = 120_000) {
  const r = await allot(args, { env, timeoutMs })
  if (r.code !== 0)
    throw new Error(`allot ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r.stdout
}

describe('the README walkthrough, typed', () => {
  beforeAll(async () => {
    await run(['devnet', 'up', '--dir', dir, '--accounts', String(ACCOUNTS)], 240_000)
    devnet = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as DevnetJson
  }, 300_000)

  afterAll(async () => {
    const left = pids()
    await allot(['devnet', 'down', '--dir', dir], { timeoutMs: 60_000 }).catch(() => undefined)
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already stopped by devnet down
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }, 120_000)

  it('info, two crossing orders in whole tokens without --batch, watch, status, batch, balance', async () => {
    expect(devnet.accounts).toHaveLength(ACCOUNTS)
    const info = JSON.parse(await run(['info', '--json']))
    expect(info.assets).toContainEqual(expect.objectContaining({ symbol: 'TKA', decimals: 18 }))
    expect(info.validators).toHaveLength(4)
    expect(info.submitMarginMs).toBeGreaterThan(0)
    const human = await run(['info'])
    expect(human).toMatch(/open batch \d+ closes for orders in \d+ ms/)
    await pause()

    // A: sells 100 TKA for at least 90 TKB, resting up to 120 batches; the command returns once its batch is decided.
    const a = (
      await run([
        'order',
        'submit',
        '--sell',
        '100',
        'TKA',
        '--buy',
        '90',
        'TKB',
        '--partial',
        '--valid-batches',
        '120',
        '-q',
      ])
    ).trim()
    expect(a).toMatch(/^0x[0-9a-f]{64}$/)
    await pause()
    // B, through another node with another account: 100 TKB for at least 95 TKA. No --batch anywhere.
    const b = await run([
      'order',
      'submit',
      '--sell',
      'TKB:100',
      '--buy',
      'TKA:95',
      '--partial',
      '--key',
      'devnet:1',
      '--node',
      'devnet:1',
    ])
    expect(b).toMatch(
      /^0x[0-9a-f]{64} {2}(included|filled|partially_filled) {2}batch \d+ {2}sell 100 TKB for at least 95 TKA/m,
    )
    await pause()

    const watched = (await run(['order', 'watch', a, '--json'], 120_000)).trim().split('\n')
    const final = JSON.parse(watched[watched.length - 1])
    expect(['filled', 'partially_filled']).toContain(final.status)
    expect(BigInt(final.filled.sold)).toBeGreaterThan(0n)
    await pause()

    // The batch it filled in: uniform prices, the fills, the validators' certificate.
    const batch = JSON.parse(
      await run(['batch', 'show', String(final.batch), '--node', 'devnet:2', '--json']),
    )
    expect(batch.fills.map((f: { orderId: string }) => f.orderId)).toContain(a)
    expect(batch.certificate.signers.length).toBeGreaterThanOrEqual(3)
    // Settled on anvil before long.
    let status = final
    for (let i = 0; i < 120 && !status.settlement; i++) {
      await new Promise((r) => setTimeout(r, 1000))
      status = JSON.parse(await run(['order', 'status', a, '--json']))
    }
    expect(status.settlement?.txHash).toMatch(/^0x[0-9a-f]{64}$/)
    // For people, the fill in whole tokens (its assets come from the batch that filled it).
    expect(await run(['order', 'status', a])).toMatch(/ {2}sold \d+(\.\d+)? TKA bought \d+(\.\d+)? TKB {2}/)
    const bal = await run(['balance', devnet.accounts[0].address])
    expect(bal).toMatch(/TKA/)
  }, 420_000)

  it('funds accounts past anvil’s ten: the last one holds its tokens in escrow', async () => {
    const last = devnet.accounts[ACCOUNTS - 1]
    const b = JSON.parse(await run(['balance', last.address, '--json']))
    expect(b.balances.TKB.escrow).toBe((1_000_000n * 10n ** 18n).toString())
  })

  it('devnet logs prints a validator’s log and -f follows it until stopped', async () => {
    const tail = await run(['devnet', 'logs', '0', '--lines', '3'])
    const lines = tail.trim().split('\n')
    expect(lines).toHaveLength(3)
    for (const l of lines) expect(JSON.parse(l)).toHaveProperty('msg')

    const require = createRequire(import.meta.url)
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--import',
        require.resolve('tsx'),
        join(REPO, 'packages/node/src/cli/main.ts'),
        'devnet',
        'logs',
        '0',
        '-f',
        '--lines',
        '0',
      ],
      { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout?.on('data', (d) => (out += d))
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)))
    try {
      // The validators log every batch: new lines arrive within a few seconds.
      for (let i = 0; i < 240 && out.split('\n').length < 3; i++) await new Promise((r) => setTimeout(r, 250))
      expect(out.split('\n').length).toBeGreaterThanOrEqual(3)
      expect(JSON.parse(out.split('\n')[0])).toHaveProperty('level')
    } finally {
      if (child.pid) process.kill(child.pid, 'SIGINT')
    }
    expect(await exited).toBe(0)
  }, 120_000)
})
