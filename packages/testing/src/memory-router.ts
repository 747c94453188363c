/**
 * The memory router: a tiny scripted VIP router with AgentConnection endpoints, enough to unit-test
 * the agent's logic (hello, ping, peerlist, query, forwarding with user = sender, error 113/93)
 * without @vip/router (which @vip/testing must not depend on). Tests of the real Router use
 * MemoryTransport; the real router and transports together are exercised by tests/integration.
 */
import {
  EMPTY_FRAME,
  frameText,
  identityKey,
  textFrame,
  type AgentConnection,
  type ConnectionStatus,
  type Frame,
  type VipMessage,
} from '@vip/protocol';

export interface Sent {
  readonly from: string;
  readonly message: VipMessage;
}

export class MemoryRouter {
  readonly sent: Sent[] = [];
  readonly #peers = new Map<string, MemoryRouterConnection>();
  readonly routerIdentity = 'memory-router';
  /** When false, hellos get no welcome (to test the handshake timeout). */
  welcome = true;
  /** Every connection made, in order. */
  readonly connections: MemoryRouterConnection[] = [];
  /** Connections whose messages the router drops (a ZeroMQ connection it could not attribute). */
  readonly unattributed = new Set<MemoryRouterConnection>();

  connect(identity: string): MemoryRouterConnection {
    const c = new MemoryRouterConnection(this, identity);
    this.connections.push(c);
    return c;
  }

  attach(c: MemoryRouterConnection): void {
    this.#peers.set(c.identity, c);
  }

  detach(c: MemoryRouterConnection): void {
    if (this.#peers.get(c.identity) === c) this.#peers.delete(c.identity);
  }

  /** Simulate a platform restart: every connection drops, then reconnects. */
  restart(): void {
    const all = [...this.#peers.values()];
    this.#peers.clear();
    for (const c of all) c.emit({ type: 'disconnected', reason: 'restart' });
    for (const c of all) {
      this.#peers.set(c.identity, c);
      c.emit({ type: 'connected' });
    }
  }

  /** Broadcast `peerlist <op> <peer>` from the router to every attached agent (docs/protocol.md 2.3). */
  announce(op: 'add' | 'drop', peer: string): void {
    for (const c of this.#peers.values())
      c.deliver({ peer: EMPTY_FRAME, user: EMPTY_FRAME, id: EMPTY_FRAME, subsystem: f('peerlist'), args: [f(op), f(peer)] });
  }

  /** Hand `message` (peer = its sender) to `to` as the router would forward it. */
  deliverAs(from: string, to: string, message: VipMessage): void {
    this.#peers.get(to)?.deliver({ ...message, peer: textFrame(from), user: textFrame(from) });
  }

  route(from: MemoryRouterConnection, m: VipMessage): void {
    if (this.unattributed.has(from)) return;
    this.sent.push({ from: from.identity, message: m });
    const sender = textFrame(from.identity);
    const sub = frameText(m.subsystem);
    if (m.peer.length === 0) {
      const op = m.args[0] ? frameText(m.args[0]) : '';
      const reply = (user: Frame, args: (string | Frame)[]) =>
        from.deliver({ peer: EMPTY_FRAME, user, id: m.id, subsystem: m.subsystem, args: args.map(f) });
      if (sub === 'hello' && this.welcome) reply(sender, ['welcome', '1.0', this.routerIdentity, sender]);
      else if (sub === 'ping' && op === 'ping') reply(sender, ['pong', ...m.args.slice(1)]);
      else if (sub === 'peerlist' && op === 'list') reply(EMPTY_FRAME, ['listing', ...this.#peers.keys()]);
      else if (sub === 'query')
        reply(EMPTY_FRAME, ['', op === 'instance-name' ? 'memory' : op === 'agent-monitor-frequency' ? Buffer.from([0x58, 2, 0, 0]) : '']);
      else if (sub === 'agentstop') this.#peers.delete(from.identity);
      else if (sub !== 'hello' && sub !== 'error' && sub !== 'pubsub')
        reply(EMPTY_FRAME, ['93', 'Protocol not supported', '', m.subsystem]);
      return;
    }
    const to = this.#peers.get(identityKey(m.peer));
    if (!to) {
      from.deliver({
        peer: EMPTY_FRAME,
        user: sender,
        id: m.id,
        subsystem: f('error'),
        args: [f('113'), f('No route to host'), m.peer, m.subsystem],
      });
      return;
    }
    to.deliver({ peer: sender, user: sender, id: m.id, subsystem: m.subsystem, args: m.args });
  }
}

const f = (x: string | Frame): Frame => (typeof x === 'string' ? textFrame(x) : x);

export class MemoryRouterConnection implements AgentConnection {
  readonly kind = 'memory' as const;
  readonly identity: string;
  readonly #router: MemoryRouter;
  #handler: ((m: VipMessage) => void) | undefined;
  readonly #status = new Set<(s: ConnectionStatus) => void>();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  constructor(router: MemoryRouter, identity: string) {
    this.#router = router;
    this.identity = identity;
  }

  onMessage(handler: (message: VipMessage) => void): void {
    this.#handler = handler;
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    this.#status.add(listener);
    return () => this.#status.delete(listener);
  }

  async open(): Promise<void> {
    this.#router.attach(this);
    this.emit({ type: 'connected' });
  }

  async send(message: VipMessage): Promise<void> {
    if (this.#closed) throw new Error('closed');
    queueMicrotask(() => this.#router.route(this, message));
  }

  /** Deliver `message` to `agent`'s connection as if this (unattached) connection sent it through the router. */
  deliverTo(target: { identity: string }, message: VipMessage): void {
    this.#router.deliverAs(this.identity, target.identity, message);
  }

  deliver(message: VipMessage): void {
    queueMicrotask(() => this.#handler?.(message));
  }

  emit(s: ConnectionStatus): void {
    for (const l of [...this.#status]) l(s);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#router.detach(this);
    this.emit({ type: 'closed' });
  }
}
