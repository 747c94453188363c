import {
  ClosedError,
  createRpcIdGenerator,
  frameText,
  PeerUnreachableError,
  silentLogger,
  type AgentConnection,
  type ConnectionStatus,
  type Frame,
  type Logger,
  type VipMessage,
} from '@vip/protocol';
import { HelloTimeoutError, NotStartedError } from './errors.js';
import { KnownNames, toVipMessage } from './frames.js';
import { AgentEvents, type AgentEvent } from './agent-events.js';
import { LOCAL, pendingKey, PendingRequests, type OperationName, type Settlement } from './pending-requests.js';
import type {
  AgentCore,
  AgentPublisher,
  ExpectOptions,
  OutgoingMessage,
  RequestOptions,
  Subsystem,
  SubsystemFactory,
} from './subsystem.js';
import { HelloSubsystem } from './subsystems/hello.js';
import { PingSubsystem } from './subsystems/ping.js';
import { PeerlistSubsystem } from './subsystems/peerlist.js';
import { QuerySubsystem } from './subsystems/query.js';
import { HealthSubsystem } from './subsystems/health.js';
import { AuthSubsystem, type AuthSubsystemOptions } from './subsystems/auth.js';
import { ChannelSubsystem } from './subsystems/channel.js';
import { HeartbeatSubsystem, type HeartbeatOptions } from './subsystems/heartbeat.js';
import { ConfigSubsystem } from './subsystems/config.js';
import { RpcSubsystem, type RpcOptions } from './rpc/rpc.js';
import { ExternalRpcSubsystem } from './rpc/external-rpc.js';
import { AgentStats } from './agent-stats.js';
import { InboundDispatch } from './inbound-dispatch.js';
import { PubSubSubsystem, type PubSubSubsystemOptions } from './pubsub/pubsub-subsystem.js';

export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/**
 * The first re-hello after a reconnect waits this long, then twice as long each time up to
 * helloTimeoutMs: a hello sent while the router was still coming back is lost, and the next one
 * should not wait the full handshake timeout.
 */
const REHELLO_FIRST_TIMEOUT_MS = 1_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Before a reopened connection asks again, the router gets this long to see the old one go. */
const REOPEN_PAUSE_MS = 100;

export interface AgentOptions {
  /** VIP identity (the DEALER routing id on ZeroMQ). */
  readonly identity: string;
  /** The transport connection, or a factory so the agent can start again after a stop. */
  readonly connection: AgentConnection | (() => AgentConnection);
  readonly logger?: Logger;
  /** Wait this long for the welcome on start (default 10 s, as VOLTTRON); re-hellos after a reconnect start at 1 s and double up to it. */
  readonly helloTimeoutMs?: number;
  /** Default timeout of router requests (ping, peerlist, query): 30 s. */
  readonly requestTimeoutMs?: number;
  /** Where the platform is, for error messages (e.g. the address without keys). */
  readonly target?: string;
  readonly rpc?: RpcOptions;
  readonly heartbeat?: HeartbeatOptions;
  /** The `auth` subsystem: dynamic RPC authorizations (`syncRpcAuthorizations` at start). */
  readonly auth?: AuthSubsystemOptions;
  /** The `channel` subsystem: bytes each channel holds unread (default 16 MiB). */
  readonly channel?: { readonly bufferBytes?: number };
  /**
   * The pubsub subsystem is registered by default (as on every VOLTTRON agent); `false` leaves it
   * out; a factory supplies another implementation of it (e.g. RabbitMQ broker pubsub, @vip/agent/rmq).
   */
  readonly pubsub?: PubSubSubsystemOptions | false | SubsystemFactory<PubSubSubsystem>;
  /**
   * When a hello gets no welcome in time, close the connection and open a fresh one (from the
   * `connection` factory) instead of saying hello again on it. On ZeroMQ a connection the router
   * could not tie to its admission is never answered; a new connection passes ZAP again
   * (`@vip/agent/zmq` turns this on). Start then spends helloTimeoutMs over attempts of a fifth,
   * two fifths and the rest of it.
   */
  readonly reopenAfterHelloTimeout?: boolean;
  /**
   * The configuration store (`agent.config`): `true` asks the platform's `config.store` for this
   * agent's configs at start even before any `subscribe`/`setDefault` (which turn it on too).
   */
  readonly config?: boolean;
}

export type { AgentEvent };

/** `<subsystem> request to <peer>`: names a request in its TimeoutError when the caller gave no name. */
function defaultOperation(m: Omit<OutgoingMessage, 'id'>): string {
  const peer = typeof m.peer === 'string' ? m.peer : frameText(m.peer);
  return `${m.subsystem} request to ${peer === '' ? 'the router' : JSON.stringify(peer)}`;
}

