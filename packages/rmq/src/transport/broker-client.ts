import type { Channel, ConfirmChannel, Message } from 'amqplib';
import { ClosedError, ProtocolError, silentLogger, TransportError, type ConnectionStatus, type Logger } from '@vip/protocol';
import type { AmqpPublish } from './amqp-mapping.js';
import { BrokerLink } from './broker-link.js';
import type { LinkSession } from './link-session.js';
import { declareVolttronTopology } from './topology.js';
import { DeferredAcks, waitForDrain } from './channel-tools.js';
import { TopicWriteRefusedError, topicWriteRefusal, type TopicWriteRefusal } from './publish-refusal.js';
import type { RmqLinkOptions } from './rmq-options.js';
import { verifyPublisherUserId } from './sender-identity.js';
import { StatusListeners } from './status-listeners.js';

/** How long an ack may wait for more deliveries to share it (DeferredAcks). */
const ACK_DELAY_MS = 20;
/**
 * A confirm channel younger than this is not replaced after a nack: a node that just died may
 * still be named as a quorum queue's leader for a moment, and a channel every few hundred ms is
 * plenty for a publisher retrying (a nack for a reason a new channel cannot cure costs no more).
 */
const CONFIRM_RENEW_MIN_AGE_MS = 500;

/** amqplib rejects a confirm with this message for a basic.nack (and 'channel closed' for a lost channel). */
function isNack(err: unknown): boolean {
  return err instanceof Error && err.message === 'message nacked';
}

/**
 * What an agent-side broker client (RmqConnection, RmqPubSub) shares: one reconnecting link, one
 * channel per session whose unexpected close restarts the link, status listeners, `open`/`close`,
 * and publishing that rejects with TransportError while disconnected (nothing is queued). A
 * subclass whose `usesConfirms()` is true also gets a confirm channel per session, for
 * `publishConfirmed` (resolves once the broker has the message). A topic write RabbitMQ refuses
 * (topic permissions: it closes the confirm channel) rejects that publish with
 * TopicWriteRefusedError and opens a new confirm channel on the same connection: the link, its
 * other channel and consumers are untouched. A nack replaces the confirm channel too (renewal,
 * below): later publishes go out on a fresh channel, whose queue state the broker builds anew.
 */
export abstract class BrokerClient {
  protected readonly options: RmqLinkOptions;
  protected readonly log: Logger;
  readonly #what: string;
  readonly #declare: boolean;
  readonly #link: BrokerLink;
  readonly #status = new StatusListeners();
  readonly #acks: DeferredAcks;
  #channel: Channel | undefined;
  #confirm: ConfirmChannel | undefined;
  #session: LinkSession | undefined;
  /** A new confirm channel being opened after a refused topic write closed the last one. */
  #reopening: Promise<void> | undefined;
  /** Confirm channels closed by a topic-write refusal: what the broker refused. */
  readonly #refusals = new WeakMap<Channel, TopicWriteRefusal>();
  /** Per channel, one wait for 'drain' shared by every publish that found its buffer full. */
  readonly #drains = new WeakMap<Channel, Promise<void>>();
  #opened?: Promise<void>;
  /** The user_id this client sets (publisherUserId), verified with the broker at the first connect. */
  readonly #userId: string | undefined;
  #userIdVerified = false;
  #closing = false;
  #rejected = 0;
  #unconfirmed = 0;
  #refused = 0;
  #confirmReopens = 0;
  #confirmRenewals = 0;
  /** When the current confirm channel was opened (renewal waits CONFIRM_RENEW_MIN_AGE_MS). */
  #confirmSince = 0;
  /** Per confirm channel, publishes written and not yet confirmed or nacked. */
  readonly #inflight = new WeakMap<Channel, number>();
  /** Confirm channels replaced after a nack: closed once their last publish is settled. */
  readonly #retired = new WeakSet<Channel>();

