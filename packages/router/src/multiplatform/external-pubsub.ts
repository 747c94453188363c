import { frameText, textFrame, type Frame } from '@vip/protocol';
import type { PlatformLinkTable } from './platform-table.js';

const PUBSUB = textFrame('pubsub');

/**
 * What `@vip/pubsub`'s PubSubService needs to reach other platforms (its `ExternalPlatforms`,
 * matched by shape: the router does not depend on pubsub), over a PlatformLinkTable:
 * the connected instances, sending `pubsub` messages on their links (false when a link did not
 * take it: the publish counts it undeliverable), and the user an `external_publish` is checked
 * as: `<instance>.<publisher's user>`, the instance being the one the link's key proved.
 */
export interface ExternalPubSubLinks {
  connected(): readonly string[];
  send(instance: string, user: Frame, id: Frame, args: readonly Frame[], onFailed?: () => void): boolean;
  publisherUser(linkUserId: string, user: Frame): string;
}

export function externalPubSubLinks(table: PlatformLinkTable): ExternalPubSubLinks {
  return {
    connected: () => table.connected(),
    send: (instance, user, id, args, onFailed) => {
      const taken = table.send(instance, user, id, PUBSUB, args, () => {
        table.undeliverable(instance);
        onFailed?.();
      });
      if (!taken && args[0] !== undefined && frameText(args[0]) === 'external_publish') table.undeliverable(instance);
      return taken;
    },
    publisherUser: (linkUserId, user) => `${table.instanceOf(linkUserId) ?? linkUserId}.${frameText(user)}`,
  };
}
