import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EMPTY_FRAME,
  frameText,
  identityKey,
  textFrame,
  type AgentConnection,
  type ConnectionStatus,
  type DeliveryResult,
  type Frame,
  type PeerEvent,
  type RoutedMessage,
  type RouterTransport,
  type RouterTransportHandlers,
  type VipMessage,
} from '@vip/protocol';
import { waitFor } from './wait-for.js';

/**
 * The transport contract as a test suite (like aedes-persistence's abstract tests): every
 * `RouterTransport` / `AgentConnection` pair (ZeroMQ, RabbitMQ, in-memory) runs these same cases
 * with its own fixture, so no transport, and no fake, can drift from the others.
 */
export interface TransportConformanceCapabilities {
  /** The transport reports `peer-connected` / `peer-gone` when agents connect and close. */
  readonly peerEvents: boolean;
}

/** One running router transport with the means to attach agents to it. */
export interface ConformanceRouter {
  readonly transport: RouterTransport;
  /** A new agent connection to this router, not yet opened (the suite sets its handler, then opens it). */
  createConnection(identity: string): AgentConnection;
  /** Closes the transport and every connection created through `createConnection`. Idempotent. */
  close(): Promise<void>;
}

/**
 * The `ConformanceRouter` every fixture builds: `transport`, connections made by `connect`, and a
 * `close()` (idempotent) that closes the connections, then the transport, then runs `afterClose`
 * (a ZAP responder, a broker lease...).
 */
export function conformanceRouter(
  transport: RouterTransport,
  connect: (identity: string) => AgentConnection,
  afterClose: () => Promise<void> = async () => {},
): ConformanceRouter {
  const connections: AgentConnection[] = [];
  let closed: Promise<void> | undefined;
  return {
    transport,
    createConnection(identity) {
      const c = connect(identity);
      connections.push(c);
      return c;
    },
    close() {
      closed ??= (async () => {
        await Promise.all(connections.map((c) => c.close()));
        await transport.close();
        await afterClose();
      })();
      return closed;
    },
  };
}

export interface TransportConformanceFixture {
  readonly name: string;
  readonly capabilities: TransportConformanceCapabilities;
  /** A fresh router (loopback only) started with `handlers`. */
  startRouter(handlers: RouterTransportHandlers): Promise<ConformanceRouter>;
  /** Deadline for each wait, in ms (default 10 000). */
  readonly timeoutMs?: number;
}

const READY_SUBSYSTEM = textFrame('conformance.ready');

/** An agent attached through the suite's router: its inbox and its statuses. */
interface TestAgent {
  readonly identity: string;
  readonly connection: AgentConnection;
  readonly inbox: VipMessage[];
  readonly statuses: ConnectionStatus[];
}

/**
 * A minimal router on top of the transport under test: forwards every peer-addressed message
 * (`[recipient, sender, VIP1, user, ...]`, args by reference) and records what it saw.
 */
class ConformanceHarness {
  readonly events: PeerEvent[] = [];
  readonly results: DeliveryResult[] = [];
  readonly users = new Map<string, string>();
  readonly ready = new Set<string>();
  router: ConformanceRouter | undefined;
  #counter = 0;

  constructor(readonly fixture: TransportConformanceFixture) {}

  get timeoutMs(): number {
    return this.fixture.timeoutMs ?? 10_000;
  }

  readonly handlers: RouterTransportHandlers = {
    message: (message: RoutedMessage, userId: string) => {
      const key = identityKey(message.sender);
      this.users.set(key, userId);
      if (message.recipient.length === 0) {
        if (message.subsystem.equals(READY_SUBSYSTEM)) this.ready.add(key);
        return;
      }
      const transport = this.router?.transport;
      if (transport === undefined) return;
      void transport
        .deliver(message.recipient, message.sender, textFrame(userId), message.id, message.subsystem, message.args)
        .then((r) => this.results.push(r));
    },
    peerEvent: (event: PeerEvent) => {
      this.events.push(event);
    },
  };

  async start(): Promise<ConformanceRouter> {
    this.router = await this.fixture.startRouter(this.handlers);
    return this.router;
  }

