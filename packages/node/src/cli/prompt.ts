import { AllotError } from '@allot/protocol/errors'

/** What promptHidden needs of a terminal: node's process.stdin (a tty.ReadStream) fits. */
export interface TerminalInput extends NodeJS.ReadableStream {
  isTTY?: boolean
  setRawMode?(raw: boolean): unknown
}

/**
 * Asks on the terminal without echoing what is typed (a password): raw mode, one key at a time;
 * Enter ends, Backspace erases, Ctrl-C / Ctrl-D abort with CLI_INTERRUPTED.
 */
export function promptHidden(
  question: string,
  input: TerminalInput = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<string> {
  if (!input.isTTY || !input.setRawMode)
    return Promise.reject(
      new AllotError('KEY_BAD_PASSWORD', 'set ALLOT_KEY_PASSWORD (no terminal to prompt on)'),
    )
  output.write(question)
  input.setRawMode(true)
  input.resume()
  return new Promise((resolve, reject) => {
    let typed = ''
    const done = (err?: Error) => {
      input.off('data', onData)
      input.setRawMode?.(false)
      input.pause()
      output.write('\n')
      if (err) reject(err)
      else resolve(typed)
    }
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done()
        if (ch === '\u0003' || ch === '\u0004')
          return done(new AllotError('CLI_INTERRUPTED', 'interrupted at the password prompt'))
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1)
        else typed += ch
      }
    }
    input.on('data', onData)
  })
}

/**
 * A password from ALLOT_KEY_PASSWORD, else asked on the terminal, hidden; `confirm` (a new keystore)
 * asks twice and refuses two different answers or an empty one.
 */
export async function askPassword(
  purpose: string,
  o: { confirm?: boolean; input?: TerminalInput; output?: NodeJS.WritableStream } = {},
): Promise<string> {
  const env = process.env.ALLOT_KEY_PASSWORD
  if (env !== undefined) return env
  const password = await promptHidden(`password (${purpose}): `, o.input, o.output)
  if (!o.confirm) return password
  if (password === '') throw new AllotError('KEY_BAD_PASSWORD', 'a new keystore needs a password')
  const again = await promptHidden('the same password again: ', o.input, o.output)
  if (again !== password) throw new AllotError('KEY_PASSWORD_MISMATCH', 'the two passwords differ')
  return password
}
