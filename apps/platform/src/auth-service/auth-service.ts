import { ClosedError, ConfigError, silentLogger, type Logger } from '@vip/protocol';
import type { Agent } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';
import type { AuthFile, AuthRules } from '@vip/zmq';
import { AUTH_SERVICE_IDENTITY, ensureAuthServiceEntry } from './service-entry.js';
import { authorizationsOf, userToCapabilities, type UserToCapabilities } from './user-capabilities.js';

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
 * The platform's `platform.auth` (VOLTTRON 9 AuthService, PROTOCOL.md 4.5, 10): answers
 * `get_user_to_capabilities` and `get_authorizations(user_id)` from the auth.json in force, and on
 * every change hands pubsub the new capability map and notifies each peer of the router's peer
 * list with `auth.update(user_to_capabilities)`. Unlike VOLTTRON (quirk 12.9) pubsub gets the map
 * at construction, before the router binds, so protected topics hold from the first message.
 */
export class AuthService {
  readonly #source: AuthRulesSource;
  readonly #pubsub: CapabilitySink | undefined;
  readonly #logger: Logger;
  readonly #peerlistTimeoutMs: number;
  readonly #unsubscribe: () => void;
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
    this.#pubsub?.setCapabilities(this.userToCapabilities());
    this.#unsubscribe = this.#source.onChange((rules) => this.#changed(rules));
  }

  /** The service's agent once connected. */
  get agent(): Agent | undefined {
    return this.#agent;
  }

  /** `get_user_to_capabilities`: user id -> effective capabilities of the rules in force. */
  userToCapabilities(): UserToCapabilities {
    return userToCapabilities(this.#source.rules);
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
      identity: AUTH_SERVICE_IDENTITY, vipHome: c.vipHome, address: c.address, serverKey: c.serverKey,
      publicKey: keys.public, secretKey: keys.secret, logger: this.#logger,
      // Its own `allow` checks (none today) read the map directly instead of calling itself.
      rpc: { capabilities: () => this.userToCapabilities() },
    });
  }

  #export(agent: Agent): void {
    agent.rpc.export('get_user_to_capabilities', () => this.userToCapabilities(), {
      doc: 'Gets a mapping of all users to their capabilities.',
    });
    agent.rpc.export('get_authorizations', (userId: unknown) => {
      if (typeof userId !== 'string') throw new TypeError(`get_authorizations: user_id must be a string, got ${JSON.stringify(userId)}`);
      return authorizationsOf(this.#source.rules, userId);
    }, { params: ['user_id'], doc: 'Gets capabilities, groups, and roles for a given user.' });
  }

  #changed(rules: AuthRules): void {
    this.#stats.updates += 1;
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

  /** Never rejects: every failure is counted and logged. */
  async #push(agent: Agent): Promise<void> {
    this.#stats.pushes += 1;
    const map = this.userToCapabilities();
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
          await agent.rpc.notify(peer, 'auth.update', map);
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
