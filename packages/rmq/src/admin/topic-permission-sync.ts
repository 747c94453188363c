import { VOLTTRON_EXCHANGE } from '../transport/amqp-mapping.js';
import type { TopicPermissions } from './topic-permissions.js';

/** The management calls a topic-permission sync needs (RabbitMqManagement has them). */
export interface TopicPermissionStore {
  getTopicPermissions(vhost: string, user: string): Promise<readonly TopicPermissions[] | undefined>;
  setTopicPermissions(vhost: string, user: string, p: TopicPermissions): Promise<void>;
  clearTopicPermissions(vhost: string, user: string, exchange: string): Promise<void>;
}

/** What a sync did: nothing (already right), set the wanted permission, or removed one no longer wanted. */
export type TopicSyncOutcome = 'ok' | 'set' | 'cleared';

/**
 * Make `user`'s topic permission on `volttron` in `vhost` what `wanted` says (undefined: none):
 * one GET, then a PUT or DELETE only when different. Other exchanges' entries are left alone.
 * Rejects with the management error (the caller counts and logs it).
 */
export async function syncTopicPermissions(
  store: TopicPermissionStore,
  vhost: string,
  user: string,
  wanted: TopicPermissions | undefined,
): Promise<TopicSyncOutcome> {
  const exchange = wanted?.exchange ?? VOLTTRON_EXCHANGE;
  const current = (await store.getTopicPermissions(vhost, user))?.find((t) => t.exchange === exchange);
  if (!wanted) {
    if (!current) return 'ok';
    await store.clearTopicPermissions(vhost, user, exchange);
    return 'cleared';
  }
  if (current && current.write === wanted.write && current.read === wanted.read) return 'ok';
  await store.setTopicPermissions(vhost, user, wanted);
  return 'set';
}
