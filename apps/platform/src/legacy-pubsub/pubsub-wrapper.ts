import { PubSubSubsystem, type Agent, type ListRow, type RpcCallContext } from '@vip/agent';

/** The identity legacy (VOLTTRON <= 4.1) agents send their RPC pubsub calls to. */
export const PUBSUB_WRAPPER_IDENTITY = 'pubsub';

/**
 * Legacy RPC-based pubsub (docs/protocol.md 3.8) for agents written before VOLTTRON 5.0, a platform
 * service (`--legacy-pubsub true`, services/legacy-pubsub.ts): an agent with
 * identity `pubsub` exporting `pubsub.subscribe|unsubscribe|publish|list|sync`, which subscribes
 * through today's pubsub subsystem on the legacy agents' behalf and pushes each matching message
 * to them as the RPC notification `pubsub.push(sender, bus, topic, headers, message)`.
 *
 * Publishes go out under the wrapper's own identity and user: protected topics are authorized
 * against the wrapper's capabilities (none by default, so legacy agents cannot publish on
 * protected topics through it).
 */
export class PubSubWrapper {
  readonly #agent: Agent;
  readonly #pubsub: PubSubSubsystem;
  /** legacy peer -> bus -> prefixes */
  readonly #legacy = new Map<string, Map<string, Set<string>>>();
  /** bus -> prefix -> number of legacy peers holding it (the wrapper's own subscriptions) */
  readonly #held = new Map<string, Map<string, number>>();
  #lastHeaders: unknown;
  #pushed = 0;
  #pushFailed = 0;

  constructor(agent: Agent) {
    if (agent.identity !== PUBSUB_WRAPPER_IDENTITY) {
      throw new Error(`the legacy pubsub wrapper must run as identity "${PUBSUB_WRAPPER_IDENTITY}", not ${JSON.stringify(agent.identity)}`);
    }
    this.#agent = agent;
    this.#pubsub = agent.subsystem<PubSubSubsystem>('pubsub') ?? agent.use((core) => new PubSubSubsystem(core));
    const self = this;
    const rpc = agent.rpc;
    rpc.export(
      'pubsub.subscribe',
      function (this: RpcCallContext, prefix: unknown, bus: unknown = '') {
        return self.#subscribe(this.caller, text(prefix, 'prefix'), text(bus, 'bus'));
      },
      { params: ['prefix', { name: 'bus', default: '' }] },
    );
    rpc.export(
      'pubsub.unsubscribe',
      function (this: RpcCallContext, prefix: unknown, bus: unknown = '') {
        return self.#unsubscribe(this.caller, prefix === null || prefix === undefined ? null : text(prefix, 'prefix'), text(bus, 'bus'));
      },
      { params: ['prefix', { name: 'bus', default: '' }] },
    );
    rpc.export(
      'pubsub.publish',
      function (this: RpcCallContext, topic: unknown, headers: unknown = {}, message: unknown = null, bus: unknown = '') {
        const h = headers !== null && typeof headers === 'object' && !Array.isArray(headers) ? (headers as Record<string, unknown>) : {};
        return self.#pubsub.publish(text(topic, 'topic'), { headers: h, message, bus: text(bus, 'bus') });
      },
      { params: ['topic', { name: 'headers', default: {} }, { name: 'message', default: null }, { name: 'bus', default: '' }] },
    );
    rpc.export(
      'pubsub.list',
      function (this: RpcCallContext, prefix: unknown = '', bus: unknown = '', subscribed: unknown = true, reverse: unknown = false) {
        return self.#list(
          this.caller,
          text(prefix, 'prefix'),
          bus === null ? null : text(bus, 'bus'),
          subscribed !== false,
          reverse === true,
        );
      },
      {
        params: [
          { name: 'prefix', default: '' },
          { name: 'bus', default: '' },
          { name: 'subscribed', default: true },
          { name: 'reverse', default: false },
        ],
      },
    );
    rpc.export(
      'pubsub.sync',
      function (this: RpcCallContext, subscriptions: unknown) {
        return self.#sync(this.caller, subscriptions);
      },
      { params: ['subscriptions'] },
    );
    agent.peerlist.onDrop((peer) => void this.#drop(peer));
  }

