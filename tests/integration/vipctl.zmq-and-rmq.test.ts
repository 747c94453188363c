import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { createZmqAgent } from '@vip/agent/zmq';
import { generateKeyPair } from '@vip/protocol';
import { AMQP_URL, type TestVhost } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';
import { startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { runVipctl } from './helpers/vipctl.js';

const VIPCTL = fileURLToPath(new URL('../../apps/vipctl/dist/main.js', import.meta.url));
const run = promisify(execFile);

/** vipctl in-process: exit code and captured output. */
async function vipctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runVipctl(argv);
}

interface Bus {
  readonly name: 'zmq' | 'rmq';
  start(): Promise<{ platform: PlatformProcess; srv: Agent; close(): Promise<void> }>;
}

const zmq: Bus = {
  name: 'zmq',
  async start() {
    const platform = await startPlatform();
    const pair = generateKeyPair();
    await platform.authorize(pair.public, { identity: 'ctl.srv' });
    const srv = await createZmqAgent({
      identity: 'ctl.srv',
      address: platform.tcpAddress,
      serverKey: platform.serverkey ?? '',
      publicKey: pair.public,
      secretKey: pair.secret,
      vipHome: platform.home,
    });
    return { platform, srv, close: () => platform.close() };
  },
};

let vh: TestVhost | undefined;
const rmq: Bus = {
  name: 'rmq',
  async start() {
    vh = await freshVhost('vipctl');
    // shared login (opt-in): vipctl and the served agent log in as guest here (the default login: rmq-platform-login.test.ts)
    const platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true }, instanceName: 'ctl' });
    const srv = createRmqAgent({ identity: 'ctl.srv', rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName: 'ctl' } });
    return { platform, srv, close: () => platform.close() };
  },
};

afterAll(async () => {
  await vh?.dispose();
});

/** status, peers, ping, rpc, stats, config, publish, subscribe: the same commands on both buses (the bus found from VIP_HOME). */
describe.each([zmq, rmq])('vipctl on $name', (bus) => {
  let platform: PlatformProcess;
  let srv: Agent;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ platform, srv, close } = await bus.start());
    srv.rpc.export('echo', (...a: unknown[]) => a);
    await srv.start();
  });
  afterAll(async () => {
    await srv?.close();
    await close?.();
  });

  it('status (built binary) says the bus; peers, ping and rpc work', async () => {
    const status = JSON.parse((await run(process.execPath, [VIPCTL, 'status', '--json', '--vip-home', platform.home])).stdout) as Record<
      string,
      unknown
    >;
    expect(status).toMatchObject({ 'message-bus': bus.name, 'instance-name': platform.instance });
    expect(JSON.parse((await vipctl('peers', '--json', '--vip-home', platform.home)).out)).toContain('ctl.srv');
    expect((await vipctl('ping', '--vip-home', platform.home)).code).toBe(0);
    expect((await vipctl('ping', 'ctl.srv', '--json', '--vip-home', platform.home)).out).toContain('"peer":"ctl.srv"');
    const r = await vipctl('rpc', 'ctl.srv', 'echo', '1', 'text', '--json', '--vip-home', platform.home);
    expect(JSON.parse(r.out)).toEqual([1, 'text']);
    const u = await vipctl('rpc', 'ghost', 'echo', '--json', '--vip-home', platform.home);
    expect(JSON.parse(u.err)).toMatchObject({ code: 'VIP_UNREACHABLE' });
  });

  it('router statistics through the control service', async () => {
    expect((await vipctl('stats', 'enable', '--vip-home', platform.home)).code).toBe(0);
    await vipctl('ping', '--vip-home', platform.home);
    const stats = JSON.parse((await vipctl('stats', 'get', '--json', '--vip-home', platform.home)).out) as {
      incoming: { subsystem: Record<string, number> };
    };
    expect(stats.incoming.subsystem.ping).toBeGreaterThan(0);
    expect((await vipctl('stats', 'disable', '--vip-home', platform.home)).code).toBe(0);
  });

  it("config store, get, list and delete (vipctl may edit any agent's store)", async () => {
    const file = join(platform.home, 'vipctl-config.json');
    await writeFile(file, '{"setpoint": 21}');
    expect((await vipctl('config', 'store', 'ctl.srv', 'config', file, '--vip-home', platform.home)).code).toBe(0);
    expect(JSON.parse((await vipctl('config', 'get', 'ctl.srv', 'config', '--json', '--vip-home', platform.home)).out)).toEqual({
      setpoint: 21,
    });
    expect(JSON.parse((await vipctl('config', 'list', '--json', '--vip-home', platform.home)).out)).toContain('ctl.srv');
    expect((await vipctl('config', 'delete', 'ctl.srv', '--all', '--vip-home', platform.home)).code).toBe(0);
    expect(JSON.parse((await vipctl('config', 'list', 'ctl.srv', '--json', '--vip-home', platform.home)).out)).toEqual([]);
  });

  it('subscribe prints what publish sends; publish reports the subscriber count', async () => {
    // --count 3, not 2: the probe that first counts 1 may itself be delivered (on ZeroMQ it always
    // is). With --count 2 the subscriber would then stop on ctl/t1 and remove its queue while that
    // publish still reads the bindings on RabbitMQ (the count is read after the publish:
    // packages/rmq README, "true subscriber count"), so ctl/t1 could count 0. With 3 it holds at
    // most the probe and ctl/t1 while ctl/t1 is counted.
    const sub = vipctl('subscribe', 'ctl/', '--count', '3', '--json', '-t', '45', '--vip-home', platform.home);
    // the subscriber is in place once a publish counts it
    await waitFor(
      async () => JSON.parse((await vipctl('publish', 'ctl/probe', '0', '--json', '--vip-home', platform.home)).out).subscribers === 1,
      { timeoutMs: 15_000, what: 'vipctl subscribe registered' },
    );
    const p = await vipctl('publish', 'ctl/t1', '{"v": [1, "x"]}', '--json', '--vip-home', platform.home);
    expect(JSON.parse(p.out)).toEqual({ topic: 'ctl/t1', subscribers: 1 });
    // The probe may or may not have been delivered (on RabbitMQ it may have been routed just before
    // the binding existed and counted after): two more publishes make --count 3 certain either way.
    await vipctl('publish', 'ctl/t2', '2', '--json', '--vip-home', platform.home);
    await vipctl('publish', 'ctl/t3', '3', '--json', '--vip-home', platform.home);
    const s = await sub;
    expect(s.code).toBe(0);
    const lines = s.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { topic: string; message: unknown; sender: string });
    expect(lines.find((l) => l.topic === 'ctl/t1')).toMatchObject({ message: { v: [1, 'x'] } });
    expect(lines[0]!.sender).toMatch(/^control\.connection\./);
  });

  it('subscribe with --count not reached ends with exit 4 at --timeout', async () => {
    const s = await vipctl('subscribe', 'nobody/', '--count', '1', '-t', '1', '--vip-home', platform.home);
    expect(s.code).toBe(4);
    expect(s.err).toContain('got 0 of 1');
  });
});

