import { EMPTY_FRAME, jsonFrame, textFrame, type Frame } from '@vip/protocol';
import type { ExternalPlatforms } from '../external-platforms.js';
import { SubscriptionIndex } from '../subscription-index.js';

const OP_EXTERNAL_PUBLISH = textFrame('external_publish');
const OP_EXTERNAL_LIST = textFrame('external_list');

/**
 * The pubsub side of multi-platform (docs/protocol.md 6.4): the prefixes each remote platform
 * advertised (kept in a SubscriptionIndex keyed by instance name; buses are not advertised),
 * forwarding of matching publishes, and advertising our own `all` prefixes.
 */
export class RemotePlatforms {
  /** peer key = instance name, bus '' */
  readonly #prefixes = new SubscriptionIndex();

  constructor(private readonly link: ExternalPlatforms | undefined) {}

  /** Prefixes held for remote platforms (0: nothing to forward). */
  get size(): number {
    return this.#prefixes.size;
  }

  /** Remote platforms holding prefixes. */
  get count(): number {
    return this.#prefixes.peerCount;
  }

  /** Store what `instance` advertised (replaces its previous list). */
  advertised(instance: string, prefixes: readonly string[]): void {
    this.#prefixes.replace(
      instance,
      prefixes.map((p) => ({ platform: 'all' as const, bus: '', prefix: textFrame(p) })),
    );
  }

  forget(instance: string): void {
    this.#prefixes.dropPeer(instance);
  }

  /**
   * Forward a publish to every remote platform with a matching prefix; returns how many links took
   * it. Those that did not (down, full) and those that lost it later are counted undeliverable.
   */
  forward(topic: Frame, user: Frame, id: Frame, payload: Frame): number {
    if (!this.link || this.#prefixes.size === 0) return 0;
    const instances = this.#prefixes.match('', topic);
    let sent = 0;
    for (const instance of instances) {
      const taken = this.link.send(instance, user, id, [OP_EXTERNAL_PUBLISH, topic, payload], this.#lost);
      if (taken === false) this.#undeliverable(instance);
      else sent++;
    }
    return sent;
  }

  /** Publishes for remote platforms that could not be sent, in total and by instance. */
  undeliverable = 0;
  readonly undeliverableBy = new Map<string, number>();

  readonly #lost = (): void => {
    this.undeliverable++;
  };

  #undeliverable(instance: string): void {
    this.undeliverable++;
    if (this.undeliverableBy.size < 1024 || this.undeliverableBy.has(instance)) {
      this.undeliverableBy.set(instance, (this.undeliverableBy.get(instance) ?? 0) + 1);
    }
  }

  /** The user whose rights decide an external_publish that came on link `linkUserId`. */
  publisherUser(linkUserId: string, user: Frame): string {
    return this.link?.publisherUser?.(linkUserId, user) ?? linkUserId;
  }

  /** Send `{myInstance: prefixes}` to the given (default: every connected) remote platform. */
  advertise(myInstance: string, prefixes: () => readonly Frame[], instances?: readonly string[]): void {
    if (!this.link) return; // no link: not even the prefix list is computed
    const body = jsonFrame({ [myInstance]: prefixes().map((p) => p.toString('utf8')) });
    for (const instance of instances ?? this.link.connected()) this.link.send(instance, EMPTY_FRAME, EMPTY_FRAME, [OP_EXTERNAL_LIST, body]);
  }

  clear(): void {
    this.#prefixes.clear();
  }
}
