import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AllotError } from '@allot/protocol'

/** `<dir>/devnet.json`, exactly as CLI.md shows it: scripts read it. */
export interface DevnetFile {
  networkId: string
  chainId: number
  rpcUrl: string
  /** null when the devnet uses an external chain (`--chain <rpc-url>`). */
  chainPid: number | null
  settlement: string
  tokens: { TKA: string; TKB: string; TKC: string }
  nodes: DevnetNode[]
  accounts: { address: string; privateKey: string }[]
}

export interface DevnetNode {
  index: number
  peerId: string
  validator: string
  api: string
  /** The node's HTTP gateway and explorer (`node start --http`). */
  http: string
  metrics: string
  pid: number
}

/**
 * What `restart <i>` needs to start a validator again exactly as `up` did: `<dir>/launch.json`,
 * kept apart from devnet.json so that the documented file stays as CLI.md shows it.
 */
export interface LaunchFile {
  nodes: { index: number; args: string[]; logFile: string }[]
}

export const paths = (dir: string) => ({
  devnet: join(dir, 'devnet.json'),
  launch: join(dir, 'launch.json'),
  genesis: join(dir, 'genesis.json'),
  logs: join(dir, 'logs'),
  keys: join(dir, 'keys'),
  chainLog: join(dir, 'logs', 'anvil.log'),
  chainState: join(dir, 'chain', 'state.json'),
  nodeData: (i: number) => join(dir, 'nodes', `node-${i}`),
  nodeLog: (i: number) => join(dir, 'logs', `node-${i}.log`),
  validatorKey: (i: number) => join(dir, 'keys', `validator-${i}.key`),
})

export function readDevnet(dir: string): DevnetFile {
  const p = paths(dir).devnet
  if (!existsSync(p)) {
    throw new AllotError(
      'DEVNET_NOT_RUNNING',
      `no devnet at ${dir} (no devnet.json): start one with \`allot devnet up\``,
    )
  }
  return JSON.parse(readFileSync(p, 'utf8')) as DevnetFile
}

export function readLaunch(dir: string): LaunchFile {
  return JSON.parse(readFileSync(paths(dir).launch, 'utf8')) as LaunchFile
}

export function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
}
