import {
  ClosedError,
  decodeJsonPayload,
  EMPTY_FRAME,
  encodeBoolFrame,
  encodeCountFrame,
  frameFromKey,
  frameText,
  identityKey,
  jsonFrame,
  parseAuthUpdate,
  parseDeliveredPublish,
  parseExternalList,
  parseListRequest,
  parseProtectedUpdate,
  parsePublishRequest,
  parseSubscribeRequest,
  parseSynchronizeRequest,
  parseUnsubscribeRequest,
  silentLogger,
  textFrame,
  type Frame,
  type InvalidPayloadError,
  type Logger,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
  type CapabilityMapInput,
} from '@vip/protocol';
import { ConfigReloader, type PubSubConfigSources } from './config-reloader.js';
import { DeliveryStats, flattenStats, type PubSubStats } from './delivery-stats.js';
import type { ExternalPlatforms } from './external-platforms.js';
import { RemotePlatforms } from './internal/remote-platforms.js';
import { FanOut } from './internal/fan-out.js';
import { deliveryPayload, DeliveryPayloads } from './internal/delivery-payload.js';
import { FrameCache } from './internal/frame-cache.js';
import { Persistence, type SubscriptionPersistenceOptions } from './internal/persistence.js';
import { pythonSafeCount } from './internal/python-safe-count.js';
import { synchronizeWanted, unsubscribeScopes } from './internal/requests.js';
import { ProtectedTopics } from './protected-topics.js';
import { SubscriptionIndex, type SubscriptionPlatform } from './subscription-index.js';

export interface PubSubServiceOptions {
  /** Initial write-protected topics (the platform's protected_topics.json). */
  readonly protectedTopics?: ProtectedTopics;
  /** Initial user -> capabilities map (auth.json, e.g. AuthFile.capabilitiesByUser()). */
  readonly capabilities?: CapabilityMapInput;
  /** The only identity whose `auth_update`/`protected_update` is accepted. Default `platform.auth`. */
  readonly authIdentity?: string;
  /** Link to remote platforms for `all_platforms` subscriptions (docs/protocol.md 6.4). */
  readonly externalPlatforms?: ExternalPlatforms;
  /** Deliveries per subscriber the transport has not yet taken before new ones are dropped. Default 1000. */
  readonly maxPendingPerSubscriber?: number;
  /** Bytes of such deliveries per subscriber (frames summed). Default 16 MiB. */
  readonly maxPendingBytesPerSubscriber?: number;
  /** Bytes of such deliveries for all subscribers together. Default 256 MiB. */
  readonly maxPendingBytes?: number;
  /** Subscribers whose drop counts are remembered. Default 1000. */
  readonly maxTrackedSubscribers?: number;
  /**
   * Send counts a Python agent can decode (quirk 12.4, see `pythonSafeCount`). Default true;
   * false sends the exact count (Python publishers then hang on counts with a byte >= 0x80).
   */
  readonly pythonSafeCounts?: boolean;
  /** Files to load protected topics / capabilities from and watch (started on attach, stopped on close). */
  readonly files?: PubSubConfigSources;
  /** Keep the subscription table in a file and restore it at start, holding messages for restored subscribers (README, "Restarts"). */
  readonly persistence?: SubscriptionPersistenceOptions;
  readonly logger?: Logger;
}

/** errnum/text of the `error` replies this service adds to VOLTTRON's (which crashes instead). */
export const PUBSUB_ERRORS = {
  /** Malformed payload or missing frame: EINVAL. */
  invalid: { errnum: 22, text: 'Invalid argument' },
  /** Unknown op: EOPNOTSUPP. */
  unknownOp: { errnum: 95, text: 'Operation not supported' },
  /**
   * EACCES: auth_update/protected_update from anyone but the auth identity, external_publish and
   * external_list from anyone but a platform link.
   */
  forbidden: { errnum: 13, text: 'Permission denied' },
} as const;

