// `allot simulate` and `allot backtest` in-process, on their own commander program (no node, no socket).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseHistory } from '@allot/backtest'
import { Command } from 'commander'
import { afterAll, describe, expect, it } from 'vitest'
import { registerBacktestCommands } from '../../../src/cli/commands/backtest.js'

async function run(...args: string[]): Promise<string> {
  const program = new Command().exitOverride()
  registerBacktestCommands(program)
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

describe('allot simulate / backtest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'allot-backtest-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('simulates the same history from the same seed, and backtests it under two configurations', async () => {
    const a = join(dir, 'a.jsonl')
    const b = join(dir, 'b.jsonl')
    expect(await run('simulate', '--out', a, '--seed', '3', '--batches', '4', '--no-resource')).toMatch(
      /^4 batches, \d+ orders/,
    )
    await run('simulate', '--out', b, '--seed', '3', '--batches', '4', '--no-resource')
    expect(readFileSync(a, 'utf8')).toBe(readFileSync(b, 'utf8'))
    const h = parseHistory(readFileSync(a, 'utf8'))
    expect(h.batches).toHaveLength(4)
    expect(Object.keys(h.header.assets).sort()).toEqual(['BTC', 'ETH', 'USD'])

    const json = join(dir, 'r.json')
    const html = join(dir, 'r.html')
    const out = await run(
      'backtest',
      a,
      '--config',
      'name=1s',
      '--compare',
      'name=2s,interval=2000,fee=5',
      '--threads',
      '1',
      '--json',
      json,
      '--html',
      html,
    )
    expect(out).toContain('1s: 4 batches')
    expect(out).toContain('2s: 2 batches')
    const r = JSON.parse(readFileSync(json, 'utf8')) as {
      runs: { config: { name: string; intervalMs?: number; feeBps?: number } }[]
    }
    expect(r.runs.map((x) => x.config)).toEqual([{ name: '1s' }, { name: '2s', intervalMs: 2000, feeBps: 5 }])
    expect(readFileSync(html, 'utf8')).toContain('new Chart(')
  })

  it('refuses a configuration it does not know', async () => {
    await expect(run('backtest', join(dir, 'a.jsonl'), '--config', 'speed=11')).rejects.toThrow(
      /CLI_BAD_FLAG/,
    )
  })
})
