import { AllotError } from '@allot/protocol/errors'
import { Command, CommanderError } from 'commander'
import { NODE_VERSION } from '../version.js'
import { commandGroups } from './commands/index.js'
import { makeAimable } from './target.js'

/** Exit codes of CLI.md: 0 success, 1 user error (bad flag, bad input, refused order), 2 internal or network failure. */
export const EXIT_OK = 0
export const EXIT_USER = 1
export const EXIT_INTERNAL = 2

/** Error codes that are the user's to fix (exit 1); every other failure exits 2. */
export function isUserError(e: unknown): boolean {
  if (!(e instanceof AllotError)) return false
  return /^(ORDER_|KEY_|CLI_|SOLVER_INPUT|WIRE_|BATCH_NOT_FOUND|BATCH_EXPORT_(BAD_RANGE|NOT_PROCESSED|NO_BOOKS)|API_BAD_REQUEST|DEVNET_EXISTS|DEVNET_NOT_RUNNING|SETTLE_REVERTED|GENESIS_INVALID)/.test(
    e.code,
  )
}

/**
 * The top-level command that `argv` (without node and the script) runs, or undefined when it names
 * none (`allot`, `allot --help`). `allot help <command>` asks for that command.
 */
export function commandNameOf(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'))
  return words[0] === 'help' ? words[1] : words[0]
}

/** Commands that make a few curve operations and exit (crypto-tables.ts). */
const SHORT_LIVED = new Set(['order', 'balance', 'batch', 'deposit', 'withdraw', 'keys', 'info'])

/**
 * The program, with every command group's module loaded (`all`) or only the one `argv` runs: the
 * other groups are listed by name and description (commands/index.ts), so `allot --help` and a
 * command's run load no other command's code.
 */
export async function buildProgram(
  argv: readonly string[] = [],
  o: { all?: boolean } = {},
): Promise<Command> {
  const program = new Command('allot')
    .description('allot: sealed-bid batch auctions on a peer-to-peer network')
    .version(NODE_VERSION, '-V, --version', 'print the version')
    .exitOverride()
    // Parse errors are printed by runCli, with a code and as JSON under --json.
    .configureOutput({ outputError: () => {} })
  const wanted = o.all ? undefined : commandNameOf(argv.slice(2))
  if (wanted !== undefined && SHORT_LIVED.has(wanted))
    (await import('./crypto-tables.js')).useSmallCurveTables()
  for (const g of commandGroups) {
    if (o.all || g.commands.some((c) => c.name === wanted)) (await g.load())(program)
    else for (const c of g.commands) program.command(c.name).description(c.description)
  }
  makeAimable(program)
  return program
}

/** Commander's parse errors as the CLI's codes (CLI.md: exit 1, `CLI_BAD_FLAG`, `CLI_UNKNOWN_COMMAND`). */
export function parseErrorCode(e: CommanderError): string {
  switch (e.code) {
    case 'commander.unknownCommand':
      return 'CLI_UNKNOWN_COMMAND'
    case 'commander.missingArgument':
    case 'commander.excessArguments':
      return 'CLI_BAD_ARGUMENT'
    default:
      return 'CLI_BAD_FLAG'
  }
}

/** The message without its code in front (AllotError's message is `CODE: text`). */
function messageOf(e: unknown, code: string): string {
  const m = e instanceof Error ? e.message : String(e)
  return m.startsWith(`${code}: `) ? m.slice(code.length + 2) : m.replace(/^error: /, '')
}

/**
 * Runs the CLI; returns the exit code. Errors print `error: CODE: message` on stderr; with --json,
 * `{ "error": { code, message } }` on stdout (and, as before, on stderr).
 */
export async function runCli(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  let code: string
  let e: unknown
  try {
    // `allot help <name>` for a name that is no command: commander would print the general help instead
    const words = argv.slice(2).filter((a) => !a.startsWith('-'))
    if (
      words[0] === 'help' &&
      words[1] !== undefined &&
      !commandGroups.some((g) => g.commands.some((c) => c.name === words[1]))
    )
      throw new AllotError('CLI_UNKNOWN_COMMAND', `unknown command '${words[1]}'`)
    const program = await buildProgram(argv)
    await program.parseAsync(argv)
    return EXIT_OK
  } catch (err) {
    e = err
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0)
        return EXIT_OK
      // `allot` alone prints the help on stderr and exits 1, as commander does.
      if (err.code === 'commander.help') return EXIT_USER
      code = parseErrorCode(err)
    } else code = err instanceof AllotError ? err.code : 'INTERNAL'
  }
  const message = messageOf(e, code)
  // A command that already printed its document (`order submit --in`: every order's outcome) keeps stdout
  // to that one document; its error goes to stderr only.
  const stdoutWritten =
    e instanceof AllotError && (e.details as { stdoutWritten?: boolean } | undefined)?.stdoutWritten === true
  if (json) {
    const doc = `${JSON.stringify({ error: { code, message } })}\n`
    if (!stdoutWritten) process.stdout.write(doc)
    process.stderr.write(doc)
  } else {
    process.stderr.write(`error: ${code}: ${message}\n`)
    if (e instanceof CommanderError) process.stderr.write('(add --help for usage)\n')
  }
  if (e instanceof CommanderError) return EXIT_USER
  return isUserError(e) ? EXIT_USER : EXIT_INTERNAL
}
