import type { Frame } from '@vip/protocol';

/**
 * The multi-platform seam (docs/protocol.md 6.4): whatever links this router to remote platforms
 * (the RoutingService) implements it; PubSubService uses it to advertise `all_platforms`
 * prefixes (`external_list`) and forward matching publishes (`external_publish`).
 * The link tells the service about platforms through `platformConnected`/`platformDisconnected`.
 */
export interface ExternalPlatforms {
  /** Instance names of the remote platforms connected now. */
  connected(): readonly string[];
  /**
   * Send `[ '', VIP1, user, id, 'pubsub', ...args ]` to a remote platform's router. Never throws.
   * False when the link did not take it (down, full): the publish counts it undeliverable and
   * leaves it out of the count it answers the publisher (VOLTTRON logs it and the publisher never
   * learns). `onFailed` runs when the link took it and then lost it (counted the same way).
   */
  send(instance: string, user: Frame, id: Frame, args: readonly Frame[], onFailed?: () => void): boolean | void;
  /**
   * The user whose rights decide an `external_publish` from the link proven as `linkUserId`, whose
   * platform wrote `user` as the publisher's user. Default: the link's user.
   */
  publisherUser?(linkUserId: string, user: Frame): string;
}