  stats(): Record<string, number> {
    return { legacy_peers: this.#legacy.size, pushed: this.#pushed, push_failed: this.#pushFailed };
  }

  async #subscribe(peer: string, prefix: string, bus: string): Promise<boolean> {
    let buses = this.#legacy.get(peer);
    if (!buses) this.#legacy.set(peer, (buses = new Map()));
    let prefixes = buses.get(bus);
    if (!prefixes) buses.set(bus, (prefixes = new Set()));
    if (prefixes.has(prefix)) return true;
    prefixes.add(prefix);
    await this.#hold(bus, prefix, +1);
    return true;
  }

  async #unsubscribe(peer: string, prefix: string | null, bus: string): Promise<boolean> {
    const prefixes = this.#legacy.get(peer)?.get(bus);
    if (!prefixes) return true;
    for (const p of prefix === null ? [...prefixes] : [prefix]) {
      if (prefixes.delete(p)) await this.#hold(bus, p, -1);
    }
    this.#prune(peer, bus);
    return true;
  }

  #list(peer: string, prefix: string, bus: string | null, subscribed: boolean, reverse: boolean): ListRow[] {
    const rows: ListRow[] = [];
    for (const [b, prefixes] of this.#held) {
      if (bus !== null && b !== bus) continue;
      for (const p of prefixes.keys()) {
        if (!(reverse ? prefix.startsWith(p) : p.startsWith(prefix))) continue;
        const member = this.#legacy.get(peer)?.get(b)?.has(p) ?? false;
        if (!subscribed || member) rows.push([b, p, member]);
      }
    }
    return rows;
  }

  /** `{bus: [prefixes]}`: the caller's whole legacy subscription set. */
  async #sync(peer: string, subscriptions: unknown): Promise<void> {
    if (subscriptions === null || typeof subscriptions !== 'object' || Array.isArray(subscriptions)) {
      throw new TypeError('pubsub.sync expects {bus: [prefixes]}');
    }
    await this.#drop(peer);
    for (const [bus, prefixes] of Object.entries(subscriptions as Record<string, unknown>)) {
      if (!Array.isArray(prefixes)) continue;
      for (const p of prefixes) if (typeof p === 'string') await this.#subscribe(peer, p, bus);
    }
  }

  async #drop(peer: string): Promise<void> {
    const buses = this.#legacy.get(peer);
    if (!buses) return;
    this.#legacy.delete(peer);
    for (const [bus, prefixes] of buses) for (const p of prefixes) await this.#hold(bus, p, -1);
  }

  #prune(peer: string, bus: string): void {
    const buses = this.#legacy.get(peer);
    if (buses?.get(bus)?.size === 0) buses.delete(bus);
    if (buses?.size === 0) this.#legacy.delete(peer);
  }

  /** The wrapper holds one real subscription per (bus, prefix) any legacy peer wants. */
  async #hold(bus: string, prefix: string, delta: 1 | -1): Promise<void> {
    let prefixes = this.#held.get(bus);
    if (!prefixes) this.#held.set(bus, (prefixes = new Map()));
    const n = (prefixes.get(prefix) ?? 0) + delta;
    if (n > 0) prefixes.set(prefix, n);
    else prefixes.delete(prefix);
    if (prefixes.size === 0) this.#held.delete(bus);
    if (delta > 0 && n === 1) await this.#pubsub.subscribe(prefix, this.#push, { bus });
    if (delta < 0 && n === 0) await this.#pubsub.unsubscribe(prefix, this.#push, { bus });
  }

  /**
   * One delivery can match several of the wrapper's prefixes; the subsystem then calls this once
   * per prefix with the same parsed `headers` object, so a repeat of that object is skipped.
   */
  readonly #push = (
    _peer: string,
    sender: string,
    bus: string,
    topic: string,
    headers: Record<string, unknown>,
    message: unknown,
  ): void => {
    if (headers === this.#lastHeaders) return;
    this.#lastHeaders = headers;
    const wire = sender.startsWith('\u0000') ? `\u0000${Buffer.from(sender.slice(1), 'utf8').toString('base64')}` : sender;
    for (const [peer, buses] of this.#legacy) {
      const prefixes = buses.get(bus);
      if (!prefixes) continue;
      let match = false;
      for (const p of prefixes) if (topic.startsWith(p)) match = true;
      if (!match) continue;
      this.#pushed++;
      this.#agent.rpc.notify(peer, 'pubsub.push', wire, bus, topic, headers, message).catch((err: unknown) => {
        this.#pushFailed++;
        this.#agent.logger.debug('pubsub.wrapper.push.failed', { peer }, err);
      });
    }
  };
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  return value;
}