/** Pending-request key of the welcome; never a message id (those are `identityKey`s of id frames). */
const WELCOME_KEY = '\u0000welcome';
/** `pendingKey` of the router as the sender of a reply (empty peer frame). */
const ROUTER = '';
const NO_OPTIONS: RequestOptions = {};
type Hook = () => void | Promise<void>;

/**
 * A VIP agent: one identity, one connection, subsystems. Speaks only to `AgentConnection`, so
 * the same agent runs over ZeroMQ (`@vip/agent/zmq`) or RabbitMQ.
 */
export class Agent {
  readonly identity: string;
  readonly logger: Logger;
  readonly ping: PingSubsystem;
  readonly peerlist: PeerlistSubsystem;
  readonly query: QuerySubsystem;
  readonly rpc: RpcSubsystem;
  readonly health: HealthSubsystem;
  readonly heartbeat: HeartbeatSubsystem;
  /** The configuration store: defaults, callbacks, get/set/delete/list (VOLTTRON's `vip.config`). */
  readonly config: ConfigSubsystem;
  readonly auth: AuthSubsystem;
  /** Named byte streams with other peers (`agent.channel.create(peer, name)`). */
  readonly channel: ChannelSubsystem;
  /** Undefined when created with `pubsub: false`. */
  readonly pubsub: PubSubSubsystem | undefined;

  readonly #options: AgentOptions;
  readonly #nextId = createRpcIdGenerator();
  readonly #pending = new PendingRequests();
  readonly #subsystems = new Map<string, Subsystem>();
  readonly #names = new KnownNames(['error']);
  readonly #events: AgentEvents;
  readonly #onStart: Hook[] = [];
  readonly #onStop: Hook[] = [];
  readonly #core: AgentCore;
  readonly #stats = new AgentStats();
  readonly #inbound: InboundDispatch;
  #publisher: AgentPublisher | undefined;
  #connection: AgentConnection | undefined;
  #unsubscribeStatus: (() => void) | undefined;
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  #closed = false;
  #connected = false;
  #running = false;
  /** The transport reports itself connected (re-hellos only make sense then). */
  #transportUp = false;
  #helloCount = 0;
  #helloId = '';
  #rehello: Promise<void> | undefined;
  /** True while a welcome is awaited (start or reconnect). */
  #handshaking = false;
  /** True while start() says hello (it reopens the connection itself; no parallel re-hello). */
  #starting = false;
  #routerIdentity = '';

