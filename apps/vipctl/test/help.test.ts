import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { bufferIo } from '../src/output.js';
import { buildProgram } from '../src/program.js';

/** Every command path of vipctl: [], ['status'], ['auth', 'add'], ... */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return [prefix, ...cmd.commands.flatMap((c) => commandPaths(c, [...prefix, c.name()]))];
}

/**
 * `vipctl <command> --help` for every command, as committed snapshots (src/__snapshots__): a
 * change to a command's flags, arguments or wording shows in review. Help wraps at 100 columns
 * when stdout is not a terminal, so the text does not depend on where the test runs.
 */
describe('vipctl --help, per command', () => {
  const paths = commandPaths(buildProgram(bufferIo()));

  it('covers every command', () => {
    expect(paths.map((p) => p.join(' '))).toEqual([
      '',
      'status',
      'peers',
      'ping',
      'top',
      'query',
      'platforms',
      'health',
      'rpc',
      'rpc call',
      'rpc inspect',
      'stats',
      'stats enable',
      'stats get',
      'stats disable',
      'stats counters',
      'publish',
      'subscribe',
      'config',
      'config store',
      'config get',
      'config list',
      'config delete',
      'config edit',
      'keys',
      'keys generate',
      'keys show',
      'auth',
      'auth list',
      'auth add',
      'auth remove',
      'auth approve',
      'auth deny',
      'federation',
      'federation status',
      'federation apply',
      'federation add',
      'federation remove',
      'shovel',
      'shovel status',
      'shovel apply',
      'shovel add',
      'shovel remove',
      'completion',
    ]);
  });

  it.each(paths.map((p) => [p.join(' ') || '(vipctl)', p] as const))('%s --help', async (_name, path) => {
    const io = bufferIo();
    expect(await runCli([...path, '--help'], io)).toBe(0);
    expect(io.stderr()).toBe('');
    expect(io.stdout()).toMatch(new RegExp(`^Usage: vipctl${path.length > 0 ? ` ${path.join(' ')}` : ''} `));
    expect(io.stdout()).toMatchSnapshot();
  });
});
