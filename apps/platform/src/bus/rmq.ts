import { rm } from 'node:fs/promises';
import type { Logger } from '@vip/protocol';
import { createRmqAgent } from '@vip/agent/rmq';
import { ensureVolttronBroker, HelloPermissionCheck, platformBrokerUser, rmqRouterOptions, RmqRouterTransport, RmqSetupError } from '@vip/rmq';
import { HelloExtension, ReservedIdentities, Router, type QueryProperties } from '@vip/router';
import { KeyStore } from '@vip/zmq';
import { AUTH_SERVICE_IDENTITY, AuthService, type UserToCapabilities } from './auth-service/index.js';
import { busInfoPath, stoppedBusInfo, writeBusInfo, type BusInfo } from './bus-info.js';
import type { PlatformConfig, RmqBusConfig } from './cli-options.js';
import { CONTROL_IDENTITY, startControlService, type ControlService } from './control/index.js';
import { PlatformAuth } from './platform-auth.js';
import { PLATFORM_VERSION, type RunningPlatform } from './platform.js';
import { platformLoginUrl } from './rmq-platform-user.js';
import { BrokerTopicPermissions, PubSubServiceWithTopicHook } from './rmq-topic-permissions.js';
import { prepareVipHome } from './vip-home.js';
import { brokerServiceUsers, platformUsers } from './service-identities.js';
import { openPlatformSubscriptions } from './pubsub-persistence.js';

/**
 * Start the platform on RabbitMQ (docs/protocol.md 7): make the broker ready (virtual host through
 * the management API when configured, VOLTTRON's exchanges), run the Router with the RMQ router
 * subsystems over RmqRouterTransport, router-side pubsub, the `control` and `platform.auth`
 * services as RMQ agents, and record the bus in `$VIP_HOME/run/bus.json` for vipctl. auth.json
 * still supplies the capabilities (pubsub protected topics, `platform.auth`); RabbitMQ's own
 * users and permissions admit clients (no CURVE on this bus). With the management API, protected
 * topics also bind broker pubsub: per-agent broker users get RabbitMQ topic permissions
 * (BrokerTopicPermissions, synced on changes and by the hello check). The platform logs in as its
 * own broker user `<instance>.router` (platformLoginUrl), the one login whose AMQP user_id proves
 * the platform's identities, and its receivers require proof from everyone else (sender-trust in
 * @vip/rmq) except configured legacy peers; `--rmq-shared-login` opts out of both.
 */