const PUBSUB = textFrame('pubsub');
const ERROR = textFrame('error');
const OP_PUBLISH = textFrame('publish');
const REQUEST_RESPONSE = textFrame('request_response');
const LIST_RESPONSE = textFrame('list_response');
const TRUE = encodeBoolFrame(true);
/** Count frames of the usual replies (0..63 subscribers), made once: frames are never written to. */
const SMALL_COUNTS: readonly Frame[] = Array.from({ length: 64 }, (_, n) => encodeCountFrame(n));

/**
 * The router-side pubsub subsystem (the seed's PubSubService), wire-compatible with VOLTTRON 9.
 * A RouterExtension: the router hands it router-addressed `pubsub` messages; it answers and
 * delivers through `RouterServices.deliver`.
 */
export class PubSubService implements RouterExtension {
  readonly subsystems = ['pubsub'] as const;
  readonly #index = new SubscriptionIndex();
  readonly #remote: RemotePlatforms;
  readonly #stats: DeliveryStats;
  readonly #fanOut: FanOut;
  readonly #payloads = new DeliveryPayloads();
  /** User id -> user frame of the replies (a few distinct users per platform). */
  readonly #userFrames = new FrameCache(textFrame);
  readonly #authIdentity: string;
  readonly #pythonSafeCounts: boolean;
  #protected: ProtectedTopics;
  #capabilities: CapabilityMapInput;
  #services: RouterServices | undefined;
  #reloader: ConfigReloader | undefined;
  readonly #files: PubSubConfigSources | undefined;
  readonly #persistence: Persistence | undefined;
  #logger: Logger;
  #closed = false;

