import { HelloPermissionCheck, type ManagementOptions } from '@vip/rmq/admin';
import { HelloExtension } from '@vip/router';
import type { PlatformService } from '../platform-service.js';
import { BrokerTopicPermissions } from '../rmq-topic-permissions.js';

export interface RmqPermissionsOptions {
  readonly management: ManagementOptions;
  readonly vhost: string;
  readonly instanceName: string;
  readonly protectedTopicsPath: string;
  /** Broker users never given topic permissions (the platform's own logins). */
  readonly exclude: readonly string[];
}

/**
 * The RabbitMQ bus's permission policy (with the management API), kept out of the transport:
 * - protected topics as RabbitMQ topic permissions of every per-agent broker user
 *   (BrokerTopicPermissions), in line before the router starts, then on every change of
 *   protected_topics.json (the pubsub service's reloads) or of auth.json (`platform.auth`'s map),
 *   and periodically;
 * - VOLTTRON's check on `hello`: router extensions `HelloPermissionCheck` (@vip/rmq) and a
 *   `HelloExtension` whose welcome waits for it (@vip/router): the sender's broker user gets its
 *   default permissions and its topic permissions back before its welcome.
 * Counters: `topicPermissions` in vip-router-stats, `helloChecks` among the router's extensions.
 */
export function rmqPermissionsService(options: RmqPermissionsOptions): PlatformService {
  let topics: BrokerTopicPermissions | undefined;
  const unsubscribe: Array<() => void> = [];
  return {
    name: 'rmq-permissions',
    configKeys: ['rmq-management-url', 'rmq-vhost', 'instance-name'],
    async prepare(ctx) {
      const sync = new BrokerTopicPermissions({ ...options, logger: ctx.logger });
      topics = sync;
      unsubscribe.push(ctx.capabilities.subscribe((caps) => sync.setCapabilities(caps)));
      unsubscribe.push(ctx.protectedTopics.subscribe(() => sync.protectedTopicsChanged()));
      // broker pubsub is bound by the protected topics before the platform says it is ready
      await sync.start();
      const check = new HelloPermissionCheck({
        management: options.management,
        vhost: options.vhost,
        instanceName: options.instanceName,
        logger: ctx.logger,
        topicPermissions: (user) => sync.wanted(user),
      });
      return [check, new HelloExtension({ beforeWelcome: (sender) => check.beforeWelcome(sender) })];
    },
    async stop() {
      for (const remove of unsubscribe.splice(0)) remove();
      await topics?.close();
    },
    counters: () => (topics ? { topicPermissions: topics.stats() } : {}),
  };
}
