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
      await Promise.race([
        (ch as ConfirmChannel).waitForConfirms().catch((err: unknown) => this.#log.debug('rmq.link.confirms-failed', {}, err)),
        late,
      ]);
      clearTimeout(timer);
    }
    try {
      await ch.close();
    } catch (err) {
      this.#log.debug('rmq.channel.close-failed', {}, err);
    }
  }
}
