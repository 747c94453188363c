import { PubSubService, type ProtectedTopics, type PubSubServiceOptions } from '@vip/pubsub';
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
export function pubsubService(): PlatformService {
  let subscriptions: PlatformSubscriptions | undefined;
  let unsubscribe: (() => void) | undefined;
  return {
    name: 'pubsub',
    configKeys: ['pubsub-restore-grace', 'peer-queue-bytes', 'router-queue-bytes'],
    async prepare(ctx) {
      const { config, logger } = ctx;
      // loaded before the router starts, so the first publish after a restart sees the restored subscribers
      subscriptions = await openPlatformSubscriptions({ vipHome: ctx.paths.home, instanceName: config.instanceName, graceMs: config.pubsubRestoreGraceMs, logger });
      const service = new PlatformPubSubService({
        logger: logger.child({ service: 'pubsub' }), files: { protectedTopicsPath: ctx.paths.protectedTopics },
        ...(subscriptions.persistence ? { persistence: subscriptions.persistence } : {}),
        maxPendingBytesPerSubscriber: config.limits.peerQueueBytes, maxPendingBytes: config.limits.routerQueueBytes,
      }, (topics) => ctx.protectedTopics.publish(topics));
      unsubscribe = ctx.capabilities.subscribe((caps) => service.setCapabilities(ctx.bus.capabilityUsers(caps)));
      return [service];
    },
    async stop() {
      unsubscribe?.();
      await subscriptions?.close();
    },
  };
}