  /** Creates, opens and announces an agent: resolves once the router has routed a message from it. */
  async attach(identity: string): Promise<TestAgent> {
    const router = this.router as ConformanceRouter;
    const connection = router.createConnection(identity);
    const agent: TestAgent = { identity, connection, inbox: [], statuses: [] };
    connection.onMessage((m) => agent.inbox.push(m));
    connection.onStatus((s) => agent.statuses.push(s));
    await connection.open();
    const key = identityKey(textFrame(identity));
    // Resend until the router has seen one: some transports (authenticated ZeroMQ) may drop
    // messages sent in the instant between the handshake and the router attaching the peer.
    for (let attempt = 0; !this.ready.has(key); attempt++) {
      if (attempt * 200 > this.timeoutMs) throw new Error(`router never saw ${identity} (${this.fixture.name})`);
      await connection.send({
        peer: EMPTY_FRAME,
        user: EMPTY_FRAME,
        id: textFrame(`ready.${++this.#counter}`),
        subsystem: READY_SUBSYSTEM,
        args: [],
      });
      await waitFor(() => this.ready.has(key), { timeoutMs: 200, what: 'ready' }).catch(() => false);
    }
    return agent;
  }

  userOf(identity: string): string {
    return this.users.get(identityKey(textFrame(identity))) ?? '';
  }

  async inboxHas(agent: TestAgent, n: number): Promise<void> {
    await waitFor(() => agent.inbox.length >= n, { timeoutMs: this.timeoutMs, what: `${agent.identity} receiving ${n} messages` });
  }
}

function message(peer: string, id: string, subsystem: string, args: Frame[]): VipMessage {
  return { peer: textFrame(peer), user: EMPTY_FRAME, id: textFrame(id), subsystem: textFrame(subsystem), args };
}

const uniqueId = (() => {
  let n = 0;
  return (prefix: string): string => `${prefix}-${process.pid}-${++n}`;
})();

/** The router side of the contract: forwarding, unreachable peers, peer events, close. */
export function describeRouterTransportConformance(fixture: TransportConformanceFixture): void {
  describe(`router transport contract: ${fixture.name}`, () => {
    const h = new ConformanceHarness(fixture);
    beforeAll(async () => {
      await h.start();
    });
    afterAll(async () => {
      await h.router?.close();
    });

    it('forwards every frame byte-exact and in order', async () => {
      const a = await h.attach(uniqueId('sender'));
      const b = await h.attach(uniqueId('receiver'));
      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const big = Buffer.alloc(1024 * 1024, 0xab);
      big.writeUInt32LE(0xdeadbeef, 512 * 1024);
      const many = Array.from({ length: 64 }, (_, i) => Buffer.from(`frame-${i}`));
      const sent: Frame[][] = [
        [binary],
        [EMPTY_FRAME],
        [Buffer.from('{"a":1}')],
        [Buffer.from('"abc"'), Buffer.from('5'), Buffer.from('null')],
        many,
        [big],
        [],
      ];
      for (const [i, args] of sent.entries()) await a.connection.send(message(b.identity, `id.${i}`, 'test', args));
      await h.inboxHas(b, sent.length);
      expect(b.inbox).toHaveLength(sent.length);
      for (const [i, got] of b.inbox.entries()) {
        expect(frameText(got.peer)).toBe(a.identity);
        expect(frameText(got.user)).toBe(h.userOf(a.identity));
        expect(frameText(got.id)).toBe(`id.${i}`);
        expect(frameText(got.subsystem)).toBe('test');
        const expected = sent[i] as Frame[];
        expect(got.args).toHaveLength(expected.length);
        for (const [j, frame] of got.args.entries()) expect(Buffer.compare(frame, expected[j] as Frame)).toBe(0);
      }
      await Promise.all([a.connection.close(), b.connection.close()]);
    });

    it('delivers messages the router originates (empty sender) to a connected agent', async () => {
      const a = await h.attach(uniqueId('direct'));
      const transport = (h.router as ConformanceRouter).transport;
      const result = await transport.deliver(
        textFrame(a.identity),
        EMPTY_FRAME,
        textFrame(a.identity),
        textFrame('m1'),
        textFrame('hello'),
        [textFrame('welcome')],
      );
      expect(result).toBe('ok');
      await h.inboxHas(a, 1);
      expect((a.inbox[0] as VipMessage).peer).toHaveLength(0);
      expect(frameText((a.inbox[0] as VipMessage).args[0] as Frame)).toBe('welcome');
      await a.connection.close();
    });

    it("resolves deliver() to an absent peer as 'unreachable'", async () => {
      const transport = (h.router as ConformanceRouter).transport;
      const result = await transport.deliver(textFrame(uniqueId('nobody')), EMPTY_FRAME, EMPTY_FRAME, textFrame('x'), textFrame('RPC'), []);
      expect(result).toBe('unreachable');
    });

    it.runIf(fixture.capabilities.peerEvents)('reports peer-connected and peer-gone when an agent comes and goes', async () => {
      const a = await h.attach(uniqueId('evented'));
      const key = identityKey(textFrame(a.identity));
      const connected = await waitFor(() => h.events.find((e) => e.type === 'peer-connected' && identityKey(e.peer) === key), {
        timeoutMs: h.timeoutMs,
        what: 'peer-connected',
      });
      expect(connected.type === 'peer-connected' && connected.user).toBe(h.userOf(a.identity));
      await a.connection.close();
      const gone = await waitFor(() => h.events.find((e) => e.type === 'peer-gone' && identityKey(e.peer) === key), {
        timeoutMs: h.timeoutMs,
        what: 'peer-gone',
      });
      expect(gone.type === 'peer-gone' && gone.reason).toBe('closed');
    });

    it('keeps per-sender order for 1,000 messages from each of several agents sending at once', async () => {
      const sink = await h.attach(uniqueId('sink'));
      const senders = await Promise.all([1, 2, 3].map((n) => h.attach(uniqueId(`burst${n}`))));
      const perSender = 1000;
      await Promise.all(
        senders.map((s) =>
          Promise.all(
            Array.from({ length: perSender }, (_, i) =>
              s.connection.send(message(sink.identity, String(i), 'burst', [Buffer.from(`n=${i}`)])),
            ),
          ),
        ),
      );
      await h.inboxHas(sink, perSender * senders.length);
      for (const s of senders) {
        const ids = sink.inbox.filter((m) => frameText(m.peer) === s.identity).map((m) => Number(frameText(m.id)));
        expect(ids).toEqual(Array.from({ length: perSender }, (_, i) => i));
      }
      await Promise.all([sink, ...senders].map((a) => a.connection.close()));
    });

    it("closes idempotently; deliver() after close resolves 'unreachable'", async () => {
      const own = new ConformanceHarness(fixture);
      const router = await own.start();
      const a = await own.attach(uniqueId('closing'));
      await Promise.all([router.transport.close(), router.transport.close()]);
      await router.transport.close();
      const result = await router.transport.deliver(
        textFrame(a.identity),
        EMPTY_FRAME,
        EMPTY_FRAME,
        textFrame('late'),
        textFrame('ping'),
        [],
      );
      expect(result).toBe('unreachable');
      await router.close();
    });
  });
}

