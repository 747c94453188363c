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
   * Send `[ '', VIP1, user, id, 'pubsub', ...args ]` to a remote platform's router. Never throws;
   * failures are the link's to count (VOLTTRON logs them and the publisher never learns).
   */
  send(instance: string, user: Frame, id: Frame, args: readonly Frame[]): void;
}
