import { rm } from 'node:fs/promises';
import type { Logger } from '@vip/protocol';
import { PubSubService } from '@vip/pubsub';
import { ReservedIdentities, Router, type QueryProperties } from '@vip/router';
import { KeyStore, KnownHosts, prepareVipHome } from '@vip/auth';
import { ZmqRouterTransport } from '@vip/zmq';
import type { PlatformConfig } from './cli-options.js';
import { AuthService } from './auth-service/index.js';
import { startControlService, type ControlService } from './control/index.js';
import { PlatformAuth } from './platform-auth.js';
import { openPlatformSubscriptions } from './pubsub-persistence.js';
import { pinnedServiceUsers, platformUsers } from './service-identities.js';
import { startRmqPlatform } from './rmq-bus.js';
import { busInfoPath } from './bus-info.js';
import { startLegacyPubSub, type LegacyPubSub } from './legacy-pubsub.js';
import { version } from '../package.json';
import { MemoryReclaimer } from './memory-reclaimer.js';

/** The package's version (inlined by the build): `--version`, the `platform-version` query. */
export const PLATFORM_VERSION: string = version;
/** VOLTTRON's default `agent-monitor-frequency` (seconds), answered as a 4-byte int. */
const AGENT_MONITOR_FREQUENCY = 600;

/** What the ready line reports. */
export interface ReadyInfo {
  readonly addresses: readonly string[];
  readonly serverkey: string | null;
  readonly instance: string;
  readonly pid: number;
}

/** A running platform: router, transport, auth and pubsub, stopped as one. */
export interface RunningPlatform {
  readonly ready: ReadyInfo;
  readonly router: Router;
  /** Idempotent; resolves when every socket is closed. */
  stop(): Promise<void>;
}

/**
 * Start a platform from its configuration: prepare VIP_HOME, load or create the platform key
 * pair, auth.json and its ZAP handler (auth on), bind the router on the local address and every
 * VIP address, mount pubsub, record the server key in known_hosts.
 */
