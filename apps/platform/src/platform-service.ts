import type { CurveKeyPair, LinkedPlatform, Logger, RouterExtension } from '@vip/protocol';
import type { Agent, RpcOptions } from '@vip/agent';
import type { ProtectedTopics } from '@vip/pubsub';
import type { Router } from '@vip/router';
import type { UserToCapabilities } from './auth-service/index.js';
import type { ConfigFileKey } from './bus-config-file.js';
import type { PlatformConfig } from './cli-options.js';
import type { PlatformAuth } from './platform-auth.js';
import type { VipHomePaths } from '@vip/auth';

/**
 * A value services hand each other whatever their order in the list: the latest is kept and given
 * at once to each new listener, then every later one.
 */
export class Feed<T> {
  #latest: { readonly value: T } | undefined;
  readonly #listeners = new Set<(value: T) => void>();

  publish(value: T): void {
    this.#latest = { value };
    for (const listener of this.#listeners) listener(value);
  }

  /** The latest value published, if any. */
  latest(): T | undefined {
    return this.#latest?.value;
  }

  /** Listen (and hear the latest value now, if any); returns the remover. */
  subscribe(listener: (value: T) => void): () => void {
    this.#listeners.add(listener);
    if (this.#latest) listener(this.#latest.value);
    return () => void this.#listeners.delete(listener);
  }
}

/** How one of the platform's own service agents (control, platform.auth, pubsub) connects. */
export interface ServiceAgentOptions {
  /**
   * Where the bus admits by auth.json (ZeroMQ): the capabilities of the service's entry, pinned to
   * its identity, added with its own key when missing (then auth.json is reloaded). Absent: the
   * entry the first start wrote is used as it is.
   */
  readonly entry?: Readonly<Record<string, Readonly<Record<string, unknown>> | null>>;
  readonly rpc?: RpcOptions;
  readonly logger: Logger;
}

export interface ServiceAgents {
  /** A service agent for `identity`, built and not started. */
  create(identity: string, options: ServiceAgentOptions): Promise<Agent>;
}

/** What services see of the bus the platform runs on (PlatformBus, platform-bus.ts). */
export interface ServiceBus {
  readonly kind: 'zmq' | 'rmq';
  /** `query local_address`: where the platform's own agents connect. */
  readonly localAddress: string;
  /** auth.json capabilities by user id, keyed by the users this bus proves (RabbitMQ adds `<instance>.<user>`). */
  capabilityUsers<C>(byUser: Readonly<Record<string, C>>): Record<string, C>;
  /** The user the bus proved for a connected peer (pushes of `platform.auth`); undefined: its identity. */
  readonly userOfPeer?: (identity: string) => string | undefined;
  /** How the platform's service agents connect; undefined: this bus connects none (ZeroMQ without authentication). */
  readonly serviceAgents: ServiceAgents | undefined;
}

/** What every service sees while the platform starts. */
export interface ServiceContext {
  readonly config: PlatformConfig;
  readonly paths: VipHomePaths;
  readonly logger: Logger;
  readonly bus: ServiceBus;
  /** auth.json, its watcher and (ZeroMQ) the ZAP handler; undefined with authentication off. */
  readonly auth: PlatformAuth | undefined;
  /** The platform's public key (43-char base64url); undefined with authentication off. */
  readonly platformKey: string | undefined;
  /** The platform's key pair, for a service that binds a CURVE server socket of the platform (the proxy router). */
  readonly platformKeys: CurveKeyPair | undefined;
  /** auth.json's capabilities by user id, from `platform.auth` now and on every change. */
  readonly capabilities: Feed<UserToCapabilities>;
  /** protected_topics.json, each time the router's pubsub (re)loads it. */
  readonly protectedTopics: Feed<ProtectedTopics>;
  /**
   * The platform's links to other platforms and their state, for the status page: the
   * multi-platform routing service publishes its provider here; none is published without it.
   */
  readonly linkedPlatforms: Feed<() => readonly LinkedPlatform[]>;
}

/** What services see once the router routes. */
export interface RunningContext extends ServiceContext {
  readonly router: Router;
  /** The always-on counters (`vip-router-stats`, control's `stats.counters`). */
  readonly counters: () => Record<string, unknown>;
}

/**
 * One of the platform's services (pubsub, control, platform.auth, legacy pubsub, the RabbitMQ
 * permissions; later routing, key discovery, proxy router, config store, health). The platform
 * runs `prepare` of each in list order before the router starts, then `start` of each once it
 * routes; it stops them in reverse order (only those whose `prepare` ran), then the router and
 * the bus. A failure anywhere in the start stops what started.
 */
export interface PlatformService {
  /** Its name in logs. */
  readonly name: string;
  /** The `$VIP_HOME/config` keys (and `--` flags) it reads. */
  readonly configKeys: readonly ConfigFileKey[];
  /** Before the router starts: load what it needs; returns the router extensions it serves. */
  prepare?(context: ServiceContext): Promise<readonly RouterExtension[] | void>;
  /** The router routes: connect the service's agent. */
  start?(context: RunningContext): Promise<void>;
  /** Undo prepare and start (also after a start that failed half-way). */
  stop(): Promise<void>;
  /** Counters shown at the top level of `vip-router-stats`, beside the router's. */
  counters?(): Record<string, unknown>;
}
