import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '@vip/protocol';
import { jsonArg, jsonObjectArg, messageArg } from '../src/args.js';
import { runCli } from '../src/cli.js';
import { EXIT } from '../src/exit-codes.js';
import { bufferIo } from '../src/output.js';

const homes: string[] = [];
afterAll(async () => {
  for (const h of homes) await rm(h, { recursive: true, force: true });
});
async function emptyHome(): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), 'vipctl-cli-'));
  homes.push(h);
  return h;
}

/** vipctl in-process: exit code, stdout, stderr. */
async function vipctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = bufferIo();
  return { code: await runCli(argv, io), out: io.stdout(), err: io.stderr() };
}

/** A usage error: exit 2 and exactly one line on stderr, nothing on stdout, no stack. */
async function usage(...argv: string[]): Promise<string> {
  const r = await vipctl(...argv);
  expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(2);
  expect(r.out).toBe('');
  const lines = r.err.trimEnd().split('\n');
  expect(lines, r.err).toHaveLength(1);
  return lines[0]!;
}

describe('vipctl command line (commander)', () => {
  it("shares vip-platform's exit codes (@vip/protocol EXIT_CODES)", () => {
    expect(EXIT).toBe(EXIT_CODES);
    expect(EXIT).toEqual({ OK: 0, ERROR: 1, USAGE: 2, UNREACHABLE: 3, TIMEOUT: 4 });
  });

  it('an option of another command is an error naming the command (status --count 5 --days 3)', async () => {
    expect(await usage('status', '--count', '5', '--days', '3')).toBe(
      "vipctl: unknown option '--count' for status; see vipctl status --help",
    );
    expect(await usage('keys', 'generate', '--timeout', '3')).toBe(
      "vipctl: unknown option '--timeout' for keys generate; see vipctl keys generate --help",
    );
    expect(await usage('auth', 'approve', 'x', '--identity', 'y')).toMatch(/^vipctl: unknown option '--identity' for auth approve/);
    expect(await usage('status', 'extra')).toMatch(/^vipctl: too many arguments for 'status'/);
  });

  it('suggests the command or option meant: stauts, subscribe --cout, mesage-bus', async () => {
    expect(await usage('stauts')).toMatch(
      /^vipctl: unknown command 'stauts' \(did you mean (one of stats, )?status\?\); see vipctl --help$/,
    );
    expect(await usage('publsh', 'x')).toMatch(/\(did you mean publish\?\)/);
    expect(await usage('subscribe', 'a/', '--cout', '2')).toBe(
      "vipctl: unknown option '--cout' for subscribe (did you mean --count?); see vipctl subscribe --help",
    );
    expect(await usage('auth', 'lsit')).toMatch(/unknown command 'lsit' \(did you mean list\?\)/);
  });

  it('words values itself: a negative or missing value, a bad choice, a bad shell (exit 2, as --json too)', async () => {
    for (const argv of [
      ['status', '--timeout', '-1'],
      ['status', '-t', '-1'],
      ['status', '--timeout=-1'],
    ]) {
      expect(await usage(...argv)).toBe('vipctl: --timeout: must be > 0');
    }
    expect(await usage('status', '--connect-timeout', '-0.5')).toBe('vipctl: --connect-timeout: must be > 0');
    expect(await usage('status', '--timeout')).toBe('vipctl: -t, --timeout needs a value');
    expect(await usage('status', '--timeout', 'soon')).toBe('vipctl: --timeout: must be a number of seconds');
    expect(await usage('status', '--message-bus', 'kafka')).toBe('vipctl: --message-bus: must be one of zmq, rmq (got "kafka")');
    expect(await usage('completion', 'fish')).toBe('vipctl: <shell> must be one of bash, zsh (got "fish"); see vipctl completion --help');
    expect(await usage('subscribe', 'a/', '--count', '0')).toBe('vipctl: --count: must be > 0');
    const r = await vipctl('status', '--timeout', '-1', '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.err)).toEqual({ error: '--timeout: must be > 0', code: 'CLI', exit: 2 });
  });

  it("a missing argument names it and the command's help", async () => {
    expect(await usage('query')).toBe("vipctl: missing required argument 'property'; see vipctl query --help");
    expect(await usage('rpc', 'peer')).toBe("vipctl: missing required argument 'method'; see vipctl rpc call --help");
    expect(await usage('auth', 'remove')).toBe(
      'vipctl: auth remove takes one of: <user-id>, --index N, --identity NAME (vipctl auth remove --help)',
    );
    expect(await usage('auth', 'add')).toBe('vipctl: auth add needs --credentials KEY or --identity NAME (vipctl auth add --help)');
  });

  it('publish refuses a message that is not JSON before connecting, unless --raw', async () => {
    const home = await emptyHome();
    expect(await usage('publish', 'devices/x', '{t: 1}', '--vip-home', home)).toMatch(
      /^vipctl: the message is not JSON \(.*\): write JSON such as '\{"t": 1\}' or '"text"', or pass --raw/,
    );
    // with --raw the text is taken: the next step is connecting (no platform here: exit 3, not 2)
    expect((await vipctl('publish', 'devices/x', '{t: 1}', '--raw', '--vip-home', home)).code).toBe(3);
    expect(messageArg('{"t": 1}', false)).toEqual({ t: 1 });
    expect(messageArg('{t: 1}', true)).toBe('{t: 1}');
  });

  it('help: vipctl, vipctl <command> --help, vipctl help <command> exit 0; no command exits 2 with the help on stderr', async () => {
    const root = await vipctl('--help');
    expect(root.code).toBe(0);
    expect(root.out).toContain(
      'Exit codes: 0 ok, 1 error, 2 usage (bad flag, value or config setting), 3 platform unreachable or key refused, 4 timeout',
    );
    const publish = await vipctl('publish', '--help');
    expect(publish).toMatchObject({ code: 0, err: '' });
    expect(publish.out).toMatch(/^Usage: vipctl publish \[options\] <topic> \[message\]/);
    expect(publish.out).not.toContain('subscribe <prefix>'); // its own help, not the global one
    expect((await vipctl('help', 'publish')).out).toBe(publish.out);
    const none = await vipctl();
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^Usage: vipctl \[options\] \[command\]/);
    expect((await vipctl('auth')).code).toBe(2);
  });

  it('--version (-V) prints the package version and exits 0', async () => {
    const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await vipctl(flag)).toEqual({ code: 0, out: `${version}\n`, err: '' });
  });

  it('warns about an unknown key in $VIP_HOME/config with the nearest known one (and still runs)', async () => {
    const home = await emptyHome();
    await writeFile(join(home, 'config'), '[volttron]\nmesage-bus = rmq\nbind-web-address = https://x\n');
    const r = await vipctl('status', '--vip-home', home);
    expect(r.code).toBe(3); // no platform in this home
    expect(r.err.split('\n')[0]).toBe(
      `vipctl: warning: ${join(home, 'config')}:2: unknown key "mesage-bus" (did you mean message-bus?); ignored`,
    );
    const json = await vipctl('status', '--vip-home', home, '--json');
    expect(JSON.parse(json.err.split('\n')[0]!)).toEqual({
      warning: `${join(home, 'config')}:2: unknown key "mesage-bus" (did you mean message-bus?); ignored`,
    });
  });

  it('no platform: one short line at once, exit 3; a home whose config says rmq is said to be a RabbitMQ platform that is not running', async () => {
    const home = await emptyHome();
    const r = await vipctl('peers', '--vip-home', home, '--connect-timeout', '600'); // never waits for a hello
    expect(r).toEqual({ code: 3, out: '', err: `vipctl: no platform keystore in ${home}: start the platform first, or pass --vip-home\n` });
    await writeFile(join(home, 'config'), '[volttron]\nmessage-bus = rmq\ninstance-name = site9\n');
    const rmq = await vipctl('status', '--vip-home', home, '--connect-timeout', '600');
    expect(rmq).toEqual({
      code: 3,
      out: '',
      err: `vipctl: vip-platform is not running on ${home} (RabbitMQ, instance site9, vhost site9: config says message-bus = rmq, and no platform recorded itself in run/bus.json)\n`,
    });
  });

  it('reads JSON arguments, strings otherwise', () => {
    expect(jsonArg('[1, {"a": null}]')).toEqual([1, { a: null }]);
    expect(jsonArg('hello')).toBe('hello');
    expect(jsonObjectArg('kwargs', '{"x": 1}')).toEqual({ x: 1 });
    expect(() => jsonObjectArg('kwargs', '[1]')).toThrow(/JSON object/);
  });
});
