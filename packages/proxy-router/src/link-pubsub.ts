import {
  EMPTY_FRAME,
  frameText,
  InvalidPayloadError,
  jsonFrame,
  parseDeliveredPublish,
  parseExternalList,
  textFrame,
  type Frame,
  type Logger,
  type VipMessage,
} from '@vip/protocol';
import type { ManagementOptions, RmqLinkOptionsInput } from '@vip/rmq';
import { RmqPubSub, type PubSubDelivery } from '@vip/rmq/pubsub';

const PUBSUB = textFrame('pubsub');
const EXTERNAL_PUBLISH = textFrame('external_publish');
const EXTERNAL_LIST = textFrame('external_list');
/** The identity of the broker client relaying linked platforms' pubsub (queues `<instance>.<identity>...`). */
const RELAY_IDENTITY = 'proxy.router.pubsub';

/**
 * What the link pubsub needs of the platform's link table (@vip/router's PlatformLinkTable, matched
 * by shape: this package does not depend on the router).
 */
export interface LinkTableForPubSub {
  readonly instanceName: string;
  send(instance: string, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[], onFailed?: () => void): boolean;
  onLinkMessage(subsystem: string, handler: (instance: string, message: VipMessage) => void): void;
  onConnected(listener: (instance: string) => void): () => void;
  onDisconnected(listener: (instance: string) => void): () => void;
}

export interface LinkPubSubOptions {
  readonly table: LinkTableForPubSub;
  /** The proxy router's broker login (its user proves relayed publishes as `proxied`). */
  readonly rmq: RmqLinkOptionsInput;
  readonly management?: ManagementOptions;
  /**
   * Whether `publisherUser` (`<linked instance>.<user its platform wrote>`) may publish on `topic`
   * here (this platform's protected topics): the broker checks only the proxy's own user. Default: yes.
   */
  readonly authorize?: (topic: string, publisherUser: string) => boolean;
  /**
   * With `management`: how often the `all_platforms` prefixes RMQ agents hold (broker bindings
   * `__pubsub__.*.<prefix>`) are read again while a link is up; a changed set is advertised to every
   * link (`external_list`). Default 2000 ms.
   */
  readonly advertiseIntervalMs?: number;
  readonly logger: Logger;
}

export interface LinkPubSubStats {
  /** external_publish from linked platforms published on the broker. */
  relayedIn: number;
  /** Publishes of this platform sent to linked platforms as external_publish. */
  relayedOut: number;
  /** Publishes for a linked platform its link did not take (down, refused). */
  undeliverable: number;
  invalid: number;
  /** external_publish refused by `authorize` (protected topics). */
  unauthorized: number;
  /** `external_list` sent to linked platforms (at each link's start, then on each change of the prefixes). */
  advertised: number;
  /** Reads of the broker's all_platforms bindings that failed (the last prefixes read stay advertised; none read yet: every topic). */
  prefixReadFailures: number;
}

/**
 * `all_platforms` pubsub between a RabbitMQ platform and the ZeroMQ platforms linked to its proxy
 * router (docs/protocol.md 6.4 and 6.5), on one broker client of the proxy's login:
 * - a linked platform's `external_publish` is published on the broker as that platform's
 *   (`__pubsub__.<its instance>.<topic>`: only `all_platforms` subscribers bind other instances),
 *   for its publisher as the proxy's word (`proxied`);
 * - a linked platform's `external_list` (the prefixes its `all_platforms` subscribers hold) becomes
 *   broker subscriptions to this platform's own publishes (`__pubsub__.<this instance>...`, never
 *   what was relayed in: no loops), each delivery sent on the link as `external_publish`;
 * - each link that comes up is told `external_list {<this instance>: [prefixes]}`: the prefixes of
 *   the broker's `all_platforms` bindings (management API, read again every `advertiseIntervalMs`
 *   while a link is up, a change advertised to every link), so a linked platform sends only what
 *   some subscriber here asked for; without the management API, or before the first read, `['']`
 *   (every publish; the broker drops what nobody bound).
 */
