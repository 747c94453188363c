import { join } from 'node:path';
import type { Logger } from '@vip/protocol';
import { SubscriptionStore, type SubscriptionPersistenceOptions } from '@vip/pubsub';

/** `$VIP_HOME/pubsub_subscriptions.json`: the pubsub subscription table a restarted platform restores. */
export function subscriptionFilePath(vipHome: string): string {
  return join(vipHome, 'pubsub_subscriptions.json');
}

/** The pubsub service's persistence for this platform, and how to stop writing it. */
export interface PlatformSubscriptions {
  /** For `new PubSubService({ persistence })`; undefined when turned off. */
  readonly persistence: SubscriptionPersistenceOptions | undefined;
  /**
   * Write what is pending and stop writing: called first on a clean stop, so the file keeps the
   * table as it was while the platform ran (agents disconnecting during the stop are not removed
   * from it), and a clean restart restores it as a crash would.
   */
  close(): Promise<void>;
}

/**
 * Load the subscription table the platform saved last (a corrupt file is set aside and logged,
 * never fatal) before the router starts, so the first publish after a restart already sees the
 * restored subscribers. `graceMs` 0: no file at all.
 */
export async function openPlatformSubscriptions(options: {
  readonly vipHome: string;
  readonly instanceName: string;
  readonly graceMs: number;
  readonly logger: Logger;
}): Promise<PlatformSubscriptions> {
  if (options.graceMs <= 0) return { persistence: undefined, close: () => Promise.resolve() };
  const store = new SubscriptionStore({
    path: subscriptionFilePath(options.vipHome),
    instanceName: options.instanceName,
    logger: options.logger.child({ service: 'pubsub' }),
  });
  const restored = await store.load();
  return { persistence: { store, restored, graceMs: options.graceMs }, close: () => store.close() };
}
