import { randomInt } from 'node:crypto';
import { ClosedError, ConfigError, EMPTY_FRAME, frameText, TimeoutError, type Frame, type VipMessage } from '@vip/protocol';
import type { AgentCore, Subsystem } from '../subsystem.js';

/** Python's `string.printable[:-5]`: the characters of a random channel name (VOLTTRON channel.py). */
const NAME_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ ';
const NAME_LENGTH = 30;
/** Bytes a channel holds unread before it drops (and counts) what arrives; VOLTTRON's socket holds 1 message (hwm 1). */
export const DEFAULT_CHANNEL_BUFFER_BYTES = 16 * 1024 * 1024;

export interface ChannelStats {
  readonly sent: number;
  readonly received: number;
  /** Messages dropped because the channel held `bufferBytes` unread. */
  readonly dropped: number;
}

/**
 * One end of a byte stream to `peer` named `name` (VOLTTRON 9 `channel.py`, docs/protocol.md 10).
 * `send(frames)` goes out as one VIP message `peer | VIP1 | '' | '' | channel | name | frames...`;
 * what the peer sends on its channel of the same name to us arrives here, in order. Frames are
 * bytes; a VOLTTRON router may rewrite a frame that looks like JSON (quirk 12, 1.4), vip's does not.
 */
export class Channel {
  readonly peer: string;
  readonly name: string;
  readonly #core: AgentCore;
  readonly #bufferBytes: number;
  readonly #forget: () => void;
  readonly #inbox: Frame[][] = [];
  #held = 0;
  #waiter: { resolve: (frames: Frame[]) => void; reject: (err: Error) => void } | undefined;
  #closed = false;
  #stats = { sent: 0, received: 0, dropped: 0 };

  /** @internal made by `ChannelSubsystem.create` */
  constructor(core: AgentCore, peer: string, name: string, bufferBytes: number, forget: () => void) {
    this.#core = core;
    this.peer = peer;
    this.name = name;
    this.#bufferBytes = bufferBytes;
    this.#forget = forget;
  }

  /** Send one message of one or more frames (strings as UTF-8). */
  async send(...frames: readonly (Frame | string)[]): Promise<void> {
    if (this.#closed) throw new ClosedError(`channel ${this.name} to ${this.peer}`);
    if (frames.length === 0) throw new ConfigError('a channel message needs at least one frame');
    await this.#core.send({ peer: this.peer, id: EMPTY_FRAME, subsystem: 'channel', args: [this.name, ...frames] });
    this.#stats.sent += 1;
  }

  /** The next message's frames; TimeoutError after `timeoutMs` (default 30 s), ClosedError once closed. */
  receive(options: { readonly timeoutMs?: number } = {}): Promise<Frame[]> {
    const first = this.#inbox.shift();
    if (first) {
      this.#held -= sizeOf(first);
      return Promise.resolve(first);
    }
    if (this.#closed) return Promise.reject(new ClosedError(`channel ${this.name} to ${this.peer}`));
    if (this.#waiter) return Promise.reject(new ConfigError('one receive() at a time per channel'));
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise<Frame[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new TimeoutError(`channel ${this.name} receive from ${this.peer}`, timeoutMs));
      }, timeoutMs);
      this.#waiter = {
        resolve: (frames) => {
          clearTimeout(timer);
          resolve(frames);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
  }

  stats(): ChannelStats {
    return { ...this.#stats };
  }

  /** Stop receiving on this name; a pending receive rejects with ClosedError. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#forget();
    this.#inbox.length = 0;
    this.#held = 0;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(new ClosedError(`channel ${this.name} to ${this.peer}`));
  }

  /** @internal data frames from the peer */
  deliver(frames: Frame[]): void {
    this.#stats.received += 1;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve(frames);
      return;
    }
    const size = sizeOf(frames);
    if (this.#held + size > this.#bufferBytes) {
      this.#stats.dropped += 1;
      this.#core.logger.warn('channel.dropped', { peer: this.peer, name: this.name, held: this.#held });
      return;
    }
    this.#held += size;
    this.#inbox.push(frames);
  }
}

const sizeOf = (frames: readonly Frame[]): number => frames.reduce((n, f) => n + f.length, 0);

/**
 * The `channel` subsystem: named byte streams between two peers over VIP (VOLTTRON 9
 * `channel.py`). Both sides `create(peer, name)` the same name (agreed out of band, e.g. over RPC);
 * a message for a name nobody created here is ignored and counted, as VOLTTRON drops it.
 */
export class ChannelSubsystem implements Subsystem {
  readonly name = 'channel';
  readonly #core: AgentCore;
  readonly #channels = new Map<string, Channel>();
  readonly #bufferBytes: number;
  #unknown = 0;

  constructor(core: AgentCore, options: { readonly bufferBytes?: number } = {}) {
    this.#core = core;
    this.#bufferBytes = options.bufferBytes ?? DEFAULT_CHANNEL_BUFFER_BYTES;
  }

  /** A channel to `peer`; without `name` a fresh random one of 30 printable characters (as VOLTTRON). */
  create(peer: string, name?: string): Channel {
    let chosen = name;
    if (chosen === undefined) {
      do chosen = Array.from({ length: NAME_LENGTH }, () => NAME_ALPHABET[randomInt(NAME_ALPHABET.length)]).join('');
      while (this.#channels.has(keyOf(peer, chosen)));
    } else if (this.#channels.has(keyOf(peer, chosen))) {
      throw new ConfigError(`channel ${JSON.stringify(chosen)} to ${peer} is unavailable`);
    }
    const key = keyOf(peer, chosen);
    const channel = new Channel(this.#core, peer, chosen, this.#bufferBytes, () => this.#channels.delete(key));
    this.#channels.set(key, channel);
    return channel;
  }

  /** Messages for a (peer, name) no channel was created for. */
  get unknown(): number {
    return this.#unknown;
  }

  handle(message: VipMessage): boolean {
    const [name, ...data] = message.args;
    if (name === undefined || message.peer.length === 0) return false;
    const channel = this.#channels.get(keyOf(frameText(message.peer), frameText(name)));
    if (!channel) {
      this.#unknown += 1;
      return false;
    }
    channel.deliver(data);
    return true;
  }

  close(): void {
    for (const channel of [...this.#channels.values()]) channel.close();
  }
}

const keyOf = (peer: string, name: string): string => `${peer}\u0000${name}`;
