import { context as defaultContext, Dealer, type Context } from 'zeromq';
import {
  decodePeerFrames,
  EMPTY_FRAME,
  keyToZ85,
  silentLogger,
  VIP_SIGNATURE,
  type Frame,
  type Logger,
  type VipMessage,
} from '@vip/protocol';
import { SendQueue } from './send-queue.js';
import { DEFAULT_AGENT_MAX_FRAME_BYTES, DEFAULT_HIGH_WATER_MARK, TCP_KEEPALIVE, WIRE_FRAME_OVERHEAD } from './socket-options.js';
import { zmqErrorCode } from './zmq-errors.js';

/** VOLTTRON's link states (docs/protocol.md 6.2), from the socket's events. */
export type ZmqLinkState = 'CONNECTED' | 'CONNECTION_DELAY' | 'DISCONNECTED';

export interface ZmqPlatformLinkOptions {
  /** The remote platform's instance name (logs; the default routing id). */
  readonly instance: string;
  /** Its VIP address (`tcp://host:port`, query parameters ignored). */
  readonly address: string;
  /** Its platform key, and this platform's key pair: links authenticate with the platform key (any encoding). */
  readonly serverKey: string;
  readonly publicKey: string;
  readonly secretKey: string;
  /** The DEALER's routing id; default `instance.<remote>.<random>` as VOLTTRON 9 names it. */
  readonly identity?: string;
  /** libzmq's reconnect back-off: first wait and bound, ms (default 100 / 5000). */
  readonly reconnectIntervalMs?: number;
  readonly reconnectMaxIntervalMs?: number;
  /**
   * After a refused handshake (the remote's ZAP does not know our key yet, a wrong server key)
   * the socket is made again after this wait, doubling up to the bound (default 1000 / 30 000 ms).
   */
  readonly refusedRetryMs?: number;
  readonly refusedRetryMaxMs?: number;
  readonly sendHighWaterMark?: number;
  readonly maxFrameBytes?: number;
  readonly onState: (state: ZmqLinkState, detail?: string) => void;
  /** What the remote router sends on this link (its replies). */
  readonly onMessage: (message: VipMessage) => void;
  readonly context?: Context;
  readonly logger?: Logger;
  readonly random?: () => number;
}

export interface ZmqPlatformLinkStats {
  readonly sent: number;
  readonly refused: number;
  readonly failed: number;
  readonly received: number;
  readonly malformed: number;
  readonly sockets: number;
}

/**
 * One outgoing link to another platform's router (VOLTTRON's RoutingService DEALER, docs/protocol.md
 * 6.2): CURVE with this platform's key pair, `immediate` (nothing queues for a connection that is
 * not up, so a send to a platform that is down is refused at once), zero send timeout, TCP
 * keepalive, libzmq's bounded reconnect back-off; the state comes from the socket's events
 * (handshake done: CONNECTED, disconnect: DISCONNECTED, connect delayed/retried:
 * CONNECTION_DELAY). A refused handshake makes a new socket after a bounded, doubling wait, since
 * libzmq may stop reconnecting after one. What arrives on the link is handed to `onMessage`.
 */
export class ZmqPlatformLink {
  readonly identity: string;
  readonly #o: ZmqPlatformLinkOptions;
  readonly #logger: Logger;
  #socket: Dealer | undefined;
  #queue: SendQueue | undefined;
  #state: ZmqLinkState = 'CONNECTION_DELAY';
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #refusals = 0;
  #stats = { sent: 0, refused: 0, failed: 0, received: 0, malformed: 0, sockets: 0 };

  constructor(options: ZmqPlatformLinkOptions) {
    this.#o = options;
    this.identity = options.identity ?? `instance.${options.instance}.${(options.random ?? Math.random)()}`;
    this.#logger = (options.logger ?? silentLogger).child({ link: options.instance });
  }

  get state(): ZmqLinkState {
    return this.#state;
  }

