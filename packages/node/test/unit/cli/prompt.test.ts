import { PassThrough } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { askPassword, type TerminalInput } from '../../../src/cli/prompt.js'

/** A stand-in terminal: a stream that says it is a TTY and records raw mode. */
function terminal() {
  const input = new PassThrough() as PassThrough & TerminalInput
  const raw: boolean[] = []
  input.isTTY = true
  input.setRawMode = (r: boolean) => raw.push(r)
  let shown = ''
  const output = new PassThrough()
  output.on('data', (d) => (shown += d))
  return { input, output, raw, shown: () => shown }
}

describe('the password prompt', () => {
  let saved: string | undefined
  beforeEach(() => {
    saved = process.env.ALLOT_KEY_PASSWORD
    delete process.env.ALLOT_KEY_PASSWORD
  })
  afterEach(() => {
    if (saved !== undefined) process.env.ALLOT_KEY_PASSWORD = saved
  })

  it('hides what is typed (raw mode, nothing echoed) and handles backspace', async () => {
    const t = terminal()
    const pw = askPassword('key', { input: t.input, output: t.output })
    t.input.write('hunter3\u007f2\r')
    expect(await pw).toBe('hunter2')
    expect(t.shown()).toBe('password (key): \n')
    expect(t.raw).toEqual([true, false])
  })

  it('asks twice for a new keystore and refuses two different answers', async () => {
    const t = terminal()
    const ok = askPassword('new keystore', { confirm: true, input: t.input, output: t.output })
    t.input.write('s3cret\r')
    await new Promise((r) => setImmediate(r))
    t.input.write('s3cret\r')
    expect(await ok).toBe('s3cret')
    expect(t.shown()).toBe('password (new keystore): \nthe same password again: \n')

    const u = terminal()
    const bad = askPassword('new keystore', { confirm: true, input: u.input, output: u.output })
    u.input.write('one\r')
    await new Promise((r) => setImmediate(r))
    u.input.write('two\r')
    await expect(bad).rejects.toMatchObject({ code: 'KEY_PASSWORD_MISMATCH' })
  })

  it('refuses an empty new password, Ctrl-C, and a missing terminal with codes', async () => {
    const t = terminal()
    const empty = askPassword('new keystore', { confirm: true, input: t.input, output: t.output })
    t.input.write('\r')
    await expect(empty).rejects.toMatchObject({ code: 'KEY_BAD_PASSWORD' })
    const c = terminal()
    const ctrlC = askPassword('key', { input: c.input, output: c.output })
    c.input.write('ab\u0003')
    await expect(ctrlC).rejects.toMatchObject({ code: 'CLI_INTERRUPTED' })
    const notTty = new PassThrough() as PassThrough & TerminalInput
    await expect(askPassword('key', { input: notTty, output: new PassThrough() })).rejects.toMatchObject({
      code: 'KEY_BAD_PASSWORD',
    })
  })

  it('takes ALLOT_KEY_PASSWORD without asking', async () => {
    process.env.ALLOT_KEY_PASSWORD = 'from-env'
    const t = terminal()
    expect(await askPassword('key', { confirm: true, input: t.input, output: t.output })).toBe('from-env')
    expect(t.shown()).toBe('')
  })
})
