import { AllotError } from '@allot/protocol/errors'
import type { Command } from 'commander'
import type { RegisterCommands } from './index.js'

/** Every command path (`""`, `"order"`, `"order submit"`…) with its subcommand names and its flags. */
export function commandTree(program: Command): Map<string, { subcommands: string[]; flags: string[] }> {
  const tree = new Map<string, { subcommands: string[]; flags: string[] }>()
  const walk = (cmd: Command, path: string) => {
    const subs = cmd.commands.filter((c) => c.name() !== 'help')
    tree.set(path, {
      subcommands: subs.map((c) => c.name()),
      flags: [...cmd.options.map((o) => o.long ?? o.short ?? ''), '--help'].filter((f) => f !== ''),
    })
    for (const c of subs) walk(c, path === '' ? c.name() : `${path} ${c.name()}`)
  }
  walk(program, '')
  return tree
}

/**
 * A bash completion script for the whole command tree, written out as data (no call back into
 * `allot` on each TAB: that would cost a Node start per keystroke). zsh runs it through bashcompinit.
 */
export function bashCompletion(program: Command): string {
  const tree = commandTree(program)
  const cases = [...tree.entries()].map(
    ([path, t]) => `    "${path}") subs="${t.subcommands.join(' ')}"; flags="${t.flags.join(' ')}" ;;`,
  )
  return `# allot completion (bash): source it, or save it as a file your shell loads
_allot_words() {
  subs=""; flags=""
  case "$1" in
${cases.join('\n')}
  esac
}
_allot() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w i subs flags
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    _allot_words "$path"
    case " $subs " in *" $w "*) path="\${path:+$path }$w" ;; esac
  done
  _allot_words "$path"
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    [[ \${#COMPREPLY[@]} -eq 0 && -z "$subs" ]] && COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}
complete -F _allot allot
`
}

export function zshCompletion(program: Command): string {
  return `#compdef allot
# allot completion (zsh): the bash completion through zsh's bashcompinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program)}`
}

/** `allot completion bash|zsh`: prints the script on stdout. */
export const registerCompletionCommands: RegisterCommands = (program: Command) => {
  program
    .command('completion <shell>')
    .description('print a shell completion script (bash or zsh)')
    .addHelpText('after', '\nbash: source <(allot completion bash)     zsh: source <(allot completion zsh)')
    .action(async (shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh')
        throw new AllotError('CLI_BAD_ARGUMENT', `shell must be bash or zsh, got ${shell}`)
      const { buildProgram } = await import('../program.js')
      const full = await buildProgram([], { all: true })
      process.stdout.write(shell === 'bash' ? bashCompletion(full) : zshCompletion(full))
    })
}
