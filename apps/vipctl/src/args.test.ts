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
    expect(() => parseCliArgs(['status', '--nope'])).toThrow(/^unknown option --nope \(vipctl --help lists them\)$/);
  });

  it('words a negative or missing value itself (schema and exit code 2), never node\'s parse error', () => {
    const refusal = (argv: string[]): CliError => {
      try {
        parseCliArgs(argv);
      } catch (err) {
        if (err instanceof CliError) return err;
        throw err;
      }
      throw new Error(`${argv.join(' ')} was accepted`);
    };
    for (const argv of [['status', '--timeout', '-1'], ['status', '-t', '-1'], ['status', '--timeout=-1']]) {
      const e = refusal(argv);
      expect(e.message).toBe('--timeout: must be > 0');
      expect(e.exitCode).toBe(2);
    }
    expect(refusal(['status', '--connect-timeout', '-0.5']).message).toBe('--connect-timeout: must be > 0');
    expect(refusal(['status', '--timeout']).message).toBe('-t, --timeout needs a value');
    expect(refusal(['status', '--timeout', 'soon']).message).toBe('--timeout: must be a number of seconds');
    for (const argv of [['status', '--timeout', '-1'], ['status', '--timeout']]) expect(refusal(argv).message).not.toMatch(/ambiguous|XYZ|<value>/);
    expect(parseCliArgs(['rpc', 'p', 'm', '--', '-1']).positionals).toEqual(['rpc', 'p', 'm', '-1']); // after --, a positional
  });

  it('vipctl --timeout -1 exits 2 with one clear line (also as --json)', async () => {
    const lines: string[] = [];
    const io = { out: (t: string) => void lines.push(t), err: (t: string) => void lines.push(t), env: {} };
    expect(await runCli(['status', '--timeout', '-1'], io)).toBe(2);
    expect(lines).toEqual(['vipctl: --timeout: must be > 0']);
    expect(await runCli(['status', '--timeout', '-1', '--json'], io)).toBe(2);
    expect(JSON.parse(lines.at(-1)!)).toEqual({ error: '--timeout: must be > 0', code: 'CLI', exit: 2 });
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
