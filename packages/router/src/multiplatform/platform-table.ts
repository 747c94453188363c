import {
  EMPTY_FRAME,
  frameText,
  identityKey,
  silentLogger,
  type Frame,
  type Logger,
  type PlatformLinks,
  type RouterServices,
  type VipMessage,
} from '@vip/protocol';

/**
 * A link's state, VOLTTRON's names (docs/protocol.md 6.2). CONNECTING until the bus link first
 * reports; CONNECTED once the link is up (ZeroMQ: the CURVE handshake done, its ZAP admitted us).
 */
export type LinkState = 'CONNECTING' | 'CONNECTED' | 'CONNECTION_DELAY' | 'DISCONNECTED';

/**
 * A bus-specific outgoing connection to one remote platform's router (a ZeroMQ DEALER; a proxy's
 * broker exchange). It reports its state and what arrives on it to the table
 * (`PlatformLinkTable.linkState`, `.arrived`).
 */
export interface OutgoingPlatformLink {
  /**
   * Send a router-addressed message `'' | VIP1 | user | id | subsystem | args...`. False when it
   * was not taken (not connected, queue full); `onFailed` runs when it was taken and then failed.
   * Never throws.
   */
  send(user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[], onFailed?: () => void): boolean;
  close(): Promise<void>;
}

export interface RemotePlatformCounters {
  /** Times the link came up / went down. */
  connects: number;
  disconnects: number;
  /** Messages handed to the link, refused by it, failed after it took them. */
  sent: number;
  refused: number;
  failed: number;
  /** Messages from that platform (on its link into this router, or on ours). */
  received: number;
  /** Publishes for that platform's subscribers that could not be sent. */
  undeliverablePublishes: number;
  /** External calls failed at once because it was not reachable. */
  callsFailedFast: number;
}

/** One remote platform as `vipctl platforms` shows it. */
export interface RemotePlatformStatus {
  readonly instance: string;
  readonly state: LinkState;
  /** When the state last changed (ms since the epoch). */
  readonly since: number;
  readonly vipAddress: string | undefined;
  readonly serverKey: string | undefined;
  /** `welcome`: the vip hello/welcome completed; `socket`: up by the socket alone (a VOLTTRON 9 peer never answers hello). */
  readonly handshake: 'welcome' | 'socket' | 'none';
  /** An incoming link from it has been seen on this router. */
  readonly incoming: boolean;
  readonly outgoing: boolean;
  readonly counters: Readonly<RemotePlatformCounters>;
}

/** What a message from a link is handed to (by subsystem): its instance, proven by the link. */
export type LinkMessageHandler = (instance: string, message: VipMessage) => void;

export interface PlatformLinkTableOptions {
  readonly instanceName: string;
  readonly logger?: Logger;
  readonly now?: () => number;
}

interface Remote {
  readonly instance: string;
  readonly linkUser: string;
  state: LinkState;
  since: number;
  vipAddress: string | undefined;
  serverKey: string | undefined;
  link: OutgoingPlatformLink | undefined;
  welcomed: boolean;
  /** The routing id of its link into this router, once seen (replies when we have no link of our own). */
  incomingPeer: Frame | undefined;
  readonly counters: RemotePlatformCounters;
}

/** The user id a remote platform's link is proven as on this router (ZAP admission of its key). */
export function linkUserOf(instance: string): string {
  return `platform.link/${instance}`;
}

/**
 * The remote platforms of this router: each one's proven link user (so `has` answers
 * `RouterServices.isPlatformLink`), its outgoing link and state with since-when and counters, and
 * the listeners for links coming up and going down. Bus-neutral: a ZeroMQ link manager or a
 * RabbitMQ proxy fills it the same way. The routing_table and external_rpc extensions and
 * pubsub's ExternalPlatforms all go through it.
 */
export class PlatformLinkTable implements PlatformLinks {
  readonly instanceName: string;
  readonly #remotes = new Map<string, Remote>();
  readonly #byUser = new Map<string, Remote>();
  readonly #handlers = new Map<string, LinkMessageHandler>();
  readonly #up = new Set<(instance: string) => void>();
  readonly #down = new Set<(instance: string) => void>();
  readonly #logger: Logger;
  readonly #now: () => number;
  #services: RouterServices | undefined;

