import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@vip/protocol';
import { startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { KeyStore } from '@vip/auth';
import { connectZmqAgent, createZmqAgent } from '@vip/agent/zmq';
import type { Agent } from '@vip/agent';
import { runVipctl } from './helpers/vipctl.js';

const VIPCTL = fileURLToPath(new URL('../../apps/vipctl/dist/main.js', import.meta.url));
const PLATFORM = fileURLToPath(new URL('../../apps/platform/dist/main.js', import.meta.url));
const AGENT_ZMQ = fileURLToPath(new URL('../../packages/agent/dist/zmq.js', import.meta.url));
const run = promisify(execFile);

/** Allow entries in a home's auth.json now (a reload holding a change has at least as many). */
async function allowEntries(home: string): Promise<number> {
  return (JSON.parse(await readFile(join(home, 'auth.json'), 'utf8')) as { allow: unknown[] }).allow.length;
}

/** A built binary's exit code and output (a non-zero exit is a result here, not an error). */
async function exitOf(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [file, ...args], { timeout: 20_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    }),
  );
}

/** vipctl as an operator runs it (the built CLI): exit code and captured output. */
function vipctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runVipctl(argv);
}

describe('vipctl against a running platform', () => {
  let platform: PlatformProcess;
  let srv: Agent;
  let home: string;

  beforeAll(async () => {
    platform = await startPlatform();
    home = platform.home;
    const pair = generateKeyPair();
    await platform.authorize(pair.public, { identity: 'vipctl.srv' });
    srv = await createZmqAgent({
      identity: 'vipctl.srv',
      address: platform.tcpAddress,
      serverKey: platform.serverkey ?? '',
      publicKey: pair.public,
      secretKey: pair.secret,
      vipHome: home,
    });
    srv.rpc.export('echo', (...a: unknown[]) => a, { doc: 'echoes' });
    srv.rpc.export('fail', () => {
      throw new RangeError('nope');
    });
    await srv.start();
  });
  afterAll(async () => {
    await srv?.close();
    await platform?.close();
  });

  it('status and peers (the built binary, human and --json)', async () => {
    const human = await run(process.execPath, [VIPCTL, 'status', '--vip-home', home]);
    expect(human.stdout).toMatch(/instance-name\s+vip-test/);
    const json = await run(process.execPath, [VIPCTL, 'peers', '--json', '--vip-home', home]);
    expect(JSON.parse(json.stdout)).toContain('vipctl.srv');
  });

  it('status counts the peers that peers lists (both leave out the asking vipctl)', async () => {
    const status = JSON.parse((await vipctl('status', '--json', '--vip-home', home)).out) as { peers: number };
    const peers = JSON.parse((await vipctl('peers', '--json', '--vip-home', home)).out) as string[];
    expect(peers).toEqual(expect.arrayContaining(['control', 'platform.auth', 'vipctl.srv']));
    expect(peers.some((p) => p.startsWith('control.connection.'))).toBe(false);
    expect(status.peers).toBe(peers.length);
  });

  it('query of a property the platform does not have exits 1 naming the nearest; a known one without value prints (none)', async () => {
    const none = await vipctl('query', 'nosuchprop', '--vip-home', home);
    expect(none.code).toBe(1);
    expect(none.out).toBe('');
    expect(none.err).toMatch(/^vipctl: the platform has no property "nosuchprop"; known: addresses, .*vip-router-stats\n$/);
    expect((await vipctl('query', 'serverkye', '--vip-home', home)).err).toMatch(/no property "serverkye" \(did you mean serverkey\?\)/);
    expect(await vipctl('query', 'volttron-central-address', '--vip-home', home)).toEqual({ code: 0, out: '(none)\n', err: '' });
  });

  it('publish: a message that is not JSON exits 2 and publishes nothing; --raw publishes the text', async () => {
    const got: unknown[] = [];
    await srv.pubsub!.subscribe('vipctl/json/', (_p, _s, _b, _t, _h, message) => void got.push(message));
    const bad = await vipctl('publish', 'vipctl/json/x', '{t: 1}', '--vip-home', home);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^vipctl: the message is not JSON .*or pass --raw/);
    expect((await vipctl('publish', 'vipctl/json/x', '{t: 2}', '--raw', '--vip-home', home)).code).toBe(0);
    expect((await vipctl('publish', 'vipctl/json/x', '{"t": 3}', '--vip-home', home)).code).toBe(0);
    await waitFor(() => got.length >= 2, { timeoutMs: 10_000, what: 'the two published messages' });
    expect(got).toEqual(['{t: 2}', { t: 3 }]); // the refused one never went out
  });

  it('an option of another command, and a misspelled command, are usage errors (exit 2) with a suggestion', async () => {
    const r = await vipctl('status', '--count', '5', '--days', '3', '--vip-home', home);
    expect(r).toEqual({ code: 2, out: '', err: "vipctl: unknown option '--count' for status; see vipctl status --help\n" });
    const typo = await exitOf(VIPCTL, ['stauts', '--vip-home', home]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^vipctl: unknown command 'stauts' \(did you mean (one of stats, )?status\?\)/);
  });

  it('vipctl and vip-platform share one exit-code scheme: a bad flag is 2 for both', async () => {
    expect((await exitOf(VIPCTL, ['status', '--no-such-flag'])).code).toBe(2);
    expect((await exitOf(PLATFORM, ['--no-such-flag'])).code).toBe(2);
    expect((await exitOf(VIPCTL, ['status', '--timeout', 'x'])).code).toBe(2);
    expect((await exitOf(PLATFORM, ['--allow-auth', 'x'])).code).toBe(2);
  });

  it('ping, query, rpc, rpc inspect', async () => {
    expect((await vipctl('ping', '--vip-home', home)).code).toBe(0);
    expect((await vipctl('ping', 'vipctl.srv', '--json', '--vip-home', home)).out).toContain('"peer":"vipctl.srv"');
    const q = await vipctl('query', 'serverkey', '--vip-home', home);
    expect(q.out.trim()).toBe(platform.serverkey);
    const r = await vipctl('rpc', 'vipctl.srv', 'echo', '1', '{"a": [true]}', 'text', '--kwargs', '{"k": 2}', '--json', '--vip-home', home);
    expect(JSON.parse(r.out)).toEqual([1, { a: [true] }, 'text', { k: 2 }]);
    const i = await vipctl('rpc', 'inspect', 'vipctl.srv', '--json', '--vip-home', home);
    expect(JSON.parse(i.out).methods).toContain('echo');
    expect(JSON.parse((await vipctl('rpc', 'inspect', 'vipctl.srv', 'echo', '--json', '--vip-home', home)).out)).toMatchObject({
      doc: 'echoes',
    });
  });

  it('reports remote errors, unreachable peers and usage errors with exit codes', async () => {
    const f = await vipctl('rpc', 'vipctl.srv', 'fail', '--vip-home', home);
    expect(f).toMatchObject({ code: 1 });
    expect(f.err).toContain('builtins.ValueError: nope');
    const u = await vipctl('rpc', 'ghost', 'echo', '--json', '--vip-home', home);
    expect(u.code).toBe(1);
    expect(JSON.parse(u.err)).toMatchObject({ code: 'VIP_UNREACHABLE' });
    expect((await vipctl('rpc', 'vipctl.srv', '--vip-home', home)).code).toBe(2);
    expect((await vipctl('--timeout', 'soon', 'status')).code).toBe(2);
    expect((await vipctl('frobnicate', '--vip-home', home)).code).toBe(2);
  });

  it('router statistics through the control service: enable, get, disable', async () => {
    expect((await vipctl('stats', 'enable', '--vip-home', home)).code).toBe(0);
    await vipctl('ping', 'vipctl.srv', '--vip-home', home);
    const stats = JSON.parse((await vipctl('stats', 'get', '--json', '--vip-home', home)).out) as {
      incoming: { subsystem: Record<string, number> };
    };
    expect(stats.incoming.subsystem.ping).toBeGreaterThan(0);
    expect((await vipctl('stats', 'disable', '--json', '--vip-home', home)).out).toContain('"stats":"disable"');
    expect((await vipctl('stats', 'bogus', '--vip-home', home)).code).toBe(2);
  });

  it('always-on counters (drops, pubsub) through stats counters, with the Tracker off', async () => {
    expect((await vipctl('publish', 'vipctl/counters', '{"n": 1}', '--vip-home', home)).code).toBe(0);
    const r = await vipctl('stats', 'counters', '--json', '--vip-home', home);
    expect(r.code).toBe(0);
    const counters = JSON.parse(r.out) as {
      router: { received: number; dropped: Record<string, number>; extensions: { pubsub?: Record<string, number> } };
      transport: { received: number };
    };
    expect(counters.router.received).toBeGreaterThan(0);
    expect(counters.router.dropped).toBeTypeOf('object');
    expect(counters.router.extensions.pubsub?.published).toBeGreaterThan(0);
    expect(counters.transport.received).toBeGreaterThan(0);
  });

  it('edits auth.json: add, list, remove; shows keys', async () => {
    const key = generateKeyPair().public;
    expect(
      (await vipctl('auth', 'add', '--credentials', key, '--user-id', 'ops', '--capabilities', '{"can_x": null}', '--vip-home', home)).code,
    ).toBe(0);
    const list = JSON.parse((await vipctl('auth', 'list', '--json', '--vip-home', home)).out) as { allow: { user_id: string }[] };
    expect(list.allow.map((e) => e.user_id)).toContain('ops');
    expect((await vipctl('auth', 'remove', 'ops', '--vip-home', home)).code).toBe(0);
    expect((await vipctl('auth', 'approve', 'nobody', '--vip-home', home)).code).toBe(1);
    expect((await vipctl('keys', 'show', '--vip-home', home)).out.trim()).toBe(platform.serverkey);
    expect((await vipctl('auth', 'add', '--vip-home', home)).code).toBe(2);
  });

  it('approves a refused key from the pending list, after which the agent connects', async () => {
    const pair = generateKeyPair();
    const make = () =>
      createZmqAgent({
        identity: 'vipctl.pending',
        address: platform.tcpAddress,
        serverKey: platform.serverkey ?? '',
        publicKey: pair.public,
        secretKey: pair.secret,
        vipHome: home,
        helloTimeoutMs: 1_500,
      });
    const refused = await make();
    await expect(refused.start()).rejects.toMatchObject({ code: expect.stringMatching(/VIP_TIMEOUT|VIP_AUTH/) });
    await refused.close();
    const pendingUser = async () => {
      const list = JSON.parse((await vipctl('auth', 'list', '--json', '--vip-home', home)).out) as {
        pending: { user_id: string; credentials: string }[];
      };
      return list.pending.find((p) => p.credentials === pair.public)?.user_id;
    };
    let userId: string | undefined;
    await waitFor(async () => (userId = await pendingUser()) !== undefined, {
      timeoutMs: 10_000,
      what: 'the refused key in auth_pending.json',
    });
    expect((await vipctl('auth', 'approve', userId!, '--vip-home', home)).code).toBe(0);
    await platform.authLoaded({ timeoutMs: 10_000 });
    const admitted = await make();
    await admitted.start();
    expect(await admitted.ping.ping()).toEqual([]);
    await admitted.close();
  });

  it('approves an agent refused on the local ipc address by its key: its next run (another process, another pid) is admitted', async () => {
    const pair = generateKeyPair();
    // an agent process on the platform's local address, as `node agent.js` would be: prints welcomed or refused
    const agentRun = () =>
      run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `
      import { createZmqAgent } from ${JSON.stringify(AGENT_ZMQ)};
      const agent = await createZmqAgent({ identity: 'ipc.pending', vipHome: ${JSON.stringify(home)}, serverKey: ${JSON.stringify(platform.serverkey)},
        publicKey: ${JSON.stringify(pair.public)}, secretKey: ${JSON.stringify(pair.secret)}, helloTimeoutMs: 1500 });
      const outcome = await agent.start().then(() => 'welcomed', () => 'refused');
      await agent.close();
      console.log(outcome);
      process.exit(0);
    `,
        ],
        { timeout: 20_000 },
      ).then((r) => r.stdout.trim());
    expect(await agentRun()).toBe('refused');
    type Pending = { user_id: string; credentials: string; address: string };
    const pendingOf = async () =>
      (JSON.parse((await vipctl('auth', 'list', '--json', '--vip-home', home)).out) as { pending: Pending[] }).pending.filter(
        (p) => p.credentials === pair.public,
      );
    let pending: Pending[] = [];
    await waitFor(async () => (pending = await pendingOf()).length > 0, {
      timeoutMs: 10_000,
      what: 'the refused key in auth_pending.json',
    });
    expect(pending[0]!.address).toMatch(/^(localhost)?:\d+:\d+:\d+$/); // the ZAP address over ipc carries the agent's pid
    expect((await vipctl('auth', 'approve', pending[0]!.user_id, '--vip-home', home)).code).toBe(0);
    await platform.authLoaded({ timeoutMs: 10_000 });
    const list = JSON.parse((await vipctl('auth', 'list', '--json', '--vip-home', home)).out) as {
      allow: { credentials: string[]; address: string[] | null }[];
      pending: Pending[];
    };
    expect(list.allow.find((e) => e.credentials?.[0] === pair.public)?.address).toEqual([
      expect.stringMatching(/^\/(localhost)?:\d+:\d+:\\d\+\/$/),
    ]);
    expect(list.pending.filter((p) => p.credentials === pair.public)).toEqual([]);
    expect(await agentRun()).toBe('welcomed');
  });

  it('connectZmqAgent defaults: local ipc address, server key from known_hosts, keys from keystores/<identity>', async () => {
    const agent = await connectZmqAgent({ identity: 'control.connection', vipHome: home }); // admitted by the first-start auth.json
    try {
      expect(await agent.query.query('serverkey')).toBe(platform.serverkey);
      expect(await agent.rpc.call('vipctl.srv', 'echo', 'x')).toEqual(['x']);
    } finally {
      await agent.close();
    }
  });

  it("auth add --identity admits the agent's own key pair, so connectZmqAgent({ identity }) just works (README quick start)", async () => {
    expect((await vipctl('auth', 'add', '--identity', 'thermostat', '--vip-home', home)).code).toBe(0);
    await platform.authLoaded({ timeoutMs: 10_000 });
    const list = JSON.parse((await vipctl('auth', 'list', '--json', '--vip-home', home)).out) as {
      allow: { user_id: string; identity: string; credentials: string[] }[];
    };
    const stored = await KeyStore.agent(home, 'thermostat').load();
    expect(list.allow.find((e) => e.user_id === 'thermostat')).toMatchObject({ identity: 'thermostat', credentials: [stored?.public] });
    const agent = await connectZmqAgent({ identity: 'thermostat', vipHome: home });
    try {
      expect(await agent.rpc.call('vipctl.srv', 'echo', 't')).toEqual(['t']);
    } finally {
      await agent.close();
    }
  });

  it('no platform on the home: one short line at once, exit 3 (no wait for a hello, no stack)', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'vipctl-down-'));
    try {
      await KeyStore.platform(empty).loadOrCreate();
      // a 600 s hello timeout: only the check of the local socket can answer within the test's deadline
      const r = await vipctl('status', '--vip-home', empty, '--connect-timeout', '600');
      expect(r).toEqual({
        code: 3,
        out: '',
        err: `vipctl: vip-platform is not running on ${empty} (nothing listens on ipc://@${empty}/run/vip.socket)\n`,
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
