import {
  EMPTY_FRAME,
  encodeBoolFrame,
  encodeCountFrame,
  ERRNO,
  errorArgs,
  frameText,
  InvalidPayloadError,
  jsonFrame,
  parseListRequest,
  parsePublishRequest,
  parseSubscribeRequest,
  parseSynchronizeRequest,
  parseUnsubscribeRequest,
  textFrame,
  type Frame,
  type Logger,
  type RoutedMessage,
  type UnauthorizedError,
} from '@vip/protocol';
import type { ManagementOptions, RmqLinkOptionsInput } from '@vip/rmq';
import { RmqPubSub, type PubSubDelivery } from '@vip/rmq/pubsub';

const PUBSUB = textFrame('pubsub');
const PUBLISH = textFrame('publish');
const REQUEST_RESPONSE = textFrame('request_response');
const LIST_RESPONSE = textFrame('list_response');
const TRUE = encodeBoolFrame(true);
const EACCES = ERRNO.EACCES;
const EINVAL = 22;
const EOPNOTSUPP = 95;

/** How a ZeroMQ peer's pubsub traffic reaches it (the proxy's ROUTER socket). */
export type ZmqSend = (to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]) => void;

export interface PeerPubSubOptions {
  readonly peer: Frame;
  /** The peer's proven user as RabbitMQ receivers take it, `<instance>.<auth.json user>`: its publishes carry it. */
  readonly user?: string;
  readonly link: RmqLinkOptionsInput;
  readonly management?: ManagementOptions;
  readonly send: ZmqSend;
  /**
   * The platform's protected-topic rule for this peer (its proven user): the refusal of a publish
   * on `topic`, or undefined when allowed. The broker checks only the proxy's own login, which
   * publishes for every peer, so the proxy applies the rule per peer. Default: everything allowed.
   */
  readonly authorize?: (topic: string) => UnauthorizedError | undefined;
  /** A publish `authorize` refused (the peer got the error and a count of 0). */
  readonly onUnauthorized?: () => void;
  readonly logger: Logger;
}

/** One (platform, bus, prefix) a ZeroMQ peer asked for. */
const subKey = (all: boolean, bus: string, prefix: string) => `${all ? 'all' : 'internal'}\u0000${bus}\u0000${prefix}`;

/**
 * The ZeroMQ `pubsub` subsystem (docs/protocol.md 3.2) of one ZeroMQ peer on a RabbitMQ platform,
 * served by VOLTTRON's broker pubsub (7.6) on the peer's behalf: its publishes go to the `volttron`
 * exchange as `__pubsub__.<instance>.<topic>`, its subscriptions are broker bindings with ZeroMQ's
 * character-prefix matching, deliveries come back to it as `publish | <topic> | <json>` from the
 * router (empty sender), as a ZeroMQ router would send them. Own broker connection, opened at the
 * peer's first pubsub request. Replies: `request_response` True for (un)subscribe, the subscriber
 * count for publish, `list_response` for list (with the management API), none for synchronize.
 */
export class PeerPubSub {
  readonly #o: PeerPubSubOptions;
  readonly #pubsub: RmqPubSub;
  /** What the peer is subscribed to, to make `synchronize` exact. */
  readonly #subs = new Set<string>();
  readonly #deliver: (d: PubSubDelivery) => void;
  #opened: Promise<void> | undefined;

