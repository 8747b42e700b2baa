// Issue 21 item 6: `@allot/node/client` as a program outside the workspace uses it — compiled JS from
// plain node, no server side in its import graph, and the example of docs/client.md run as written
// against a node started here. The signers: packages/node/test/unit/api/signer.test.ts.
import { execFile, spawnSync } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, testGenesis } from './node-fixtures.js'
import { REPO } from './support/cli.js'

const KEY = `0x${'42'.repeat(32)}` as const
const dir = mkdtempSync(join(tmpdir(), 'allot-sdk-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A source file newer than its package's compiled dist/, if any. */
function staleDist(): string | undefined {
  for (const pkg of ['protocol', 'solver', 'node']) {
    const root = join(REPO, 'packages', pkg)
    const built = statSync(join(root, 'dist', '.tsbuildinfo')).mtimeMs
    const newer = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).find(
      (f) => f.endsWith('.ts') && statSync(join(root, 'src', f)).mtimeMs > built,
    )
    if (newer) return join('packages', pkg, 'src', newer)
  }
  return undefined
}

describe('@allot/node/client from plain node, outside the workspace', () => {
  const cluster = new Cluster(testGenesis({ networkId: 'sdktest' }))
  const project = join(dir, 'my-bot')
  let api: string

  beforeAll(async () => {
    // The compiled packages, as `pnpm install` / `pnpm build` leave them (CI builds before it tests).
    const stale = staleDist()
    expect(stale, `dist/ is older than ${stale}: run \`pnpm compile\``).toBeUndefined()
    // A fresh project with @allot/node and viem installed as links (what `npm install <path>` makes).
    mkdirSync(join(project, 'node_modules', '@allot'), { recursive: true })
    writeFileSync(join(project, 'package.json'), '{ "name": "my-bot", "type": "module" }\n')
    symlinkSync(join(REPO, 'packages', 'node'), join(project, 'node_modules', '@allot', 'node'))
    symlinkSync(join(REPO, 'packages', 'node', 'node_modules', 'viem'), join(project, 'node_modules', 'viem'))
    api = (await cluster.add()).apiAddrs()[0]
  })
  afterAll(() => cluster.stopAll())

  it('its import graph holds no level, gossipsub, viem or pino, and its .d.ts ship beside it', () => {
    const file = join(dir, 'loads.txt')
    const trace = join(import.meta.dirname, 'support', 'trace-loads.mjs')
    const r = spawnSync(process.execPath, ['--import', trace, '-e', "await import('@allot/node/client')"], {
      cwd: project,
      env: { ...process.env, TRACE_LOADS: file },
      encoding: 'utf8',
    })
    expect(r.status, r.stderr).toBe(0)
    const urls = readFileSync(file, 'utf8').split('\n').filter(Boolean)
    expect(urls.some((u) => u.endsWith('/packages/node/dist/client/index.js'))).toBe(true)
    expect(urls.some((u) => u.includes('/packages/protocol/dist/'))).toBe(true)
    for (const u of urls) {
      expect(u).not.toMatch(/\.ts$/)
      expect(u).not.toMatch(/\/node_modules\/(level|classic-level|@chainsafe\/libp2p-gossipsub|viem|pino)\//)
      expect(u).not.toMatch(/\/packages\/node\/dist\/(storage|mempool|consensus|settlement|api\/server)/)
    }
    expect(readFileSync(join(REPO, 'packages', 'node', 'dist', 'client', 'index.d.ts'), 'utf8')).toContain(
      'signerFrom',
    )
  })

  it('the example of docs/client.md runs as written against a node: a viem account signs, the node takes it', async () => {
    const doc = readFileSync(join(REPO, 'docs', 'client.md'), 'utf8')
    const example = doc.split('<!-- example: client-sdk')[1].split('```js\n')[1].split('```')[0]
    writeFileSync(join(project, 'bot.mjs'), example)
    // Asynchronously: the node runs in this process and must answer meanwhile.
    const r = await promisify(execFile)(process.execPath, ['bot.mjs'], {
      cwd: project,
      env: { ...process.env, ALLOT_NODE: api, ALLOT_KEY: KEY },
      encoding: 'utf8',
    })
    const out = JSON.parse(r.stdout) as { orderId: string; status: string }
    expect(out.orderId).toMatch(/^0x[0-9a-f]{64}$/)
    expect(out.status).toBe('pending')
    expect(r.stderr).toContain('network sdktest')
  })
})
