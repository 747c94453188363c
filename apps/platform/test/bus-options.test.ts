import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@vip/protocol';
import { parseConfigFile } from '@vip/protocol';
import { DEFAULT_RMQ_URL, parseCli, type PlatformConfig } from '../src/cli-options.js';

const homes: string[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) await rm(h, { recursive: true, force: true });
});

async function homeWithConfig(text: string): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'vip-bus-options-'));
  homes.push(home);
  await writeFile(join(home, 'config'), text);
  return home;
}

function config(argv: string[]): PlatformConfig {
  const r = parseCli(argv, {});
  if (r.help) throw new Error('unexpected --help');
  return r.config;
}

describe('vip-platform bus options', () => {
  it('--message-bus rmq: default broker (no credentials), vhost = instance name, its own user <instance>.router made through the management API', () => {
    const c = config(['--vip-home', '/nonexistent-vip-home', '--message-bus', 'rmq', '--instance-name', 'v1']);
    expect(c.messageBus).toBe('rmq');
    expect(DEFAULT_RMQ_URL).toBe('amqp://127.0.0.1:5672');
    expect(c.rmq).toEqual({
      url: DEFAULT_RMQ_URL,
      vhost: 'v1',
      platformUser: 'v1.router',
      management: { baseUrl: 'http://127.0.0.1:15672', user: 'guest', password: 'guest' },
    });
  });

  it('takes --rmq-url, --rmq-vhost and --rmq-management-url (credentials in it win; "off" disables it)', () => {
    const c = config([
      '--vip-home',
      '/nonexistent-vip-home',
      '--message-bus',
      'rmq',
      '--rmq-url',
      'amqp://u:p@broker:5673',
      '--rmq-vhost',
      'volttron',
      '--rmq-management-url',
      'http://admin:secret@broker:15673',
    ]);
    expect(c.rmq).toEqual({
      url: 'amqp://u:p@broker:5673',
      vhost: 'volttron',
      platformUser: 'vip1.router',
      management: { baseUrl: 'http://broker:15673', user: 'admin', password: 'secret' },
    });
    const off = config([
      '--vip-home',
      '/nonexistent-vip-home',
      '--message-bus',
      'rmq',
      '--rmq-management-url',
      'off',
      '--rmq-url',
      'amqp://vip1.router:pw@broker:5672',
    ]);
    expect(off.rmq).toEqual({ url: 'amqp://vip1.router:pw@broker:5672', vhost: 'vip1' }); // the URL logs in as the platform's user: nothing to make
  });

  it("the login: --rmq-shared-login opts out (also in the config file); --rmq-legacy-peers lists Python peers; the platform's identities are not theirs", async () => {
    const base = ['--vip-home', '/nonexistent-vip-home', '--message-bus', 'rmq', '--instance-name', 'v1'];
    expect(config([...base, '--rmq-shared-login']).rmq).toEqual({
      url: DEFAULT_RMQ_URL,
      vhost: 'v1',
      sharedLogin: true,
      management: { baseUrl: 'http://127.0.0.1:15672', user: 'guest', password: 'guest' },
    });
    expect(config([...base, '--rmq-shared-login', '--rmq-management-url', 'off']).rmq).toEqual({
      url: DEFAULT_RMQ_URL,
      vhost: 'v1',
      sharedLogin: true,
    });
    expect(config([...base, '--rmq-legacy-peers', 'weather,platform.driver']).rmq?.legacyPeers).toEqual(['weather', 'platform.driver']);
    expect(config([...base, '--rmq-legacy-peers', '*']).rmq?.legacyPeers).toBe('*');
    const home = await homeWithConfig('[volttron]\nmessage-bus = rmq\nrmq-shared-login = true\n');
    expect(config(['--vip-home', home]).rmq?.sharedLogin).toBe(true);
    expect(() => config([...base, '--rmq-management-url', 'off'])).toThrow(
      /--rmq-management-url off: the platform cannot create its broker user v1\.router; .*--rmq-shared-login/,
    );
    expect(() => config([...base, '--rmq-legacy-peers', 'a,control'])).toThrow(
      /--rmq-legacy-peers: "control" is the platform's own identity/,
    );
    expect(() => config([...base, '--rmq-legacy-peers', 'a b'])).toThrow(
      /--rmq-legacy-peers must be "\*" or identities separated by commas/,
    );
    expect(() => config([...base, '--rmq-legacy-peers', 'a', '--rmq-shared-login'])).toThrow(/--rmq-legacy-peers needs per-agent users/);
  });

  it('zmq keeps its config untouched (no rmq section)', () => {
    expect(config(['--vip-home', '/nonexistent-vip-home']).rmq).toBeUndefined();
  });

  it.each([
    [['--message-bus', 'rmq', '--rmq-url', 'http://x'], /--rmq-url must look like amqp:/],
    [['--message-bus', 'rmq', '--rmq-url', 'amqp://h:5672/vhost'], /vhost goes in --rmq-vhost/],
    [['--message-bus', 'rmq', '--rmq-vhost', 'a/b'], /--rmq-vhost must be/],
    [['--message-bus', 'rmq', '--rmq-management-url', 'ftp://x'], /--rmq-management-url must look like http/],
    [['--message-bus', 'rmq', '--instance-name', 'a.b'], /must not contain "\." on the rmq bus/],
  ])('refuses %j with one clear line', (argv, why) => {
    expect(() => parseCli(['--vip-home', '/nonexistent-vip-home', ...argv], {})).toThrow(ConfigError);
    expect(() => parseCli(['--vip-home', '/nonexistent-vip-home', ...argv], {})).toThrow(why);
  });

  it('reads $VIP_HOME/config ([volttron] section); the command line wins', async () => {
    const home = await homeWithConfig(
      '# VOLTTRON config\n[volttron]\nmessage-bus = rmq\ninstance-name = fromfile\nvip-address = tcp://127.0.0.1:1, tcp://127.0.0.1:2\nrmq-vhost = volttron\nbind-web-address = https://x\n',
    );
    const c = config(['--vip-home', home]);
    expect(c).toMatchObject({ messageBus: 'rmq', instanceName: 'fromfile', vipAddresses: ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:2'] });
    expect(c.rmq?.vhost).toBe('volttron');
    const cli = config(['--vip-home', home, '--message-bus', 'zmq', '--instance-name', 'cli']);
    expect(cli).toMatchObject({ messageBus: 'zmq', instanceName: 'cli' });
    expect(cli.rmq).toBeUndefined();
  });

  it('names the file in errors', async () => {
    const home = await homeWithConfig('[volttron]\nmessage-bus = kafka\n');
    expect(() => parseCli(['--vip-home', home], {})).toThrow(/invalid setting in .*config: --message-bus must be zmq or rmq/);
    expect(() => parseConfigFile('[volttron]\njust words\n', '/h/config')).toThrow(/\/h\/config:2: expected "key = value"/);
  });
  it('a broker cluster: --rmq-failover-urls and --rmq-persistent-queue-type', () => {
    const base = ['--message-bus', 'rmq', '--rmq-url', 'amqp://guest:guest@127.0.0.1:5672'];
    const rmq = parseCli(
      [...base, '--rmq-failover-urls', 'amqp://127.0.0.1:5782,amqp://127.0.0.1:5783', '--rmq-persistent-queue-type', 'quorum'],
      {},
    );
    expect(rmq.help ? undefined : rmq.config.rmq).toMatchObject({
      failoverUrls: ['amqp://127.0.0.1:5782', 'amqp://127.0.0.1:5783'],
      persistentQueueType: 'quorum',
    });
    expect(() => parseCli([...base, '--rmq-failover-urls', 'amqp://h:1/vhost'], {})).toThrow(
      /--rmq-failover-urls must be amqp:\/\/host:port URLs/,
    );
  });
});
