import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { devnetAccountKey } from '../../../src/devnet/devnet.js'
import { devnetLogs, lastLines } from '../../../src/devnet/index.js'
import { ANVIL_DEFAULT_KEYS } from '../../../src/settlement/index.js'

describe('devnet logs and accounts', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  function devnet(): string {
    const dir = mkdtempSync(join(tmpdir(), 'allot-logs-'))
    dirs.push(dir)
    mkdirSync(join(dir, 'logs'))
    writeFileSync(
      join(dir, 'devnet.json'),
      JSON.stringify({ nodes: [{ index: 0 }, { index: 1 }], accounts: [] }),
    )
    writeFileSync(join(dir, 'logs', 'node-1.log'), 'a\nb\nc\n')
    return dir
  }

  it('prints a validator’s log, or its last lines; refuses an index it does not have', async () => {
    expect(lastLines('a\nb\nc\n', 2)).toBe('b\nc\n')
    expect(lastLines('a\nb\nc', 2)).toBe('b\nc')
    expect(lastLines('a\n', 5)).toBe('a\n')
    expect(lastLines('a\nb\n', 0)).toBe('')
    const dir = devnet()
    const out: string[] = []
    await devnetLogs(dir, 1, { write: (s) => out.push(s) })
    expect(out.join('')).toBe('a\nb\nc\n')
    out.length = 0
    await devnetLogs(dir, 1, { lines: 1, write: (s) => out.push(s) })
    expect(out.join('')).toBe('c\n')
    await expect(devnetLogs(dir, 7, { write: () => {} })).rejects.toMatchObject({ code: 'CLI_BAD_FLAG' })
    await expect(devnetLogs(dir, 0, { write: () => {} })).rejects.toMatchObject({
      code: 'DEVNET_NOT_RUNNING',
    })
  })

  it('follows what is appended, whole lines only, until stopped', async () => {
    const dir = devnet()
    const file = join(dir, 'logs', 'node-1.log')
    const out: string[] = []
    const stop = new AbortController()
    const following = devnetLogs(dir, 1, {
      follow: true,
      lines: 0,
      signal: stop.signal,
      pollMs: 10,
      write: (s) => out.push(s),
    })
    appendFileSync(file, 'd\ne')
    for (let i = 0; i < 200 && !out.join('').includes('d\n'); i++) await new Promise((r) => setTimeout(r, 10))
    expect(out.join('')).toBe('d\n') // "e" has no end yet
    appendFileSync(file, '\n')
    for (let i = 0; i < 200 && !out.join('').includes('e\n'); i++) await new Promise((r) => setTimeout(r, 10))
    expect(out.join('')).toBe('d\ne\n')
    stop.abort()
    await following
  })

  it('derives trader accounts past anvil’s ten from the same mnemonic', () => {
    expect(devnetAccountKey(1)).toBe(ANVIL_DEFAULT_KEYS[1])
    expect(devnetAccountKey(9)).toBe(ANVIL_DEFAULT_KEYS[9])
    const keys = Array.from({ length: 120 }, (_, i) => devnetAccountKey(i + 1))
    expect(new Set(keys).size).toBe(120)
    for (const k of keys) expect(k).toMatch(/^0x[0-9a-f]{64}$/)
  })
})
