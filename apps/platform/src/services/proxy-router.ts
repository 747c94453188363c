import { LinkPubSub, ZmqProxyRouter } from '@vip/proxy-router';
import { ZmqRouterTransport } from '@vip/zmq';
import { ConfigError, UnauthorizedError } from '@vip/protocol';
import { platformLinkBase } from '../bus/rmq.js';
import { PLATFORM_SERVICE_IDENTITIES } from '../service-identities.js';
import type { PlatformService } from '../platform-service.js';
import { proxyLogin } from '../rmq-platform-user.js';
import type { PlatformLinkTable } from '@vip/router';
import type { ProtectedTopics } from '@vip/pubsub';
import type { UserToCapabilities } from '../auth-service/index.js';
import { proxyPlatformLinks } from './proxy-links.js';

/**
 * VOLTTRON's ZMQProxyRouter on a RabbitMQ platform (`--proxy-router-address`, docs/protocol.md
 * 6.5): a ZeroMQ ROUTER bound at the address with the platform's CURVE key and ZAP handler (the
 * same auth.json as everything else; on this bus nothing else uses ZAP), so ZeroMQ agents join
 * this platform. @vip/proxy-router does the routing; this service gives it its broker login
 * (rmq-platform-user.ts `proxyLogin`) and the platform's memory limits.
 */
export function proxyRouterService(address: string, links?: PlatformLinkTable): PlatformService {
  let proxy: ZmqProxyRouter | undefined;
  let linkPubSub: LinkPubSub | undefined;
  const unsubscribe: (() => void)[] = [];
  let disposeLogin: (() => Promise<void>) | undefined;
  return {
    name: 'proxy-router',
    configKeys: [
      'proxy-router-address',
      'max-message-bytes',
      'peer-queue-bytes',
      'peer-queue-messages',
      'router-queue-bytes',
      'zmq-send-hwm',
    ],
    async start(ctx) {
      const { config } = ctx;
      const rmq = config.rmq;
      if (ctx.bus.kind !== 'rmq' || !rmq) throw new ConfigError('invalid option: --proxy-router-address runs on the rmq bus only');
      const logger = ctx.logger.child({ service: 'proxy-router' });
      const login = await proxyLogin(rmq, config.instanceName, logger);
      disposeLogin = login.dispose;
      const keys = ctx.platformKeys;
      const limits = config.limits;
      const transport = new ZmqRouterTransport({
        addresses: [address],
        ...(keys ? { secretKey: keys.secret, authenticate: true } : { authenticate: false }),
        maxMessageBytes: limits.maxMessageBytes,
        peerQueueBytes: limits.peerQueueBytes,
        peerQueueMessages: limits.peerQueueMessages,
        routerQueueBytes: limits.routerQueueBytes,
        ...(limits.zmqSendHwm !== undefined ? { sendHighWaterMark: limits.zmqSendHwm } : {}),
        logger,
      });
      if (ctx.auth) await ctx.auth.startZap(transport); // before the socket binds: fail-open otherwise
      // The platform's service identities are held on RabbitMQ by their broker users (the router's
      // reservations, brokerServiceUsers): no ZeroMQ key takes one through the proxy, pinned or not
      const services = new Set<string>(PLATFORM_SERVICE_IDENTITIES);
      const mayHold = (identity: string): boolean => !services.has(identity);
      const proxyLink = { ...platformLinkBase(rmq, config.instanceName), url: login.url, maxMessageBytes: limits.maxMessageBytes };
      // This platform's protected topics, checked here for every publish the proxy makes: the broker
      // checks topic permissions of the proxy's own login only (which rmq-permissions leaves
      // unrestricted), so each hosted peer's and each remote publisher's user is checked here.
      let guarded: ProtectedTopics | undefined;
      let capabilities: UserToCapabilities = {};
      unsubscribe.push(ctx.protectedTopics.subscribe((t) => void (guarded = t)));
      unsubscribe.push(ctx.capabilities.subscribe((c) => void (capabilities = ctx.bus.capabilityUsers(c))));
      // fail closed until the pubsub service has read protected_topics.json (it publishes an empty set when there is none)
      const refusal = (topic: string, user: string) =>
        guarded === undefined
          ? new UnauthorizedError('protected topics are not loaded yet: publish again', { subsystem: 'pubsub', topic, user })
          : guarded.check(topic, user, capabilities);
      // all_platforms pubsub with the linked ZeroMQ platforms, on the proxy's login
      if (links) {
        linkPubSub = new LinkPubSub({
          table: links,
          rmq: proxyLink,
          logger,
          // per remote publisher: `<linked instance>.<user>`
          authorize: (topic, user) => refusal(topic, user) === undefined,
          ...(rmq.management ? { management: rmq.management } : {}),
        });
      }
      proxy = new ZmqProxyRouter({
        transport,
        logger,
        mayHold,
        // per hosted peer: `<instance>.<its auth.json user>`, as the router's pubsub checks RMQ agents
        authorizePublish: refusal,
        // remote ZeroMQ platforms linking here (--multi-platform true): proven by their key, never peers
        ...(links
          ? {
              platformLinks: proxyPlatformLinks(links, (to, user, id, subsystem, args) =>
                proxy ? proxy.deliverToZmq(to, user, id, subsystem, args) : Promise.resolve('unreachable' as const),
              ),
            }
          : {}),
        rmq: proxyLink,
        ...(rmq.management ? { management: rmq.management } : {}),
      });
      await proxy.start();
      logger.info('proxy.router.started', { address: transport.endpoints.join(' '), ...(keys ? { serverkey: keys.public } : {}) });
    },
    async stop() {
      await proxy?.close();
      for (const off of unsubscribe.splice(0)) off();
      await linkPubSub?.close();
      await disposeLogin?.().catch(() => undefined);
    },
    counters: () => ({
      ...(proxy ? { proxyRouter: proxy.stats() } : {}),
      ...(linkPubSub ? { proxyLinkPubSub: linkPubSub.stats() } : {}),
    }),
  };
}
