import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
export const REPO = join(import.meta.dirname, '..', '..')
const TSX = require.resolve('tsx')
const MAIN = join(REPO, 'packages', 'node', 'src', 'cli', 'main.ts')

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs `allot <args>` as a user would (a separate process), with a hard deadline. */
export function allot(
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=allot-source', '--import', TSX, MAIN, ...args], {
      cwd: REPO,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`allot ${args.join(' ')} timed out\n${stderr}`))
    }, opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr })
    })
  })
}

/** Runs `allot <args> --json`, expects exit 0, and parses the one JSON document on stdout. */
export async function allotJson<T = Record<string, unknown>>(args: string[], timeoutMs?: number): Promise<T> {
  const r = await allot([...args, '--json'], { timeoutMs })
  if (r.code !== 0)
    throw new Error(`allot ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}
