import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EMPTY_FRAME,
  encodeCountFrame,
  PLATFORM_CONFIG_KEYS,
  silentLogger,
  textFrame,
  VIP_SIGNATURE,
  type Frame,
  type RouterExtension,
  type RouterServices,
  type VipMessage,
} from '@vip/protocol';
import { AsyncQueue, MemoryTransport } from '@vip/testing';
import { parseCli, type PlatformConfig } from '../src/cli-options.js';
import type { PlatformBus } from '../src/platform-bus.js';
import type { PlatformService } from '../src/platform-service.js';
import { platformServices } from '../src/platform.js';
import { platformQuery } from '../src/query-properties.js';
import { rmqPermissionsService } from '../src/services/rmq-permissions.js';
import { startPlatform } from '../src/start-platform.js';

// startPlatform over a bus and a list of services, with a bus on the in-memory transport.
let home: string | undefined;
afterEach(async () => {
  if (home) await rm(home, { recursive: true, force: true });
  home = undefined;
});

async function config(): Promise<PlatformConfig> {
  home = await mkdtemp(join(tmpdir(), 'vip-start-platform-'));
  const cli = parseCli(['--vip-home', home, '--allow-auth', 'false'], {});
  if (cli.help) throw new Error('unexpected --help');
  return cli.config;
}

function memoryBus(log: string[], kind: 'zmq' | 'rmq' = 'zmq'): PlatformBus & { transport: MemoryTransport } {
  const transport = Object.assign(new MemoryTransport(), { stats: () => ({ memory: true }) });
  return {
    kind,
    transport,
    router: { identity: 'router', extensions: [] },
    localAddress: 'ipc://@memory',
    addresses: () => ['tcp://127.0.0.1:1'],
    capabilityUsers: (byUser) => ({ ...byUser }),
    serviceAgents: undefined,
    services: [],
    startRouter: async (router) => {
      log.push('router start');
      await router.start();
    },
    bound: () => Promise.resolve(['tcp://127.0.0.1:1']),
    ready: () => Promise.resolve(void log.push('bus ready')),
    counters: () => ({ busCounter: 1 }),
    close: () => Promise.resolve(void log.push('bus close')),
    describeFailure: (err) => err,
  };
}

/** A service that logs what the platform asks of it; `serves` names a subsystem it answers `mine` on. */
function recorder(name: string, log: string[], o: { serves?: string; failStart?: boolean } = {}): PlatformService {
  let services: RouterServices | undefined;
  const extension: RouterExtension = {
    subsystems: o.serves ? [o.serves] : [],
    attach: (s) => {
      services = s;
    },
    handle: (m) => {
      void services?.deliver(m.sender, EMPTY_FRAME, EMPTY_FRAME, m.id, m.subsystem, [textFrame('mine')]);
      return true;
    },
  };
  return {
    name,
    configKeys: [],
    prepare: () => Promise.resolve(void log.push(`prepare ${name}`)).then(() => [extension]),
    start: () => {
      log.push(`start ${name}`);
      return o.failStart ? Promise.reject(new Error(`${name} failed`)) : Promise.resolve();
    },
    stop: () => Promise.resolve(void log.push(`stop ${name}`)),
    counters: () => ({ [name]: { ok: 1 } }),
  };
}

async function peer(transport: MemoryTransport): Promise<{ ask(subsystem: string, args: string[], id: string): Promise<VipMessage> }> {
  const conn = transport.connection('agent');
  const inbox = new AsyncQueue<VipMessage>();
  conn.onMessage((m) => inbox.push(m));
  await conn.open();
  const f = (s: string): Frame => textFrame(s);
  return {
    ask: (subsystem, args, id) => {
      conn.sendFrames([EMPTY_FRAME, VIP_SIGNATURE, EMPTY_FRAME, f(id), f(subsystem), ...args.map(f)]);
      return inbox.nextMatching((m) => m.id.toString() === id);
    },
  };
}