export async function startRmqPlatform(config: PlatformConfig, logger: Logger, onQuit: () => void): Promise<RunningPlatform> {
  const rmq = requireRmq(config);
  const instanceName = config.instanceName;
  const paths = await prepareVipHome(config.vipHome);
  const keys = config.allowAuth ? await KeyStore.platform(paths.home, { logger }).loadOrCreate() : undefined;
  const auth = keys ? new PlatformAuth({ vipHome: paths.home, platformPublicKey: keys.public, logger }) : undefined;
  const base = {
    url: rmq.url, vhost: rmq.vhost, instanceName,
    ...(rmq.tls ? { tls: rmq.tls.pem } : {}),
    ...(rmq.brokerUser !== undefined ? { brokerUser: rmq.brokerUser } : {}),
    // what the platform's receivers believe of unproven senders (router, control, platform.auth)
    senderProof: rmq.sharedLogin ? 'optional' as const : 'required' as const,
    ...(rmq.legacyPeers !== undefined ? { legacyPeers: rmq.legacyPeers === '*' ? '*' as const : [...rmq.legacyPeers] } : {}),
  };
  const link = { ...base, url: await platformLoginUrl(rmq, base, logger).catch((err: unknown) => {
    throw withFlagNames(err, rmq);
  }) };
  await ensureVolttronBroker({ ...link, ...(rmq.management ? { management: rmq.management } : {}) }).catch((err: unknown) => {
    throw withFlagNames(err, rmq);
  });
  const address = brokerAddress(rmq);
  const topicPermissions = rmq.management
    ? new BrokerTopicPermissions({
      management: rmq.management, vhost: rmq.vhost, instanceName, protectedTopicsPath: paths.protectedTopics,
      exclude: [decodeURIComponent(new URL(rmq.url).username), rmq.management.user, platformBrokerUser(instanceName), ...(rmq.brokerUser !== undefined ? [rmq.brokerUser] : [])], logger,
    })
    : undefined;
  const limits = config.limits;
  const subscriptions = await openPlatformSubscriptions({ vipHome: paths.home, instanceName, graceMs: config.pubsubRestoreGraceMs, logger });
  const pubsub = new PubSubServiceWithTopicHook({
    logger: logger.child({ service: 'pubsub' }), files: { protectedTopicsPath: paths.protectedTopics },
    ...(subscriptions.persistence ? { persistence: subscriptions.persistence } : {}),
    maxPendingBytesPerSubscriber: limits.peerQueueBytes, maxPendingBytes: limits.routerQueueBytes,
  }, () => topicPermissions?.protectedTopicsChanged());
  const transport = new RmqRouterTransport({
    ...link, logger, maxMessageBytes: limits.maxMessageBytes, maxPendingBytes: limits.routerQueueBytes,
    ...(rmq.management ? { management: rmq.management } : {}),
  });
  // with the management API, each hello first has the sender's broker permissions checked and
  // repaired (VOLTTRON's rmq_router authenticate), its topic permissions synced too
  const helloCheck = rmq.management
    ? new HelloPermissionCheck({
      management: rmq.management, vhost: rmq.vhost, instanceName, logger,
      ...(topicPermissions ? { topicPermissions: (user: string) => topicPermissions.wanted(user) } : {}),
    })
    : undefined;
  const helloChecked = helloCheck ? [helloCheck, new HelloExtension({ beforeWelcome: (sender) => helloCheck.beforeWelcome(sender) })] : [];
  const counters = () => ({
    router: router.stats(), transport: transport.stats(), ...(topicPermissions ? { topicPermissions: topicPermissions.stats() } : {}),
    ...(auth ? { auth: auth.watcher.stats() } : {}),
  });
  const query: QueryProperties = {
    addresses: [address],
    local_address: address,
    serverkey: keys?.public ?? null,
    'instance-name': instanceName,
    'platform-version': PLATFORM_VERSION,
    'message-bus': 'rmq',
    'volttron-central-address': null,
    'volttron-central-serverkey': null,
    'bind-web-address': null,
    'vip-router-stats': () => JSON.stringify(counters()),
  };
  const router = new Router({
    transport, ...rmqRouterOptions(instanceName, [...helloChecked, pubsub]), instanceName, query, logger, onQuit,
    reservedIdentities: new ReservedIdentities(brokerServiceUsers(instanceName)),
  });

  let control: ControlService | undefined;
  let authService: AuthService | undefined;
  let stopped: Promise<void> | undefined;
  let running: BusInfo | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await subscriptions.close();
      await authService?.close();
      await control?.close();
      await router.stop();
      await topicPermissions?.close();
      await auth?.close();
      // a run that was ready leaves a stopped record (vipctl: "not running", not a ZeroMQ attempt); a failed start nothing
      if (running) await writeBusInfo(paths.home, stoppedBusInfo(running));
      else await rm(busInfoPath(paths.home), { force: true });
    })());

  try {
    if (auth) {
      await auth.load();
      // platform.auth hands pubsub the capability map now and on every auth.json change
      const sink = {
        setCapabilities: (caps: UserToCapabilities) => {
          pubsub.setCapabilities(rmqCapabilities(caps, instanceName));
          topicPermissions?.setCapabilities(caps);
        },
      };
      const platformKey = auth.platformPublicKey;
      authService = new AuthService({
        source: auth.watcher, pubsub: sink, logger, mapAccess: config.capabilityMapAccess,
        platformUsers: (rules) => platformUsers(rules, platformKey),
      });
    }
    // broker pubsub is bound by the protected topics before the platform says it is ready
    await topicPermissions?.start();
    await router.start().catch((err: unknown) => {
      if (!(err instanceof RmqSetupError && err.missing === 'identity')) throw err;
      throw new RmqSetupError('identity', `another platform with instance name ${instanceName} is running on ${address}`,
        'stop it, or give this one another --instance-name or --rmq-vhost', { cause: err });
    });
    // the platform's own agents count subscribers through the configured management API only
    const pubsubOf = { management: rmq.management ?? (false as const) };
    const service = authService;
    const capabilities = service ? { capabilities: () => service.userToCapabilities() } : {};
    const agent = createRmqAgent({
      identity: CONTROL_IDENTITY, rmq: link, ...pubsubOf, logger: logger.child({ service: CONTROL_IDENTITY }),
      ...(service ? { rpc: capabilities } : {}),
    });
    control = await startControlService({
      ...capabilities,
      tracker: router.tracker, counters, vipHome: paths.home, address, serverKey: keys?.public ?? '', agent, logger,
    });
    await authService?.connect({ agent: createRmqAgent({ identity: AUTH_SERVICE_IDENTITY, rmq: link, ...pubsubOf, logger: logger.child({ service: AUTH_SERVICE_IDENTITY }) }) });
    const info: BusInfo = {
      bus: 'rmq', url: link.url, vhost: rmq.vhost, ...(rmq.sharedLogin ? { sharedLogin: true } : {}), instance: instanceName, pid: process.pid, ...(rmq.management ? { management: rmq.management } : {}),
      ...(rmq.tls ? { tls: rmq.tls.files } : {}), ...(rmq.brokerUser !== undefined ? { brokerUser: rmq.brokerUser } : {}),
    };
    await writeBusInfo(paths.home, info);
    running = info;
  } catch (err) {
    await stop();
    throw withFlagNames(err, rmq);
  }
  return {
    ready: { addresses: [address], serverkey: keys?.public ?? null, instance: instanceName, pid: process.pid },
    router,
    stop,
  };
}

