import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { AllotError } from '@allot/protocol'

export interface AnvilOptions {
  /** 0 (default): a free port on 127.0.0.1. */
  port?: number
  chainId?: number
  /** Interval mining in seconds; default: a block per transaction (automine). */
  blockTime?: number
  /** Gas limit of a block (anvil's default is 30M). */
  gasLimit?: bigint
  /** Persist chain state in this file (`--state`), so a devnet chain survives restarts. */
  stateFile?: string
  /** Extra arguments for anvil. */
  args?: string[]
  /** Where anvil's stdout/stderr go; default: discarded. */
  onOutput?: (line: string) => void
  /** Start the process detached from ours (devnets that outlive the CLI). */
  detached?: boolean
  startTimeoutMs?: number
}

export interface AnvilInstance {
  rpcUrl: string
  port: number
  pid: number
  chainId: number
  /** Stops anvil by its PID (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>
}

/** anvil's ten default accounts (mnemonic "test test … junk", m/44'/60'/0'/0/i), each funded with 10,000 ETH. */
export const ANVIL_DEFAULT_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
  '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
  '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356',
  '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97',
  '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6',
] as const

/**
 * The platform binary of `@foundry-rs/anvil`. Spawned directly: the package's `anvil` bin is a wrapper
 * that spawns the binary as a child, so killing the wrapper's PID would leak the real process.
 */
export function anvilBinaryPath(): string {
  const require = createRequire(import.meta.url)
  let wrapper: string
  try {
    wrapper = require.resolve('@foundry-rs/anvil/package.json')
  } catch {
    // A development dependency: an operator's install has no anvil; give the devnet an RPC URL instead.
    throw new AllotError(
      'DEVNET_TOOL_MISSING',
      'anvil is not installed (@foundry-rs/anvil, a development dependency): pnpm install in the workspace, or use --chain <rpc-url>',
    )
  }
  const platform = `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`
  const fromWrapper = createRequire(wrapper)
  const pkg = fromWrapper.resolve(`@foundry-rs/anvil-${platform}/package.json`)
  return join(dirname(pkg), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

async function rpcReady(rpcUrl: string): Promise<boolean> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    })
    return res.ok
  } catch {
    return false
  }
}

/** Sends a signal to a PID; false when it no longer exists. */
function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig)
    return true
  } catch {
    return false
  }
}

/** Stops a process by PID: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  if (!signal(pid, 'SIGTERM')) return
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
    if (!signal(pid, 0)) return
  }
  signal(pid, 'SIGKILL')
  // Return only once it is gone, so a caller that stopped it may rely on that.
  while (signal(pid, 0)) await new Promise((r) => setTimeout(r, 20))
}

/** Starts anvil on 127.0.0.1 and waits until its RPC answers. */
export async function startAnvil(opts: AnvilOptions = {}): Promise<AnvilInstance> {
  const chainId = opts.chainId ?? 31337
  const maxAttempts = opts.port ? 1 : 3
  let lastError: unknown
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const port = opts.port || (await freePort())
    const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId), '--silent']
    if (opts.blockTime !== undefined) args.push('--block-time', String(opts.blockTime))
    if (opts.gasLimit !== undefined) args.push('--gas-limit', opts.gasLimit.toString())
    if (opts.stateFile) args.push('--state', opts.stateFile)
    args.push(...(opts.args ?? []))
    const child: ChildProcess = spawn(anvilBinaryPath(), args, {
      stdio: opts.onOutput ? ['ignore', 'pipe', 'pipe'] : 'ignore',
      detached: opts.detached ?? false,
    })
    if (opts.onOutput) {
      const forward = (d: Buffer) => {
        for (const line of d.toString().split('\n')) if (line) opts.onOutput?.(line)
      }
      child.stdout?.on('data', forward)
      child.stderr?.on('data', forward)
    }
    if (opts.detached) child.unref()
    const pid = child.pid
    if (pid === undefined) throw new AllotError('SETTLE_ANVIL', 'anvil did not start')
    let exited = false
    // An attached anvil dies with us even if nobody calls stop() (a crashed test or tool).
    const onExit = () => signal(pid, 'SIGKILL')
    if (!opts.detached) process.once('exit', onExit)
    child.once('exit', () => {
      exited = true
      process.removeListener('exit', onExit)
    })
    const rpcUrl = `http://127.0.0.1:${port}`
    const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000)
    while (Date.now() < deadline && !exited) {
      if (await rpcReady(rpcUrl)) {
        return {
          rpcUrl,
          port,
          pid,
          chainId,
          stop: async () => {
            if (!exited) await stopPid(pid)
          },
        }
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    lastError = new AllotError(
      'SETTLE_ANVIL',
      exited ? `anvil exited (port ${port} taken?)` : 'anvil did not answer',
    )
    await stopPid(pid)
  }
  throw lastError
}
