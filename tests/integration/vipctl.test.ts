import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../packages/protocol/src/index.js';
import { startPlatform, waitFor, type PlatformProcess } from '../../packages/testing/src/index.js';
import { KeyStore } from '../../packages/zmq/src/index.js';
import { connectZmqAgent, createZmqAgent } from '../../packages/agent/src/zmq.js';
import type { Agent } from '../../packages/agent/src/index.js';
import { runCli } from '../../apps/vipctl/src/cli.js';

const VIPCTL = fileURLToPath(new URL('../../apps/vipctl/dist/main.js', import.meta.url));
const run = promisify(execFile);

/** vipctl in-process: exit code and captured output. */
async function vipctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += `${t}\n`), err: (t) => void (err += `${t}\n`), env: {} });
  return { code, out, err };
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
    srv = await createZmqAgent({ identity: 'vipctl.srv', address: platform.tcpAddress, serverKey: platform.serverkey ?? '', publicKey: pair.public, secretKey: pair.secret, vipHome: home });
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

  it('ping, query, rpc, rpc inspect', async () => {
    expect((await vipctl('ping', '--vip-home', home)).code).toBe(0);
    expect((await vipctl('ping', 'vipctl.srv', '--json', '--vip-home', home)).out).toContain('"peer":"vipctl.srv"');
    const q = await vipctl('query', 'serverkey', '--vip-home', home);
    expect(q.out.trim()).toBe(platform.serverkey);
    const r = await vipctl('rpc', 'vipctl.srv', 'echo', '1', '{"a": [true]}', 'text', '--kwargs', '{"k": 2}', '--json', '--vip-home', home);
    expect(JSON.parse(r.out)).toEqual([1, { a: [true] }, 'text', { k: 2 }]);
    const i = await vipctl('rpc', 'inspect', 'vipctl.srv', '--json', '--vip-home', home);
    expect(JSON.parse(i.out).methods).toContain('echo');
    expect(JSON.parse((await vipctl('rpc', 'inspect', 'vipctl.srv', 'echo', '--json', '--vip-home', home)).out)).toMatchObject({ doc: 'echoes' });
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
    const stats = JSON.parse((await vipctl('stats', 'get', '--json', '--vip-home', home)).out) as { incoming: { subsystem: Record<string, number> } };
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
    expect((await vipctl('auth', 'add', '--credentials', key, '--user-id', 'ops', '--capabilities', '{"can_x": null}', '--vip-home', home)).code).toBe(0);
    const list = JSON.parse((await vipctl('auth', 'list', '--json', '--vip-home', home)).out) as { allow: { user_id: string }[] };
    expect(list.allow.map((e) => e.user_id)).toContain('ops');
    expect((await vipctl('auth', 'remove', 'ops', '--vip-home', home)).code).toBe(0);
    expect((await vipctl('auth', 'approve', 'nobody', '--vip-home', home)).code).toBe(1);
    expect((await vipctl('keys', 'show', '--vip-home', home)).out.trim()).toBe(platform.serverkey);
    expect((await vipctl('auth', 'add', '--vip-home', home)).code).toBe(2);
  });

  it('approves a refused key from the pending list, after which the agent connects', async () => {
    const pair = generateKeyPair();
    const make = () => createZmqAgent({
      identity: 'vipctl.pending', address: platform.tcpAddress, serverKey: platform.serverkey ?? '', publicKey: pair.public, secretKey: pair.secret, vipHome: home, helloTimeoutMs: 1_500,
    });
    const refused = await make();
    await expect(refused.start()).rejects.toMatchObject({ code: expect.stringMatching(/VIP_TIMEOUT|VIP_AUTH/) });
    await refused.close();
    const pendingUser = async () => {
      const list = JSON.parse((await vipctl('auth', 'list', '--json', '--vip-home', home)).out) as { pending: { user_id: string; credentials: string }[] };
      return list.pending.find((p) => p.credentials === pair.public)?.user_id;
    };
    let userId: string | undefined;
    await waitFor(async () => (userId = await pendingUser()) !== undefined, { timeoutMs: 10_000, what: 'the refused key in auth_pending.json' });
    const reloaded = platform.waitForLog('auth.reloaded', { timeoutMs: 10_000 });
    expect((await vipctl('auth', 'approve', userId!, '--vip-home', home)).code).toBe(0);
    await reloaded;
    const admitted = await make();
    await admitted.start();
    expect(await admitted.ping.ping()).toEqual([]);
    await admitted.close();
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

  it('auth add --identity admits the agent\'s own key pair, so connectZmqAgent({ identity }) just works (README quick start)', async () => {
    const reloaded = platform.waitForLog('auth.reloaded', { timeoutMs: 10_000 });
    expect((await vipctl('auth', 'add', '--identity', 'thermostat', '--vip-home', home)).code).toBe(0);
    await reloaded;
    const list = JSON.parse((await vipctl('auth', 'list', '--json', '--vip-home', home)).out) as { allow: { user_id: string; identity: string; credentials: string[] }[] };
    const stored = await KeyStore.agent(home, 'thermostat').load();
    expect(list.allow.find((e) => e.user_id === 'thermostat')).toMatchObject({ identity: 'thermostat', credentials: [stored?.public] });
    const agent = await connectZmqAgent({ identity: 'thermostat', vipHome: home });
    try {
      expect(await agent.rpc.call('vipctl.srv', 'echo', 't')).toEqual(['t']);
    } finally {
      await agent.close();
    }
  });

  it('fails fast with exit 3 when the platform is down (no hang, no stack)', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'vipctl-down-'));
    try {
      await KeyStore.platform(empty).loadOrCreate();
      const r = await vipctl('status', '--vip-home', empty, '--connect-timeout', '1');
      expect(r.code).toBe(3);
      expect(r.err).toContain('not running');
      expect(r.err).not.toMatch(/\n\s+at /);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