  stats(): ZmqPlatformLinkStats {
    return { ...this.#stats };
  }

  /** Make the socket and connect; the state follows. Never throws for an unreachable platform. */
  open(): void {
    if (this.#closed || this.#socket !== undefined) return;
    const o = this.#o;
    const socket = new Dealer({
      context: o.context ?? defaultContext,
      routingId: this.identity,
      immediate: true,
      sendTimeout: 0,
      sendHighWaterMark: o.sendHighWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      receiveHighWaterMark: DEFAULT_HIGH_WATER_MARK,
      maxMessageSize: (o.maxFrameBytes ?? DEFAULT_AGENT_MAX_FRAME_BYTES) + WIRE_FRAME_OVERHEAD,
      reconnectInterval: o.reconnectIntervalMs ?? 100,
      reconnectMaxInterval: o.reconnectMaxIntervalMs ?? 5000,
      linger: 0,
      ...TCP_KEEPALIVE,
      curveServerKey: keyToZ85(o.serverKey),
      curvePublicKey: keyToZ85(o.publicKey),
      curveSecretKey: keyToZ85(o.secretKey),
    });
    this.#socket = socket;
    this.#queue = new SendQueue(socket, `platform link ${o.instance}`);
    this.#stats.sockets++;
    const events = socket.events;
    events.on('handshake', () => {
      this.#refusals = 0;
      this.#set('CONNECTED');
    });
    events.on('disconnect', () => this.#set('DISCONNECTED'));
    events.on('connect:delay', () => {
      if (this.#state !== 'CONNECTED') this.#set('CONNECTION_DELAY');
    });
    events.on('connect:retry', () => {
      if (this.#state !== 'CONNECTED') this.#set('CONNECTION_DELAY');
    });
    for (const type of ['handshake:error:auth', 'handshake:error:protocol', 'handshake:error:other'] as const) {
      events.on(type, () => this.#refused(socket, type));
    }
    try {
      socket.connect(o.address.split('?')[0] as string);
    } catch (err) {
      this.#logger.error('platform.link.connect_failed', { address: o.address }, err);
      this.#set('DISCONNECTED', 'bad address');
      return;
    }
    void this.#receive(socket);
  }

  /**
   * `'' | VIP1 | user | id | subsystem | args...` to the remote router. False (counted) when the
   * link is not up; `onFailed` runs when libzmq refuses it after all (pipe full, just went down).
   */
  send(user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[], onFailed?: () => void): boolean {
    const queue = this.#queue;
    if (this.#closed || queue === undefined || this.#state !== 'CONNECTED') {
      this.#stats.refused++;
      return false;
    }
    const frames = [EMPTY_FRAME, VIP_SIGNATURE, user, id, subsystem, ...args] as Buffer[];
    queue.send(frames).then(
      () => void this.#stats.sent++,
      (err: unknown) => {
        this.#stats.failed++;
        this.#logger.debug('platform.link.send_failed', { code: zmqErrorCode(err) });
        onFailed?.();
      },
    );
    return true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#drop();
  }

  #set(state: ZmqLinkState, detail?: string): void {
    if (this.#state === state) return;
    this.#state = state;
    try {
      this.#o.onState(state, detail);
    } catch (err) {
      this.#logger.warn('platform.link.state_listener_failed', { state }, err);
    }
  }

  /** A refused handshake: this socket is dropped and a new one made after a bounded, doubling wait. */
  #refused(socket: Dealer, type: string): void {
    if (socket !== this.#socket || this.#closed) return;
    this.#refusals++;
    this.#logger.warn('platform.link.handshake_refused', { address: this.#o.address, reason: type, attempt: this.#refusals });
    this.#set('DISCONNECTED', type);
    this.#drop();
    const first = this.#o.refusedRetryMs ?? 1000;
    const max = this.#o.refusedRetryMaxMs ?? 30_000;
    const wait = Math.min(max, first * 2 ** Math.min(this.#refusals - 1, 16)) * (0.75 + 0.5 * (this.#o.random ?? Math.random)());
    this.#retryTimer = setTimeout(() => this.open(), wait);
    this.#retryTimer.unref?.();
  }

  #drop(): void {
    this.#queue?.close();
    this.#queue = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) {
      socket.close();
    }
    if (this.#closed) this.#set('DISCONNECTED', 'closed');
  }

  async #receive(socket: Dealer): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch {
        return; // closed
      }
      this.#stats.received++;
      let message: VipMessage;
      try {
        message = decodePeerFrames(frames);
      } catch {
        this.#stats.malformed++;
        continue;
      }
      try {
        this.#o.onMessage(message);
      } catch (err) {
        this.#logger.warn('platform.link.handler_failed', undefined, err);
      }
    }
  }
}
