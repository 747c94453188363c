// vip-platform as an operator meets it: flags, first start, files in VIP_HOME, errors, signals.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openRawClient, startPlatform, type PlatformProcess } from '@vip/testing';

const MAIN = fileURLToPath(new URL('../../apps/platform/dist/main.js', import.meta.url));

/** Run the platform to completion (it must exit by itself) and collect its output. */
function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vip-cli-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** One line, prefixed, no stack trace. */
function expectOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('{'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^vip-platform: /);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('vip-platform CLI', () => {
  it('--help prints usage and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--vip-address URL/);
    expect(r.stdout).toMatch(/--allow-auth true\|false/);
  });

  it('an invalid flag value is one clear line and exit 2 (usage, as vipctl)', async () => {
    const r = await run(['--allow-auth', 'maybe']);
    expect(r.code).toBe(2);
    expectOneLineError(r.stderr, /--allow-auth must be true or false/);
  });

  it('an unknown flag is one clear line and exit 2, naming the nearest flag', async () => {
    const r = await run(['--no-such-flag']);
    expect(r.code).toBe(2);
    expectOneLineError(r.stderr, /no-such-flag/);
    const typo = await run(['--log-levl', 'debug']);
    expect(typo.code).toBe(2);
    expectOneLineError(typo.stderr, /^vip-platform: unknown option --log-levl \(did you mean --log-level\?\) \(see --help\)$/);
  });

  it('a bad address is refused before anything starts', async () => {
    const r = await run(['--vip-address', '127.0.0.1:22916']);
    expect(r.code).toBe(2);
    expectOneLineError(r.stderr, /--vip-address must look like tcp:\/\//);
  });

  it('an unusable home is one clear line and exit 1', async () => {
    const dir = await tempDir();
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const r = await run(['--vip-home', file, '--log-level', 'silent']);
    expect(r.code).toBe(1);
    expectOneLineError(r.stderr, /not a directory/);
    const r2 = await run(['--vip-home', join(file, 'home'), '--log-level', 'silent']);
    expect(r2.code).toBe(1);
    expectOneLineError(r2.stderr, /is not usable \(ENOTDIR\)/);
    // Node's recursive mkdir spins forever on a path like this one: the platform must not hang.
    const r3 = await run(['--vip-home', '/proc/1/vip-home-that-cannot-exist', '--log-level', 'silent']);
    expect(r3.code).toBe(1);
    expectOneLineError(r3.stderr, /is not usable/);
  });
});

