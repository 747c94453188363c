import {
  decodeCountOrBool,
  frameText,
  identityKey,
  InvalidPayloadError,
  jsonFrame,
  parseDeliveredPublish,
  parseListResponse,
  PUBLISH_COMPAT_HEADERS,
  pythonJson,
  pythonString,
  type VipMessage,
  type WireError,
} from '@vip/protocol';
import type { AgentCore, Subsystem } from '../subsystem.js';
import { LocalSubscriptions, type PubSubCallback, type PubSubPlatform } from './local-subscriptions.js';
import { PublishOutbox, type PublishOutboxOptions } from './publish-outbox.js';

export type { PubSubCallback, PubSubPlatform };

export interface SubscribeOptions {
  readonly bus?: string;
  /** Also receive matching publishes from connected remote platforms (VOLTTRON `all_platforms`). */
  readonly allPlatforms?: boolean;
}

export interface UnsubscribeOptions {
  readonly bus?: string;
  readonly allPlatforms?: boolean;
}

export interface PublishOptions {
  readonly headers?: Readonly<Record<string, unknown>>;
  readonly message?: unknown;
  readonly bus?: string;
}

export interface ListOptions {
  readonly prefix?: string;
  /** null = every bus. */
  readonly bus?: string | null;
  /** Only prefixes this agent holds (default true). */
  readonly subscribed?: boolean;
  /** Stored prefixes that are prefixes of `prefix` instead of those starting with it. */
  readonly reverse?: boolean;
  readonly allPlatforms?: boolean;
}

/** One `list` row: `[bus, prefix, thisAgentIsSubscribed]`. */
export type ListRow = readonly [bus: string, prefix: string, member: boolean];

export interface PubSubSubsystemOptions {
  /** Timeout of subscribe/unsubscribe/publish/list replies; default the agent's request timeout. */
  readonly timeoutMs?: number;
  /** `publishNoWait` resolves while fewer of its publishes than this await their ack. Default 1000. */
  readonly noWaitWindow?: number;
  /** Publishes made while disconnected are kept (bounded) and sent after the next welcome; see PublishOutbox. */
  readonly outbox?: PublishOutboxOptions;
}

/** Unacknowledged `publishNoWait` ids remembered at most; older ones are forgotten (counted `acks_missing`). */
const MAX_UNACKED = 65_536;

/** `"headers": ...` of a publish without headers of its own (the compatibility headers only), rendered once. */
const COMPAT_HEADERS_TEXT = pythonJson(PUBLISH_COMPAT_HEADERS);

/**
 * The agent's `pubsub` subsystem (docs/protocol.md 3), speaking to the router's PubSubService like a
 * VOLTTRON 9 agent: callbacks `(peer, sender, bus, topic, headers, message)`, several callbacks
 * for overlapping prefixes, `synchronize` after every (re)connection and when a delivery matches
 * nothing, publish headers carrying `min_compatible_version`/`max_compatible_version`.
 */
export class PubSubSubsystem implements Subsystem {
  readonly name = 'pubsub';
  readonly #core: AgentCore;
  readonly #subs = new LocalSubscriptions();
  readonly #timeoutMs: number | undefined;
  readonly #noWaitWindow: number;
  readonly #outbox: PublishOutbox;
  /** Message ids of `publishNoWait` publishes whose ack has not come back (insertion order = age). */
  readonly #unacked = new Set<string>();
  /** Resolves the `publishNoWait` callers waiting for the window to open. */
  #drain: { readonly promise: Promise<void>; readonly resolve: () => void } | undefined;
  #acked = 0;
  #acksMissing = 0;
  #errors = 0;
  #resync: Promise<void> | undefined;
  #received = 0;
  #unmatched = 0;
  #callbackErrors = 0;
  #invalid = 0;
  /** `publish` deliveries sent by a peer instead of the router: dropped. */
  #forged = 0;

  constructor(core: AgentCore, options: PubSubSubsystemOptions = {}) {
    this.#core = core;
    this.#timeoutMs = options.timeoutMs;
    this.#noWaitWindow = Math.max(1, options.noWaitWindow ?? 1000);
    this.#outbox = new PublishOutbox(core, options.timeoutMs, options.outbox);
    core.providePublisher({ publish: (topic, headers, message) => this.publish(topic, { headers, message }) });
  }

