import type { Writable } from 'node:stream';
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import type { Logger } from '@vip/protocol';

/** How long a close waits for the broker to confirm in-flight publishes of a confirm channel. */
const CONFIRM_WAIT_MS = 2_000;

/**
 * One broker connection's session: the channels opened on it, so that closing is orderly.
 *
 * amqplib writes each channel's frames from its own buffer, round-robin, and a
 * `connection.close` (channel 0) can overtake frames still buffered on another channel; once
 * the broker answers close-ok, amqplib ends the socket and the buffered frames are lost (seen:
 * an agent's final `agentstop` publish never reached the broker). Closing every channel first
 * (after waiting for the confirms of a confirm channel's in-flight publishes) flushes them:
 * channel.close travels behind the channel's own frames and resolves on the broker's close-ok.
 */
export class LinkSession {
  readonly model: ChannelModel;
  readonly #channels = new Set<Channel>();
  readonly #confirms = new Set<ConfirmChannel>();
  readonly #log: Logger;

  constructor(model: ChannelModel, log: Logger) {
    this.model = model;
    this.#log = log;
  }

  async createChannel(): Promise<Channel> {
    const ch = await this.model.createChannel();
    this.#track(ch);
    return ch;
  }

  async createConfirmChannel(): Promise<ConfirmChannel> {
    const ch = await this.model.createConfirmChannel();
    this.#track(ch);
    this.#confirms.add(ch);
    return ch;
  }

  /** Confirms, then channels, then the connection; failures (a channel already gone) are logged, never thrown. */
  async close(): Promise<void> {
    const channels = [...this.#channels];
    await Promise.all(channels.map((ch) => this.#closeChannel(ch)));
    try {
      await this.model.close();
    } catch (err) {
      this.#log.debug('rmq.link.close-failed', {}, err);
    }
  }

  #track(ch: Channel): void {
    this.#channels.add(ch);
    ch.once('close', () => {
      this.#channels.delete(ch);
      this.#confirms.delete(ch as ConfirmChannel);
    });
  }

  async #closeChannel(ch: Channel): Promise<void> {
    if (this.#confirms.has(ch as ConfirmChannel)) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, CONFIRM_WAIT_MS)));
      await Promise.race([(ch as ConfirmChannel).waitForConfirms().catch((err: unknown) => this.#log.debug('rmq.link.confirms-failed', {}, err)), late]);
      clearTimeout(timer);
    }
    try {
      await ch.close();
    } catch (err) {
      this.#log.debug('rmq.channel.close-failed', {}, err);
    }
  }
}

/**
 * Write batching: amqplib writes every AMQP frame with its own `socket.write`, so one routed
 * message costs the platform several write syscalls. This corks the socket on the first write
 * of a tick and uncorks it on `process.nextTick`, so everything amqplib writes in one turn of
 * the event loop leaves in one `writev`. Order is kept (cork only buffers) and nothing waits
 * past the current tick. Returns the undo.
 *
 * The seam: amqplib's `ChannelModel.connection.stream` is the socket (net or TLS) all frames go
 * to (its frame mux and heartbeats call `stream.write`); wrapping that one instance's `write`
 * covers every channel of the connection without touching amqplib.
 */
export function corkPerTick(stream: Writable): () => void {
  const original = stream.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    stream.uncork();
  };
  const write = function (this: Writable, ...args: Parameters<Writable['write']>): boolean {
    if (!corked && !stream.writableEnded) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return Reflect.apply(original, stream, args) as boolean;
  };
  stream.write = write as Writable['write'];
  return () => {
    if (stream.write === write) stream.write = original;
  };
}

/** The socket under an amqplib connection, when it is where we expect it (amqplib 2.x `connection.stream`). */
export function connectionStream(model: ChannelModel): Writable | undefined {
  const stream = (model.connection as { stream?: unknown }).stream;
  return stream !== null && typeof stream === 'object' && typeof (stream as Writable).cork === 'function' && typeof (stream as Writable).write === 'function'
    ? (stream as Writable)
    : undefined;
}
