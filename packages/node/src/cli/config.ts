import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { AllotError } from '@allot/protocol/errors'

/**
 * The CLI's settings file (docs/cli.md "Aiming"): what `allot config set` writes, read by every command
 * for what its flags and the environment leave open. Flags override the environment, the environment
 * overrides this file.
 */
export const CONFIG_KEYS = {
  node: 'the node API a command talks to: a multiaddr …/p2p/<peer id>, or devnet:N (env ALLOT_NODE)',
  key: 'the trader key: a keystore file, a raw hex key (devnets), or devnet:N (env ALLOT_KEY)',
  'devnet-dir': 'where devnet:N finds devnet.json (env ALLOT_DEVNET_DIR; default .devnet)',
} as const
export type ConfigKey = keyof typeof CONFIG_KEYS
/** What `allot config` does, as `allot --help` lists it (without loading the command's module). */
export const CONFIG_DESCRIPTION = `the CLI's settings (${Object.keys(CONFIG_KEYS).join(', ')}) in $ALLOT_CONFIG or $XDG_CONFIG_HOME/allot/config.json; flags and env override them`
export type CliConfig = Partial<Record<ConfigKey, string>>

/** `ALLOT_CONFIG`, else `$XDG_CONFIG_HOME/allot/config.json`, else `~/.config/allot/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ALLOT_CONFIG) return env.ALLOT_CONFIG
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config')
  return join(base, 'allot', 'config.json')
}

export function isConfigKey(name: string): name is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, name)
}

function checkKey(name: string): ConfigKey {
  if (!isConfigKey(name))
    throw new AllotError(
      'CLI_BAD_CONFIG',
      `unknown setting ${name}; the settings are ${Object.keys(CONFIG_KEYS).join(', ')}`,
    )
  return name
}

export function readConfig(path = configPath()): CliConfig {
  if (!existsSync(path)) return {}
  let doc: unknown
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw new AllotError('CLI_BAD_CONFIG', `${path} is not JSON: ${(e as Error).message}`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new AllotError('CLI_BAD_CONFIG', `${path} must hold a JSON object`)
  const out: CliConfig = {}
  for (const [k, v] of Object.entries(doc)) if (isConfigKey(k) && typeof v === 'string') out[k] = v
  return out
}

/** Writes one setting (undefined: removes it), replacing the file whole so a crash leaves the old one. */
export function writeConfigValue(name: string, value: string | undefined, path = configPath()): CliConfig {
  const key = checkKey(name)
  const doc = readConfig(path)
  if (value === undefined) delete doc[key]
  else doc[key] = value
  mkdirSync(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, path)
  return doc
}

export function configValue(name: string, path = configPath()): string | undefined {
  return readConfig(path)[checkKey(name)]
}
