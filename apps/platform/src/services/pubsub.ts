import { PubSubService, type ProtectedTopics, type PubSubServiceOptions } from '@vip/pubsub';
import { EMPTY_FRAME } from '@vip/protocol';
import { externalPubSubLinks, linkUserOf, type PlatformLinkTable } from '@vip/router';
import type { PlatformService } from '../platform-service.js';
import { openPlatformSubscriptions, type PlatformSubscriptions } from '../pubsub-persistence.js';

/** The router's PubSubService, telling `onProtectedTopics` after each successful (re)load of protected_topics.json. */
class PlatformPubSubService extends PubSubService {
  readonly #onProtectedTopics: (topics: ProtectedTopics) => void;
  constructor(options: PubSubServiceOptions, onProtectedTopics: (topics: ProtectedTopics) => void) {
    super(options);
    this.#onProtectedTopics = onProtectedTopics;
  }

  override setProtectedTopics(topics: ProtectedTopics): void {
    super.setProtectedTopics(topics);
    this.#onProtectedTopics(topics);
  }
}

/**
 * The router's pubsub (a router extension, @vip/pubsub): protected_topics.json watched, the
 * capabilities `platform.auth` hands out (keyed by the users the bus proves), the subscription
 * table kept in `$VIP_HOME/pubsub_subscriptions.json` and restored at start, pending deliveries
 * bounded by the memory limits. Listed last so that it stops first: the subscription table is
 * written and closed before any agent leaves, so it keeps what it held while the platform ran.
 */
export function pubsubService(links?: PlatformLinkTable): PlatformService {
  let subscriptions: PlatformSubscriptions | undefined;
  let unsubscribe: (() => void) | undefined;
  let unlink: (() => void) | undefined;
  return {
    name: 'pubsub',
    configKeys: ['pubsub-restore-grace', 'peer-queue-bytes', 'router-queue-bytes'],
    async prepare(ctx) {
      const { config, logger } = ctx;
      // loaded before the router starts, so the first publish after a restart sees the restored subscribers
      subscriptions = await openPlatformSubscriptions({
        vipHome: ctx.paths.home,
        instanceName: config.instanceName,
        graceMs: config.pubsubRestoreGraceMs,
        logger,
      });
      const service = new PlatformPubSubService(
        {
          logger: logger.child({ service: 'pubsub' }),
          files: { protectedTopicsPath: ctx.paths.protectedTopics },
          ...(subscriptions.persistence ? { persistence: subscriptions.persistence } : {}),
          maxPendingBytesPerSubscriber: config.limits.peerQueueBytes,
          maxPendingBytes: config.limits.routerQueueBytes,
          // all_platforms subscriptions (docs/protocol.md 6.4): advertised on every link that comes
          // up (after each reconnect too); a remote's prefixes are kept while its link is down, so
          // what is published for it then is counted undeliverable instead of silently matched by nobody
          ...(links ? { externalPlatforms: externalPubSubLinks(links) } : {}),
        },
        (topics) => ctx.protectedTopics.publish(topics),
      );
      unlink = links?.onConnected((instance) => service.platformConnected(instance));
      // pubsub a remote router sends back on our own link to it (a RabbitMQ platform's proxy router
      // answers on the link it was dialled on, having none of its own): heard as from that link's
      // proven user, as on its link into this router; replies to it have no peer here and are dropped
      links?.onLinkMessage('pubsub', (instance, m) =>
        service.handle(
          { sender: EMPTY_FRAME, recipient: EMPTY_FRAME, user: m.user, id: m.id, subsystem: m.subsystem, args: m.args },
          linkUserOf(instance),
        ),
      );
      unsubscribe = ctx.capabilities.subscribe((caps) => service.setCapabilities(ctx.bus.capabilityUsers(caps)));
      return [service];
    },
    async stop() {
      unlink?.();
      unsubscribe?.();
      await subscriptions?.close();
    },
  };
}
