import { context as defaultContext, Dealer, Router, type Context } from 'zeromq';
import { connectSocketOptions } from './address-options.js';
import {
  Address,
  AuthError,
  ClosedError,
  decodePeerFrames,
  encodePeerFrames,
  keyToZ85,
  silentLogger,
  TimeoutError,
  TransportError,
  type AgentConnection,
  type ConnectionStatus,
  type Logger,
  type VipMessage,
} from '@vip/protocol';
import { SendQueue } from './send-queue.js';
import { DEFAULT_AGENT_MAX_FRAME_BYTES, DEFAULT_HIGH_WATER_MARK, TCP_KEEPALIVE, WIRE_FRAME_OVERHEAD } from './socket-options.js';
import { zmqErrorCode } from './zmq-errors.js';

export interface ZmqConnectionOptions {
  /** The agent's VIP identity; also the DEALER routing id. */
  readonly identity: string;
  /**
   * Endpoint to connect to (`tcp://127.0.0.1:22916`, `ipc://@/home/run/vip.socket`), optionally with
   * VOLTTRON's query parameters `serverkey`, `publickey`, `secretkey`, `username` and `password`
   * (a PLAIN client when there is no server key) and `ipv6` (docs/protocol.md 5.2).
   */
  readonly address: string;
  /** Platform public key (any encoding): makes this a CURVE client. Overrides the address' `serverkey`. */
  readonly serverKey?: string;
  /** This agent's key pair (any encoding). With a server key and no pair, a fresh pair is generated. */
  readonly publicKey?: string;
  readonly secretKey?: string;
  /**
   * Talk through a ROUTER socket instead of a DEALER (docs/protocol.md 1.6): every message goes out
   * with this intermediary frame first, the router's socket identity (the third argument of its
   * `welcome`, see `routerSocketIdentity`), and what comes in must carry it first. One ROUTER
   * socket can reach several routers this way; VOLTTRON's socket calls this frame `via`.
   */
  readonly via?: string;
  /** ZMQ_RECONNECT_IVL / ZMQ_RECONNECT_IVL_MAX in ms (libzmq defaults 100 / 0). */
  readonly reconnectIntervalMs?: number;
  readonly reconnectMaxIntervalMs?: number;
  readonly sendHighWaterMark?: number;
  readonly receiveHighWaterMark?: number;
  /**
   * Largest frame accepted (ZMQ_MAXMSGSIZE, bytes): libzmq refuses a bigger one before reading it
   * and closes the connection (which then reconnects), so a hostile router cannot make the agent
   * buffer gigabytes. Default 64 MiB; -1 = no limit.
   */
  readonly maxFrameBytes?: number;
  /** `open()` rejects with TimeoutError when no handshake completes in time. Default 10 000 ms. */
  readonly openTimeoutMs?: number;
  readonly context?: Context;
  readonly logger?: Logger;
}

export interface ZmqConnectionStats {
  readonly received: number;
  readonly sent: number;
  /** Inbound frame sets that are not VIP messages (ignored). */
  readonly malformed: number;
  readonly handlerErrors: number;
}

export const AUTH_REFUSED_REASON = "authentication refused: is this agent's public key in the platform's auth.json?";

/**
 * An agent's connection to a VIP router over ZeroMQ (the seed's ZMQConnection): a DEALER whose
 * routing id is the identity, `immediate` on (nothing queues for a peer that is not connected),
 * TCP keepalive and HWM as VOLTTRON sets them (docs/protocol.md 1.1), CURVE client when a server key
 * is known. Socket events become `ConnectionStatus`: handshake done -> connected, disconnect ->
 * disconnected, connect retry -> retrying, ZAP refusal -> disconnected with `AUTH_REFUSED_REASON`.
 */
export class ZmqConnection implements AgentConnection {
  readonly kind = 'zmq' as const;
  readonly identity: string;
  readonly #options: ZmqConnectionOptions;
  readonly #target: Address;
  readonly #logger: Logger;
  readonly #listeners = new Set<(status: ConnectionStatus) => void>();
  #handler: ((message: VipMessage) => void) | undefined;
  #socket: Dealer | Router | undefined;
  readonly #via: Buffer | undefined;
  #queue: SendQueue | undefined;
  #opened: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #settleOpen: ((err?: Error) => void) | undefined;
  #openTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #received = 0;
  #sent = 0;
  #malformed = 0;
  #handlerErrors = 0;

  constructor(options: ZmqConnectionOptions) {
    this.identity = options.identity;
    this.#options = options;
    this.#target = Address.parse(options.address);
    this.#via = options.via === undefined ? undefined : Buffer.from(options.via, 'utf8');
    this.#logger = (options.logger ?? silentLogger).child({ identity: options.identity });
  }

