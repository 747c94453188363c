import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { bufferIo } from '../src/output.js';

const run = promisify(execFile);
const has = (shell: string): boolean => {
  try {
    execFileSync(shell, ['-c', 'exit 0'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** What the shell completes for a command line (a trailing space: a new, empty word). */
const CASES: ReadonlyArray<[string, string[]]> = [
  ['vipctl sta', ['stats', 'status']],
  [
    'vipctl ',
    [
      'auth',
      'completion',
      'config',
      'federation',
      'health',
      'help',
      'keys',
      'peers',
      'ping',
      'platforms',
      'publish',
      'query',
      'rpc',
      'shovel',
      'stats',
      'status',
      'subscribe',
      'top',
    ],
  ],
  ['vipctl auth ', ['add', 'approve', 'deny', 'list', 'remove']],
  ['vipctl auth add --rmq-m', ['--rmq-management-url']],
  ['vipctl status --message-bus ', ['rmq', 'zmq']],
  ['vipctl status --message-bus zmq --co', ['--connect-timeout']],
  ['vipctl subscribe devices/ --c', ['--connect-timeout', '--count']],
  ['vipctl status --cou', []], // --count is subscribe's, not status's
  ['vipctl rpc listener echo --kw', ['--kwargs']], // rpc's default subcommand (call)
  ['vipctl rpc i', ['inspect']],
  ['vipctl completion ', ['bash', 'zsh']],
  ['vipctl query serv', ['serverkey']],
  ['vipctl --json -t', []],
  ['vipctl --vip-home /x st', ['stats', 'status']], // the value of --vip-home is not a command
  ['vipctl help a', ['auth']],
];

let dir: string;
const scripts: Record<'bash' | 'zsh', string> = { bash: '', zsh: '' };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vipctl-completion-'));
  for (const shell of ['bash', 'zsh'] as const) {
    const io = bufferIo();
    expect(await runCli(['completion', shell], io)).toBe(0);
    scripts[shell] = join(dir, `vipctl.${shell}`);
    await writeFile(scripts[shell], io.stdout());
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Each case line, completed by the script in `shell`; one output line per case: the candidates, sorted. */
function driver(shell: 'bash' | 'zsh'): string {
  const lines = CASES.map(([line]) => JSON.stringify(line)).join(' ');
  if (shell === 'bash') {
    return `source ${scripts.bash}
for line in ${lines}; do
  read -ra COMP_WORDS <<< "$line"; [[ "$line" == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _vipctl
  printf '%s\\n' "$(printf '%s\\n' "\${COMPREPLY[@]}" | sort | tr '\\n' ' ')"
done`;
  }
  // zsh: bashcompinit's _bash_complete runs the function as zsh's completion system would; compadd,
  // which filters by the word being completed ($PREFIX), is stood in for by a function that does the same
  return `autoload -U compinit && compinit -u -D
source ${scripts.zsh}
compadd() { local i=\${@[(i)-]} m; for m in "\${@[i+1,-1]}"; do [[ $m == "$PREFIX"* ]] && print -r -- $m; done; }
for line in ${lines}; do
  words=( \${(z)line} ); [[ $line == *" " ]] && words+=("")
  CURRENT=\${#words}; PREFIX=\${words[CURRENT]}
  print -r -- "$(_bash_complete -F _vipctl | sort | tr '\\n' ' ')"
done`;
}

describe('vipctl completion', () => {
  it.each(['bash', 'zsh'] as const)("%s: commands, each command's own options, option values, query properties", async (shell) => {
    if (shell === 'zsh' && !has('zsh')) {
      expect.fail('zsh is not installed (apt-get install zsh): the zsh completion cannot be checked');
    }
    const { stdout } = await run(shell, shell === 'zsh' ? ['-f', '-c', driver(shell)] : ['--norc', '-c', driver(shell)], {
      cwd: dir,
      timeout: 20_000,
    });
    const got = stdout
      .split('\n')
      .slice(0, CASES.length)
      .map((l) =>
        l
          .trim()
          .split(' ')
          .filter((w) => w !== ''),
      );
    expect(Object.fromEntries(CASES.map(([line], i) => [line, got[i]]))).toEqual(
      Object.fromEntries(CASES.map(([line, want]) => [line, [...want].sort()])),
    );
  });

  it('offers file names after a path option (bash)', async () => {
    await writeFile(join(dir, 'ca-file.pem'), '');
    const { stdout } = await run(
      'bash',
      ['--norc', '-c', `source ${scripts.bash}; COMP_WORDS=(vipctl status --rmq-ca ca-f); COMP_CWORD=3; _vipctl; echo "\${COMPREPLY[*]}"`],
      { cwd: dir },
    );
    expect(stdout.trim()).toBe('ca-file.pem');
  });
});
