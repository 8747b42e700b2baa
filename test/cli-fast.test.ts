// Issue 21 item 1: each command's code loads only when that command runs. The CLI runs from source
// here (tsx), whose module graph is the compiled CLI's; a resolve hook lists every module it loads.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildProgram } from '../packages/node/src/cli/program.js'
import { REPO } from './support/cli.js'

const TSX = createRequire(import.meta.url).resolve('tsx')
const MAIN = join(REPO, 'packages', 'node', 'src', 'cli', 'main.ts')
const TRACE = join(import.meta.dirname, 'support', 'trace-loads.mjs')
const dir = mkdtempSync(join(tmpdir(), 'allot-loads-'))
let n = 0

/** The URLs of the modules `allot <args>` loads (source CLI, through tsx). */
function loadsOf(args: string[]): string[] {
  const file = join(dir, `loads-${n++}.txt`)
  const r = spawnSync(
    process.execPath,
    ['--conditions=allot-source', '--import', TSX, '--import', TRACE, MAIN, ...args],
    { cwd: REPO, env: { ...process.env, TRACE_LOADS: file }, encoding: 'utf8' },
  )
  expect(r.status, r.stderr).toBe(0)
  return [...new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean))]
}

/** Which of the heavy packages a list of module URLs names. */
function heavy(urls: string[]): string[] {
  const names = ['libp2p', '@libp2p', '@chainsafe', 'viem', 'level', 'classic-level', 'pino', '@allot/solver']
  const found = new Set<string>()
  for (const u of urls) {
    for (const name of names) if (u.includes(`/node_modules/${name}/`)) found.add(name)
    if (u.includes('/packages/solver/')) found.add('@allot/solver')
    if (/\/packages\/node\/src\/(api|network|storage|settlement|devnet|consensus)\//.test(u))
      found.add('the node')
  }
  return [...found].sort()
}

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the bundled CLI the bin runs (dist/cli-bundle)', () => {
  const BIN = join(REPO, 'packages', 'node', 'bin', 'allot.mjs')
  beforeAll(() => {
    // esbuild: a second or so; keeps the bundle in step with the sources under test.
    const r = spawnSync(process.execPath, [join(REPO, 'packages', 'node', 'scripts', 'bundle-cli.mjs')], {
      encoding: 'utf8',
    })
    expect(r.status, r.stderr).toBe(0)
  })

  /** The bundle's chunks a run loads, and which heavy packages their text holds. */
  function bundledLoads(args: string[]): { chunks: string[]; packages: string[] } {
    const file = join(dir, `bundle-${n++}.txt`)
    const r = spawnSync(process.execPath, ['--import', TRACE, BIN, ...args], {
      cwd: REPO,
      env: { ...process.env, TRACE_LOADS: file },
      encoding: 'utf8',
    })
    expect(r.status, r.stderr).toBe(0)
    const chunks = [...new Set(readFileSync(file, 'utf8').split('\n'))].filter((u) =>
      u.includes('/cli-bundle/'),
    )
    const text = chunks.map((u) => readFileSync(fileURLToPath(u), 'utf8')).join('\n')
    // esbuild marks each bundled module with a comment naming its path, e.g. `// …/node_modules/libp2p/…`.
    const packages = ['libp2p', 'viem', 'level', '@allot/solver'].filter((p) =>
      p === '@allot/solver' ? text.includes('// packages/solver/src/') : text.includes(`/node_modules/${p}/`),
    )
    return { chunks, packages }
  }

  it('`allot --help` runs in this process and loads no chunk with libp2p, viem, level or the solver', () => {
    const help = bundledLoads(['--help'])
    // The hook is in this process only: a bin that ran the CLI in a child process would show no chunk.
    expect(help.chunks.length).toBeGreaterThan(0)
    expect(help.packages).toEqual([])
    // The same check sees libp2p when a command needs it.
    expect(bundledLoads(['order', '--help']).packages).toContain('libp2p')
  })
})

describe('the CLI loads a command’s code only when that command runs', () => {
  it('`allot --help` loads no libp2p, viem, level, pino, solver or node code', () => {
    const urls = loadsOf(['--help'])
    expect(urls.some((u) => u.includes('/commander/'))).toBe(true)
    expect(heavy(urls)).toEqual([])
  })

  it('`allot solve --help` loads the solver but not the network; `allot order --help` loads libp2p', () => {
    expect(heavy(loadsOf(['solve', '--help']))).toEqual(['@allot/solver'])
    const order = heavy(loadsOf(['order', '--help']))
    expect(order).toContain('libp2p')
    expect(order).not.toContain('level')
    expect(order).not.toContain('viem')
  })

  it('`allot --help` lists every group under the name and description its module registers', async () => {
    const lazy = await buildProgram(['node', 'allot', '--help'])
    const full = await buildProgram([], { all: true })
    const listing = (p: typeof full) => p.commands.map((c) => [c.name(), c.description()])
    expect(listing(lazy)).toEqual(listing(full))
    // A lazy program holds stubs only: no subcommands, no options.
    expect(lazy.commands.every((c) => c.commands.length === 0 && c.options.length === 0)).toBe(true)
  })
})
