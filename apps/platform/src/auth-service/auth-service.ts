import { ClosedError, ConfigError, silentLogger, type Logger } from '@vip/protocol';
import type { Agent, RpcCallContext } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';
import type { AuthFile, AuthRules } from '@vip/auth';
import { exportAuthorizationRpcs } from './authorization-rpcs.js';
import { pushRpcAuthorizations } from './rpc-authorization-push.js';
import { AUTH_SERVICE_IDENTITY, ensureAuthServiceEntry } from './service-entry.js';
import { authorizationsOf, userToCapabilities, type UserToCapabilities } from './user-capabilities.js';
import { DEFAULT_CAPABILITY_MAP_ACCESS, visibleCapabilities, type CapabilityMapAccess } from './capability-map-access.js';

/** The rules in force and their changes: the platform's AuthFileWatcher. */
export interface AuthRulesSource {
  readonly rules: AuthRules;
  onChange(listener: (rules: AuthRules) => void): () => void;
  /** Read the file now (after the service adds its own entry). */
  reload(): Promise<boolean>;
}

/** Who enforces protected topics: the router's PubSubService. */
export interface CapabilitySink {
  setCapabilities(capabilities: UserToCapabilities): void;
}

export interface AuthServiceOptions {
  readonly source: AuthRulesSource;
  /** Gets the capability map now and on every change (protected pubsub topics). */
  readonly pubsub?: CapabilitySink;
  /** Deadline of the peerlist request before a push (default 5 s). */
  readonly peerlistTimeoutMs?: number;
  /** Who sees every user's capabilities (`CapabilityMapAccess`); default `restricted`. */
  readonly mapAccess?: CapabilityMapAccess;
  /** The users of the platform's own keys and services: every peer may see their capabilities. */
  readonly platformUsers?: (rules: AuthRules) => Iterable<string>;
  /**
   * The proven user of a connected peer, for the map pushed to it (the ZeroMQ transport's
   * `userFor`); default its identity. Undefined: it gets the platform users' entries only.
   */
  readonly userOfPeer?: (identity: string) => string | undefined;
  /** auth.json itself, for the RPCs that change it (decisions, RPC authorizations, `auth_file.*`). */
  readonly authFile?: AuthFile;
  readonly logger?: Logger;
}

/** How `connect` gets its agent: built over ZeroMQ with the service's own key, or given (tests). */
export type AuthServiceConnection =
  | { readonly agent: Agent }
  | { readonly authFile: AuthFile; readonly vipHome: string; readonly address: string; readonly serverKey: string };

export interface AuthServiceStats {
  /** auth.json reloads seen (each one updates pubsub and pushes to peers). */
  readonly updates: number;
  /** Push rounds run (at connect and after changes; changes during a round coalesce). */
  readonly pushes: number;
  /** `auth.update` notifications sent. */
  readonly notified: number;
  /** Notifications that could not be sent, plus rounds whose peer list could not be had. */
  readonly failures: number;
}

/**
 * The platform's `platform.auth` (VOLTTRON 9 AuthService, docs/protocol.md 4.5, 10): answers
 * `get_user_to_capabilities` and `get_authorizations(user_id)` from the auth.json in force, and on
 * every change hands pubsub the new capability map and notifies each peer of the router's peer
 * list with `auth.update(user_to_capabilities)`. Unlike VOLTTRON (quirk 12.9) pubsub gets the map
 * at construction, before the router binds, so protected topics hold from the first message; and
 * unless `mapAccess` is `all`, a peer sees every user's capabilities only if its own user holds
 * `read_user_capabilities` (else its own entry and the platform users'), in answers and pushes.
 */
export class AuthService {
  readonly #source: AuthRulesSource;
  readonly #pubsub: CapabilitySink | undefined;
  readonly #logger: Logger;
  readonly #peerlistTimeoutMs: number;
  readonly #mapAccess: CapabilityMapAccess;
  readonly #platformUsersOf: (rules: AuthRules) => Iterable<string>;
  readonly #userOfPeer: (identity: string) => string | undefined;
  readonly #unsubscribe: () => void;
  readonly #authFile: AuthFile | undefined;
  #rules: AuthRules;
  #agent: Agent | undefined;
  /** True once the agent is connected: pushes wait for it (connect() pushes once then). */
  #ready = false;
  #pushing: Promise<void> | undefined;
  #again = false;
  #closed: Promise<void> | undefined;
  #stats = { updates: 0, pushes: 0, notified: 0, failures: 0 };

  constructor(options: AuthServiceOptions) {
    this.#source = options.source;
    this.#pubsub = options.pubsub;
    this.#logger = (options.logger ?? silentLogger).child({ service: AUTH_SERVICE_IDENTITY });
    this.#peerlistTimeoutMs = options.peerlistTimeoutMs ?? 5_000;
    this.#mapAccess = options.mapAccess ?? DEFAULT_CAPABILITY_MAP_ACCESS;
    this.#platformUsersOf = options.platformUsers ?? (() => []);
    this.#userOfPeer = options.userOfPeer ?? ((identity) => identity);
    this.#authFile = options.authFile;
    this.#rules = this.#source.rules;
    this.#pubsub?.setCapabilities(this.userToCapabilities());
    this.#unsubscribe = this.#source.onChange((rules) => this.#changed(rules));
  }

  /** The service's agent once connected. */
  get agent(): Agent | undefined {
    return this.#agent;
  }