describe('vipctl on rmq without a recorded bus', () => {
  it('--message-bus rmq with the link flags reaches a platform; a missing platform exits 3 without a stack', async () => {
    const own = await freshVhost('vipctl-flags');
    const empty = await mkdtemp(join(tmpdir(), 'vipctl-rmq-'));
    // shared login (opt-in): vipctl is pointed at the broker with guest by flags, without bus.json
    const platform = await startPlatform({
      bus: 'rmq',
      rmq: { vhost: own.vhost, url: AMQP_URL, sharedLogin: true },
      instanceName: 'flags',
    });
    try {
      const link = ['--message-bus', 'rmq', '--rmq-url', AMQP_URL, '--rmq-vhost', own.vhost, '--vip-home', empty];
      const ok = await vipctl('query', 'message-bus', ...link, '--instance-name', 'flags');
      expect(ok).toMatchObject({ code: 0, out: 'rmq\n' });
      const down = await vipctl('status', ...link, '--instance-name', 'other', '--connect-timeout', '1');
      expect(down).toEqual({
        code: 3,
        out: '',
        err: `vipctl: no answer from the platform at amqp://127.0.0.1:5672/${own.vhost} (instance other) within 1 s (is it running? --connect-timeout waits longer)\n`,
      });
    } finally {
      await platform.close();
      await rm(empty, { recursive: true, force: true });
      await own.dispose();
    }
  });
});

describe('vipctl on a RabbitMQ home whose platform stopped', () => {
  it('says so in one line at once (exit 3): no ZeroMQ attempt, no auth.json hint; the stopped record keeps no credentials', async () => {
    const own = await freshVhost('vipctl-stopped');
    const home = await mkdtemp(join(tmpdir(), 'vipctl-rmq-stopped-'));
    try {
      // shared login (opt-in): the test needs only the record, not per-agent users
      const platform = await startPlatform({
        bus: 'rmq',
        rmq: { vhost: own.vhost, url: AMQP_URL, sharedLogin: true },
        instanceName: 'stopd',
        args: ['--vip-home', home],
      });
      expect((await vipctl('status', '--vip-home', home)).code).toBe(0);
      await platform.close(); // SIGTERM: a clean stop
      const record = JSON.parse(await readFile(join(home, 'run', 'bus.json'), 'utf8')) as Record<string, unknown>;
      expect(record).toEqual({
        bus: 'rmq',
        url: 'amqp://127.0.0.1:5672',
        vhost: own.vhost,
        instance: 'stopd',
        pid: platform.pid,
        stopped: expect.any(String),
      });
      // a 600 s hello timeout: only the record can answer within the test's deadline
      const r = await vipctl('status', '--vip-home', home, '--connect-timeout', '600');
      expect(r).toEqual({
        code: 3,
        out: '',
        err: `vipctl: vip-platform is not running on ${home} (RabbitMQ, instance stopd, vhost ${own.vhost}: stopped at ${String(record.stopped)})\n`,
      });
    } finally {
      await rm(home, { recursive: true, force: true });
      await own.dispose();
    }
  });
});