describe('vip-platform running', () => {
  let platform: PlatformProcess;
  beforeAll(async () => {
    platform = await startPlatform({ instanceName: 'cli-test' });
  });
  afterAll(async () => {
    await platform?.close();
  });

  it('reports ready with its addresses, server key, instance and pid', () => {
    expect(platform.addresses[0]).toMatch(/^ipc:\/\/@.*\/run\/vip\.socket$/);
    expect(platform.tcpAddress).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(platform.serverkey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(platform.instance).toBe('cli-test');
    expect(platform.pid).toBeGreaterThan(0);
  });

  it('creates its home 0700 with keystore, auth.json and known_hosts on first start', async () => {
    expect((await stat(platform.home)).mode & 0o777).toBe(0o700);
    expect((await stat(join(platform.home, 'keystore'))).mode & 0o777).toBe(0o600);
    const keystore = JSON.parse(await readFile(join(platform.home, 'keystore'), 'utf8')) as { public: string };
    expect(keystore.public).toBe(platform.serverkey);
    const auth = JSON.parse(await readFile(join(platform.home, 'auth.json'), 'utf8')) as {
      allow: Array<{ user_id: string; credentials: string }>;
    };
    expect(auth.allow.map((e) => e.user_id)).toEqual(expect.arrayContaining(['platform', 'control', 'control.connection']));
    expect(auth.allow.find((e) => e.user_id === 'platform')?.credentials).toBe(platform.serverkey);
    const known = JSON.parse(await readFile(join(platform.home, 'known_hosts'), 'utf8')) as Record<string, string>;
    expect(known[platform.tcpAddress.slice('tcp://'.length)]).toBe(platform.serverkey);
  });

  it('runs the in-platform control service as peer `control`', async () => {
    const c = await openRawClient(platform, 'cli.peer');
    onTestFinished(() => c.close());
    const list = (await c.request('peerlist', ['list'], 'l')).map((f) => f.toString());
    expect(list).toContain('control');
  });

  it('refuses to start on a port that is taken: one clear line, exit 1', async () => {
    const home = await tempDir();
    const r = await run(['--vip-home', home, '--vip-address', platform.tcpAddress, '--log-level', 'silent']);
    expect(r.code).toBe(1);
    expectOneLineError(r.stderr, /cannot bind tcp:\/\/127\.0\.0\.1:\d+/);
  });

  it('keeps its key pair across restarts and exits 0 on SIGINT', async () => {
    const home = await tempDir();
    const args = ['--vip-home', home, '--vip-address', 'tcp://127.0.0.1:*', '--log-level', 'warn'];
    const first = await startAndStop(args, 'SIGINT');
    const second = await startAndStop(args, 'SIGTERM');
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(second.serverkey).toBe(first.serverkey);
  });
});

describe('vip-platform logs and its config file', () => {
  it('--log-format pretty: readable lines; --log-file: JSON lines in the file, nothing but the ready note on stderr', async () => {
    const home = await tempDir();
    const pretty = await startAndStop(['--vip-home', home, '--vip-address', 'tcp://127.0.0.1:*', '--log-format', 'pretty'], 'SIGTERM');
    expect(pretty.code).toBe(0);
    const lines = pretty.stderr.trim().split('\n');
    expect(lines.some((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO  platform\.ready service=vip-platform bus=zmq /.test(l))).toBe(
      true,
    );
    expect(lines.filter((l) => l.startsWith('{'))).toEqual([]); // not JSON
    expect(pretty.stderr).not.toContain('\u001b['); // stderr is a pipe: no colours
    const log = join(home, 'platform.log');
    const filed = await startAndStop(['--vip-home', home, '--vip-address', 'tcp://127.0.0.1:*', '--log-file', log], 'SIGTERM');
    expect(filed.code).toBe(0);
    expect(filed.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^vip-platform ready: /)]);
    const records = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string });
    expect(records.map((r) => r.event)).toEqual(expect.arrayContaining(['platform.starting', 'platform.ready', 'platform.stopped']));
  });

  it('an unknown key in $VIP_HOME/config is a warning with the nearest key; the platform starts', async () => {
    const home = await tempDir();
    await writeFile(join(home, 'config'), '[volttron]\ninstance-name = cfg1\nlog-levle = debug\n');
    const r = await startAndStop(['--vip-home', home, '--vip-address', 'tcp://127.0.0.1:*'], 'SIGTERM');
    expect(r.code).toBe(0);
    const warning = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.event === 'config.unknown-key');
    expect(warning).toMatchObject({
      level: 'warn',
      message: `${join(home, 'config')}:3: unknown key "log-levle" (did you mean log-level?); ignored`,
    });
  });

  it('a bad value in $VIP_HOME/config exits 2, like a bad flag', async () => {
    const home = await tempDir();
    await writeFile(join(home, 'config'), '[volttron]\nmessage-bus = amqp\n');
    const r = await run(['--vip-home', home]);
    expect(r.code).toBe(2);
    expectOneLineError(r.stderr, /invalid setting in .*config: --message-bus must be zmq or rmq/);
  });
});

/** Start with `args`, read the ready line, send `signal`, wait for the exit. */
function startAndStop(args: string[], signal: NodeJS.Signals): Promise<{ code: number | null; serverkey: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let serverkey = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"event":"ready"'));
      if (line && !serverkey) {
        serverkey = (JSON.parse(line) as { serverkey: string }).serverkey;
        child.kill(signal);
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, serverkey, stderr });
    });
  });
}
