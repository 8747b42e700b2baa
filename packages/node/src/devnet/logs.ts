import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'
import { AllotError } from '@allot/protocol'
import { paths, readDevnet } from './layout.js'

export interface DevnetLogsOptions {
  /** Print only the last this many lines first (default all). */
  lines?: number
  /** Keep printing what the validator appends, until `signal` aborts. */
  follow?: boolean
  signal?: AbortSignal
  write: (chunk: string) => void
  /** How often a followed log is looked at (ms). */
  pollMs?: number
}

/** The last `n` lines of `text` (a trailing newline ends the last line, it does not start another). */
export function lastLines(text: string, n: number): string {
  if (n <= 0) return ''
  let at = text.length
  if (text.endsWith('\n')) at--
  for (let k = 0; k < n; k++) {
    const i = text.lastIndexOf('\n', at - 1)
    if (i < 0) return text
    at = i
  }
  return text.slice(at + 1)
}

function readFrom(file: string, from: number, to: number): string {
  if (to <= from) return ''
  const fd = openSync(file, 'r')
  try {
    const buf = Buffer.alloc(to - from)
    const n = readSync(fd, buf, 0, buf.length, from)
    return buf.subarray(0, n).toString('utf8')
  } finally {
    closeSync(fd)
  }
}

/** `allot devnet logs <i> [-f]`: validator i's log (`<dir>/logs/node-<i>.log`), whole or its tail, then followed. */
export async function devnetLogs(dir: string, index: number, o: DevnetLogsOptions): Promise<void> {
  const d = readDevnet(dir)
  if (!d.nodes.some((n) => n.index === index))
    throw new AllotError(
      'CLI_BAD_FLAG',
      `the devnet in ${dir} has validators 0…${d.nodes.length - 1}, not ${index}`,
    )
  const file = paths(dir).nodeLog(index)
  if (!existsSync(file)) throw new AllotError('DEVNET_NOT_RUNNING', `no log at ${file}`)
  let at = statSync(file).size
  const text = readFrom(file, 0, at)
  o.write(o.lines === undefined ? text : lastLines(text, o.lines))
  if (!o.follow) return
  // A partial last line waits for its end, so each line is written whole.
  let partial = ''
  while (!o.signal?.aborted) {
    await new Promise<void>((r) => {
      // One listener at a time: a listener per poll left behind would pile up on a long follow.
      const done = () => {
        clearTimeout(t)
        o.signal?.removeEventListener('abort', done)
        r()
      }
      const t = setTimeout(done, o.pollMs ?? 250)
      o.signal?.addEventListener('abort', done, { once: true })
    })
    const size = existsSync(file) ? statSync(file).size : 0
    if (size < at) at = 0 // truncated or replaced (a reset devnet): start again from its beginning
    const more = partial + readFrom(file, at, size)
    at = size
    const cut = more.lastIndexOf('\n')
    if (cut >= 0) o.write(more.slice(0, cut + 1))
    partial = more.slice(cut + 1)
  }
}