/**
 * @vip/rmq words its fixes in its option names (tls.cert, brokerUser); the operator of this
 * platform set flags: a credentials error (certificate, CA, broker user) gets the flags in use.
 */
function withFlagNames(err: unknown, rmq: RmqBusConfig): unknown {
  if (!(err instanceof RmqSetupError) || err.missing !== 'credentials' || !rmq.tls) return err;
  const f = rmq.tls.files;
  const legend = [
    `tls.cert is --rmq-cert ${f.cert ?? '(none)'}`, `tls.key --rmq-key ${f.key ?? '(none)'}`, `tls.ca --rmq-ca ${f.ca ?? '(none: system CAs)'}`,
    ...(f.servername !== undefined ? [`tls.servername --rmq-servername ${f.servername}`] : []),
    ...(rmq.brokerUser !== undefined ? [`brokerUser --rmq-broker-user ${rmq.brokerUser} (leave it out to set no user_id)`] : []),
  ].join(', ');
  const problem = err.message.slice(0, err.message.length - `; fix: ${err.fix}`.length);
  return new RmqSetupError(err.missing, problem, `${err.fix} (${legend})`, { cause: err });
}

function requireRmq(config: PlatformConfig): RmqBusConfig {
  if (!config.rmq) throw new RmqSetupError('broker', 'the rmq bus was chosen without broker settings', 'pass --rmq-url (and --rmq-vhost)');
  return config.rmq;
}

/**
 * auth.json capabilities keyed by user id, also under `<instance>.<user>`: on RabbitMQ an agent's
 * VIP user is its broker user `<instance>.<identity>` by default (docs/protocol.md 7.1).
 */
function rmqCapabilities<C>(byUser: Readonly<Record<string, C>>, instanceName: string): Record<string, C> {
  const out: Record<string, C> = { ...byUser };
  for (const [user, caps] of Object.entries(byUser)) {
    const prefixed = `${instanceName}.${user}`;
    if (!Object.hasOwn(byUser, prefixed)) out[prefixed] = caps;
  }
  return out;
}

/** `amqp://host:port/vhost`: where the platform is, without credentials (ready line, `addresses`). */
export function brokerAddress(rmq: RmqBusConfig): string {
  const u = new URL(rmq.url);
  return `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'amqps:' ? '5671' : '5672')}/${encodeURIComponent(rmq.vhost)}`;
}