  /** User id -> effective capabilities of the rules in force (all of them: for the platform's own use). */
  userToCapabilities(): UserToCapabilities {
    return userToCapabilities(this.#source.rules);
  }

  /** `get_user_to_capabilities` as a peer proven as `user` sees it (`mapAccess`). */
  capabilitiesVisibleTo(user: string | undefined): UserToCapabilities {
    const rules = this.#source.rules;
    return visibleCapabilities(userToCapabilities(rules), user, this.#mapAccess, new Set(this.#platformUsersOf(rules)));
  }

  /** Whether a peer proven as `user` may see `subject`'s entry (the `mapAccess` rule, per user). */
  mayView(user: string | undefined, subject: string): boolean {
    return Object.hasOwn(this.capabilitiesVisibleTo(user), subject) || !Object.hasOwn(this.userToCapabilities(), subject);
  }

  stats(): AuthServiceStats {
    return { ...this.#stats };
  }

  /**
   * Connect as `platform.auth` (adding its auth.json entry first if missing), export the RPCs and
   * push the current map once to the peers already connected.
   */
  async connect(connection: AuthServiceConnection): Promise<Agent> {
    if (this.#closed) throw new ClosedError(`${AUTH_SERVICE_IDENTITY} service`);
    if (this.#agent) throw new ConfigError(`${AUTH_SERVICE_IDENTITY} service is already connected`);
    const agent = 'agent' in connection ? connection.agent : await this.#zmqAgent(connection);
    this.#agent = agent;
    this.#export(agent);
    await agent.start();
    this.#ready = true;
    this.#logger.info('auth.service.started', { identity: agent.identity });
    this.#schedulePush();
    return agent;
  }

  /** Resolves when the current push round (if any) is over (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#pushing) await this.#pushing;
  }

  /** Stops listening, waits for a push in flight, closes the agent. Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      this.#unsubscribe();
      this.#again = false;
      await this.#pushing;
      await this.#agent?.close();
    })());
  }

  async #zmqAgent(c: Exclude<AuthServiceConnection, { agent: Agent }>): Promise<Agent> {
    const { keys, added } = await ensureAuthServiceEntry({ authFile: c.authFile, vipHome: c.vipHome, logger: this.#logger });
    if (added) await this.#source.reload();
    return createZmqAgent({
      identity: AUTH_SERVICE_IDENTITY,
      vipHome: c.vipHome,
      address: c.address,
      serverKey: c.serverKey,
      publicKey: keys.public,
      secretKey: keys.secret,
      logger: this.#logger,
      // Its own `allow` checks (none today) read the map directly instead of calling itself.
      rpc: { capabilities: () => this.userToCapabilities() },
    });
  }

  #export(agent: Agent): void {
    const service = this;
    // The caller's user is the VIP user frame the router wrote from what the bus proved.
    agent.rpc.export(
      'get_user_to_capabilities',
      function (this: RpcCallContext) {
        return service.capabilitiesVisibleTo(this.user);
      },
      {
        doc: 'Gets a mapping of users to their capabilities (all users for holders of read_user_capabilities).',
      },
    );
    agent.rpc.export(
      'get_authorizations',
      function (this: RpcCallContext, userId: unknown) {
        if (typeof userId !== 'string') throw new TypeError(`get_authorizations: user_id must be a string, got ${JSON.stringify(userId)}`);
        return service.mayView(this.user, userId) ? authorizationsOf(service.#source.rules, userId) : null;
      },
      { params: ['user_id'], doc: 'Gets capabilities, groups, and roles for a given user.' },
    );
    exportAuthorizationRpcs(agent, {
      rules: () => this.#source.rules,
      authFile: this.#authFile,
      userToCapabilities: () => this.userToCapabilities(),
      mayView: (user, subject) => this.mayView(user, subject),
      logger: this.#logger,
    });
  }

  #changed(rules: AuthRules): void {
    this.#stats.updates += 1;
    const before = this.#rules;
    this.#rules = rules;
    if (this.#agent && this.#ready && !this.#closed) void pushRpcAuthorizations(this.#agent, before, rules, this.#logger);
    this.#pubsub?.setCapabilities(userToCapabilities(rules));
    this.#schedulePush();
  }

  /** One push round at a time; changes during a round trigger one more round with the latest map. */
  #schedulePush(): void {
    if (!this.#agent || !this.#ready || this.#closed) return;
    if (this.#pushing) {
      this.#again = true;
      return;
    }
    this.#pushing = this.#push(this.#agent).finally(() => {
      this.#pushing = undefined;
      if (this.#again) {
        this.#again = false;
        this.#schedulePush();
      }
    });
  }

  /** Never rejects: every failure is counted and logged. Each peer gets the map its user may see. */
  async #push(agent: Agent): Promise<void> {
    this.#stats.pushes += 1;
    const rules = this.#source.rules;
    const map = userToCapabilities(rules);
    const platformUsers = new Set(this.#platformUsersOf(rules));
    const views = new Map<string | undefined, UserToCapabilities>();
    const viewFor = (peer: string): UserToCapabilities => {
      const user = this.#userOfPeer(peer);
      let view = views.get(user);
      if (view === undefined) views.set(user, (view = visibleCapabilities(map, user, this.#mapAccess, platformUsers)));
      return view;
    };
    let peers: string[];
    try {
      peers = await agent.peerlist.list({ timeoutMs: this.#peerlistTimeoutMs });
    } catch (err) {
      this.#stats.failures += 1;
      this.#logger.warn('auth.update.peerlist.failed', {}, err);
      return;
    }
    const targets = peers.filter((p) => p !== agent.identity);
    let failed = 0;
    await Promise.all(
      targets.map(async (peer) => {
        try {
          await agent.rpc.notify(peer, 'auth.update', viewFor(peer));
          this.#stats.notified += 1;
        } catch (err) {
          failed += 1;
          this.#logger.debug('auth.update.failed', { peer }, err);
        }
      }),
    );
    this.#stats.failures += failed;
    this.#logger.info('auth.update.pushed', { peers: targets.length, failed, users: Object.keys(map).length });
  }
}