  onMessage(handler: (message: VipMessage) => void): void {
    this.#handler = handler;
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  open(): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(new ClosedError(`connection ${this.identity}`));
    return (this.#opened ??= this.#connect());
  }

  send(message: VipMessage): Promise<void> {
    const queue = this.#queue;
    if (this.#closed !== undefined) return Promise.reject(new ClosedError(`connection ${this.identity}`));
    if (queue === undefined) return Promise.reject(new TransportError(`connection ${this.identity} is not open; call open() first`));
    return queue.send(encodePeerFrames(message, this.#via)).then(this.#onSent, this.#onSendFailed);
  }

  stats(): ZmqConnectionStats {
    return { received: this.#received, sent: this.#sent, malformed: this.#malformed, handlerErrors: this.#handlerErrors };
  }

  close(): Promise<void> {
    return (this.#closed ??= this.#shutdown());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #connect(): Promise<void> {
    const o = this.#options;
    const target = this.#target;
    const endpoint = target.base;
    // CURVE (server key) or PLAIN (username, password) client, and ipv6, from the address and options
    const security = connectSocketOptions(target, { serverKey: o.serverKey, publicKey: o.publicKey, secretKey: o.secretKey });
    const common = {
      context: o.context ?? defaultContext,
      routingId: this.identity,
      immediate: true,
      sendHighWaterMark: o.sendHighWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      receiveHighWaterMark: o.receiveHighWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      maxMessageSize: maxFrameSize(o.maxFrameBytes ?? DEFAULT_AGENT_MAX_FRAME_BYTES),
      ...(o.reconnectIntervalMs !== undefined ? { reconnectInterval: o.reconnectIntervalMs } : {}),
      ...(o.reconnectMaxIntervalMs !== undefined ? { reconnectMaxInterval: o.reconnectMaxIntervalMs } : {}),
      ...TCP_KEEPALIVE,
      ...security,
    };
    // a ROUTER addresses the router by its socket identity; mandatory: a send it cannot route fails instead of vanishing
    const socket = this.#via === undefined ? new Dealer(common) : new Router({ ...common, mandatory: true });
    this.#socket = socket;
    this.#queue = new SendQueue(socket, `connection ${this.identity}`);
    const done = new Promise<void>((resolve, reject) => {
      this.#settleOpen = (err) => {
        this.#settleOpen = undefined;
        clearTimeout(this.#openTimer);
        if (err === undefined) resolve();
        else reject(err);
      };
    });
    const timeoutMs = o.openTimeoutMs ?? 10_000;
    this.#openTimer = setTimeout(() => this.#failOpen(new TimeoutError(`connect ${this.identity} to ${endpoint}`, timeoutMs)), timeoutMs);
    this.#watch(socket);
    try {
      socket.connect(endpoint);
    } catch (err) {
      this.#failOpen(
        new TransportError(`cannot connect to ${endpoint}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
      );
      return done;
    }
    this.#loop = this.#receiveLoop(socket);
    return done;
  }

  #failOpen(err: Error): void {
    const settle = this.#settleOpen;
    if (settle === undefined) return;
    settle(err);
    // A connection whose open failed is finished; close releases the socket.
    void this.close();
  }

  #watch(socket: Dealer | Router): void {
    const events = socket.events;
    events.on('handshake', () => {
      this.#attempt = 0;
      this.#emit({ type: 'connected' });
      this.#settleOpen?.();
    });
    events.on('disconnect', () => this.#emit({ type: 'disconnected' }));
    events.on('connect:retry', () => this.#emit({ type: 'retrying', attempt: ++this.#attempt }));
    events.on('handshake:error:auth', (e) => {
      this.#logger.warn('connection.auth.refused', { address: e.address });
      this.#emit({ type: 'disconnected', reason: AUTH_REFUSED_REASON });
      this.#failOpen(new AuthError(`${this.identity}: ${AUTH_REFUSED_REASON}`));
    });
    events.on('handshake:error:protocol', (e) => {
      this.#emit({ type: 'disconnected', reason: `handshake failed (${e.error.code}): check the platform's server key` });
    });
  }

  #emit(status: ConnectionStatus): void {
    for (const listener of this.#listeners) {
      try {
        listener(status);
      } catch (err) {
        this.#logger.error('connection.status_listener.failed', { status: status.type }, err);
      }
    }
  }

  async #receiveLoop(socket: Dealer | Router): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (err) {
        if (this.#closed === undefined) this.#logger.error('connection.receive.failed', { code: zmqErrorCode(err) }, err);
        return;
      }
      this.#received++;
      let message: VipMessage;
      try {
        if (this.#via !== undefined && !this.#via.equals(frames[0] ?? Buffer.alloc(0)))
          throw new TransportError('message from another router than via');
        message = decodePeerFrames(frames, this.#via !== undefined);
      } catch (err) {
        this.#malformed++;
        this.#logger.debug('connection.malformed', { frames: frames.length }, err);
        continue;
      }
      try {
        this.#handler?.(message);
      } catch (err) {
        this.#handlerErrors++;
        this.#logger.error('connection.handler.failed', undefined, err);
      }
      // One microtask hop before the next receive(): what the message resolved (a caller awaiting
      // this reply) runs first and sends its next request before the socket is re-armed for reading
      // (a ZMQ_EVENTS query and a poller restart), which would otherwise delay every round trip.
      await undefined;
    }
  }

  readonly #onSent = (): void => {
    this.#sent++;
  };

  readonly #onSendFailed = (err: unknown): never => {
    if (this.#closed !== undefined || err instanceof ClosedError) throw new ClosedError(`connection ${this.identity}`, { cause: err });
    throw new TransportError(`send from ${this.identity} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  };

  async #shutdown(): Promise<void> {
    this.#settleOpen?.(new ClosedError(`connection ${this.identity}`));
    clearTimeout(this.#openTimer);
    this.#queue?.close();
    this.#socket?.close();
    await this.#loop;
    this.#emit({ type: 'closed' });
  }
}

/** ZMQ_MAXMSGSIZE for a payload limit: libzmq counts the frame on the wire (-1: no limit). */
function maxFrameSize(payloadBytes: number): number {
  return payloadBytes < 0 ? -1 : payloadBytes + WIRE_FRAME_OVERHEAD;
}
