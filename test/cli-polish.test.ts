// Issue 21 item 7: parse errors with codes and --json, flag checks, quiet EPIPE, keystores in the key
// directory, shell completion. Most run in-process through runCli; EPIPE and completion run processes.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO } from './support/cli.js'
import { cliInProcess } from './support/cli-in-process.js'

const cli = cliInProcess

/** Expects exit 1 and `{ error: { code } }` as the one document on stdout; the message without the code. */
async function refused(code: string, ...args: string[]): Promise<string> {
  const r = await cli(...args, '--json')
  expect(r.code, r.err).toBe(1)
  const doc = JSON.parse(r.out) as { error: { code: string; message: string } }
  expect(doc.error.code).toBe(code)
  expect(doc.error.message.startsWith(code)).toBe(false)
  expect(doc.error.message).not.toContain(`${code}:`)
  return doc.error.message
}

// A well-formed node address nothing listens on: a command that got as far as dialing would exit 2.
const NOWHERE = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'
const KEY = `0x${'11'.repeat(32)}`
const ID = `0x${'ab'.repeat(32)}`
const dir = mkdtempSync(join(tmpdir(), 'allot-polish-'))

beforeAll(() => {
  process.env.ALLOT_KEY_PASSWORD = 'pw'
  process.env.ALLOT_KEYSTORE_LIGHT = '1'
  // no node or key from this machine's environment or config file (docs/cli.md "Aiming")
  process.env.ALLOT_CONFIG = join(dir, 'config.json')
  delete process.env.ALLOT_NODE
  delete process.env.ALLOT_KEY
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('parse errors carry a code and obey --json', () => {
  it('unknown flag, missing flag, missing argument, unknown command and subcommand', async () => {
    expect(await refused('CLI_BAD_FLAG', 'order', 'status', ID, '--node', NOWHERE, '--bogus')).toContain(
      "unknown option '--bogus'",
    )
    expect(await refused('CLI_MISSING_FLAG', 'order', 'submit', '--node', NOWHERE)).toContain('--key')
    await refused('CLI_BAD_ARGUMENT', 'order', 'status', '--node', NOWHERE)
    expect(await refused('CLI_UNKNOWN_COMMAND', 'bogus')).toContain('bogus')
    await refused('CLI_UNKNOWN_COMMAND', 'order', 'bogus')
    expect(await refused('CLI_UNKNOWN_COMMAND', 'help', 'bogus')).toContain('bogus')
  })

  it('without --json: one `error: CODE: message` line and a usage hint on stderr, nothing on stdout', async () => {
    const r = await cli('order', 'status', ID, '--bogus')
    expect(r.code).toBe(1)
    expect(r.out).toBe('')
    expect(r.err).toMatch(/^error: CLI_BAD_FLAG: unknown option '--bogus'\n/)
    expect(r.err).toContain('--help')
  })
})

describe('allot --version', () => {
  it('prints the version of packages/node/package.json and exits 0', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'packages/node/package.json'), 'utf8')) as {
      version: string
    }
    for (const flag of ['--version', '-V']) {
      const r = await cli(flag)
      expect(r.code).toBe(0)
      expect(r.out.trim()).toBe(pkg.version)
    }
  })
})

describe('flags are checked before anything is dialed', () => {
  it('a bad --log-level is exit 1 with a code', async () => {
    const genesis = join(dir, 'missing-genesis.json')
    const r = await cli('node', 'start', '--genesis', genesis, '--data', dir, '--log-level', 'loud')
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^error: CLI_BAD_FLAG: --log-level must be one of .*\bfatal\b.*, got loud/)
  })

  it('--key 0x1234 is "not a 32-byte key"; a missing key file is KEY_NOT_FOUND, not ENOENT', async () => {
    const submit = ['order', 'submit', '--node', NOWHERE, '--sell', 'TKA:1', '--buy', 'TKB:1']
    expect(await refused('KEY_BAD_FORMAT', ...submit, '--key', '0x1234')).toContain('not a 32-byte key')
    const missing = await refused('KEY_NOT_FOUND', ...submit, '--key', join(dir, 'nope.json'))
    expect(missing).not.toContain('ENOENT')
  })

  it('--valid-batches 0 and a non-numeric --interval are refused', async () => {
    await refused(
      'ORDER_BAD_BATCH',
      ...['order', 'submit', '--node', NOWHERE, '--key', KEY, '--sell', 'TKA:1', '--buy', 'TKB:1'],
      ...['--valid-batches', '0'],
    )
    expect(
      await refused('CLI_BAD_FLAG', 'order', 'watch', ID, '--node', NOWHERE, '--interval', 'soon'),
    ).toContain('--interval')
  })

  it('an error from a command (not the parser) has no code in its JSON message either', async () => {
    await refused('CLI_BAD_FLAG', 'batch', 'show', 'yesterday', '--node', NOWHERE)
  })
})

