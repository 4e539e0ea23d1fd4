import { CLIENT_SPECS, GLOBAL_OPTIONS, SERVER_SPECS, type CommandSpec } from './commands.js'

/**
 * `switchyard completion bash|zsh`: completion scripts made from the command
 * catalogue, so a new command or option completes without editing them.
 *
 *   bash: eval "$(switchyard completion bash)"   (or save it under bash_completion.d)
 *   zsh:  eval "$(switchyard completion zsh)"    (or save it as _switchyard on $fpath)
 */

const SPECS: readonly CommandSpec[] = [...SERVER_SPECS, ...CLIENT_SPECS]

/** Words that may follow a command: its subcommands or arguments, its options and the global ones. */
function wordsOf(c: CommandSpec): string {
  return [...(c.words ?? []), ...c.options, ...GLOBAL_OPTIONS].join(' ')
}

/** The value choices of options that take one of a few words. */
const VALUES: Record<string, string> = { '--to': 'blue green', '--color': 'blue green idle live' }

export function bashCompletion(): string {
  const cases = SPECS.map((c) => `    ${c.name}) words="${wordsOf(c)}" ;;`).join('\n')
  const values = Object.entries(VALUES)
    .map(([o, v]) => `    ${o}) COMPREPLY=($(compgen -W "${v}" -- "$cur")); return ;;`)
    .join('\n')
  return `# switchyard bash completion; load it with: eval "$(switchyard completion bash)"
_switchyard() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" words
  if [ "$COMP_CWORD" -le 1 ]; then
    COMPREPLY=($(compgen -W "${SPECS.map((c) => c.name).join(' ')} help --help --version" -- "$cur"))
    return
  fi
  case "$prev" in
${values}
    --config|--users-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  case "\${COMP_WORDS[1]}" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _switchyard switchyard
`
}

/** A single-quoted zsh word. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

export function zshCompletion(): string {
  const described = SPECS.map((c) => `    ${q(`${c.name}:${c.summary.replace(/:/g, '\\:')}`)}`).join('\n')
  // `words` is zsh's own array of the command line: the choices go in `opts`.
  const cases = SPECS.map((c) => `    ${c.name}) opts=(${wordsOf(c)}) ;;`).join('\n')
  const values = Object.entries(VALUES)
    .map(([o, v]) => `    ${o}) compadd -- ${v}; return ;;`)
    .join('\n')
  return `#compdef switchyard
# switchyard zsh completion; load it with: eval "$(switchyard completion zsh)"
_switchyard() {
  local -a commands opts
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "\${words[CURRENT-1]}" in
${values}
    --config|--users-file) _files; return ;;
  esac
  case "\${words[2]}" in
${cases}
    *) opts=() ;;
  esac
  compadd -- $opts
}
if [[ "\${zsh_eval_context[-1]}" == loadautoload ]]; then
  _switchyard "$@"
else
  compdef _switchyard switchyard
fi
`
}
