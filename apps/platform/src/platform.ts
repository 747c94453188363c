import type { Logger } from '@vip/protocol';
import { PubSubService } from '@vip/pubsub';
import { Router, type QueryProperties } from '@vip/router';
import { KeyStore, KnownHosts, ZmqRouterTransport } from '@vip/zmq';
import type { PlatformConfig } from './cli-options.js';
import { AuthService } from './auth-service/index.js';
import { startControlService, type ControlService } from './control/index.js';
import { PlatformAuth } from './platform-auth.js';
import { prepareVipHome } from './vip-home.js';
import { startRmqPlatform } from './rmq-bus.js';
import { startLegacyPubSub, type LegacyPubSub } from './legacy-pubsub.js';

export const PLATFORM_VERSION = '0.1.0';
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
  const pubsub = new PubSubService({ logger: logger.child({ service: 'pubsub' }), files: { protectedTopicsPath: paths.protectedTopics } });
  const transport = new ZmqRouterTransport({
    addresses: [config.localAddress, ...config.vipAddresses],
    ...(keys ? { secretKey: keys.secret, authenticate: true } : { authenticate: false }),
    logger,
  });
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
    'vip-router-stats': () => JSON.stringify({ router: router.stats(), transport: transport.stats(), memory: process.memoryUsage() }),
  };
  const router = new Router({
    transport,
    identity: () => transport.routerIdentity,
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
      await legacyPubsub?.close();
      await authService?.close();
      await control?.close();
      await router.stop();
      await auth?.close();
    })());

  try {
    if (auth) {
      await auth.load();
      // platform.auth hands pubsub the capability map now and on every auth.json change, so
      // protected topics hold before the router binds; it connects as an agent further down.
      authService = new AuthService({ source: auth.watcher, pubsub, logger });
      await auth.startZap(transport);
    }
    await router.start();
  } catch (err) {
    await stop();
    throw err;
  }
  bound = transport.endpoints;
  if (keys) {
    const knownHosts = KnownHosts.forHome(paths.home);
    for (const address of bound) await knownHosts.add(address, keys.public);
    // The in-platform `control` service (stats RPCs for vipctl) connects like any agent, over
    // the local address with its own key (admitted by the first-start auth.json).
    try {
      control = await startControlService({
        tracker: router.tracker,
        counters: () => ({ router: router.stats(), transport: transport.stats() }),
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