  /** Register `callback` for topics starting with `prefix` (or each of several prefixes); resolves when the router confirmed. */
  async subscribe(prefix: string | readonly string[], callback: PubSubCallback, options: SubscribeOptions = {}): Promise<void> {
    const bus = options.bus ?? '';
    const allPlatforms = options.allPlatforms ?? false;
    const prefixes = typeof prefix === 'string' ? [prefix] : [...prefix];
    for (const p of prefixes) this.#subs.add(allPlatforms ? 'all' : 'internal', bus, p, callback);
    await this.#request('subscribe', [
      jsonFrame({ prefix: typeof prefix === 'string' ? prefix : prefixes, bus, all_platforms: allPlatforms }),
    ]);
  }

  /**
   * Remove `callback` (or every callback when omitted) from `prefix` (or from every prefix of the
   * bus when omitted); the router forgets the prefixes left without callbacks.
   */
  async unsubscribe(
    prefix?: string | readonly string[] | null,
    callback?: PubSubCallback | null,
    options: UnsubscribeOptions = {},
  ): Promise<void> {
    const bus = options.bus ?? '';
    const platform: PubSubPlatform = options.allPlatforms ? 'all' : 'internal';
    const asked = prefix === undefined || prefix === null ? null : typeof prefix === 'string' ? [prefix] : [...prefix];
    const dropped = this.#subs.remove(platform, bus, asked, callback ?? undefined);
    if (dropped.length === 0 && asked === null) return;
    // Prefixes named explicitly are always sent: harmless when unknown (as VOLTTRON), and heals a drift.
    const toRouter = asked === null ? dropped : [...new Set([...dropped, ...asked.filter((p) => !this.#subs.has(platform, bus, p))])];
    await this.#request('unsubscribe', [jsonFrame({ [platform]: { prefix: toRouter, bus } })]);
  }

  /**
   * Publish; resolves to the number of subscribers the router delivered to (or holds it for, after
   * a platform restart). Made while disconnected, it waits in the outbox for the next welcome. It
   * rejects when the platform did not confirm it: PublishNotConfirmedError (the connection went
   * first; it may or may not have been delivered), TimeoutError, PublishQueueFullError (never sent).
   */
  async publish(topic: string, options: PublishOptions = {}): Promise<number> {
    const result = await this.#outbox.publish(topic, publishBody(options));
    return typeof result === 'number' ? result : result ? 1 : 0;
  }

  /**
   * Publish without waiting for the router's ack (high-rate publishers). Resolves once the message
   * is handed to the connection and fewer than `noWaitWindow` such publishes await their ack, so
   * a loop awaiting it is paced by the router; a caller may also ignore it (it never rejects for
   * a late ack). Unlike `publish`, no reply promise and no timer per message: the ack is matched
   * by message id against a set of unacknowledged ids and counted (`stats().acked`); error replies
   * (EAGAIN for a subscriber that could not keep up, a protected topic) are counted as `errors`.
   * Ids still unacknowledged at a disconnect are forgotten and counted as `acks_missing`.
   * A subclass that publishes elsewhere (RabbitMQ) and overrides `publish` gets its own `publish`,
   * not awaited.
   */
  async publishNoWait(topic: string, options: PublishOptions = {}): Promise<void> {
    if (this.publish !== PubSubSubsystem.prototype.publish) {
      this.publish(topic, options).catch((err: unknown) => this.#publishFailed(err));
      return;
    }
    const body = publishBody(options);
    await this.#outbox.whenConnected(topic, body.length, () => this.#sendNoWait(topic, body));
    while (this.#unacked.size >= this.#noWaitWindow) await this.#drained();
  }

  /** The router's subscription table (docs/protocol.md 3.5). */
  async list(options: ListOptions = {}): Promise<ListRow[]> {
    const body = jsonFrame({
      prefix: options.prefix ?? '',
      all_platforms: options.allPlatforms ?? false,
      subscribed: options.subscribed ?? true,
      reverse: options.reverse ?? false,
      bus: options.bus === undefined ? '' : options.bus,
    });
    return (await this.#request('list', [body])) as ListRow[];
  }

  /** Send our whole subscription set (after a reconnect; also when a delivery matched nothing). */
  async synchronize(): Promise<void> {
    await this.#core.send({
      peer: '',
      subsystem: 'pubsub',
      id: this.#core.nextId(),
      args: ['synchronize', 'connected', jsonFrame({ subscriptions: this.#subs.snapshot() })],
    });
  }

  stats(): Record<string, number> {
    return {
      received: this.#received,
      unmatched: this.#unmatched,
      callback_errors: this.#callbackErrors,
      invalid: this.#invalid,
      forged: this.#forged,
      acked: this.#acked,
      unacked: this.#unacked.size,
      acks_missing: this.#acksMissing,
      errors: this.#errors,
      ...this.#outbox.stats(),
    };
  }

  async onConnected(): Promise<void> {
    try {
      await this.synchronize(); // always: the router may hold a stale set for this identity
    } finally {
      this.#outbox.connected(); // publishes kept while away go out after it, in order
    }
  }

  onDisconnected(): void {
    this.#forget(this.#unacked.size); // the router will not ack what it may never have seen
    this.#outbox.disconnected();
  }

  close(): void | Promise<void> {
    this.#outbox.close();
  }

  handleError(error: WireError): void {
    this.#errors++;
    this.#core.logger.debug('pubsub.error.reply', { errnum: error.errnum });
  }

  handle(message: VipMessage): void {
    const op = message.args[0] ? frameText(message.args[0]) : '';
    if (op === 'publish') {
      // deliveries come from the router's pubsub only (empty sender); a peer can write any
      // `sender`, topic or message in one, so a peer's would be a forgery (counted, dropped)
      if (message.peer.length > 0) {
        this.#forged++;
        return;
      }
      return this.#deliver(message);
    }
    if ((op === 'request_response' || op === 'list_response') && message.peer.length > 0) {
      this.#invalid++; // replies come from the router only; a peer's would be a forgery
      return;
    }
    if (op === 'request_response') {
      if (this.#unacked.size > 0 && this.#unacked.delete(identityKey(message.id))) {
        this.#acked++;
        if (this.#unacked.size < this.#noWaitWindow) this.#wake();
        return;
      }
      const value = message.args[1]
        ? decodeCountOrBool(message.args[1])
        : new InvalidPayloadError('pubsub request_response', 'missing value');
      if (value instanceof InvalidPayloadError) this.#core.fail(message.id, value, message.peer);
      else this.#core.settle(message.id, value, message.peer);
      return;
    }
    if (op === 'list_response') {
      const rows = parseListResponse(message.args[1]);
      if (rows instanceof InvalidPayloadError) this.#core.fail(message.id, rows, message.peer);
      else this.#core.settle(message.id, rows, message.peer);
      return;
    }
    this.#invalid++;
  }

  #deliver(message: VipMessage): void {
    const topicFrame = message.args[1];
    const body = topicFrame === undefined ? undefined : parseDeliveredPublish(message.args[2]);
    if (topicFrame === undefined || body === undefined || body instanceof InvalidPayloadError) {
      this.#invalid++;
      return;
    }
    this.#received++;
    const topic = frameText(topicFrame);
    const callbacks = this.#subs.match(body.bus, topic);
    if (callbacks.length === 0) {
      this.#unmatched++;
      this.#resynchronize();
      return;
    }
    for (const cb of callbacks) {
      try {
        const r: unknown = cb('pubsub', body.sender, body.bus, topic, body.headers, body.message);
        if (r instanceof Promise) r.catch((err: unknown) => this.#callbackFailed(topic, err));
      } catch (err) {
        this.#callbackFailed(topic, err);
      }
    }
  }

  /** Waits until an ack (or a disconnect) opens the `publishNoWait` window; one promise shared by every waiter. */
  #drained(): Promise<void> {
    if (!this.#drain) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#drain = { promise, resolve };
    }
    return this.#drain.promise;
  }

  #wake(): void {
    const d = this.#drain;
    this.#drain = undefined;
    d?.resolve();
  }

  /** Forget the `n` oldest unacknowledged ids (their acks will not be counted). */
  #forget(n: number): void {
    for (const id of this.#unacked) {
      if (n-- <= 0) break;
      this.#unacked.delete(id);
      this.#acksMissing++;
    }
    this.#wake();
  }

  #sendNoWait(topic: string, body: Buffer): Promise<void> {
    const id = this.#core.nextId();
    this.#unacked.add(id);
    if (this.#unacked.size > MAX_UNACKED) this.#forget(1);
    return this.#core.send({ peer: '', subsystem: 'pubsub', id, args: ['publish', topic, body] }).catch((err: unknown) => {
      this.#unacked.delete(id);
      throw err;
    });
  }

  #publishFailed(err: unknown): void {
    this.#errors++;
    this.#core.logger.debug('pubsub.publish.failed', {}, err);
  }

  #callbackFailed(topic: string, err: unknown): void {
    this.#callbackErrors++;
    this.#core.logger.warn('pubsub.callback.failed', { topic }, err);
  }

  /** One synchronize in flight at most: a burst of stray deliveries sends one. */
  #resynchronize(): void {
    if (this.#resync || !this.#core.connected) return;
    this.#resync = this.synchronize()
      .catch((err: unknown) => this.#core.logger.debug('pubsub.synchronize.failed', {}, err))
      .finally(() => (this.#resync = undefined));
  }

  #request(op: string, args: ReadonlyArray<string | Buffer>): Promise<unknown> {
    return this.#core.request<unknown>(
      { peer: '', subsystem: 'pubsub', args: [op, ...args] },
      { operation: `pubsub ${op}`, ...(this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs }) },
    );
  }
}

/**
 * The body of a publish as a Python agent writes it: the caller's headers plus the compatibility
 * headers, `json.dumps` text. Without headers of its own (the usual case) the text is put together
 * from the pre-rendered headers, with the same bytes as rendering the whole object.
 */
function publishBody(options: PublishOptions): Buffer {
  const bus = options.bus ?? '';
  const message = options.message === undefined ? null : options.message;
  if (options.headers === undefined) {
    return Buffer.from(`{"bus": ${pythonString(bus)}, "headers": ${COMPAT_HEADERS_TEXT}, "message": ${pythonJson(message)}}`, 'latin1');
  }
  return jsonFrame({ bus, headers: { ...options.headers, ...PUBLISH_COMPAT_HEADERS }, message });
}