describe('keys list | import | export (the key directory)', () => {
  const keyDir = join(dir, 'keys')

  it('imports a hex key under a new password and a keystore as is; lists and exports them', async () => {
    const hex = await cli('keys', 'import', KEY, '--name', 'alice', '--dir', keyDir, '--json')
    expect(hex.code, hex.err).toBe(0)
    const alice = JSON.parse(hex.out) as { address: string; file: string }
    expect(alice.address).toMatch(/^0x[0-9a-f]{40}$/)

    const ks = join(dir, 'bob.json')
    const gen = await cli('keys', 'generate', '--out', ks, '--json')
    const bob = JSON.parse(gen.out) as { address: string }
    expect((await cli('keys', 'import', ks, '--dir', keyDir)).code).toBe(0)
    await refused('KEY_EXISTS', 'keys', 'import', ks, '--dir', keyDir)

    const list = JSON.parse((await cli('keys', 'list', '--dir', keyDir, '--json')).out) as {
      keys: { name: string; address: string }[]
    }
    expect(list.keys.map((k) => [k.name, k.address]).sort()).toEqual(
      [
        ['alice', alice.address],
        [bob.address, bob.address],
      ].sort(),
    )

    const exported = await cli('keys', 'export', 'alice', '--dir', keyDir)
    expect(JSON.parse(exported.out).address).toBe(alice.address.slice(2))
    const raw = JSON.parse(
      (await cli('keys', 'export', alice.address, '--dir', keyDir, '--hex', '--json')).out,
    )
    expect(raw.privateKey).toBe(KEY)
    await refused('KEY_NOT_FOUND', 'keys', 'export', 'carol', '--dir', keyDir)
    expect(readFileSync(alice.file, 'utf8')).toContain('"version": 3')
  })
})

describe('processes', () => {
  const TSX = createRequire(import.meta.url).resolve('tsx')
  const MAIN = join(REPO, 'packages', 'node', 'src', 'cli', 'main.ts')
  const node = `'${process.execPath}' --conditions=allot-source --import '${TSX}' '${MAIN}'`

  it('`allot … | <a reader that is gone>` exits 0 without a word on stderr (EPIPE)', () => {
    // `true` exits at once: by the time the CLI writes, the pipe's reader is gone.
    const r = spawnSync('bash', ['-c', `${node} completion bash | true; echo "exit=\${PIPESTATUS[0]}" >&2`], {
      cwd: REPO,
      encoding: 'utf8',
    })
    expect(r.stderr.trim()).toBe('exit=0')
  })

  it('`allot completion bash` completes commands, subcommands and flags in bash; zsh wraps it', async () => {
    const r = await cli('completion', 'bash')
    expect(r.code, r.err).toBe(0)
    const script = join(dir, 'allot.bash')
    writeFileSync(script, r.out)
    const complete = (...words: string[]) =>
      spawnSync(
        'bash',
        [
          '-c',
          `source '${script}'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _allot; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: 'utf8' },
      ).stdout.trim()
    expect(complete('allot', 'or')).toBe('order')
    expect(complete('allot', 'order', 'su')).toBe('submit')
    expect(complete('allot', 'order', 'submit', '--valid')).toBe('--valid-batches')
    expect(complete('allot', 'keys', '')).toContain('import')
    const zsh = await cli('completion', 'zsh')
    expect(zsh.out.startsWith('#compdef allot\n')).toBe(true)
    expect(zsh.out).toContain('bashcompinit')
    const fish = await cli('completion', 'fish')
    expect(fish.code).toBe(1)
    expect(fish.err).toMatch(/^error: CLI_BAD_ARGUMENT: shell must be bash or zsh/)
  })
})