export async function startVipPlatform(config: PlatformConfig, logger: Logger, onQuit: () => void): Promise<RunningPlatform> {
  if (config.messageBus === 'rmq') return startRmqPlatform(config, logger, onQuit); // RabbitMQ: rmq-bus.ts
  const paths = await prepareVipHome(config.vipHome);
  const keys = config.allowAuth ? await KeyStore.platform(paths.home, { logger }).loadOrCreate() : undefined;
  const auth = keys ? new PlatformAuth({ vipHome: paths.home, platformPublicKey: keys.public, logger }) : undefined;
  const limits = config.limits;
  const reclaimer = new MemoryReclaimer({ logger });
  const subscriptions = await openPlatformSubscriptions({ vipHome: paths.home, instanceName: config.instanceName, graceMs: config.pubsubRestoreGraceMs, logger });
  const pubsub = new PubSubService({
    logger: logger.child({ service: 'pubsub' }), files: { protectedTopicsPath: paths.protectedTopics },
    ...(subscriptions.persistence ? { persistence: subscriptions.persistence } : {}),
    maxPendingBytesPerSubscriber: limits.peerQueueBytes, maxPendingBytes: limits.routerQueueBytes,
  });
  const transport = new ZmqRouterTransport({
    addresses: [config.localAddress, ...config.vipAddresses],
    ...(keys ? { secretKey: keys.secret, authenticate: true } : { authenticate: false }),
    maxMessageBytes: limits.maxMessageBytes,
    peerQueueBytes: limits.peerQueueBytes,
    peerQueueMessages: limits.peerQueueMessages,
    routerQueueBytes: limits.routerQueueBytes,
    ...(limits.zmqSendHwm !== undefined ? { sendHighWaterMark: limits.zmqSendHwm } : {}),
    onBuffersReleased: () => reclaimer.hint(),
    logger,
  });
  // always-on counters (vipctl stats counters, query vip-router-stats); auth: reloads refused or failed
  const counters = () => ({ router: router.stats(), transport: transport.stats(), memory: process.memoryUsage(), reclaimer: reclaimer.stats(), ...(auth ? { auth: auth.watcher.stats() } : {}) });
  let bound: readonly string[] = [];
  const tcpBound = () => bound.filter((a) => !a.startsWith('ipc:') && !a.startsWith('inproc:'));
  const query: QueryProperties = {
    addresses: () => (tcpBound().length > 0 ? tcpBound() : [config.localAddress]),
    local_address: config.localAddress,
    serverkey: keys?.public ?? null,
    'instance-name': config.instanceName,
    'platform-version': PLATFORM_VERSION,
    'message-bus': config.messageBus,
    'agent-monitor-frequency': AGENT_MONITOR_FREQUENCY,
    'volttron-central-address': null,
    'volttron-central-serverkey': null,
    'bind-web-address': null,
    // Not a VOLTTRON property: the router's always-on counters and the transport's, as JSON.
    'vip-router-stats': () => JSON.stringify(counters()),
  };
  // Authentication on, the platform's service identities are held only by the keys pinned to
  // them in auth.json (kept in step with every reload); off, nothing is proven and none are.
  const reserved = auth ? new ReservedIdentities() : undefined;
  const router = new Router({
    transport,
    identity: () => transport.routerIdentity,
    ...(reserved ? { reservedIdentities: reserved } : {}),
    instanceName: config.instanceName,
    extensions: [pubsub],
    query,
    logger,
    onQuit,
  });

  let control: ControlService | undefined;
  let authService: AuthService | undefined;
  let legacyPubsub: LegacyPubSub | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await subscriptions.close();
      await legacyPubsub?.close();
      await authService?.close();
      await control?.close();
      await router.stop();
      await auth?.close();
      reclaimer.close();
    })());

  try {
    if (auth && reserved) {
      await auth.load();
      reserved.set(pinnedServiceUsers(auth.watcher.rules));
      auth.onReload((rules) => reserved.set(pinnedServiceUsers(rules)));
      // platform.auth hands pubsub the capability map now and on every auth.json change, so
      // protected topics hold before the router binds; it connects as an agent further down.
      authService = new AuthService({
        source: auth.watcher, pubsub, logger, mapAccess: config.capabilityMapAccess,
        platformUsers: (rules) => platformUsers(rules, auth.platformPublicKey),
        userOfPeer: (identity) => transport.userFor(identity),
      });
      await auth.startZap(transport);
    }
    await router.start();
  } catch (err) {
    await stop();
    throw err;
  }
  bound = transport.endpoints;
  // a RabbitMQ run of this home left its record behind: the home is on ZeroMQ now (vipctl reads it to pick the bus)
  await rm(busInfoPath(paths.home), { force: true });
  if (keys) {
    const knownHosts = KnownHosts.forHome(paths.home);
    for (const address of bound) await knownHosts.add(address, keys.public);
    // The in-platform `control` service (stats RPCs for vipctl) connects like any agent, over
    // the local address with its own key (admitted by the first-start auth.json).
    try {
      const service = authService;
      control = await startControlService({
        ...(service ? { capabilities: () => service.userToCapabilities() } : {}),
        tracker: router.tracker,
        counters,
        vipHome: paths.home,
        address: config.localAddress,
        serverKey: keys.public,
        logger,
      });
      if (auth && authService) {
        await authService.connect({ authFile: auth.authFile, vipHome: paths.home, address: config.localAddress, serverKey: keys.public });
      }
      if (auth && config.legacyPubsub) {
        legacyPubsub = await startLegacyPubSub({
          authFile: auth.authFile, reloadAuth: () => auth.watcher.reload(), vipHome: paths.home,
          address: config.localAddress, serverKey: keys.public, logger,
        });
      }
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return {
    ready: { addresses: [...bound], serverkey: keys?.public ?? null, instance: config.instanceName, pid: process.pid },
    router,
    stop,
  };
}