  constructor(options: PlatformLinkTableOptions) {
    this.instanceName = options.instanceName;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'platform-links' });
    this.#now = options.now ?? Date.now;
  }

  /** The router's services (the routing_table extension hands them over when attached). */
  attach(services: RouterServices): void {
    this.#services = services;
  }

  /** PlatformLinks: true for a user the bus proved as a remote platform's link. */
  has(userId: string): boolean {
    return this.#byUser.has(userId);
  }

  /** The instance a proven link user belongs to. */
  instanceOf(userId: string): string | undefined {
    return this.#byUser.get(userId)?.instance;
  }

  /** Known remote platform (listed by discovery or configuration)? */
  knows(instance: string): boolean {
    return this.#remotes.has(instance);
  }

  /**
   * Add (or update) a remote platform: its key and address, the user its link is proven as here.
   * A platform already known keeps its state and counters; a new key replaces the old.
   */
  addPlatform(instance: string, info: { serverKey?: string | undefined; vipAddress?: string | undefined } = {}): string {
    let r = this.#remotes.get(instance);
    if (r === undefined) {
      const linkUser = linkUserOf(instance);
      r = {
        instance,
        linkUser,
        state: 'CONNECTING',
        since: this.#now(),
        vipAddress: undefined,
        serverKey: undefined,
        link: undefined,
        welcomed: false,
        incomingPeer: undefined,
        counters: {
          connects: 0,
          disconnects: 0,
          sent: 0,
          refused: 0,
          failed: 0,
          received: 0,
          undeliverablePublishes: 0,
          callsFailedFast: 0,
        },
      };
      this.#remotes.set(instance, r);
      this.#byUser.set(linkUser, r);
    }
    if (info.serverKey !== undefined) r.serverKey = info.serverKey;
    if (info.vipAddress !== undefined) r.vipAddress = info.vipAddress;
    return r.linkUser;
  }

  /** The remote platform whose key is `serverKey`, if any (ZAP admission of its link). */
  instanceWithKey(serverKey: string): string | undefined {
    for (const r of this.#remotes.values()) if (r.serverKey === serverKey) return r.instance;
    return undefined;
  }

  /** Give a remote platform its outgoing link (the previous one, if any, is closed). */
  setLink(instance: string, link: OutgoingPlatformLink): void {
    const r = this.#need(instance);
    const old = r.link;
    r.link = link;
    if (old !== undefined && old !== link) void old.close().catch(() => undefined);
  }

  /** The outgoing link reports a state; up and down transitions tell the listeners. */
  linkState(instance: string, state: LinkState): void {
    const r = this.#remotes.get(instance);
    if (r === undefined || r.state === state) return;
    const wasUp = r.state === 'CONNECTED';
    r.state = state;
    r.since = this.#now();
    this.#logger.info('platform.link.state', { instance, state });
    if (state === 'CONNECTED') {
      r.counters.connects++;
      for (const fn of this.#up) this.#call(fn, instance);
    } else if (wasUp) {
      r.counters.disconnects++;
      r.welcomed = false;
      for (const fn of this.#down) this.#call(fn, instance);
    }
  }

  /** The vip hello/welcome handshake completed with `instance`. */
  welcomed(instance: string): void {
    const r = this.#remotes.get(instance);
    if (r !== undefined) r.welcomed = true;
  }

  /** A router-addressed message came from `instance`'s link into this router, from routing id `peer`. */
  incomingSeen(instance: string, peer: Frame): void {
    const r = this.#remotes.get(instance);
    if (r === undefined) return;
    r.counters.received++;
    if (r.incomingPeer === undefined || !r.incomingPeer.equals(peer)) r.incomingPeer = peer;
  }

  isConnected(instance: string): boolean {
    const r = this.#remotes.get(instance);
    return r !== undefined && (r.state === 'CONNECTED' || (r.link === undefined && r.incomingPeer !== undefined));
  }

  /** Instances reachable now. */
  connected(): string[] {
    return [...this.#remotes.values()].filter((r) => this.isConnected(r.instance)).map((r) => r.instance);
  }

  instances(): string[] {
    return [...this.#remotes.keys()];
  }

  /**
   * Send a router-addressed message to `instance`'s router: on our outgoing link when it is up;
   * when we have no outgoing link to it at all (it lists us, we do not list it), back on its link
   * into this router. False when not sent (unknown, down, refused); counted either way.
   */
  send(instance: string, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[], onFailed?: () => void): boolean {
    const r = this.#remotes.get(instance);
    if (r === undefined) return false;
    const failed = () => {
      r.counters.failed++;
      onFailed?.();
    };
    if (r.link !== undefined) {
      if (r.state !== 'CONNECTED' || !r.link.send(user, id, subsystem, args, failed)) {
        r.counters.refused++;
        return false;
      }
      r.counters.sent++;
      return true;
    }
    const peer = r.incomingPeer;
    if (peer === undefined || this.#services === undefined) {
      r.counters.refused++;
      return false;
    }
    r.counters.sent++;
    void this.#services.deliver(peer, EMPTY_FRAME, user, id, subsystem, args).then((result) => {
      if (result === 'ok') return;
      if (r.incomingPeer !== undefined && identityKey(r.incomingPeer) === identityKey(peer)) r.incomingPeer = undefined;
      failed();
    });
    return true;
  }

  /** Count publishes that could not go to `instance`. */
  undeliverable(instance: string, n = 1): void {
    const r = this.#remotes.get(instance);
    if (r !== undefined) r.counters.undeliverablePublishes += n;
  }

  callFailedFast(instance: string): void {
    const r = this.#remotes.get(instance);
    if (r !== undefined) r.counters.callsFailedFast++;
  }

  /** A message arrived on our outgoing link to `instance` (a reply of its router): handed to its subsystem's handler. */
  arrived(instance: string, message: VipMessage): void {
    const r = this.#remotes.get(instance);
    if (r === undefined) return;
    r.counters.received++;
    const handler = this.#handlers.get(frameText(message.subsystem));
    if (handler === undefined) {
      this.#services?.count('platform link: unhandled reply');
      return;
    }
    try {
      handler(instance, message);
    } catch (err) {
      this.#services?.count('platform link: handler failed');
      this.#logger.warn('platform.link.handler_failed', { instance, subsystem: frameText(message.subsystem) }, err);
    }
  }

  /** Handle what remote routers send back on our links for `subsystem` (one handler each). */
  onLinkMessage(subsystem: string, handler: LinkMessageHandler): void {
    this.#handlers.set(subsystem, handler);
  }

  onConnected(listener: (instance: string) => void): () => void {
    this.#up.add(listener);
    return () => void this.#up.delete(listener);
  }

  onDisconnected(listener: (instance: string) => void): () => void {
    this.#down.add(listener);
    return () => void this.#down.delete(listener);
  }

  status(): RemotePlatformStatus[] {
    return [...this.#remotes.values()].map((r) => ({
      instance: r.instance,
      state: r.state,
      since: r.since,
      vipAddress: r.vipAddress,
      serverKey: r.serverKey,
      handshake: r.state !== 'CONNECTED' ? 'none' : r.welcomed ? 'welcome' : 'socket',
      incoming: r.incomingPeer !== undefined,
      outgoing: r.link !== undefined,
      counters: { ...r.counters },
    }));
  }

  /** Totals for router statistics. */
  stats(): Record<string, number> {
    const out: Record<string, number> = { platforms: this.#remotes.size, connected: this.connected().length };
    for (const r of this.#remotes.values()) {
      for (const [k, v] of Object.entries(r.counters)) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  }

  /** Close every outgoing link. */
  async close(): Promise<void> {
    const links = [...this.#remotes.values()].map((r) => r.link).filter((l): l is OutgoingPlatformLink => l !== undefined);
    for (const r of this.#remotes.values()) r.link = undefined;
    await Promise.all(links.map((l) => l.close().catch(() => undefined)));
  }

  #need(instance: string): Remote {
    const r = this.#remotes.get(instance);
    if (r === undefined) throw new Error(`platform ${JSON.stringify(instance)} is not in the link table`);
    return r;
  }

  #call(fn: (instance: string) => void, instance: string): void {
    try {
      fn(instance);
    } catch (err) {
      this.#logger.warn('platform.link.listener_failed', { instance }, err);
    }
  }
}
