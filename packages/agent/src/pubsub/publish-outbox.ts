import { ClosedError } from '@vip/protocol';
import { PublishNotConfirmedError, PublishQueueFullError } from '../errors.js';
import type { AgentCore } from '../subsystem.js';

export interface PublishOutboxOptions {
  /** Publishes kept while disconnected, at most (default 10 000). */
  readonly maxMessages?: number;
  /** Bytes of topic and body kept while disconnected, at most (default 16 MiB). */
  readonly maxBytes?: number;
}

interface Queued {
  readonly topic: string;
  readonly bytes: number;
  /** Sends it; undefined once sent or given up (its reply settled first: timeout, stop). */
  run: (() => void) | undefined;
  /** Fails a queued `publishNoWait` caller (a `publish` fails through its pending reply). */
  readonly cancel?: (err: Error) => void;
}

/** The fixed share of a queued publish beside its topic and body (object, closures, pending entry). */
const ENTRY_OVERHEAD = 200;

/**
 * What becomes of the publishes of an agent whose connection to the platform goes and comes:
 *
 * - sent while connected and not answered when the connection goes: rejected at once with
 *   PublishNotConfirmedError (no reply can come for them on the next connection; they may or may
 *   not have been delivered);
 * - made while disconnected: kept here, in order, bounded in count and bytes (beyond that
 *   rejected at once with PublishQueueFullError), and sent after the next welcome, once the
 *   agent's `synchronize` is out; one whose timeout runs out first is rejected with TimeoutError
 *   and never sent.
 *
 * So every publish ends resolved with the count the platform answered, or rejected: none is
 * resolved without the platform's reply.
 */
export class PublishOutbox {
  readonly #core: AgentCore;
  readonly #timeoutMs: number | undefined;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  /** Publishes sent on the current connection, awaiting their reply: id -> topic. */
  readonly #unconfirmed = new Map<string, string>();
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #queuedCount = 0;
  #offline = false;
  #notConfirmed = 0;
  #queueFull = 0;
  #expired = 0;
  #flushed = 0;

  constructor(core: AgentCore, timeoutMs: number | undefined, options: PublishOutboxOptions = {}) {
    this.#core = core;
    this.#timeoutMs = timeoutMs;
    this.#maxMessages = Math.max(0, options.maxMessages ?? 10_000);
    this.#maxBytes = Math.max(0, options.maxBytes ?? 16 * 1024 * 1024);
  }

  /** True between a disconnect and the next welcome. */
  get offline(): boolean {
    return this.#offline;
  }

  /** Publish `body` on `topic`; resolves with the router's reply value. */
  publish(topic: string, body: Buffer): Promise<unknown> {
    const core = this.#core;
    const id = core.nextId();
    const reply = core.expect<unknown>(id, {
      from: '',
      operation: `pubsub publish to ${JSON.stringify(topic)}`,
      ...(this.#timeoutMs === undefined ? {} : { timeoutMs: this.#timeoutMs }),
    });
    const entry = this.#offline ? this.#enqueue(topic, body, () => this.#send(id, topic, body)) : undefined;
    const settled = (): void => {
      this.#unconfirmed.delete(id);
      if (entry?.run) {
        entry.run = undefined; // its timeout (or the stop) came first: never sent
        this.#release(entry);
        this.#expired++;
      }
    };
    reply.then(settled, settled);
    if (!this.#offline) this.#send(id, topic, body);
    else if (!entry) core.fail(id, new PublishQueueFullError(topic, this.#limitText()));
    return reply;
  }

  /** Run `send` now, or after the next welcome when disconnected (rejects when the outbox is full or the agent stops). */
  whenConnected(topic: string, bytes: number, send: () => Promise<void>): Promise<void> {
    if (!this.#offline) return send();
    return new Promise<void>((resolve, reject) => {
      const entry = this.#enqueue(topic, Buffer.alloc(0), () => void send().then(resolve, reject), reject, bytes);
      if (!entry) reject(new PublishQueueFullError(topic, this.#limitText()));
    });
  }

  /** The connection went: what was sent and not answered will never be answered. */
  disconnected(): void {
    this.#offline = true;
    const unconfirmed = [...this.#unconfirmed];
    this.#unconfirmed.clear();
    for (const [id, topic] of unconfirmed) if (this.#core.fail(id, new PublishNotConfirmedError(topic))) this.#notConfirmed++;
  }

  /** Welcomed again (and synchronized): send what was kept, in order. */
  connected(): void {
    this.#offline = false;
    const queue = this.#queue;
    this.#queue = [];
    for (const entry of queue) {
      const run = entry.run;
      if (!run) continue;
      entry.run = undefined;
      this.#release(entry);
      this.#flushed++;
      run();
    }
  }

  /** The agent stopped: nothing kept is sent (pending publishes were rejected by the stop). */
  close(): void {
    this.#offline = false;
    this.#unconfirmed.clear();
    const queue = this.#queue;
    this.#queue = [];
    for (const entry of queue) {
      if (!entry.run) continue;
      entry.run = undefined;
      this.#release(entry);
      entry.cancel?.(new ClosedError(`agent ${this.#core.identity} (publish to ${JSON.stringify(entry.topic)} kept while disconnected)`));
    }
  }

  stats(): Record<string, number> {
    return {
      outbox: this.#queuedCount,
      outbox_bytes: this.#queuedBytes,
      outbox_flushed: this.#flushed,
      outbox_full: this.#queueFull,
      outbox_expired: this.#expired,
      not_confirmed: this.#notConfirmed,
    };
  }

  #send(id: string, topic: string, body: Buffer): void {
    this.#unconfirmed.set(id, topic);
    this.#core.send({ peer: '', subsystem: 'pubsub', id, args: ['publish', topic, body] }).catch((err: unknown) => {
      this.#core.fail(id, err instanceof Error ? err : new Error(String(err)));
    });
  }

  #enqueue(topic: string, body: Buffer, run: () => void, cancel?: (err: Error) => void, extra = 0): Queued | undefined {
    const bytes = ENTRY_OVERHEAD + Buffer.byteLength(topic) + body.length + extra;
    if (this.#queuedCount >= this.#maxMessages || this.#queuedBytes + bytes > this.#maxBytes) {
      this.#queueFull++;
      return undefined;
    }
    const entry: Queued = { topic, bytes, run, ...(cancel ? { cancel } : {}) };
    // entries given up during a long outage stay behind as empty shells until the next flush: compact them
    if (this.#queue.length > 2 * this.#queuedCount + 1024) this.#queue = this.#queue.filter((e) => e.run !== undefined);
    this.#queue.push(entry);
    this.#queuedCount++;
    this.#queuedBytes += bytes;
    return entry;
  }

  #release(entry: Queued): void {
    this.#queuedCount--;
    this.#queuedBytes -= entry.bytes;
  }

  #limitText(): string {
    return `${this.#maxMessages} messages, ${this.#maxBytes} bytes`;
  }
}