export class LinkPubSub {
  readonly #o: LinkPubSubOptions;
  readonly #pubsub: RmqPubSub;
  /** Prefixes each linked platform asked for, with the callback its subscription holds. */
  readonly #wanted = new Map<string, Map<string, (d: PubSubDelivery) => void>>();
  readonly #stats: LinkPubSubStats = {
    relayedIn: 0,
    relayedOut: 0,
    undeliverable: 0,
    invalid: 0,
    unauthorized: 0,
    advertised: 0,
    prefixReadFailures: 0,
  };
  /** Linked platforms whose link is up (told our prefixes). */
  readonly #up = new Set<string>();
  /** The all_platforms prefixes last advertised (sorted); undefined before the first read. */
  #advertising: readonly string[] | undefined;
  #poll: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #closed = false;
  #chain: Promise<void> = Promise.resolve();
  #opened: Promise<void> | undefined;
  readonly #unlisten: (() => void)[] = [];

  constructor(o: LinkPubSubOptions) {
    this.#o = o;
    this.#pubsub = new RmqPubSub({
      ...o.rmq,
      identity: RELAY_IDENTITY,
      prefixMatch: 'character',
      logger: o.logger,
      ...(o.management ? { management: o.management } : {}),
    });
    o.table.onLinkMessage('pubsub', (instance, m) => this.#fromLink(instance, m));
    this.#unlisten.push(
      o.table.onConnected((instance) => {
        this.#up.add(instance);
        this.#advertise(instance, this.#advertising ?? ['']);
        if (o.management) {
          void this.#readPrefixes();
          this.#poll ??= setInterval(() => void this.#readPrefixes(), o.advertiseIntervalMs ?? 2_000);
          this.#poll.unref();
        }
      }),
      o.table.onDisconnected((instance) => {
        this.#up.delete(instance);
        if (this.#up.size === 0) this.#stopPolling();
        this.#serial(() => this.#want(instance, []));
      }),
    );
  }

  #advertise(instance: string, prefixes: readonly string[]): void {
    const body = jsonFrame({ [this.#o.table.instanceName]: prefixes });
    if (this.#o.table.send(instance, EMPTY_FRAME, EMPTY_FRAME, PUBSUB, [EXTERNAL_LIST, body])) this.#stats.advertised++;
  }

  /**
   * Read the broker's all_platforms prefixes (bindings `__pubsub__.*.<prefix>`, any bus, any
   * subscriber: RMQ agents and the proxy's ZeroMQ peers) and advertise them to every link when they
   * changed. A failed read keeps what was advertised.
   */
  #readPrefixes(): Promise<void> {
    return (this.#reading ??= (async () => {
      try {
        await (this.#opened ??= this.#pubsub.open());
        const rows = await this.#pubsub.list({ allPlatforms: true, subscribed: false, bus: null, prefix: '' });
        const prefixes = [...new Set(rows.map((r) => r[1]))].sort();
        const before = this.#advertising;
        this.#advertising = prefixes;
        if (this.#closed || (before !== undefined && before.join('\u0000') === prefixes.join('\u0000'))) return;
        for (const instance of this.#up) this.#advertise(instance, prefixes);
      } catch (err) {
        this.#stats.prefixReadFailures++;
        this.#o.logger.debug('proxy.link-pubsub.prefix-read-failed', {}, err);
      }
    })().finally(() => {
      this.#reading = undefined;
    }));
  }

  #stopPolling(): void {
    clearInterval(this.#poll);
    this.#poll = undefined;
  }

  stats(): LinkPubSubStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stopPolling();
    for (const off of this.#unlisten.splice(0)) off();
    await this.#reading;
    await this.#chain.catch(() => undefined);
    await this.#pubsub.close();
  }

  #fromLink(instance: string, m: VipMessage): void {
    const op = m.args[0] === undefined ? '' : frameText(m.args[0]);
    if (op === 'external_publish') return this.#serial(() => this.#publishIn(instance, m));
    if (op === 'external_list') {
      const body = parseExternalList(m.args[1] ?? EMPTY_FRAME);
      if (body instanceof InvalidPayloadError) return void this.#stats.invalid++;
      // only the link's own platform's prefixes: it does not speak for others
      const prefixes = body[instance] ?? [];
      return this.#serial(() => this.#want(instance, prefixes));
    }
    // request_response / error answers to what we sent: nothing to do
  }

  async #publishIn(instance: string, m: VipMessage): Promise<void> {
    const topic = m.args[1];
    const body = parseDeliveredPublish(m.args[2] ?? EMPTY_FRAME);
    if (topic === undefined || body instanceof InvalidPayloadError) return void this.#stats.invalid++;
    // as a ZeroMQ platform checks an external_publish: the publisher's user qualified by the link's platform
    if (this.#o.authorize && !this.#o.authorize(frameText(topic), `${instance}.${frameText(m.user)}`)) {
      return void this.#stats.unauthorized++;
    }
    await (this.#opened ??= this.#pubsub.open());
    await this.#pubsub.publish(
      { topic: frameText(topic), bus: body.bus, headers: body.headers as Record<string, unknown>, message: body.message },
      // its user as the link named it, qualified by the link's platform: never one of this instance's
      { count: false, relayedFrom: { instance, sender: body.sender, user: `${instance}.${frameText(m.user)}` } },
    );
    this.#stats.relayedIn++;
  }

  /** Hold exactly `prefixes` of this platform's publishes for `instance`. */
  async #want(instance: string, prefixes: readonly string[]): Promise<void> {
    const held = this.#wanted.get(instance) ?? new Map<string, (d: PubSubDelivery) => void>();
    this.#wanted.set(instance, held);
    if (held.size === 0 && prefixes.length === 0) return;
    await (this.#opened ??= this.#pubsub.open());
    for (const [prefix, callback] of [...held]) {
      if (prefixes.includes(prefix)) continue;
      held.delete(prefix);
      await this.#pubsub.unsubscribe(prefix, callback);
    }
    for (const prefix of prefixes) {
      if (held.has(prefix)) continue;
      const callback = (d: PubSubDelivery) => this.#publishOut(instance, d);
      held.set(prefix, callback);
      await this.#pubsub.subscribe(prefix, callback);
    }
  }

  #publishOut(instance: string, d: PubSubDelivery): void {
    if (d.instance !== this.#o.table.instanceName) return; // relayed in from a linked platform: not sent back out
    const body = jsonFrame({ sender: d.sender, bus: d.bus, headers: d.headers, message: d.message });
    // the publisher's proven user without this instance (the linked platform qualifies it with ours),
    // never its identity: a ZeroMQ peer's identity is not its user, an unproven publisher has none
    const own = `${this.#o.table.instanceName}.`;
    const user = d.user.startsWith(own) ? d.user.slice(own.length) : '';
    const taken = this.#o.table.send(instance, textFrame(user), EMPTY_FRAME, PUBSUB, [EXTERNAL_PUBLISH, textFrame(d.topic), body], () => {
      this.#stats.undeliverable++;
    });
    if (taken) this.#stats.relayedOut++;
    else this.#stats.undeliverable++;
  }

  /** Broker operations one after the other (a list replaced while the previous is applied). */
  #serial(op: () => Promise<void>): void {
    this.#chain = this.#chain.then(op).catch((err: unknown) => this.#o.logger.warn('proxy.link-pubsub.failed', {}, err));
  }
}
