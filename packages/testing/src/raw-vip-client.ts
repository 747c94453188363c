import { Dealer } from 'zeromq';
import { EMPTY_FRAME, generateKeyPair, keyToZ85, VIP_SIGNATURE, type CurveKeyPair, type Frame } from '@vip/protocol';
import { AsyncQueue } from './async-queue.js';

export interface RawVipClientOptions {
  /** Endpoint to connect to, e.g. `tcp://127.0.0.1:22916`. */
  readonly address: string;
  /** The routing identity (VIP identity) of the DEALER. */
  readonly identity: string | Frame;
  /** The platform's public key (any encoding); CURVE is off without it. */
  readonly serverKey?: string | null;
  /** This client's key pair (base64url); default a fresh pair. */
  readonly keys?: CurveKeyPair;
}

type FrameLike = Frame | string;
const toFrame = (f: FrameLike): Frame => (typeof f === 'string' ? Buffer.from(f, 'utf8') : f);

/**
 * A plain ZeroMQ DEALER speaking VIP, for conformance tests: send any frames (valid or not),
 * receive what the router sends with a deadline. Frames read are DEALER frames:
 * `peer, VIP1, user, id, subsystem, args...`.
 */
export class RawVipClient {
  readonly identity: Frame;
  readonly keys: CurveKeyPair;
  readonly inbox = new AsyncQueue<Frame[]>();
  /** Set when the receive loop failed other than by close(). */
  receiveError: unknown;
  readonly #socket: Dealer;
  #authFailures = 0;
  #handshakes = 0;
  #closed = false;
  #sends: Promise<void> = Promise.resolve();
  readonly #loop: Promise<void>;

  private constructor(options: RawVipClientOptions) {
    this.identity = toFrame(options.identity);
    this.keys = options.keys ?? generateKeyPair();
    const curve = options.serverKey
      ? {
          curveServerKey: keyToZ85(options.serverKey),
          curvePublicKey: keyToZ85(this.keys.public),
          curveSecretKey: keyToZ85(this.keys.secret),
        }
      : {};
    this.#socket = new Dealer({ routingId: this.identity.toString('latin1'), linger: 0, ...curve });
    this.#socket.events.on('handshake:error:auth', () => this.#authFailures++);
    this.#socket.events.on('handshake', () => this.#handshakes++);
    this.#socket.connect(options.address);
    this.#loop = this.#receiveLoop();
  }

  /** Connect (asynchronously: messages queue until the handshake completes). */
  static connect(options: RawVipClientOptions): RawVipClient {
    return new RawVipClient(options);
  }

  /** CURVE handshakes refused so far (`handshake:error:auth`). */
  get authFailures(): number {
    return this.#authFailures;
  }

  /** Handshakes completed so far. */
  get handshakes(): number {
    return this.#handshakes;
  }

  /** Send raw DEALER frames (anything, including malformed sets). Sends are serialised. */
  send(frames: readonly FrameLike[]): Promise<void> {
    const out = frames.map(toFrame);
    const next = this.#sends.then(() => this.#socket.send(out));
    this.#sends = next.catch(() => undefined);
    return next;
  }

  /** Send a VIP message: `recipient, VIP1, user, id, subsystem, args...`. */
  sendVip(
    recipient: FrameLike,
    subsystem: FrameLike,
    args: readonly FrameLike[] = [],
    options: { id?: FrameLike; user?: FrameLike } = {},
  ): Promise<void> {
    return this.send([recipient, VIP_SIGNATURE, options.user ?? EMPTY_FRAME, options.id ?? EMPTY_FRAME, subsystem, ...args]);
  }

  /** The next message received; rejects with TimeoutError after `timeoutMs` (default 5 s). */
  receive(options: { timeoutMs?: number } = {}): Promise<Frame[]> {
    return this.inbox.next({ timeoutMs: options.timeoutMs ?? 5_000, what: `raw client ${this.identity.toString()} receive` });
  }

  /** The next message that matches; earlier ones are discarded. */
  receiveMatching(predicate: (frames: Frame[]) => boolean, options: { timeoutMs?: number } = {}): Promise<Frame[]> {
    return this.inbox.nextMatching(predicate, {
      timeoutMs: options.timeoutMs ?? 5_000,
      what: `raw client ${this.identity.toString()} receive`,
    });
  }

  /** The next message with this message id (frame 3) and subsystem (frame 4). */
  receiveReply(id: string, subsystem?: string, options: { timeoutMs?: number } = {}): Promise<Frame[]> {
    return this.receiveMatching(
      (f) => f[3]?.toString('latin1') === id && (subsystem === undefined || f[4]?.toString('latin1') === subsystem),
      options,
    );
  }

  /** Send a router-addressed request and wait for the reply carrying its id. */
  async request(
    subsystem: string,
    args: readonly FrameLike[],
    id: string,
    options: { timeoutMs?: number; recipient?: string } = {},
  ): Promise<Frame[]> {
    await this.sendVip(options.recipient ?? '', subsystem, args, { id });
    return this.receiveMatching((f) => f[3]?.toString('latin1') === id, options);
  }

  /** hello/welcome round trip: resolves when the router has admitted and answered this client. */
  async hello(options: { timeoutMs?: number } = {}): Promise<Frame[]> {
    return this.request('hello', ['hello'], `hello.${Date.now()}`, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    await this.#loop;
    this.inbox.close();
  }

  async #receiveLoop(): Promise<void> {
    for (;;) {
      try {
        this.inbox.push(await this.#socket.receive());
      } catch (err) {
        // close() ends the loop this way; any other failure is kept for the test to see.
        if (!this.#closed) this.receiveError = err;
        return;
      }
    }
  }
}
