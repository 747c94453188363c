import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { jsonArg, jsonObjectArg, parseCliArgs } from './args.js';
import { CliError } from './exit-codes.js';
import { runCli } from './cli.js';

describe('vipctl arguments', () => {
  it('parses options with defaults and validates them', () => {
    const a = parseCliArgs(['rpc', 'peer', 'm', '1', '--json', '-t', '2.5']);
    expect(a.positionals).toEqual(['rpc', 'peer', 'm', '1']);
    expect(a.options).toMatchObject({ json: true, timeout: 2.5, 'connect-timeout': 5 });
    expect(() => parseCliArgs(['status', '--timeout', '-1'])).toThrow(CliError);
    expect(() => parseCliArgs(['status', '--nope'])).toThrow(/Unknown option/);
  });

  it('reads JSON arguments, strings otherwise', () => {
    expect(jsonArg('[1, {"a": null}]')).toEqual([1, { a: null }]);
    expect(jsonArg('hello')).toBe('hello');
    expect(jsonObjectArg('kwargs', '{"x": 1}')).toEqual({ x: 1 });
    expect(() => jsonObjectArg('kwargs', '[1]')).toThrow(/JSON object/);
  });

  it('exits 2 on usage errors and 0 on --help, printing no stack', async () => {
    const out: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t), env: {} };
    expect(await runCli(['--help'], io)).toBe(0);
    expect(out.join('\n')).toContain('Exit codes: 0 ok, 1 error, 2 usage, 3 platform unreachable');
    expect(await runCli([], io)).toBe(2);
    expect(await runCli(['keys', 'rotate'], io)).toBe(2);
    expect(await runCli(['status', '--timeout', 'x', '--json'], io)).toBe(2);
    expect(JSON.parse(out.at(-1)!)).toMatchObject({ exit: 2, code: 'CLI' });
  });

  it('--version (-V) prints the package version and exits 0', async () => {
    const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const out: string[] = [];
      expect(await runCli([flag], { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t), env: {} })).toBe(0);
      expect(out).toEqual([version]);
    }
  });
});
