import { AllotError } from '@allot/protocol'
import { type Logger, levels, pino } from 'pino'

export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
}
/** Fields every line carries that the pretty form shows in its own place or drops. */
const SHOWN_APART = new Set(['level', 'time', 'msg', 'pid', 'hostname'])

/**
 * One pino line in the human form (`--log-format pretty`): `14:03:07.123 INFO  batch decided height=12
 * round=0 …` — the time (UTC), the level, the message, then the fields as key=value (strings unquoted
 * unless they hold spaces, objects as JSON). A line that is not JSON passes through as it is.
 */
export function prettyLine(line: string): string {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 23) : ''
  const level = (LEVELS[o.level as number] ?? String(o.level)).padEnd(5)
  const fields = Object.entries(o)
    .filter(([k]) => !SHOWN_APART.has(k))
    .map(([k, v]) => `${k}=${fieldText(v)}`)
  return `${[time, level, String(o.msg ?? ''), ...fields].filter((x) => x !== '').join(' ')}\n`
}

function fieldText(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v
  if (v !== null && typeof v === 'object') {
    const err = v as { type?: string; message?: string; code?: string; stack?: string }
    // pino's serialised error: its message (an AllotError's starts with its code) on the line, the stack
    // below it without the message again.
    if (typeof err.message === 'string' && typeof err.stack === 'string') {
      const text = err.code && !err.message.startsWith(err.code) ? `${err.code}: ${err.message}` : err.message
      return `${JSON.stringify(text)}\n${err.stack.split('\n').slice(1).join('\n')}`
    }
    return JSON.stringify(v)
  }
  return String(v)
}

/** A pino destination that writes each line in the human form. */
export function prettyDestination(out: { write(s: string): unknown } = process.stdout): {
  write(s: string): void
} {
  return {
    write(s: string) {
      out.write(prettyLine(s.endsWith('\n') ? s.slice(0, -1) : s))
    },
  }
}

/**
 * The CLI's logger: JSON lines (pino) by default — what log collectors read — or the human form for a
 * terminal. A bad format or level is the user's error (CLI_BAD_FLAG), not a crash.
 */
export function createCliLogger(
  o: { level: string; format: string },
  out?: { write(s: string): unknown },
): Logger {
  if (!(LOG_FORMATS as readonly string[]).includes(o.format))
    throw new AllotError(
      'CLI_BAD_FLAG',
      `--log-format must be one of ${LOG_FORMATS.join(', ')}, got ${o.format}`,
    )
  if (!Object.hasOwn(levels.values, o.level) && o.level !== 'silent')
    throw new AllotError(
      'CLI_BAD_FLAG',
      `--log-level must be one of ${[...Object.keys(levels.values), 'silent'].join(', ')}, got ${o.level}`,
    )
  if (o.format === 'pretty') return pino({ level: o.level }, prettyDestination(out))
  return out ? pino({ level: o.level }, out as NodeJS.WritableStream) : pino({ level: o.level })
}