  constructor(options: AgentOptions) {
    this.#options = options;
    this.identity = options.identity;
    this.logger = (options.logger ?? silentLogger).child({ identity: options.identity });
    this.#events = new AgentEvents(this.logger);
    this.#core = this.#makeCore();
    this.#inbound = new InboundDispatch({
      core: this.#core,
      subsystems: this.#subsystems,
      names: this.#names,
      pending: this.#pending,
      stats: this.#stats,
      logger: this.logger,
    });
    this.use(() => new HelloSubsystem(this.#core, (m) => this.#welcome(m)));
    this.ping = this.use((core) => new PingSubsystem(core, this.#requestTimeout()));
    this.peerlist = this.use((core) => new PeerlistSubsystem(core, this.#requestTimeout()));
    this.query = this.use((core) => new QuerySubsystem(core, this.#requestTimeout()));
    this.rpc = this.use((core) => new RpcSubsystem(core, options.rpc));
    this.use((core) => new ExternalRpcSubsystem(core, this.rpc));
    const pubsubOptions = options.pubsub;
    this.pubsub =
      pubsubOptions === false
        ? undefined
        : this.use(typeof pubsubOptions === 'function' ? pubsubOptions : (core) => new PubSubSubsystem(core, pubsubOptions));
    this.health = this.use((core) => new HealthSubsystem(core, this.rpc));
    this.heartbeat = this.use((core) => new HeartbeatSubsystem(core, this.rpc, this.health, options.heartbeat));
    this.config = this.use((core) => new ConfigSubsystem(core, this.rpc, { enabled: options.config === true }));
    // before the user's onStart hooks: they see the store's configs (VOLTTRON calls back NEW at onstart)
    this.#onStart.push(() => this.config.onStart());
    this.auth = this.use((core) => new AuthSubsystem(core, this.rpc, options.auth));
    this.channel = this.use((core) => new ChannelSubsystem(core, options.channel));
    // The router knows a peer is gone: its replies cannot come, so what waits for them fails now
    // rather than at its timeout. Only requests pending at this drop: a later one is not touched.
    this.peerlist.onDrop((peer) => {
      const n = this.#pending.rejectPeer(pendingKey(peer), (o) => new PeerUnreachableError(peer, o.subsystem ?? ''));
      if (n > 0) this.#stats.count('requests.failed_peer_gone', n);
    });
  }

  /** Register a subsystem (pubsub, custom ones). Its `name` must be unique. */
  use<S extends Subsystem>(factory: SubsystemFactory<S>): S {
    const s = factory(this.#core);
    if (this.#subsystems.has(s.name)) throw new Error(`subsystem ${JSON.stringify(s.name)} is already registered`);
    this.#subsystems.set(s.name, s);
    this.#names.add(s.name);
    return s;
  }

  subsystem<T extends Subsystem = Subsystem>(name: string): T | undefined {
    return this.#subsystems.get(name) as T | undefined;
  }

  /** The subsystem API (what `use` factories receive). */
  get core(): AgentCore {
    return this.#core;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** The router's socket identity from the last welcome. */
  get routerIdentity(): string {
    return this.#routerIdentity;
  }

  /** Counters: messages in/out, rejected input, unknown subsystems. */
  stats(): Record<string, number> {
    return this.#stats.snapshot();
  }

  /**
   * The connection's own counters while started (RmqConnection: deliveries received, invalid,
   * handler errors...), so bad input dropped below the agent is visible too; undefined when the
   * agent is stopped or its connection keeps none.
   */
  transportStats(): Record<string, number> | undefined {
    const conn = this.#connection as (AgentConnection & { stats?: unknown }) | undefined;
    if (!conn || typeof conn.stats !== 'function') return undefined;
    const raw: unknown = (conn.stats as () => unknown).call(conn);
    if (typeof raw !== 'object' || raw === null) return undefined;
    return Object.fromEntries(Object.entries(raw).filter((e): e is [string, number] => typeof e[1] === 'number'));
  }

  onStart(hook: Hook): void {
    this.#onStart.push(hook);
  }

  onStop(hook: Hook): void {
    this.#onStop.push(hook);
  }

  /** Listen to `connected` (after each welcome) or `disconnected`; returns the remover. */
  on(event: AgentEvent, listener: () => void): () => void {
    return this.#events.on(event, listener);
  }

  /** Connect, hello/welcome (10 s), subsystems' onConnected, then onStart hooks. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(`agent ${this.identity}`));
    this.#started ??= this.#start().catch(async (err: unknown) => {
      await this.#teardown();
      this.#started = undefined;
      throw err;
    });
    return this.#started;
  }

  /** onStop hooks, `agentstop` to the router, close the connection. Idempotent. */
  stop(): Promise<void> {
    if (!this.#started) return this.#stopped ?? Promise.resolve();
    this.#stopped ??= this.#stop().finally(() => {
      this.#started = undefined;
      this.#stopped = undefined;
    });
    return this.#stopped;
  }

  /** Final: stop, and refuse later starts. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Why nothing can be sent now: never started (or stopped: start() again) versus closed for good. */
  #notRunning(): Error {
    return this.#closed ? new ClosedError(`agent ${this.identity}`) : new NotStartedError(this.identity);
  }

  async #start(): Promise<void> {
    const c = this.#options.connection;
    const conn = this.#use(typeof c === 'function' ? c() : c);
    this.#running = true;
    const timeoutMs = this.#options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    this.#starting = true;
    try {
      await conn.open();
      await this.#firstHello(timeoutMs);
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') {
        throw new HelloTimeoutError(this.identity, timeoutMs, this.#options.target ?? `${conn.kind} platform`, conn.kind);
      }
      throw err;
    } finally {
      this.#starting = false;
    }
    await this.#becomeConnected();
    for (const hook of this.#onStart) await hook();
  }

  /** Hello within `timeoutMs`; reopening the connection between attempts when the agent may (a fifth, two fifths, the rest). */
  async #firstHello(timeoutMs: number): Promise<void> {
    if (!this.#mayReopen()) {
      await this.#hello(timeoutMs);
      return;
    }
    const deadline = Date.now() + timeoutMs;
    for (let share = 1; ; share *= 2) {
      const wait = Math.min(deadline - Date.now(), (timeoutMs * share) / 5);
      try {
        await this.#hello(Math.max(1, wait));
        return;
      } catch (err) {
        if (!(err instanceof Error && err.name === 'TimeoutError') || deadline - Date.now() <= REOPEN_PAUSE_MS || !this.#running) throw err;
        this.logger.info('agent.hello.reopen', { waitedMs: Math.round(wait) });
        await this.#reopen();
      }
    }
  }

  #mayReopen(): boolean {
    return this.#options.reopenAfterHelloTimeout === true && typeof this.#options.connection === 'function';
  }

  /** Make `conn` the agent's connection (message handler and status listener). */
  #use(conn: AgentConnection): AgentConnection {
    this.#connection = conn;
    conn.onMessage((m) => this.#inbound.dispatch(m));
    this.#unsubscribeStatus = conn.onStatus((s) => this.#onStatus(s));
    return conn;
  }

  /** Reopen; a fresh connection that fails to open is retried (1 s, doubling to helloTimeoutMs) while running. */
  async #reopenUntilOpen(): Promise<void> {
    const cap = this.#options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    for (let attempt = 1; this.#running; attempt++) {
      try {
        await this.#reopen();
        return;
      } catch (err) {
        this.logger.warn('agent.reopen.failed', { attempt }, err);
        await new Promise((resolve) => setTimeout(resolve, Math.min(cap, REHELLO_FIRST_TIMEOUT_MS * 2 ** Math.min(attempt - 1, 16))));
      }
    }
  }

  /** Close the connection and open a fresh one from the factory (a new ZAP admission on ZeroMQ). */
  async #reopen(): Promise<void> {
    const factory = this.#options.connection as () => AgentConnection;
    this.#unsubscribeStatus?.();
    this.#unsubscribeStatus = undefined;
    const old = this.#connection;
    this.#connection = undefined;
    this.#transportUp = false;
    await old?.close();
    await new Promise((resolve) => setTimeout(resolve, REOPEN_PAUSE_MS));
    if (!this.#running) return;
    await this.#use(factory()).open();
  }

  async #stop(): Promise<void> {
    for (const hook of this.#onStop) {
      try {
        await hook();
      } catch (err) {
        this.logger.warn('agent.onstop.failed', {}, err);
      }
    }
    for (const s of this.#subsystems.values()) {
      try {
        await s.onStop?.();
      } catch (err) {
        this.logger.warn('subsystem.onstop.failed', { subsystem: s.name }, err);
      }
    }
    if (this.#connected) {
      await this.#core.send({ peer: '', subsystem: 'agentstop', args: [this.identity] }).catch((err: unknown) => {
        this.logger.debug('agent.agentstop.failed', {}, err);
      });
    }
    await this.#teardown();
  }

  async #teardown(): Promise<void> {
    const wasConnected = this.#connected;
    this.#running = false;
    this.#connected = false;
    this.#pending.rejectAll(new ClosedError(`agent ${this.identity}`));
    for (const s of this.#subsystems.values()) {
      try {
        await s.close?.();
      } catch (err) {
        this.logger.warn('subsystem.close.failed', { subsystem: s.name }, err);
      }
    }
    this.#unsubscribeStatus?.();
    this.#unsubscribeStatus = undefined;
    const conn = this.#connection;
    this.#connection = undefined;
    await conn?.close();
    if (wasConnected) this.#events.emit('disconnected');
  }

  /** Send hello and wait for the welcome answering the latest hello sent (a reconnect mid-wait sends another). */
  async #hello(timeoutMs: number): Promise<VipMessage> {
    this.#handshaking = true;
    try {
      const welcome = this.#pending.add<VipMessage>(WELCOME_KEY, {
        from: ROUTER,
        timeoutMs,
        operation: `hello from ${JSON.stringify(this.identity)}`,
      });
      this.#sendHello();
      return await welcome;
    } finally {
      this.#handshaking = false;
    }
  }

  #sendHello(): void {
    const id = `connect.hello.${this.#helloCount++}`;
    this.#helloId = id;
    this.#core.send({ peer: '', subsystem: 'hello', id, args: ['hello'] }).catch((err: unknown) => {
      this.#pending.reject(WELCOME_KEY, err instanceof Error ? err : new Error(String(err)), LOCAL);
    });
  }

  /** A welcome from the router; only the one answering our last hello counts (docs/protocol.md 2.1). */
  #welcome(message: VipMessage): void {
    if (message.peer.length !== 0 || frameText(message.id) !== this.#helloId) return;
    this.#routerIdentity = frameText(message.args[2] ?? Buffer.alloc(0));
    this.#pending.resolve(WELCOME_KEY, message, ROUTER);
  }

  async #becomeConnected(): Promise<void> {
    this.#connected = true;
    for (const s of this.#subsystems.values()) {
      try {
        await s.onConnected?.();
      } catch (err) {
        this.logger.warn('subsystem.onconnected.failed', { subsystem: s.name }, err);
      }
    }
    this.#events.emit('connected');
  }

  #onStatus(status: ConnectionStatus): void {
    if (!this.#running) return;
    if (status.type === 'connected') this.#transportUp = true;
    else if (status.type === 'disconnected' || status.type === 'closed') this.#transportUp = false;
    if (status.type === 'disconnected' || status.type === 'closed') {
      if (!this.#connected) return;
      this.#connected = false;
      this.logger.info('agent.disconnected', { reason: status.type === 'disconnected' ? status.reason : 'closed' });
      for (const s of this.#subsystems.values()) s.onDisconnected?.();
      this.#events.emit('disconnected');
    } else if (status.type === 'connected' && !this.#connected && this.#helloCount > 0) {
      // A hello sent on the old connection may be lost: say hello again on the new one.
      if (this.#handshaking) this.#sendHello();
      else if (!this.#starting) this.#rehello ??= this.#reconnect().finally(() => (this.#rehello = undefined));
    }
  }

  /**
   * After a transport reconnect: hello again, for as long as the transport stays up (a later
   * reconnect starts this again), each wait longer than the last up to helloTimeoutMs; then
   * re-sync. A hello that fails at once (send refused) waits out its timeout before the next.
   */
  async #reconnect(): Promise<void> {
    const cap = this.#options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    for (let attempt = 1; this.#running && !this.#connected && this.#transportUp; attempt++) {
      const timeoutMs = Math.min(cap, REHELLO_FIRST_TIMEOUT_MS * 2 ** Math.min(attempt - 1, 16));
      const started = Date.now();
      try {
        await this.#hello(timeoutMs);
        if (!this.#running) return;
        this.logger.info('agent.reconnected', { attempt });
        await this.#becomeConnected();
        return;
      } catch (err) {
        if (!this.#running) return;
        this.logger.warn('agent.rehello.failed', { attempt, timeoutMs }, err);
        if (this.#mayReopen() && err instanceof Error && err.name === 'TimeoutError') {
          await this.#reopenUntilOpen();
          continue;
        }
        const rest = timeoutMs - (Date.now() - started);
        if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
      }
    }
  }

  /**
   * A reply that matched no pending request (late after its timeout, or never asked for), or came
   * from another peer than the one asked (a guessed or leaked id), is counted, not silent.
   */
  #matched(outcome: Settlement): boolean {
    if (outcome === 'settled') return true;
    this.#stats.count(outcome === 'unknown' ? 'replies.unmatched' : 'replies.wrong_peer');
    if (outcome === 'wrong-peer') this.logger.debug('agent.reply.wrong_peer');
    return false;
  }

  #requestTimeout(): number {
    return this.#options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  #makeCore(): AgentCore {
    const agent = this;
    return {
      get identity() {
        return agent.identity;
      },
      get logger() {
        return agent.logger;
      },
      get connected() {
        return agent.#connected;
      },
      get publisher() {
        return agent.#publisher;
      },
      providePublisher(p: AgentPublisher) {
        agent.#publisher = p;
      },
      nextId: () => this.#nextId(),
      send: (m: OutgoingMessage) => {
        const conn = this.#connection;
        if (!conn || !this.#running) return Promise.reject(this.#notRunning());
        this.#stats.messageOut();
        return conn.send(toVipMessage(m));
      },
      expect: <T>(id: string, o: ExpectOptions) =>
        this.#pending.add<T>(pendingKey(id), {
          from: pendingKey(o.from),
          timeoutMs: o.timeoutMs ?? this.#requestTimeout(),
          operation: o.operation,
          signal: o.signal,
          subsystem: o.subsystem,
        }),
      request: <T>(m: Omit<OutgoingMessage, 'id'>, o: RequestOptions = NO_OPTIONS) => {
        const id = o.id ?? this.#nextId();
        const key = pendingKey(id);
        const reply = this.#pending.add<T>(key, {
          from: pendingKey(m.peer),
          timeoutMs: o.timeoutMs ?? this.#requestTimeout(),
          operation: o.operation ?? (() => defaultOperation(m)),
          signal: o.signal,
          subsystem: m.subsystem,
        });
        this.#core.send({ peer: m.peer, subsystem: m.subsystem, args: m.args, id, user: m.user }).catch((err: unknown) => {
          this.#pending.reject(key, err instanceof Error ? err : new Error(String(err)), LOCAL);
        });
        return reply;
      },
      settle: (id, value, from) => this.#matched(this.#pending.resolve(pendingKey(id), value, pendingKey(from))),
      fail: (id, error, from) => this.#matched(this.#pending.reject(pendingKey(id), error, from === undefined ? LOCAL : pendingKey(from))),
      subsystem: <T extends Subsystem>(name: string) => this.#subsystems.get(name) as T | undefined,
    };
  }
}
