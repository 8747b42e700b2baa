import { AllotError } from '@allot/protocol'
import { Command, CommanderError } from 'commander'
import { commands } from './commands/index.js'
import { makeAimable } from './target.js'

/** Exit codes of CLI.md: 0 success, 1 user error (bad flag, bad input, refused order), 2 internal or network failure. */
export const EXIT_OK = 0
export const EXIT_USER = 1
export const EXIT_INTERNAL = 2

/** Error codes that are the user's to fix (exit 1); every other failure exits 2. */
export function isUserError(e: unknown): boolean {
  if (!(e instanceof AllotError)) return false
  return /^(ORDER_|KEY_|CLI_|SOLVER_INPUT|WIRE_|BATCH_NOT_FOUND|API_BAD_REQUEST|DEVNET_EXISTS|DEVNET_NOT_RUNNING|SETTLE_REVERTED|GENESIS_INVALID)/.test(
    e.code,
  )
}

export function buildProgram(): Command {
  const program = new Command('allot')
    .description('allot: sealed-bid batch auctions on a peer-to-peer network')
    .showHelpAfterError()
    .exitOverride()
  for (const register of commands) register(program)
  makeAimable(program)
  return program
}

/** Runs the CLI; returns the exit code. Errors print `code: message` on stderr (or JSON with --json). */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return EXIT_OK
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0)
        return EXIT_OK
      return EXIT_USER
    }
    const json = argv.includes('--json')
    const code = e instanceof AllotError ? e.code : 'INTERNAL'
    const message = e instanceof Error ? e.message : String(e)
    if (json) process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`)
    else process.stderr.write(`error: ${message}\n`)
    return isUserError(e) ? EXIT_USER : EXIT_INTERNAL
  }
}
