import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { instanceNameProblem } from '@vip/protocol';
import { parseRmqLinkOptions } from '@vip/rmq';
import { validateOptions } from '../src/args.js';
import { CliError, EXIT } from '../src/exit-codes.js';
import { DEFAULT_RMQ_URL, resolvePlatformBus } from '../src/platform-bus.js';

const homes: string[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) await rm(h, { recursive: true, force: true });
});

async function home(busJson?: unknown): Promise<string> {
  const h = await mkdtemp(join(tmpdir(), 'vipctl-bus-'));
  homes.push(h);
  if (busJson !== undefined) {
    await mkdir(join(h, 'run'));
    await writeFile(join(h, 'run', 'bus.json'), typeof busJson === 'string' ? busJson : JSON.stringify(busJson));
  }
  return h;
}

/** `--flag value` / `--switch` as commander hands them over (camelCase), checked like vipctl's. */
function opts(...argv: string[]) {
  const raw: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.slice(2).replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) raw[name] = true;
    else raw[name] = argv[++i];
  }
  return validateOptions(raw);
}
const record = (pid: number) => ({ bus: 'rmq', url: 'amqp://u:p@b:5672', vhost: 'vh', instance: 'i1', pid });

describe('vipctl: which bus the platform is on', () => {
  it("zmq without a record or flag; the running platform's record otherwise; flags win", async () => {
    expect(await resolvePlatformBus(opts(), await home())).toEqual({ bus: 'zmq' });
    const h = await home(record(process.pid));
    expect(await resolvePlatformBus(opts(), h)).toEqual({
      bus: 'rmq',
      url: 'amqp://u:p@b:5672',
      vhost: 'vh',
      instanceName: 'i1',
      management: { baseUrl: 'http://b:15672', user: 'u', password: 'p' },
    });
    expect(await resolvePlatformBus(opts('--rmq-vhost', 'other'), h)).toMatchObject({ vhost: 'other', instanceName: 'i1' });
    expect(await resolvePlatformBus(opts('--message-bus', 'zmq'), h)).toEqual({ bus: 'zmq' });
  });

  it("a cluster: the failover URLs the platform recorded go with the bus (into agents' rmq.json)", async () => {
    const h = await home({ ...record(process.pid), failoverUrls: ['amqp://b2:5672', 'amqp://b3:5672'] });
    expect(await resolvePlatformBus(opts(), h)).toMatchObject({ bus: 'rmq', failoverUrls: ['amqp://b2:5672', 'amqp://b3:5672'] });
  });

  it('a record of a dead process, or the stopped record of a clean stop: RabbitMQ, not running (no credentials kept)', async () => {
    expect(await resolvePlatformBus(opts(), await home(record(2 ** 22 + 12345)))).toMatchObject({
      bus: 'rmq',
      url: 'amqp://b:5672',
      vhost: 'vh',
      instanceName: 'i1',
      notRunning: `its process ${2 ** 22 + 12345} is gone`,
      management: { baseUrl: 'http://b:15672', user: 'guest', password: 'guest' },
    });
    const stopped = { bus: 'rmq', url: 'amqp://b:5672', vhost: 'vh', instance: 'i1', pid: 12, stopped: '2025-05-01T10:00:00.000Z' };
    expect(await resolvePlatformBus(opts(), await home(stopped))).toMatchObject({
      bus: 'rmq',
      vhost: 'vh',
      notRunning: 'stopped at 2025-05-01T10:00:00.000Z',
    });
  });

  it("the home's config file: message-bus = rmq without a record is a RabbitMQ platform that is not running; its instance, vhost and broker are used", async () => {
    const config = { 'message-bus': 'rmq', 'instance-name': 'cfg', 'rmq-vhost': 'cv', 'rmq-url': 'amqp://a:b@h:5673' } as const;
    expect(await resolvePlatformBus(opts(), await home(), config)).toMatchObject({
      bus: 'rmq',
      url: 'amqp://a:b@h:5673',
      vhost: 'cv',
      instanceName: 'cfg',
      notRunning: 'config says message-bus = rmq, and no platform recorded itself in run/bus.json',
      management: { baseUrl: 'http://h:15672', user: 'a', password: 'b' },
    });
    expect(await resolvePlatformBus(opts(), await home(), { 'message-bus': 'zmq' })).toEqual({ bus: 'zmq' });
    const running = await resolvePlatformBus(opts(), await home(record(process.pid)), config); // the running platform's record wins
    expect(running).toMatchObject({ vhost: 'vh', instanceName: 'i1' });
    expect(running).not.toHaveProperty('notRunning');
  });

  it('ignores a malformed record; --message-bus rmq alone uses the defaults', async () => {
    expect(await resolvePlatformBus(opts(), await home('{"bus": "rmq"'))).toEqual({ bus: 'zmq' });
    expect(await resolvePlatformBus(opts(), await home({ bus: 'kafka', pid: process.pid }))).toEqual({ bus: 'zmq' });
    expect(await resolvePlatformBus(opts('--message-bus', 'rmq', '--instance-name', 'v2'), await home())).toEqual({
      bus: 'rmq',
      url: DEFAULT_RMQ_URL,
      vhost: 'v2',
      instanceName: 'v2',
      management: { baseUrl: 'http://127.0.0.1:15672', user: 'guest', password: 'guest' },
    });
  });

  it('management API: the flag, else the recorded one, else port 15672 of the broker host with its credentials', async () => {
    const recorded = { ...record(process.pid), management: { baseUrl: 'https://m:443', user: 'admin', password: 's' } };
    const h = await home(recorded);
    expect(await resolvePlatformBus(opts(), h)).toMatchObject({ management: recorded.management });
    expect(await resolvePlatformBus(opts('--rmq-management-url', 'http://x:1/'), h)).toMatchObject({
      management: { baseUrl: 'http://x:1', user: 'u', password: 'p' },
    });
    expect(await resolvePlatformBus(opts('--rmq-management-url', 'http://a%40b:c@x:1'), h)).toMatchObject({
      management: { user: 'a@b', password: 'c' },
    });
    expect(() => opts('--rmq-management-url', 'amqp://x')).toThrow(/http:\/\/host:15672/);
  });

  it('refuses bad bus flags as usage errors', () => {
    expect(() => opts('--message-bus', 'mqtt')).toThrow(/must be zmq or rmq/);
    expect(() => opts('--rmq-url', 'http://x')).toThrow(/amqp:/);
    expect(() => opts('--instance-name', 'a.b')).toThrow(/without "."/);
  });

  it('--instance-name follows the one rule the platform and @vip/rmq use (@vip/protocol instanceNameProblem, RabbitMQ)', () => {
    for (const name of ['site1', 'v_2-b']) {
      expect(opts('--instance-name', name)['instance-name']).toBe(name);
      expect(parseRmqLinkOptions({ url: 'amqp://h:5672', instanceName: name }).instanceName).toBe(name);
    }
    for (const name of ['é', 'a:b', '@x', 'x/y', 'a b', 'a.b']) {
      expect(() => opts('--instance-name', name), name).toThrow(instanceNameProblem(name, 'rmq'));
      expect(() => parseRmqLinkOptions({ url: 'amqp://h:5672', instanceName: name }), name).toThrow(instanceNameProblem(name, 'rmq'));
    }
  });

  describe('amqps: the recorded certificate files, or the flags', () => {
    const tlsRecord = (pid: number) => ({
      ...record(pid),
      url: 'amqps://b:5671',
      brokerUser: 'i1.router',
      tls: {
        ca: '/p/ca.pem',
        cert: '/p/router.crt',
        key: '/p/router.key',
        passphraseFile: '/p/pass',
        servername: 'b.example',
        external: true,
      },
    });

    it("uses the platform's certificate and broker user as recorded", async () => {
      const h = await home(tlsRecord(process.pid));
      expect(await resolvePlatformBus(opts(), h)).toMatchObject({ url: 'amqps://b:5671', tls: tlsRecord(0).tls, brokerUser: 'i1.router' });
    });

    it('the recorded CA key (--rmq-ca-key) goes with the recorded CA only: a --rmq-ca flag drops it', async () => {
      const h = await home({ ...tlsRecord(process.pid), tls: { ...tlsRecord(0).tls, caKey: '/p/ca.key' } });
      expect(await resolvePlatformBus(opts(), h)).toMatchObject({ tls: { ca: '/p/ca.pem', caKey: '/p/ca.key' } });
      expect(await resolvePlatformBus(opts('--rmq-ca', '/q/ca.pem'), h)).not.toHaveProperty('tls.caKey');
    });

    it("--rmq-cert/--rmq-key: its own certificate (absolute paths), no passphrase or broker user of the platform's; --rmq-ca replaces the CA", async () => {
      const h = await home(tlsRecord(process.pid));
      const own = await resolvePlatformBus(opts('--rmq-cert', '/q/me.crt', '--rmq-key', 'me.key', '--rmq-ca', '/q/ca.pem'), h);
      expect(own).toMatchObject({
        tls: { ca: '/q/ca.pem', cert: '/q/me.crt', key: resolve('me.key'), servername: 'b.example', external: true },
      });
      expect(own).not.toHaveProperty('brokerUser');
      expect(own).not.toHaveProperty('tls.passphraseFile');
    });

    it('flags without a record: --message-bus rmq --rmq-url amqps://... --rmq-external with a certificate', async () => {
      const r = await resolvePlatformBus(
        opts('--message-bus', 'rmq', '--rmq-url', 'amqps://h:5671', '--rmq-cert', '/c', '--rmq-key', '/k', '--rmq-external'),
        await home(),
      );
      expect(r).toMatchObject({ tls: { cert: '/c', key: '/k', external: true } });
    });

    it('an amqp:// --rmq-url drops the recorded TLS settings; a record without tls stays without', async () => {
      const h = await home(tlsRecord(process.pid));
      const plain = await resolvePlatformBus(opts('--rmq-url', 'amqp://u:p@b:5672'), h);
      expect(plain).not.toHaveProperty('tls');
      expect(await resolvePlatformBus(opts(), await home(record(process.pid)))).not.toHaveProperty('tls');
    });

    it('refuses mismatched TLS flags as usage errors (exit 2)', async () => {
      const h = await home(record(process.pid));
      const usage = async (...argv: string[]) => {
        const err = await resolvePlatformBus(opts(...argv), h).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(CliError);
        expect((err as CliError).exitCode).toBe(EXIT.USAGE);
        return (err as CliError).message;
      };
      expect(await usage('--rmq-url', 'amqps://b:5671', '--rmq-cert', '/c')).toMatch(/--rmq-cert and --rmq-key go together/);
      expect(await usage('--rmq-cert', '/c', '--rmq-key', '/k')).toMatch(/need an amqps:\/\/ broker URL \(got amqp:\/\/\)/);
      expect(await usage('--rmq-url', 'amqps://b:5671', '--rmq-external')).toMatch(/--rmq-external needs --rmq-cert and --rmq-key/);
    });
  });
});
