import {
  ClosedError,
  decodeRouterFrames,
  encodePeerFrames,
  identityKey,
  textFrame,
  TransportError,
  type AgentConnection,
  type ConnectionStatus,
  type DeliveryResult,
  type Frame,
  type RouterTransport,
  type RouterTransportHandlers,
  type VipMessage,
} from '@vip/protocol';

export interface MemoryTransportOptions {
  /** Frame sets larger than this (all frames) are reported unroutable (`oversize message`); default unlimited. */
  readonly maxMessageBytes?: number;
  /** `RouterTransport.requiresProof`: an empty user id is a sender that gave no proof (default false: auth off). */
  readonly requiresProof?: boolean;
}

/**
 * An in-process `RouterTransport` with `AgentConnection` pairs, for unit tests of the router and
 * its extensions. It behaves like the ZeroMQ transport: frames are passed by reference, delivery
 * is asynchronous and ordered, absent peers are `unreachable`, and a congested peer is `again`.
 */
export class MemoryTransport implements RouterTransport {
  readonly kind = 'memory' as const;
  readonly requiresProof: boolean;
  readonly #maxMessageBytes: number;
  readonly #connections = new Map<string, MemoryConnection>();
  readonly #congested = new Set<string>();
  #handlers: RouterTransportHandlers | undefined;
  #closed = false;

  constructor(options: MemoryTransportOptions = {}) {
    this.#maxMessageBytes = options.maxMessageBytes ?? Infinity;
    this.requiresProof = options.requiresProof ?? false;
  }

  async start(handlers: RouterTransportHandlers): Promise<void> {
    if (this.#closed) throw new ClosedError('memory transport');
    this.#handlers ??= handlers;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A new agent side; `userId` is what authentication would report for it (default ''). */
  connection(identity: string | Frame, options: { userId?: string } = {}): MemoryConnection {
    return new MemoryConnection(this, typeof identity === 'string' ? textFrame(identity) : identity, options.userId ?? '');
  }

  /** Make deliveries to `identity` answer `again` (a full queue) until turned off. */
  setCongested(identity: string | Frame, congested: boolean): void {
    const key = identityKey(typeof identity === 'string' ? textFrame(identity) : identity);
    if (congested) this.#congested.add(key);
    else this.#congested.delete(key);
  }

  /** Feed a raw router-side frame set (`sender, recipient, VIP1, ...`) as if a socket read it. */
  inject(frames: readonly Frame[], userId = ''): void {
    queueMicrotask(() => this.#dispatch(frames, userId));
  }

  async deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult> {
    if (this.#closed) return 'unreachable';
    const key = identityKey(to);
    const conn = this.#connections.get(key);
    if (!conn) return 'unreachable';
    if (this.#congested.has(key)) return 'again';
    conn.receive({ peer: from, user, id, subsystem, args });
    return 'ok';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [...this.#connections.values()]) await conn.close();
  }

  /** @internal used by MemoryConnection */
  attach(conn: MemoryConnection): void {
    if (this.#closed) throw new TransportError('memory transport is closed');
    const key = identityKey(conn.identityFrame);
    if (this.#connections.has(key)) throw new TransportError(`identity ${JSON.stringify(conn.identity)} is already connected`);
    this.#connections.set(key, conn);
    this.#handlers?.peerEvent?.({ type: 'peer-connected', peer: conn.identityFrame, user: conn.userId });
  }

  /** @internal used by MemoryConnection */
  detach(conn: MemoryConnection): void {
    const key = identityKey(conn.identityFrame);
    if (this.#connections.get(key) !== conn) return;
    this.#connections.delete(key);
    if (!this.#closed) this.#handlers?.peerEvent?.({ type: 'peer-gone', peer: conn.identityFrame, reason: 'closed' });
  }

  #dispatch(frames: readonly Frame[], userId: string): void {
    const h = this.#handlers;
    if (!h || this.#closed) return;
    const decoded = decodeRouterFrames(frames, this.#maxMessageBytes);
    if (decoded.kind === 'message') h.message(decoded.message, userId);
    else if (decoded.kind === 'probe') h.probe?.(decoded.sender);
    else h.unroutable?.(decoded.reason, decoded.sender);
  }
}

/** The agent side of a `MemoryTransport`. */
export class MemoryConnection implements AgentConnection {
  readonly kind = 'memory' as const;
  readonly identity: string;
  readonly identityFrame: Frame;
  readonly userId: string;
  readonly #transport: MemoryTransport;
  readonly #listeners = new Set<(status: ConnectionStatus) => void>();
  #handler: ((message: VipMessage) => void) | undefined;
  #state: 'new' | 'open' | 'closed' = 'new';

  constructor(transport: MemoryTransport, identity: Frame, userId: string) {
    this.#transport = transport;
    this.identityFrame = identity;
    this.identity = identity.toString('utf8');
    this.userId = userId;
  }

  onMessage(handler: (message: VipMessage) => void): void {
    this.#handler = handler;
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async open(): Promise<void> {
    if (this.#state === 'closed') throw new ClosedError(`connection ${this.identity}`);
    if (this.#state === 'open') return;
    this.#transport.attach(this);
    this.#state = 'open';
    this.#emit({ type: 'connected' });
  }

  async send(message: VipMessage): Promise<void> {
    this.sendFrames(encodePeerFrames(message));
  }

  /** Send raw DEALER frames (`recipient, VIP1, ...` or anything malformed). */
  sendFrames(frames: readonly Frame[]): void {
    if (this.#state !== 'open') throw new ClosedError(`connection ${this.identity}`);
    this.#transport.inject([this.identityFrame, ...frames], this.userId);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    if (wasOpen) this.#transport.detach(this);
    this.#emit({ type: 'closed' });
  }

  /** @internal used by MemoryTransport */
  receive(message: VipMessage): void {
    queueMicrotask(() => {
      if (this.#state === 'open') this.#handler?.(message);
    });
  }

  #emit(status: ConnectionStatus): void {
    for (const l of this.#listeners) l(status);
  }
}