  constructor(options: PubSubServiceOptions = {}) {
    this.#protected = options.protectedTopics ?? new ProtectedTopics();
    this.#capabilities = options.capabilities ?? {};
    this.#authIdentity = options.authIdentity ?? 'platform.auth';
    this.#remote = new RemotePlatforms(options.externalPlatforms);
    this.#pythonSafeCounts = options.pythonSafeCounts ?? true;
    this.#logger = options.logger ?? silentLogger;
    this.#files = options.files;
    this.#stats = new DeliveryStats(options.maxTrackedSubscribers ?? 1000);
    const limits = {
      maxPending: options.maxPendingPerSubscriber ?? 1000,
      maxPendingBytes: options.maxPendingBytesPerSubscriber ?? 16 * 1024 * 1024,
      maxTotalBytes: options.maxPendingBytes ?? 256 * 1024 * 1024,
    };
    this.#fanOut = new FanOut(
      () => this.#svc(),
      this.#stats,
      limits,
      (peer) => this.#unreachable(peer),
    );
    this.#persistence =
      options.persistence &&
      new Persistence(options.persistence, {
        services: () => this.#svc(),
        index: this.#index,
        logger: () => this.#logger,
        dropSubscriptions: (peer) => this.#dropSubscriptions(peer),
        unreachable: (peer) => this.#unreachable(peer),
        reply: (to, user, id, subsystem, args) => this.#fanOut.reply(to, user, id, subsystem, args),
      });
  }

  attach(services: RouterServices): void {
    this.#services = services;
    if (this.#logger === silentLogger) this.#logger = services.logger.child({ component: 'pubsub' });
    if (this.#files && !this.#reloader && !this.#closed) {
      this.#reloader = new ConfigReloader(this.#files, this, this.#logger);
      this.#reloader.start();
    }
    if (!this.#closed) this.#persistence?.start();
  }

  /** Replace the write-protected topics (file reload). */
  setProtectedTopics(topics: ProtectedTopics): void {
    this.#protected = topics;
  }

  /** Replace the user -> capabilities map (auth file reload). */
  setCapabilities(capabilities: CapabilityMapInput): void {
    this.#capabilities = capabilities;
  }

  get index(): SubscriptionIndex {
    return this.#index;
  }

  handle(message: RoutedMessage, userId: string): boolean {
    if (!message.subsystem.equals(PUBSUB)) return false;
    if (this.#closed) return true;
    const op = message.args[0];
    try {
      switch (op === undefined ? '' : op.toString('latin1')) {
        case 'publish':
          return (this.#publish(message, userId), true);
        case 'subscribe':
          return (this.#subscribe(message, userId), true);
        case 'unsubscribe':
          return (this.#unsubscribe(message, userId), true);
        case 'list':
          return (this.#list(message, userId), true);
        case 'synchronize':
          return (this.#synchronize(message, userId), true);
        case 'auth_update':
          return (this.#authUpdate(message, userId), true);
        case 'protected_update':
          return (this.#protectedUpdate(message, userId), true);
        case 'external_list':
          return (this.#externalList(message, userId), true);
        case 'external_publish':
          return (this.#externalPublish(message, userId), true);
        case 'error':
        case 'request_response':
          return true; // VOLTTRON logs/ignores these
        case '':
          this.#stats.rejected.invalid++;
          this.#replyError(
            message,
            userId,
            PUBSUB_ERRORS.invalid.errnum,
            `${PUBSUB_ERRORS.invalid.text}: pubsub message without an operation`,
          );
          return true;
        default:
          this.#stats.rejected.unknown_op++;
          this.#replyError(
            message,
            userId,
            PUBSUB_ERRORS.unknownOp.errnum,
            `${PUBSUB_ERRORS.unknownOp.text}: pubsub operation ${JSON.stringify(frameText(op as Frame))}`,
          );
          return true;
      }
    } catch (err) {
      // Defensive: nothing above should throw; a bug must not take the router down.
      this.#services?.count('pubsub.internal_error');
      this.#logger.error('pubsub.handle.failed', { op: op ? frameText(op) : '' }, err);
      return true;
    }
  }

  peerDropped(peer: Frame): void {
    const key = identityKey(peer);
    this.#persistence?.dropped(key);
    this.#dropSubscriptions(key);
  }

  /** A remote platform connected: send it our `all` prefixes. */
  platformConnected(instance: string): void {
    this.#advertise([instance]);
  }

  /** A remote platform went away: forget the prefixes it advertised. */
  platformDisconnected(instance: string): void {
    this.#remote.forget(instance);
  }

  /** Flat counters for router statistics (nested there under `pubsub`). */
  stats(): Record<string, number> {
    const out = flattenStats(this.detailedStats());
    if (this.#reloader) {
      out['config.reloads'] = this.#reloader.reloads;
      out['config.reloads_failed'] = this.#reloader.reloadsFailed;
    }
    if (this.#persistence) Object.assign(out, this.#persistence.stats());
    return out;
  }

  detailedStats(): PubSubStats {
    const s = this.#stats;
    return {
      published: s.published,
      delivered: s.delivered,
      dropped: { ...s.dropped },
      droppedBySubscriber: s.bySubscriber(),
      rejected: { ...s.rejected },
      pending: this.#fanOut.inFlight,
      pendingBytes: this.#fanOut.inFlightBytes,
      subscriptions: this.#index.size,
      subscribers: this.#index.peerCount,
      remotePlatforms: this.#remote.count,
      remoteUndeliverable: this.#remote.undeliverable,
      remoteUndeliverableByPlatform: Object.fromEntries(this.#remote.undeliverableBy),
      countsClamped: s.countsClamped,
      repliesDropped: s.repliesDropped,
    };
  }

  /** Deliveries waiting for the transport, per subscriber (identityKey strings), for the status page. */
  subscriberQueues(): Array<{ readonly peer: string; readonly count: number; readonly bytes: number }> {
    return this.#fanOut.pendingBySubscriber();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#reloader?.close();
    this.#reloader = undefined;
    await this.#persistence?.close();
    this.#index.clear();
    this.#remote.clear();
    this.#payloads.clear();
    this.#userFrames.clear();
  }

  // ---- operations ----------------------------------------------------------------------------

  #publish(m: RoutedMessage, userId: string): void {
    const topic = m.args[1];
    if (topic === undefined) return this.#invalid(m, userId, 'pubsub publish: missing topic frame');
    const raw = m.args[2];
    const value = decodeJsonPayload(raw ?? EMPTY_FRAME, 'pubsub.publish');
    const body = isError(value) ? value : parsePublishRequest(value);
    if (isError(body)) return this.#invalid(m, userId, body);
    this.#stats.published++;
    if (!this.#authorized(m, userId, topic, userId)) return;
    const payload = this.#payloads.fromPublish(m.sender, body, raw, keysOf(value));
    const subscribers = this.#index.match(body.bus, topic);
    const args = [OP_PUBLISH, topic, payload];
    const held = this.#persistence?.hold(subscribers, body.bus, topic, m.sender, m.user, m.id, args) ?? 0;
    this.#fanOut.publish(subscribers, m.sender, m.user, m.id, args);
    // Remote platforms get the publisher's proven user (never the user frame it wrote): the receiving
    // platform checks protected topics for it (docs/protocol.md 6.4).
    const remote = this.#remote.size === 0 ? 0 : this.#remote.forward(topic, this.#userFrames.get(userId), m.id, payload);
    const count = subscribers.size + held + remote;
    this.#reply(m, userId, REQUEST_RESPONSE, this.#countFrame(count));
    this.#persistence?.seen(m.sender);
  }

  #subscribe(m: RoutedMessage, userId: string): void {
    const body = parseSubscribeRequest(m.args[1] ?? EMPTY_FRAME);
    if (isError(body)) return this.#invalid(m, userId, body);
    const platform: SubscriptionPlatform = body.all_platforms ? 'all' : 'internal';
    const peer = identityKey(m.sender);
    for (const p of typeof body.prefix === 'string' ? [body.prefix] : body.prefix) this.#index.add(peer, platform, body.bus, textFrame(p));
    if (platform === 'all') this.#advertise();
    this.#replyWhenSaved(m, userId);
  }

  #unsubscribe(m: RoutedMessage, userId: string): void {
    const body = parseUnsubscribeRequest(m.args[1] ?? EMPTY_FRAME);
    if (isError(body)) return this.#invalid(m, userId, body);
    const peer = identityKey(m.sender);
    let allChanged = false;
    for (const { platform, bus, prefixes } of unsubscribeScopes(body)) {
      let n = 0;
      if (prefixes === null) n = this.#index.removeBus(peer, platform, bus);
      else for (const p of prefixes) n += this.#index.remove(peer, platform, bus, textFrame(p)) ? 1 : 0;
      if (platform === 'all' && n > 0) allChanged = true;
    }
    if (allChanged) this.#advertise();
    this.#replyWhenSaved(m, userId);
  }

  #list(m: RoutedMessage, userId: string): void {
    const body = parseListRequest(m.args[1] ?? EMPTY_FRAME);
    if (isError(body)) return this.#invalid(m, userId, body);
    const rows = this.#index.list(
      body.all_platforms ? 'all' : 'internal',
      body.bus,
      textFrame(body.prefix),
      body.reverse,
      identityKey(m.sender),
    );
    const subscribed = body.subscribed;
    const out = rows.filter((r) => !subscribed || r.member).map((r) => [r.bus, r.prefix.toString('utf8'), r.member]);
    this.#reply(m, userId, LIST_RESPONSE, jsonFrame(out));
    this.#persistence?.seen(m.sender);
  }

  #synchronize(m: RoutedMessage, userId: string): void {
    const conn = m.args[1];
    if (conn === undefined || conn.toString('latin1') !== 'connected') {
      return this.#invalid(m, userId, 'pubsub synchronize: second frame must be "connected"');
    }
    const body = parseSynchronizeRequest(m.args[2] ?? EMPTY_FRAME);
    if (isError(body)) return this.#invalid(m, userId, body);
    const changed = this.#index.replace(identityKey(m.sender), synchronizeWanted(body));
    if (changed.has('all')) this.#advertise();
    if (changed.size > 0) this.#persistence?.changed();
    this.#persistence?.seen(m.sender);
  }

  #authUpdate(m: RoutedMessage, userId: string): void {
    if (!this.#fromAuth(m, userId, 'auth_update')) return;
    const body = parseAuthUpdate(m.args[1] ?? EMPTY_FRAME);
    if (isError(body)) return this.#invalid(m, userId, body);
    this.#capabilities = body.capabilities;
  }

  #protectedUpdate(m: RoutedMessage, userId: string): void {
    if (!this.#fromAuth(m, userId, 'protected_update')) return;
    const body = parseProtectedUpdate(m.args[1] ?? EMPTY_FRAME);
    if (isError(body)) return this.#invalid(m, userId, body);
    const topics = ProtectedTopics.parse(body, 'pubsub.protected_update');
    if (!(topics instanceof ProtectedTopics)) return this.#invalid(m, userId, topics.message);
    this.#protected = topics;
  }

  #externalList(m: RoutedMessage, userId: string): void {
    if (!this.#fromPlatformLink(m, userId, 'external_list')) return;
    const body = parseExternalList(m.args[1] ?? EMPTY_FRAME);
    if (isError(body)) return this.#invalid(m, userId, body);
    for (const [instance, prefixes] of Object.entries(body)) {
      if (instance === this.#svc().instanceName) {
        this.#logger.warn('pubsub.external_list.own_instance', { instance });
        continue;
      }
      this.#remote.advertised(instance, prefixes);
    }
    this.#reply(m, userId, REQUEST_RESPONSE, TRUE);
  }

  #externalPublish(m: RoutedMessage, userId: string): void {
    if (!this.#fromPlatformLink(m, userId, 'external_publish')) return;
    const topic = m.args[1];
    const body = topic === undefined ? undefined : parseDeliveredPublish(m.args[2] ?? EMPTY_FRAME);
    if (topic === undefined || body === undefined || isError(body)) {
      this.#stats.rejected.invalid++;
      return; // VOLTTRON sends nothing back to a remote platform either
    }
    // VOLTTRON checks the user frame the remote router wrote (docs/protocol.md 6.4); here that user
    // is qualified by the platform the link proved (ExternalPlatforms.publisherUser, default the
    // link's own user): a remote platform names its publishers, never this platform's users.
    if (!this.#authorized(m, this.#remote.publisherUser(userId, m.user), topic, undefined)) return;
    this.#stats.published++;
    const payload = deliveryPayload(body.sender, body);
    const subscribers = this.#index.match(body.bus, topic);
    const args = [OP_PUBLISH, topic, payload];
    this.#persistence?.hold(subscribers, body.bus, topic, m.sender, m.user, m.id, args);
    this.#fanOut.publish(subscribers, m.sender, m.user, m.id, args);
  }

  // ---- helpers -------------------------------------------------------------------------------

  /**
   * `request_response True` to a subscribe/unsubscribe: with persistence, once the changed table
   * is on disk (an acknowledged subscription survives kill -9); the sender is then back if it was
   * a restored subscriber.
   */
  #replyWhenSaved(m: RoutedMessage, userId: string): void {
    const p = this.#persistence;
    if (!p) return this.#reply(m, userId, REQUEST_RESPONSE, TRUE);
    p.changed();
    p.afterSave(() => {
      if (!this.#closed) this.#reply(m, userId, REQUEST_RESPONSE, TRUE);
    });
    p.seen(m.sender);
  }

  /** Forget every subscription of `peer` (re-advertising `all` prefixes when it had some). */
  #dropSubscriptions(key: string): void {
    const had = this.#index.subscriptionsOf(key).some((s) => s.platform === 'all');
    if (this.#index.dropPeer(key) > 0) this.#persistence?.changed();
    if (had) this.#advertise();
  }

  /** Protected-topic check; on refusal tells the publisher (when there is one to tell) and returns false. */
  #authorized(m: RoutedMessage, user: string, topic: Frame, replyUser: string | undefined): boolean {
    if (this.#protected.size === 0) return true;
    const refused = this.#protected.check(topic.toString('utf8'), user, this.#capabilities);
    if (!refused) return true;
    this.#stats.rejected.unauthorized++;
    if (replyUser !== undefined) {
      this.#replyError(m, replyUser, refused.errnum, refused.message);
      this.#reply(m, replyUser, REQUEST_RESPONSE, encodeCountFrame(0));
    }
    return false;
  }

  /**
   * Platform-level operations come only from an authenticated link to another platform (its
   * proven user, `RouterServices.isPlatformLink`): a local agent could otherwise publish on any
   * topic in any sender's name, or plant remote prefixes. Refused with error 13, counted.
   */
  #fromPlatformLink(m: RoutedMessage, userId: string, op: string): boolean {
    if (this.#svc().isPlatformLink(userId)) return true;
    this.#stats.rejected.not_platform_link++;
    this.#replyError(
      m,
      userId,
      PUBSUB_ERRORS.forbidden.errnum,
      `${PUBSUB_ERRORS.forbidden.text}: pubsub ${op} is accepted only from a platform link`,
    );
    return false;
  }

  #fromAuth(m: RoutedMessage, userId: string, op: string): boolean {
    if (userId === this.#authIdentity) return true;
    this.#stats.rejected.forbidden++;
    this.#replyError(
      m,
      userId,
      PUBSUB_ERRORS.forbidden.errnum,
      `${PUBSUB_ERRORS.forbidden.text}: pubsub ${op} is accepted only from ${JSON.stringify(this.#authIdentity)}`,
    );
    return false;
  }

  #countFrame(count: number): Frame {
    const small = SMALL_COUNTS[count];
    if (small !== undefined) return small; // below 0x80: already Python-safe
    if (!this.#pythonSafeCounts) return encodeCountFrame(Math.min(count, 0xffffffff));
    const safe = pythonSafeCount(count);
    if (safe !== count) this.#stats.countsClamped++;
    return encodeCountFrame(safe);
  }

  #invalid(m: RoutedMessage, userId: string, err: InvalidPayloadError | string): void {
    this.#stats.rejected.invalid++;
    const detail = typeof err === 'string' ? err : err.message;
    this.#replyError(m, userId, PUBSUB_ERRORS.invalid.errnum, `${PUBSUB_ERRORS.invalid.text}: ${detail}`);
  }

  /** `[S, '', VIP1, user, M, 'pubsub', kind, value]` (docs/protocol.md 3.1). */
  #reply(m: RoutedMessage, userId: string, kind: Frame, value: Frame): void {
    this.#fanOut.reply(m.sender, this.#userFrames.get(userId), m.id, PUBSUB, [kind, value]);
  }

  /** `[S, '', VIP1, user, M, 'error', errnum, text, '', 'pubsub']` (docs/protocol.md 3.7). */
  #replyError(m: RoutedMessage, userId: string, errnum: number, text: string): void {
    this.#fanOut.reply(m.sender, this.#userFrames.get(userId), m.id, ERROR, [
      textFrame(String(errnum)),
      textFrame(text),
      EMPTY_FRAME,
      PUBSUB,
    ]);
  }

  /** Send our `all` prefixes to the given (default: every connected) remote platform. */
  #advertise(instances?: readonly string[]): void {
    if (this.#services) this.#remote.advertise(this.#services.instanceName, () => this.#index.prefixes('all'), instances);
  }

  /**
   * A delivery to `peer` came back unreachable. The router drops a peer it knows before such a
   * delivery resolves, and our `peerDropped` ran then (once: RouterServices.deliver); a subscriber it
   * does not know (restored from the subscription file and not back) is forgotten here.
   */
  #unreachable(peer: string): void {
    if (this.#index.hasPeer(peer)) this.peerDropped(frameFromKey(peer));
  }

  #svc(): RouterServices {
    if (!this.#services) throw new ClosedError('PubSubService (not attached to a router)');
    return this.#services;
  }
}

function keysOf(value: unknown): string[] | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : undefined;
}

function isError(x: unknown): x is InvalidPayloadError {
  return x instanceof Error;
}
