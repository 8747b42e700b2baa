import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { AllotError } from '@allot/protocol/errors'
import type { Command, Option } from 'commander'
import { type CliConfig, configPath, readConfig } from './config.js'

/**
 * Aiming (docs/cli.md "Aiming"): which node a command talks to and which key signs, from the flag, else
 * the environment (ALLOT_NODE, ALLOT_KEY), else the config file; `devnet:N` names devnet node N's API or
 * devnet account N's key, read from `<dir>/devnet.json` (`--dir`, ALLOT_DEVNET_DIR, config `devnet-dir`,
 * default `.devnet`).
 */
export interface AimSources {
  env?: NodeJS.ProcessEnv
  config?: CliConfig
}

const DEVNET_REF = /^devnet:([0-9]+)$/

export function devnetDir(flag: string | undefined, s: AimSources = {}): string {
  const env = s.env ?? process.env
  return flag ?? env.ALLOT_DEVNET_DIR ?? (s.config ?? readConfig())['devnet-dir'] ?? '.devnet'
}

interface DevnetRefs {
  nodes: { index: number; api: string }[]
  accounts: { address: string; privateKey: string }[]
}

function devnetRefs(dir: string): DevnetRefs {
  const p = join(dir, 'devnet.json')
  if (!existsSync(p))
    throw new AllotError(
      'DEVNET_NOT_RUNNING',
      `devnet:N needs ${p}: start a devnet with \`allot devnet up\`, or name its directory with --dir or ALLOT_DEVNET_DIR`,
    )
  return JSON.parse(readFileSync(p, 'utf8')) as DevnetRefs
}

/** A `devnet:N` reference made concrete (node N's API multiaddr, account N's key); anything else as given. */
export function resolveDevnetRef(kind: 'node' | 'key', value: string, dir: string): string {
  const m = DEVNET_REF.exec(value)
  if (!m) return value
  const i = Number(m[1])
  const d = devnetRefs(dir)
  if (kind === 'node') {
    const n = d.nodes.find((x) => x.index === i) ?? d.nodes[i]
    if (!n)
      throw new AllotError('CLI_BAD_FLAG', `the devnet in ${dir} has nodes 0…${d.nodes.length - 1}, not ${i}`)
    return n.api
  }
  const a = d.accounts[i]
  if (!a)
    throw new AllotError(
      'CLI_BAD_FLAG',
      `the devnet in ${dir} has accounts 0…${d.accounts.length - 1}, not ${i}`,
    )
  return a.privateKey
}

const AIMED = {
  node: { env: 'ALLOT_NODE', flag: '--node <api-multiaddr>' },
  key: { env: 'ALLOT_KEY', flag: '--key <key>' },
} as const
type Aimed = keyof typeof AIMED

/** Where a value was found, for `allot info` and error messages. */
export function aimedValue(
  kind: Aimed,
  flag: string | undefined,
  s: AimSources = {},
): { value: string; from: 'flag' | 'env' | 'config' } | undefined {
  const env = s.env ?? process.env
  if (flag !== undefined) return { value: flag, from: 'flag' }
  const e = env[AIMED[kind].env]
  if (e) return { value: e, from: 'env' }
  const c = (s.config ?? readConfig())[kind]
  if (c) return { value: c, from: 'config' }
  return undefined
}

/**
 * Makes every command that takes `--node` or `--key` aimable: the flags stop being mandatory for commander,
 * each such command gains `--dir` (for devnet:N; a command's own `--dir` left at its default follows
 * ALLOT_DEVNET_DIR and the config's devnet-dir), and before its action the value comes from the flag,
 * the environment or the config file, with devnet:N resolved. A command that required the flag and finds
 * it nowhere fails with CLI_MISSING_FLAG, naming all three ways to give it.
 */
export function makeAimable(program: Command): void {
  const required = new Map<Command, Set<Aimed>>()
  const walk = (c: Command) => {
    const opts = (c as unknown as { options: Option[] }).options
    let aims = false
    for (const o of opts) {
      const name = o.attributeName()
      if (name !== 'node' && name !== 'key') continue
      aims = true
      if (o.mandatory) {
        o.mandatory = false
        const set = required.get(c) ?? new Set<Aimed>()
        set.add(name)
        required.set(c, set)
      }
      o.description = `${o.description} (or ${AIMED[name].env}, or \`allot config set ${name}\`; devnet:N on a devnet)`
    }
    if (aims && !opts.some((o) => o.attributeName() === 'dir'))
      c.option(
        '--dir <devnet-dir>',
        'the devnet directory devnet:N reads (default .devnet, or ALLOT_DEVNET_DIR)',
      )
    for (const sub of c.commands) walk(sub)
  }
  walk(program)
  program.hook('preAction', (_root, action) => {
    const opts = action.opts() as Record<string, unknown>
    const names = (action as unknown as { options: Option[] }).options.map((o) => o.attributeName())
    // The devnet commands' own --dir (default .devnet) follows ALLOT_DEVNET_DIR and the config too.
    if (names.includes('dir') && action.getOptionValueSource('dir') === 'default') {
      const dir = devnetDir(undefined)
      if (dir !== '.devnet') action.setOptionValue('dir', dir)
    }
    if (!names.includes('node') && !names.includes('key')) return
    let config: CliConfig | undefined
    const sources = (): AimSources => {
      config ??= readConfig()
      return { config }
    }
    const dir = devnetDir(opts.dir as string | undefined, sources())
    for (const kind of ['node', 'key'] as const) {
      if (!names.includes(kind)) continue
      const found = aimedValue(kind, opts[kind] as string | undefined, sources())
      if (!found) {
        if (required.get(action)?.has(kind))
          throw new AllotError(
            'CLI_MISSING_FLAG',
            `no ${kind}: give ${AIMED[kind].flag}, set ${AIMED[kind].env}, or run \`allot config set ${kind} …\` (${configPath()})`,
          )
        continue
      }
      action.setOptionValue(kind, resolveDevnetRef(kind, found.value, dir))
    }
  })
}
