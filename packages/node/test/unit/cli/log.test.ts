import { AllotError } from '@allot/protocol'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createCliLogger, prettyLine } from '../../../src/cli/log.js'
import { EXIT_USER, isUserError, runCli } from '../../../src/cli/program.js'

/** Collects what a logger writes. */
function sink() {
  const lines: string[] = []
  return { lines, write: (s: string) => lines.push(s) }
}

describe('--log-format', () => {
  afterEach(() => vi.restoreAllMocks())

  it('pretty: time, level, message, then the fields as key=value, one line each', () => {
    const out = sink()
    const log = createCliLogger({ level: 'info', format: 'pretty' }, out)
    log.info({ height: '12', round: 0, peer: 'a b' }, 'batch decided')
    log.debug('not shown at info')
    expect(out.lines).toHaveLength(1)
    expect(out.lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}batch decided height=12 round=0 peer="a b"\n$/,
    )
  })

  it('pretty: an error shows its code and message, its stack below', () => {
    const out = sink()
    createCliLogger({ level: 'info', format: 'pretty' }, out).error(
      { err: new AllotError('SEAL_NO_BATCH_KEY', 'no epoch covers 9') },
      'share release failed',
    )
    expect(out.lines[0]).toMatch(
      /^\S+ ERROR share release failed err="SEAL_NO_BATCH_KEY: no epoch covers 9"\n/,
    )
    expect(out.lines[0].split('\n').length).toBeGreaterThan(2)
  })

  it('json (the default): one JSON object per line, fields as given', () => {
    const out = sink()
    createCliLogger({ level: 'info', format: 'json' }, out).warn({ height: '3' }, 'proposal refused')
    const o = JSON.parse(out.lines[0])
    expect(o).toMatchObject({ level: 40, msg: 'proposal refused', height: '3' })
  })

  it('a line that is not JSON passes through unchanged', () => {
    expect(prettyLine('plain text')).toBe('plain text\n')
  })

  it('a bad format or level is a coded user error, and the CLI exits 1 before it reads anything', async () => {
    for (const o of [
      { level: 'info', format: 'xml' },
      { level: 'loud', format: 'json' },
    ]) {
      let err: unknown
      try {
        createCliLogger(o)
      } catch (e) {
        err = e
      }
      expect(err).toMatchObject({ code: 'CLI_BAD_FLAG' })
      expect(isUserError(err)).toBe(true)
    }
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    const code = await runCli([
      'node',
      'allot',
      'node',
      'start',
      '--genesis',
      '/nonexistent/genesis.json',
      '--data',
      '/nonexistent',
      '--log-format',
      'xml',
    ])
    expect(code).toBe(EXIT_USER)
    expect(String(stderr.mock.calls[0][0])).toMatch(
      /^error: CLI_BAD_FLAG: --log-format must be one of json, pretty/,
    )
  })
})