  constructor(o: PeerPubSubOptions) {
    this.#o = o;
    this.#pubsub = new RmqPubSub({
      ...o.link,
      identity: frameText(o.peer),
      ...(o.user !== undefined ? { user: o.user } : {}),
      prefixMatch: 'character',
      logger: o.logger,
      ...(o.management ? { management: o.management } : {}),
    });
    this.#deliver = (d) => {
      const body = jsonFrame({ sender: d.sender, bus: d.bus, headers: d.headers, message: d.message });
      o.send(o.peer, EMPTY_FRAME, EMPTY_FRAME, EMPTY_FRAME, PUBSUB, [PUBLISH, Buffer.from(d.topic, 'utf8'), body]);
    };
  }

  /** Serve one `pubsub` request of the peer (`user`: its proven user frame, echoed in replies). */
  async handle(m: RoutedMessage, user: Frame): Promise<void> {
    await (this.#opened ??= this.#pubsub.open());
    const op = m.args[0] === undefined ? '' : frameText(m.args[0]);
    const reply = (args: readonly Frame[]) => this.#o.send(m.sender, EMPTY_FRAME, user, m.id, PUBSUB, args);
    const fail = (errnum: number, text: string) =>
      this.#o.send(m.sender, EMPTY_FRAME, user, m.id, textFrame('error'), errorArgs(errnum, '', PUBSUB, text));
    try {
      switch (op) {
        case 'subscribe': {
          const r = parseSubscribeRequest(m.args[1]);
          if (r instanceof InvalidPayloadError) return fail(EINVAL, `Invalid argument: ${r.detail}`);
          for (const prefix of typeof r.prefix === 'string' ? [r.prefix] : r.prefix) await this.#subscribe(r.all_platforms, r.bus, prefix);
          return reply([REQUEST_RESPONSE, TRUE]);
        }
        case 'unsubscribe': {
          const r = parseUnsubscribeRequest(m.args[1]);
          if (r instanceof InvalidPayloadError) return fail(EINVAL, `Invalid argument: ${r.detail}`);
          for (const [all, scope] of [
            [false, r.internal],
            [true, r.all],
          ] as const) {
            if (scope) await this.#unsubscribeScope(all, scope.bus, scope.prefix);
          }
          return reply([REQUEST_RESPONSE, TRUE]);
        }
        case 'publish': {
          const topic = m.args[1];
          const body = parsePublishRequest(m.args[2]);
          if (topic === undefined) return fail(EINVAL, 'Invalid argument: publish without a topic');
          if (body instanceof InvalidPayloadError) return fail(EINVAL, `Invalid argument: ${body.detail}`);
          const refused = this.#o.authorize?.(frameText(topic));
          if (refused) {
            // as the router's pubsub answers a refused publish: the error, then a count of 0
            this.#o.onUnauthorized?.();
            fail(refused.errnum, refused.message);
            return reply([REQUEST_RESPONSE, encodeCountFrame(0)]);
          }
          const count = await this.#pubsub.publish({
            topic: frameText(topic),
            bus: body.bus,
            headers: body.headers,
            message: body.message,
          });
          return reply([REQUEST_RESPONSE, encodeCountFrame(count)]);
        }
        case 'list': {
          const r = parseListRequest(m.args[1]);
          if (r instanceof InvalidPayloadError) return fail(EINVAL, `Invalid argument: ${r.detail}`);
          const rows = await this.#pubsub.list({
            prefix: r.prefix,
            bus: r.bus,
            subscribed: r.subscribed,
            reverse: r.reverse,
            allPlatforms: r.all_platforms,
          });
          return reply([LIST_RESPONSE, jsonFrame(rows)]);
        }
        case 'synchronize': {
          const r = parseSynchronizeRequest(m.args[2]);
          if (r instanceof InvalidPayloadError) return fail(EINVAL, `Invalid argument: ${r.detail}`);
          return await this.#synchronize(r.subscriptions);
        }
        case 'external_publish':
        case 'external_list':
          // a linked platform's operations (any sender, planted prefixes): a link never arrives here
          return fail(EACCES, `Permission denied: pubsub ${op} is accepted only from a platform link`);
        case 'error':
        case 'request_response':
          return;
        default:
          return fail(EOPNOTSUPP, `Operation not supported: pubsub ${JSON.stringify(op)} on the proxy router`);
      }
    } catch (err) {
      // a refused topic (TopicWriteRefusedError), the broker gone: the peer hears it, the proxy runs on
      const wire = err as { errnum?: unknown; message?: string };
      fail(typeof wire.errnum === 'number' ? wire.errnum : EINVAL, wire.message ?? String(err));
    }
  }

  async #subscribe(all: boolean, bus: string, prefix: string): Promise<void> {
    const key = subKey(all, bus, prefix);
    if (this.#subs.has(key)) return;
    this.#subs.add(key);
    await this.#pubsub.subscribe(prefix, this.#deliver, { bus, allPlatforms: all });
  }

  async #unsubscribeScope(all: boolean, bus: string, prefixes: readonly string[] | null): Promise<void> {
    const gone =
      prefixes ??
      [...this.#subs]
        .map((k) => k.split('\u0000'))
        .filter(([p, b]) => p === (all ? 'all' : 'internal') && b === bus)
        .map(([, , x]) => x!);
    for (const prefix of gone) {
      if (!this.#subs.delete(subKey(all, bus, prefix))) continue;
      await this.#pubsub.unsubscribe(prefix, this.#deliver, { bus, allPlatforms: all });
    }
  }

  /** Make the peer's subscriptions exactly `wanted` ({platform: {bus: [prefixes]}}, 3.4). */
  async #synchronize(wanted: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>): Promise<void> {
    const keep = new Set<string>();
    for (const [platform, buses] of Object.entries(wanted)) {
      for (const [bus, prefixes] of Object.entries(buses)) for (const p of prefixes) keep.add(subKey(platform === 'all', bus, p));
    }
    for (const key of [...this.#subs]) {
      if (keep.has(key)) continue;
      const [platform, bus, prefix] = key.split('\u0000') as [string, string, string];
      this.#subs.delete(key);
      await this.#pubsub.unsubscribe(prefix, this.#deliver, { bus, allPlatforms: platform === 'all' });
    }
    for (const key of keep) {
      const [platform, bus, prefix] = key.split('\u0000') as [string, string, string];
      await this.#subscribe(platform === 'all', bus, prefix);
    }
  }

  stats(): ReturnType<RmqPubSub['stats']> {
    return this.#pubsub.stats();
  }

  async close(): Promise<void> {
    await this.#pubsub.close();
  }
}
