import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { freePort } from '../settlement/index.js'

/** Distinct free ports (bound one after another, so no two are the same). */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>()
  while (ports.size < n) ports.add(await freePort())
  return [...ports]
}

export interface BackgroundProcess {
  pid: number
  child: ChildProcess
}

/**
 * Starts a process in the background, detached from our process group so it outlives the CLI
 * that started it, with stdout and stderr appended to `logFile`.
 */
export function spawnBackground(
  command: string,
  args: string[],
  opts: { logFile: string; cwd?: string; env?: NodeJS.ProcessEnv },
): BackgroundProcess {
  mkdirSync(dirname(opts.logFile), { recursive: true })
  const fd = openSync(opts.logFile, 'a')
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  })
  closeSync(fd)
  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  child.unref()
  return { pid: child.pid, child }
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export function killProcess(pid: number | undefined): void {
  if (!pid || !isAlive(pid)) return
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** Polls `check` until it returns a value other than undefined, or throws `onTimeout()` after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; onTimeout: () => Error },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw opts.onTimeout()
    await sleep(opts.intervalMs ?? 200)
  }
}