describe('startPlatform', () => {
  it('prepares the services in order (their extensions registered), starts the router, starts them, and stops them in reverse', async () => {
    const log: string[] = [];
    const bus = memoryBus(log);
    const platform = await startPlatform({
      config: await config(),
      logger: silentLogger,
      onQuit: () => undefined,
      version: '9.9.9',
      openBus: () => Promise.resolve(bus),
      services: () => [recorder('a', log, { serves: 'alpha' }), recorder('b', log)],
    });
    expect(log).toEqual(['prepare a', 'prepare b', 'router start', 'start a', 'start b', 'bus ready']);
    expect(platform.ready).toMatchObject({ addresses: ['tcp://127.0.0.1:1'], serverkey: null });
    const p = await peer(bus.transport);
    expect((await p.ask('alpha', [], 'x1')).args.map(String)).toEqual(['mine']);
    const frequency = await p.ask('query', ['agent-monitor-frequency'], 'q1');
    expect(frequency.args[1]).toEqual(encodeCountFrame(600));
    const stats = await p.ask('query', ['vip-router-stats'], 'q2');
    expect(JSON.parse(String(stats.args[1]))).toMatchObject({
      router: { peers: 1 },
      transport: { memory: true },
      busCounter: 1,
      a: { ok: 1 },
      b: { ok: 1 },
    });
    log.length = 0;
    await platform.stop();
    await platform.stop();
    expect(log).toEqual(['stop b', 'stop a', 'bus close']);
    expect(bus.transport.closed).toBe(true);
  });

  it('a failure at start stops what started, in reverse, and is what start rejects with', async () => {
    const log: string[] = [];
    const bus = memoryBus(log);
    await expect(
      startPlatform({
        config: await config(),
        logger: silentLogger,
        onQuit: () => undefined,
        version: '9.9.9',
        openBus: () => Promise.resolve(bus),
        services: () => [recorder('a', log), recorder('b', log, { failStart: true }), recorder('c', log)],
      }),
    ).rejects.toThrow('b failed');
    expect(log).toEqual([
      'prepare a',
      'prepare b',
      'prepare c',
      'router start',
      'start a',
      'start b',
      'stop c',
      'stop b',
      'stop a',
      'bus close',
    ]);
    expect(bus.transport.closed).toBe(true);
  });
});

describe("the platform's parts", () => {
  it('answers the same query properties on both buses, agent-monitor-frequency included', async () => {
    const c = await config();
    for (const kind of ['zmq', 'rmq'] as const) {
      const q = platformQuery({ config: c, bus: memoryBus([], kind), serverkey: null, version: '1', counters: () => ({}) });
      expect(Object.keys(q).sort()).toEqual([
        'addresses',
        'agent-monitor-frequency',
        'bind-web-address',
        'instance-name',
        'local_address',
        'message-bus',
        'platform-version',
        'serverkey',
        'vip-router-stats',
        'vip-version',
        'volttron-central-address',
        'volttron-central-serverkey',
      ]);
      expect(q['platform-version']).toBe('9.0.4');
      expect(q['vip-version']).toBe('1');
      expect(q['message-bus']).toBe(kind);
      expect(q['agent-monitor-frequency']).toBe(600);
    }
  });

  it('lists its services with platform.auth first and pubsub last; every config key a service reads is a platform config key', async () => {
    const c = { ...(await config()), legacyPubsub: true };
    const rmqOwn = rmqPermissionsService({
      management: { baseUrl: 'http://127.0.0.1:1', user: 'u', password: 'p' },
      vhost: 'v',
      instanceName: 'i',
      protectedTopicsPath: '/x',
      exclude: [],
    });
    const services = platformServices(c, { ...memoryBus([]), services: [rmqOwn] });
    expect(services.map((s) => s.name)).toEqual([
      'platform.auth',
      'rmq-permissions',
      'config.store',
      'status',
      'platform.health',
      'control',
      'pubsub (legacy)',
      'pubsub',
    ]);
    const known = new Set<string>(PLATFORM_CONFIG_KEYS);
    for (const s of services) for (const key of s.configKeys) expect(known.has(key), `${s.name}: ${key}`).toBe(true);
  });
});
