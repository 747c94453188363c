import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, PLATFORM_CONFIG_KEYS } from '@vip/protocol';
import { DEFAULT_TCP_ADDRESS, parseCli, USAGE } from '../src/cli-options.js';

const DEFAULT_LIMITS = {
  maxMessageBytes: 4 * 1024 ** 2,
  peerQueueBytes: 16 * 1024 ** 2,
  peerQueueMessages: 6000,
  routerQueueBytes: 256 * 1024 ** 2,
};

describe('vip-platform options', () => {
  it('defaults: ~/.vip, tcp 127.0.0.1:22916, local ipc under the home, auth on, info, zmq', () => {
    const r = parseCli([], {});
    expect(r).toEqual({
      help: false,
      config: {
        vipHome: `${homedir()}/.vip`,
        vipAddresses: [DEFAULT_TCP_ADDRESS],
        localAddress: `ipc://@${homedir()}/.vip/run/vip.socket`,
        instanceName: 'vip1',
        allowAuth: true,
        legacyPubsub: false,
        capabilityMapAccess: 'restricted',
        pubsubRestoreGraceMs: 60_000,
        logLevel: 'info',
        messageBus: 'zmq',
        limits: DEFAULT_LIMITS,
        multiPlatform: {
          setupMode: false,
          acceptChangedKeys: [],
          discoveryFile: `${homedir()}/.vip/external_platform_discovery.json`,
          externalAddressFile: `${homedir()}/.vip/external_address.json`,
        },
      },
    });
  });

  it('takes repeated --vip-address and every other flag', () => {
    const r = parseCli(
      [
        '--vip-home',
        '/h',
        '--vip-address',
        'tcp://127.0.0.1:1',
        '--vip-address',
        'tcp://127.0.0.1:2',
        '--instance-name',
        'x.1',
        '--allow-auth',
        'false',
        '--log-level',
        'debug',
        '--message-bus',
        'zmq',
        '--local-address',
        'ipc:///tmp/v.sock',
        '--capability-map-access',
        'all',
      ],
      {},
    );
    expect(r.help).toBe(false);
    if (r.help) return;
    expect(r.config).toEqual({
      vipHome: '/h',
      vipAddresses: ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:2'],
      localAddress: 'ipc:///tmp/v.sock',
      instanceName: 'x.1',
      allowAuth: false,
      legacyPubsub: false,
      capabilityMapAccess: 'all',
      pubsubRestoreGraceMs: 60_000,
      logLevel: 'debug',
      messageBus: 'zmq',
      limits: DEFAULT_LIMITS,
    });
  });

  it('--capability-map-access takes restricted or all, nothing else', () => {
    expect(() => parseCli(['--capability-map-access', 'everyone'], {})).toThrow(/--capability-map-access must be restricted or all/);
  });

  it('--legacy-pubsub true turns the legacy pubsub wrapper on', () => {
    const r = parseCli(['--legacy-pubsub', 'true'], {});
    expect(!r.help && r.config.legacyPubsub).toBe(true);
  });

  it('--proxy-router-address runs the proxy router on a RabbitMQ platform', () => {
    const r = parseCli(
      ['--message-bus', 'rmq', '--rmq-url', 'amqp://guest:guest@127.0.0.1:5672', '--proxy-router-address', 'tcp://127.0.0.1:22917'],
      {},
    );
    expect(!r.help && r.config.proxyRouterAddress).toBe('tcp://127.0.0.1:22917');
    const off = parseCli([], {});
    expect(!off.help && off.config.proxyRouterAddress).toBeUndefined();
    // ZeroMQ platforms link through the proxy: opt-in with --multi-platform true
    expect(!r.help && r.config.multiPlatform).toBeUndefined();
    const linked = parseCli(
      [
        '--message-bus',
        'rmq',
        '--rmq-url',
        'amqp://guest:guest@127.0.0.1:5672',
        '--proxy-router-address',
        'tcp://127.0.0.1:22917',
        '--multi-platform',
        'true',
      ],
      {},
    );
    expect(!linked.help && linked.config.multiPlatform?.setupMode).toBe(false);
  });

  it('--pubsub-restore-grace takes seconds; 0 turns the subscription file off', () => {
    const grace = (v: string) => {
      const r = parseCli(['--pubsub-restore-grace', v], {});
      return !r.help && r.config.pubsubRestoreGraceMs;
    };
    expect(grace('0')).toBe(0);
    expect(grace('2.5')).toBe(2_500);
    expect(grace('600')).toBe(600_000);
  });

  it('takes the memory limits in bytes or with k/M/G, from flags and from $VIP_HOME/config', () => {
    const r = parseCli(
      [
        '--vip-home',
        '/h',
        '--max-message-bytes',
        '1MiB',
        '--peer-queue-bytes',
        '8M',
        '--peer-queue-messages',
        '100',
        '--router-queue-bytes',
        '1G',
        '--zmq-send-hwm',
        '16',
      ],
      {},
    );
    expect(!r.help && r.config.limits).toEqual({
      maxMessageBytes: 1024 ** 2,
      peerQueueBytes: 8 * 1024 ** 2,
      peerQueueMessages: 100,
      routerQueueBytes: 1024 ** 3,
      zmqSendHwm: 16,
    });
    const home = mkdtempSync(join(tmpdir(), 'vip-cli-'));
    try {
      writeFileSync(join(home, 'config'), '[volttron]\nmax-message-bytes = 65536\npeer-queue-bytes = 512k\n');
      const f = parseCli(['--vip-home', home, '--peer-queue-bytes', '1048576'], {});
      expect(!f.help && f.config.limits).toMatchObject({ maxMessageBytes: 65536, peerQueueBytes: 1024 ** 2 });
      writeFileSync(join(home, 'config'), '[volttron]\nrouter-queue-bytes = lots\n');
      expect(() => parseCli(['--vip-home', home], {})).toThrow(/config: --router-queue-bytes must be a byte count/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('--help', () => {
    expect(parseCli(['--help'], {})).toEqual({ help: true, show: 'usage' });
    expect(parseCli(['--version'], {})).toEqual({ help: true, show: 'version' });
  });

  it.each([
    [['--allow-auth', 'yes'], /--allow-auth must be true or false/],
    [['--log-level', 'loud'], /--log-level must be debug/],
    [['--message-bus', 'amqp'], /--message-bus must be zmq or rmq/],
    [['--vip-address', 'localhost:1'], /--vip-address.* must look like tcp/],
    [['--instance-name', 'a b'], /--instance-name may use only/],
    [['--bogus'], /bogus/],
    [['--legacy-pubsub', 'on'], /--legacy-pubsub must be true or false/],
    [['--pubsub-restore-grace=-1'], /--pubsub-restore-grace must be a number of seconds/],
    [['--pubsub-restore-grace', 'soon'], /--pubsub-restore-grace must be a number of seconds/],
    [['--legacy-pubsub', 'true', '--allow-auth', 'false'], /--legacy-pubsub runs on the zmq bus with --allow-auth true only/],
    [['--legacy-pubsub', 'true', '--message-bus', 'rmq'], /--legacy-pubsub runs on the zmq bus/],
    [['--proxy-router-address', 'tcp://127.0.0.1:22917'], /--proxy-router-address runs on the rmq bus only/],
    [['--message-bus', 'rmq', '--proxy-router-address', '127.0.0.1:22917'], /--proxy-router-address must look like tcp/],
    [
      ['--message-bus', 'rmq', '--multi-platform', 'true'],
      /--multi-platform needs --message-bus zmq \(or rmq with --proxy-router-address\)/,
    ],
    [['positional'], /positional/],
    [['--max-message-bytes', '4 MB please'], /--max-message-bytes must be a byte count/],
    [['--max-message-bytes', '100'], /--max-message-bytes must be at least 4k/],
    [['--max-message-bytes', '2G'], /--max-message-bytes must be at most 1G/],
    [['--peer-queue-messages=-1'], /--peer-queue-messages must be a whole number/],
    [['--zmq-send-hwm', '0'], /--zmq-send-hwm must be at least 1/],
    [['--max-message-bytes', '8M', '--peer-queue-bytes', '4M'], /--peer-queue-bytes \(4194304\) must be at least --max-message-bytes/],
    [['--router-queue-bytes', '1M'], /--router-queue-bytes \(1048576\) must be at least --peer-queue-bytes/],
  ])('refuses %j with a clear ConfigError', (argv, why) => {
    expect(() => parseCli(argv, {})).toThrow(ConfigError);
    expect(() => parseCli(argv, {})).toThrow(why);
  });
});

describe('vip-platform logs and config file keys', () => {
  it('--log-format json|pretty and --log-file PATH (relative to the working directory; in the config file to VIP_HOME)', async () => {
    const r = parseCli(['--vip-home', '/nonexistent-vip-home', '--log-format', 'pretty', '--log-file', 'logs/p.log'], {});
    expect(!r.help && r.config).toMatchObject({ logFormat: 'pretty', logFile: join(process.cwd(), 'logs/p.log') });
    expect(() => parseCli(['--log-format', 'xml'], {})).toThrow(/--log-format must be json or pretty/);
    const home = await mkdtemp(join(tmpdir(), 'vip-cli-log-'));
    try {
      await writeFile(join(home, 'config'), '[volttron]\nlog-file = platform.log\nlog-format = json\n');
      const f = parseCli(['--vip-home', home], {});
      expect(!f.help && f.config).toMatchObject({ logFormat: 'json', logFile: join(home, 'platform.log') });
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('an unknown key in $VIP_HOME/config is a warning naming file, line and the nearest key (the start goes on)', async () => {
    const home = await mkdtemp(join(tmpdir(), 'vip-cli-keys-'));
    try {
      await writeFile(join(home, 'config'), '[volttron]\ninstance-name = v9\nmesage-bus = rmq\nbind-web-address = https://x\n');
      const r = parseCli(['--vip-home', home], {});
      expect(!r.help && r.config.instanceName).toBe('v9');
      expect(!r.help && r.config.configWarnings).toEqual([
        `${join(home, 'config')}:3: unknown key "mesage-bus" (did you mean message-bus?); ignored`,
      ]);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('every option but --vip-home, --help and --version is a config file key (the list vipctl reads too)', () => {
    const usage = [...USAGE.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]!);
    const settable = usage.filter((o) => !['vip-home', 'help', 'version'].includes(o)).sort();
    expect(settable).toEqual([...PLATFORM_CONFIG_KEYS].sort());
  });

  it('an unknown option names the nearest one', () => {
    expect(() => parseCli(['--log-levle', 'debug'], {})).toThrow(
      /^unknown option --log-levle \(did you mean --log-level\?\) \(see --help\)$/,
    );
  });
});
