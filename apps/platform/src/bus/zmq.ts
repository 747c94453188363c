import { rm } from 'node:fs/promises';
import type { CurveKeyPair, Logger } from '@vip/protocol';
import { createZmqAgent } from '@vip/agent/zmq';
import { ReservedIdentities } from '@vip/router';
import { KnownHosts, type AuthRules } from '@vip/auth';
import { ZmqRouterTransport } from '@vip/zmq';
import { ensureServiceEntry } from '../auth-service/index.js';
import { busInfoPath } from '../bus-info.js';
import { MemoryReclaimer } from '../memory-reclaimer.js';
import type { BusOpening, PlatformBus } from '../platform-bus.js';
import type { ServiceAgents } from '../platform-service.js';
import { pinnedServiceUsers } from '../service-identities.js';

/**
 * The platform on ZeroMQ: a ZmqRouterTransport bound on the local address and every VIP address,
 * CURVE with the ZAP handler of auth.json (authentication on), the service identities held only by
 * the keys auth.json pins to them (kept in step with every reload), the memory reclaimer the
 * transport hints when it drops buffers, known_hosts written once bound. The platform's service
 * agents connect over the local address with their own keys; without authentication there are none.
 */
export async function openZmqBus(o: BusOpening): Promise<PlatformBus> {
  const { config, paths, logger, auth, keys } = o;
  const platformKey = keys?.public;
  const limits = config.limits;
  const reclaimer = new MemoryReclaimer({ logger });
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
  // Authentication on, the platform's service identities are held only by the keys pinned to
  // them in auth.json (kept in step with every reload, from the start of the router); off,
  // nothing is proven and none are.
  const reserved = auth ? new ReservedIdentities() : undefined;
  let bound: readonly string[] = [];
  const tcpBound = () => bound.filter((a) => !a.startsWith('ipc:') && !a.startsWith('inproc:'));
  const serviceAgents: ServiceAgents | undefined =
    auth && platformKey !== undefined
      ? {
          async create(identity, options) {
            let own: CurveKeyPair | undefined;
            if (options.entry) {
              const entry = await ensureServiceEntry({
                authFile: auth.authFile,
                vipHome: paths.home,
                identity,
                capabilities: options.entry,
                logger: options.logger,
              });
              if (entry.added) await reloadHolding(auth.watcher, entry.keys.public, options.logger);
              own = entry.keys;
            }
            return createZmqAgent({
              identity,
              vipHome: paths.home,
              address: config.localAddress,
              serverKey: platformKey,
              logger: options.logger,
              ...(own ? { publicKey: own.public, secretKey: own.secret } : {}),
              ...(options.rpc ? { rpc: options.rpc } : {}),
            });
          },
        }
      : undefined;
  return {
    kind: 'zmq',
    transport,
    router: { identity: () => transport.routerIdentity, ...(reserved ? { reservedIdentities: reserved } : {}), extensions: [] },
    localAddress: config.localAddress,
    addresses: () => (tcpBound().length > 0 ? tcpBound() : [config.localAddress]),
    capabilityUsers: (byUser) => ({ ...byUser }),
    userOfPeer: (identity) => transport.userFor(identity),
    serviceAgents,
    services: [],
    async startRouter(router) {
      if (auth && reserved) {
        reserved.set(pinnedServiceUsers(auth.watcher.rules));
        auth.onReload((rules) => reserved.set(pinnedServiceUsers(rules)));
        await auth.startZap(transport); // before the router binds: fail-open otherwise
      }
      await router.start();
    },
    async bound() {
      bound = transport.endpoints;
      // a RabbitMQ run of this home left its record behind: the home is on ZeroMQ now (vipctl reads it to pick the bus)
      await rm(busInfoPath(paths.home), { force: true });
      if (platformKey !== undefined) {
        const knownHosts = KnownHosts.forHome(paths.home);
        for (const address of bound) await knownHosts.add(address, platformKey);
      }
      return [...bound];
    },
    ready: () => Promise.resolve(),
    counters: () => ({ reclaimer: reclaimer.stats() }),
    close: () => {
      reclaimer.close();
      return Promise.resolve();
    },
    describeFailure: (err) => err,
  };
}

/**
 * Reload auth.json until the rules in force hold `publicKey` (a service's entry just written).
 * `reload()` asked while a read is under way joins that read, which may have loaded the file
 * before the write: the service would then say hello with a key the rules refuse, and the
 * platform fail to start (seen with two services adding entries at start). Bounded.
 */
async function reloadHolding(
  watcher: { reload(): Promise<boolean>; readonly rules: AuthRules },
  publicKey: string,
  logger: Logger,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    await watcher.reload();
    if (watcher.rules.allow.some((e) => e.entry.credentials?.includes(publicKey) ?? false)) return;
  }
  logger.warn('auth.service.entry.not_loaded', { publicKey });
}