/** The agent side of the contract: open, status, send after close. */
export function describeAgentConnectionConformance(fixture: TransportConformanceFixture): void {
  describe(`agent connection contract: ${fixture.name}`, () => {
    const h = new ConformanceHarness(fixture);
    beforeAll(async () => {
      await h.start();
    });
    afterAll(async () => {
      await h.router?.close();
    });

    it('reports its kind and identity and reaches the router after open()', async () => {
      const a = await h.attach(uniqueId('agent'));
      expect(a.connection.identity).toBe(a.identity);
      expect(a.connection.kind).toBe((h.router as ConformanceRouter).transport.kind);
      await a.connection.close();
    });

    it('rejects send() after close() with VIP_CLOSED; close() is idempotent and reports closed', async () => {
      const a = await h.attach(uniqueId('closer'));
      await Promise.all([a.connection.close(), a.connection.close()]);
      await a.connection.close();
      await expect(a.connection.send(message('anyone', 'x', 'ping', []))).rejects.toMatchObject({ code: 'VIP_CLOSED' });
      expect(a.statuses.filter((s) => s.type === 'closed')).toHaveLength(1);
      await expect(a.connection.open()).rejects.toMatchObject({ code: 'VIP_CLOSED' });
    });

    it('receives messages from several peers, each with its sender as peer', async () => {
      const target = await h.attach(uniqueId('target'));
      const x = await h.attach(uniqueId('x'));
      const y = await h.attach(uniqueId('y'));
      await x.connection.send(message(target.identity, 'from-x', 'test', [textFrame('1')]));
      await y.connection.send(message(target.identity, 'from-y', 'test', [textFrame('2')]));
      await h.inboxHas(target, 2);
      const peers = target.inbox.map((m) => frameText(m.peer)).sort();
      expect(peers).toEqual([x.identity, y.identity].sort());
      await Promise.all([target, x, y].map((a) => a.connection.close()));
    });
  });
}
