import type { Command, Option } from 'commander';
import { ARGUMENT_VALUES, PATH_OPTIONS } from './program-data.js';

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** One command path's completion data (`''` the root, `auth add`, `rpc call`). */
interface PathData {
  readonly path: string;
  readonly subcommands: readonly string[];
  /** Every option it accepts (its own, the global ones, -h/--help). */
  readonly options: readonly string[];
  /** Those that take a value (the next word is that value, not a command). */
  readonly valued: readonly string[];
  /** Values of its first argument (e.g. completion: bash zsh). */
  readonly values: readonly string[];
  /** The subcommand used when the next word names none (rpc -> call). */
  readonly defaultSubcommand?: string;
}

const flagsOf = (o: Option): string[] => [o.short, o.long].filter((f): f is string => typeof f === 'string');

function collect(cmd: Command, path: string, globals: readonly Option[], out: PathData[]): void {
  const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  const own = path === '' ? cmd.options : [...cmd.options, ...globals];
  const options = [...new Set([...own.flatMap(flagsOf), '-h', '--help'])];
  const valued = own.filter((o) => o.required || o.optional).flatMap(flagsOf);
  const arg = cmd.registeredArguments[0];
  const key = `${path}${arg ? ` ${arg.required ? `<${arg.name()}>` : `[${arg.name()}]`}` : ''}`;
  const values = arg?.argChoices ?? ARGUMENT_VALUES[key] ?? [];
  const def = (cmd as unknown as { _defaultCommandName?: string | null })._defaultCommandName ?? undefined;
  const names = subs.map((c) => c.name());
  out.push({
    path,
    subcommands: path === '' ? [...names, 'help'] : names,
    options,
    valued,
    values,
    ...(def ? { defaultSubcommand: def } : {}),
  });
  for (const sub of subs) collect(sub, path === '' ? sub.name() : `${path} ${sub.name()}`, globals, out);
  if (path === '') out.push({ path: 'help', subcommands: [], options: ['-h', '--help'], valued: [], values: names });
}

/** `case` lines of the data function: `'what key') echo 'words';;`. */
function caseLines(data: readonly PathData[], choices: ReadonlyMap<string, readonly string[]>): string[] {
  const line = (what: string, key: string, words: readonly string[]) =>
    words.length > 0 ? [`    '${what} ${key}') echo '${words.join(' ')}';;`] : [];
  return [
    ...data.flatMap((d) => [
      ...line('sub', d.path, d.subcommands),
      ...line('opts', d.path, d.options),
      ...line('valued', d.path, d.valued),
      ...line('values', d.path, d.values),
      ...(d.defaultSubcommand ? line('default', d.path, [d.defaultSubcommand]) : []),
    ]),
    ...[...choices].flatMap(([flag, words]) => line('choices', flag, words)),
    ...line('paths', '', [...PATH_OPTIONS]),
  ];
}

/**
 * The completion function, shared by bash and zsh (zsh runs it through bashcompinit, in sh
 * emulation, so it uses only what both read alike and avoids zsh's special names such as `path`
 * and `words`). It walks the words before the cursor to the command path (skipping options and
 * the values of those that take one; a word naming no subcommand selects the default one, rpc ->
 * call), then offers: the choices or file names after an option that takes a value, the path's
 * options for a word starting with `-`, else its subcommands or its argument's values.
 */
const FUNCTION = String.raw`_vipctl() {
  local cur="${'$'}{COMP_WORDS[COMP_CWORD]}" prev="" cmdpath="" i=1 w d choices sub
  if (( COMP_CWORD > 0 )); then prev="${'$'}{COMP_WORDS[COMP_CWORD-1]}"; fi
  while (( i < COMP_CWORD )); do
    w="${'$'}{COMP_WORDS[i]}"
    if [[ "$w" == -* ]]; then
      if [[ " $(_vipctl_data valued "$cmdpath") " == *" $w "* ]]; then i=$(( i + 1 )); fi
    elif [[ " $(_vipctl_data sub "$cmdpath") " == *" $w "* ]]; then
      cmdpath="${'$'}{cmdpath:+$cmdpath }$w"
    else
      d="$(_vipctl_data default "$cmdpath")"
      if [[ -n "$d" ]]; then cmdpath="$cmdpath $d"; fi
    fi
    i=$(( i + 1 ))
  done
  COMPREPLY=()
  if [[ "$prev" == -* && " $(_vipctl_data valued "$cmdpath") " == *" $prev "* ]]; then
    choices="$(_vipctl_data choices "$prev")"
    if [[ -n "$choices" ]]; then
      COMPREPLY=( $(compgen -W "$choices" -- "$cur") )
    elif [[ " $(_vipctl_data paths '') " == *" $prev "* ]]; then
      COMPREPLY=( $(compgen -f -- "$cur") )
    fi
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$(_vipctl_data opts "$cmdpath")" -- "$cur") )
  else
    sub="$(_vipctl_data sub "$cmdpath")"
    if [[ -z "$sub" ]]; then sub="$(_vipctl_data values "$cmdpath")"; fi
    COMPREPLY=( $(compgen -W "$sub" -- "$cur") )
  fi
  return 0
}`;

/**
 * The completion script for `shell`, generated from the command tree (so it always matches this
 * vipctl): commands and subcommands, each command's own options, the values of options with
 * choices (`--message-bus zmq|rmq`), file names for path options, `query` properties.
 */
export function completionScript(program: Command, shell: CompletionShell): string {
  const data: PathData[] = [];
  collect(program, '', program.options, data);
  const choices = new Map<string, readonly string[]>();
  const visit = (c: Command): void => {
    for (const o of c.options) if (o.argChoices && o.long) choices.set(o.long, o.argChoices);
    c.commands.forEach(visit);
  };
  visit(program);
  const dataFunction = ['_vipctl_data() {', '  case "$1 $2" in', ...caseLines(data, choices), '  esac', '}'].join('\n');
  const head =
    shell === 'bash'
      ? [
          '# bash completion for vipctl: source <(vipctl completion bash), e.g. in ~/.bashrc',
          '# (or save it as /etc/bash_completion.d/vipctl)',
        ]
      : [
          '# zsh completion for vipctl: source <(vipctl completion zsh) in ~/.zshrc, after compinit',
          "# (it uses zsh's bashcompinit)",
          '(( $+functions[compdef] )) || { autoload -U compinit && compinit; }',
          'autoload -U +X bashcompinit && bashcompinit',
        ];
  return [...head, dataFunction, FUNCTION, 'complete -F _vipctl vipctl', ''].join('\n');
}