  protected constructor(
    options: RmqLinkOptions,
    what: string,
    connectionName: string,
    declareTopology: boolean,
    logger: Logger | undefined,
    userId?: string,
  ) {
    this.options = options;
    this.#userId = userId;
    this.#what = what;
    this.#declare = declareTopology;
    this.log = logger ?? silentLogger;
    this.#acks = new DeferredAcks({ threshold: Math.floor(options.prefetch / 2), delayMs: ACK_DELAY_MS }, (err) =>
      this.log.debug('rmq.ack.failed', {}, err),
    );
    this.#link = new BrokerLink(
      options,
      connectionName,
      {
        setup: (session) => this.#setup(session),
        down: () => {
          this.#channel = undefined;
          this.#confirm = undefined;
          this.#session = undefined;
          this.#reopening = undefined;
          this.sessionDown();
        },
        status: (s) => this.#status.emit(s),
      },
      this.log,
    );
  }

  /** Declare queues, bindings and consumers on a fresh session's channel. */
  protected abstract declare(ch: Channel): Promise<void>;
  /** The session ended: drop per-session state (consumer tags...). */
  protected sessionDown(): void {}
  /** Open a confirm channel per session, for publishConfirmed. */
  protected usesConfirms(): boolean {
    return false;
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    return this.#status.add(listener);
  }

  /**
   * True once a session is up (at once when it is), false after `timeoutMs` or when closed: for
   * a caller that learnt from elsewhere that the broker is back (an agent re-welcomed on its other
   * connection) and should not act before this link has reconnected too.
   */
  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.#channel) return Promise.resolve(true);
    if (this.#closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (up: boolean): void => {
        clearTimeout(timer);
        off();
        resolve(up);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const off = this.onStatus((s) => {
        if (s.type === 'connected') done(true);
        else if (s.type === 'closed') done(false);
      });
    });
  }

  open(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError(this.#what));
    return (this.#opened ??= this.#link.open());
  }

  close(): Promise<void> {
    this.#closing = true;
    this.#acks.flush(); // before the channels close: a durable queue would redeliver unacked messages
    return this.#link.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  protected get channel(): Channel | undefined {
    return this.#channel;
  }
  protected get reconnects(): number {
    return this.#link.reconnects;
  }
  /** Sends refused because the link was down. */
  protected get rejectedWhileDisconnected(): number {
    return this.#rejected;
  }

  /** Confirmed publishes the broker nacked, or whose channel was lost before the confirm. */
  protected get unconfirmed(): number {
    return this.#unconfirmed;
  }

  /** Confirmed publishes RabbitMQ refused by topic permissions (TopicWriteRefusedError). */
  protected get refused(): number {
    return this.#refused;
  }

  /** Confirm channels opened again after a refused topic write closed one. */
  protected get confirmReopens(): number {
    return this.#confirmReopens;
  }

  /** Confirm channels replaced by a fresh one after the broker nacked a publish (see #renewAfterNack). */
  protected get confirmRenewals(): number {
    return this.#confirmRenewals;
  }

  protected checkOpen(): void {
    if (this.#closing) throw new ClosedError(this.#what);
  }

  /**
   * Publish on the current channel; TransportError while disconnected, ProtocolError above
   * maxMessageBytes; waits for drain when the buffer is full.
   */
  protected async publishAmqp(p: AmqpPublish, what: string): Promise<void> {
    const ch = this.#sendable(this.#channel, p, what);
    if (!this.#write(ch, p, what)) await this.#drained(ch);
  }

  /**
   * As publishAmqp, on the confirm channel (`usesConfirms`): resolves once the broker confirmed
   * the message (routed to every matching queue); a nack or a channel lost first rejects with
   * TransportError (counted in `unconfirmed`), except the publish whose routing key RabbitMQ
   * refused by topic permissions: TopicWriteRefusedError (counted in `refused`). Publishes are
   * pipelined: many may await confirms. `written` runs once the message is written, before the confirm.
   * A nack also renews the confirm channel (#renewAfterNack): the next publishes go out on a fresh one.
   */
  protected async publishConfirmed(p: AmqpPublish, what: string, written?: () => void): Promise<void> {
    if (!this.#confirm && this.#reopening) await this.#reopening;
    const ch = this.#sendable(this.#confirm, p, what);
    let settle: (err: unknown) => void = () => {};
    const confirmed = new Promise<void>((resolve, reject) => {
      settle = (err) => {
        this.#settled(ch);
        if (!err) return resolve();
        if (isNack(err)) this.#renewAfterNack(ch as ConfirmChannel);
        const refusal = this.#refusals.get(ch);
        if (refusal && refusal.routingKey === p.routingKey && refusal.exchange === p.exchange) {
          this.#refused += 1;
          return reject(new TopicWriteRefusedError(what, refusal, { cause: err }));
        }
        this.#unconfirmed += 1;
        const why = err instanceof Error ? err.message : String(err);
        reject(
          new TransportError(`${this.#what}: the broker did not confirm ${what} (${why}); it may not have been delivered`, { cause: err }),
        );
      };
    });
    // a publish that throws never calls back: `confirmed` stays pending, unobserved
    this.#inflight.set(ch, (this.#inflight.get(ch) ?? 0) + 1);
    let ok: boolean;
    try {
      ok = this.#write(ch, p, what, settle);
    } catch (err) {
      this.#settled(ch);
      throw err;
    }
    written?.();
    if (ok) return confirmed;
    await Promise.all([confirmed, this.#drained(ch)]);
  }

  #sendable<C extends Channel>(ch: C | undefined, p: AmqpPublish, what: string): C {
    this.checkOpen();
    if (!ch) {
      this.#rejected += 1;
      throw new TransportError(`${this.#what} is not connected to the broker (reconnecting); ${what} not sent`);
    }
    if (p.content.length > this.options.maxMessageBytes) {
      throw new ProtocolError(`${what} of ${p.content.length} bytes exceeds maxMessageBytes (${this.options.maxMessageBytes})`);
    }
    return ch;
  }

  /** Write `p` on `ch`; false when the buffer is full. */
  #write(ch: Channel, p: AmqpPublish, what: string, confirmed?: (err: unknown) => void): boolean {
    try {
      return confirmed
        ? (ch as ConfirmChannel).publish(p.exchange, p.routingKey, p.content, p.properties, confirmed)
        : ch.publish(p.exchange, p.routingKey, p.content, p.properties);
    } catch (err) {
      throw new TransportError(`${this.#what}: publishing ${what} failed`, { cause: err });
    }
  }

  /** A publish on confirm channel `ch` is settled (or was never written): a retired channel closes after its last. */
  #settled(ch: Channel): void {
    const left = Math.max(0, (this.#inflight.get(ch) ?? 0) - 1);
    this.#inflight.set(ch, left);
    if (left === 0 && this.#retired.has(ch)) this.#closeRetired(ch);
  }

  #closeRetired(ch: Channel): void {
    this.#retired.delete(ch); // closed once
    ch.close().catch((err: unknown) => this.log.debug('rmq.confirm.retire-failed', {}, err));
  }

  /**
   * The broker nacked a publish on the current confirm channel `ch`: later publishes go out on a
   * fresh confirm channel of the same connection, `ch` closes once its pending confirms are in.
   * Why: RabbitMQ (3.10) builds a channel's client state for a quorum queue at the channel's first
   * publish to it, from the queue's record; when that record still names a leader that has just
   * died (a node killed; the record is updated a moment after the election), every publish on
   * that channel is nacked until the dead node is back, although the queue has a live leader. A
   * fresh channel reads the record again. Not more than once per CONFIRM_RENEW_MIN_AGE_MS.
   */
  #renewAfterNack(ch: ConfirmChannel): void {
    const session = this.#session;
    if (ch !== this.#confirm || !session || this.#closing || this.#reopening) return;
    if (Date.now() - this.#confirmSince < CONFIRM_RENEW_MIN_AGE_MS) return;
    this.#confirm = undefined; // publishes wait for the new channel (#reopening)
    this.#confirmRenewals += 1;
    this.#retired.add(ch);
    if ((this.#inflight.get(ch) ?? 0) === 0) this.#closeRetired(ch);
    this.#reopenConfirm(session, 'renewal');
  }

  #drained(ch: Channel): Promise<void> {
    let wait = this.#drains.get(ch);
    if (!wait) {
      wait = waitForDrain(ch).finally(() => this.#drains.delete(ch));
      this.#drains.set(ch, wait);
    }
    return wait;
  }

  /** Drop the session of `ch` (a consumer was cancelled by the broker); the link reconnects. */
  protected restart(reason: string, ch: Channel): void {
    if (ch === this.#channel) this.#link.restart(reason);
  }

  /** Ack after the handler ran (deferred and batched, DeferredAcks; `defer` false for a durable queue). */
  protected ack(ch: Channel, msg: Message, defer = true): void {
    this.#acks.ack(ch, msg, defer);
  }

  async #setup(session: LinkSession): Promise<void> {
    if (this.#userId !== undefined && !this.#userIdVerified) {
      // once: the broker user cannot change between reconnects, and a refusal must fail open(), not loop
      await verifyPublisherUserId(session, this.#userId, this.options, this.log);
      this.#userIdVerified = true;
    }
    const ch = this.#restartOnClose(await session.createChannel());
    if (this.#declare) await declareVolttronTopology(ch, this.options.vhost);
    await ch.prefetch(this.options.prefetch);
    await this.declare(ch);
    const confirm = this.usesConfirms() ? this.#watchConfirm(await session.createConfirmChannel()) : undefined;
    this.#channel = ch;
    this.#confirm = confirm;
    this.#confirmSince = Date.now();
    this.#session = session;
  }

  /**
   * The confirm channel: a close caused by a refused topic write (403 on a publish: RabbitMQ
   * closes the channel; amqplib emits 'error' before 'close', and rejects the channel's pending
   * confirms between the two) opens a new confirm channel on the same connection; any other
   * unexpected close restarts the link.
   */
  #watchConfirm(ch: ConfirmChannel): ConfirmChannel {
    ch.on('error', (err: Error) => {
      const refusal = topicWriteRefusal(err);
      if (refusal) this.#refusals.set(ch, refusal);
      else this.log.debug('rmq.channel.error', {}, err);
    });
    ch.on('close', () => {
      if (this.#confirm !== ch) return;
      this.#confirm = undefined;
      const session = this.#session;
      if (!this.#refusals.has(ch)) this.#link.restart('channel closed');
      else if (session && !this.#closing) this.#reopenConfirm(session, 'refusal');
    });
    return ch;
  }

  #reopenConfirm(session: LinkSession, why: 'refusal' | 'renewal'): void {
    const reopening: Promise<void> = this.#openConfirm(session, why).finally(() => {
      if (this.#reopening === reopening) this.#reopening = undefined;
    });
    this.#reopening = reopening;
  }

  async #openConfirm(session: LinkSession, why: 'refusal' | 'renewal'): Promise<void> {
    try {
      const ch = this.#watchConfirm(await session.createConfirmChannel());
      if (this.#session === session) {
        this.#confirm = ch;
        this.#confirmSince = Date.now();
        if (why === 'refusal') this.#confirmReopens += 1;
      }
    } catch (err) {
      this.log.warn('rmq.confirm.reopen-failed', {}, err);
      if (this.#session === session) this.#link.restart('confirm channel not reopened');
    }
  }

  /** A channel of the current session closing unexpectedly restarts the link. */
  #restartOnClose<C extends Channel>(ch: C): C {
    ch.on('error', (err: Error) => this.log.debug('rmq.channel.error', {}, err));
    ch.on('close', () => {
      if (this.#channel === ch) this.#link.restart('channel closed');
    });
    return ch;
  }
}
