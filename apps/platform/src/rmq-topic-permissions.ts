import { readFileSync } from 'node:fs';
import { ConfigError, InvalidPayloadError, parseProtectedUpdate, silentLogger, type Capabilities, type Logger } from '@vip/protocol';
import {
  protectedTopicPermissions,
  RabbitMqManagement,
  syncTopicPermissions,
  type ManagementOptions,
  type ProtectedTopicEntry,
  type TopicPermissions,
} from '@vip/rmq/admin';
import type { UserToCapabilities } from './auth-service/index.js';

export interface BrokerTopicPermissionsOptions {
  readonly management: ManagementOptions;
  readonly vhost: string;
  readonly instanceName: string;
  readonly protectedTopicsPath: string;
  /** Broker users never given topic permissions (the platform's own logins). */
  readonly exclude?: readonly string[];
  /** Every per-agent user is synced again this often (users created since, that never said hello). Default 60 s. */
  readonly resyncMs?: number;
  /** Failures are logged at most once per this long (every one is counted). Default 60 s. */
  readonly failureLogMs?: number;
  readonly logger?: Logger;
}

export interface TopicPermissionSyncStats {
  /** Rounds over every per-agent user (start, protected_topics.json or auth.json change, resync). */
  rounds: number;
  /** Users found in the last round. */
  users: number;
  set: number;
  cleared: number;
  ok: number;
  /** A user's sync, or a round's user listing, that failed (management API). */
  failed: number;
  /** protected_topics.json reads that failed (the last good entries stay). */
  fileErrors: number;
}

/**
 * Protected topics on broker pubsub (docs/protocol.md 7.6): every per-agent broker user
 * `<instance>.<identity>` with permissions on the vhost gets the RabbitMQ topic permission on
 * `volttron` that refuses the pubsub routing keys of the protected topics its auth.json
 * capabilities do not cover (protectedTopicPermissions). Kept in line at start, on every change
 * of protected_topics.json (the pubsub service's reload calls `protectedTopicsChanged`) or of
 * auth.json (`setCapabilities`), every `resyncMs`, and by the router's hello check (`wanted`);
 * run by the RabbitMQ bus's permissions service (services/rmq-permissions.ts).
 * Users sharing a broker user (guest) get nothing: enforcement needs per-agent users.
 */
export class BrokerTopicPermissions {
  readonly #o: BrokerTopicPermissionsOptions;
  readonly #api: RabbitMqManagement;
  readonly #log: Logger;
  readonly #stats: TopicPermissionSyncStats = { rounds: 0, users: 0, set: 0, cleared: 0, ok: 0, failed: 0, fileErrors: 0 };
  #entries: readonly ProtectedTopicEntry[] = [];
  #capabilities: UserToCapabilities = {};
  #round: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #lastFailureLog = -Infinity;
  #unlogged = 0;

  constructor(options: BrokerTopicPermissionsOptions) {
    this.#o = options;
    this.#api = new RabbitMqManagement(options.management);
    this.#log = (options.logger ?? silentLogger).child({ component: 'rmq-topic-permissions' });
    this.#loadEntries();
  }

  /** The topic permission broker user `user` should have (undefined: none). */
  wanted(user: string): TopicPermissions | undefined {
    return protectedTopicPermissions(this.#entries, this.#capabilitiesOf(user), this.#o.instanceName);
  }

  /** First round (awaited: enforcement is in place once it resolves), then one every `resyncMs`. */
  async start(): Promise<void> {
    await this.syncAll();
    if (this.#closed) return;
    this.#timer = setInterval(() => void this.syncAll(), this.#o.resyncMs ?? 60_000);
    this.#timer.unref();
  }

  /** protected_topics.json changed (and parsed): read its entries and sync everyone. */
  protectedTopicsChanged(): void {
    this.#loadEntries();
    void this.syncAll();
  }

  /** auth.json changed: the capability map by user id, as AuthService hands it out. */
  setCapabilities(capabilities: UserToCapabilities): void {
    this.#capabilities = capabilities;
    void this.syncAll();
  }

  /** One round over every per-agent user; a request during a round runs one more after it. Never rejects. */
  syncAll(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#round) {
      this.#again = true;
      return this.#round;
    }
    const round: Promise<void> = (async () => {
      do {
        this.#again = false;
        await this.#syncRound();
      } while (this.#again && !this.#closed);
    })().finally(() => {
      if (this.#round === round) this.#round = undefined;
    });
    this.#round = round;
    return round;
  }

  stats(): TopicPermissionSyncStats {
    return { ...this.#stats };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#round;
  }

  async #syncRound(): Promise<void> {
    this.#stats.rounds += 1;
    const { vhost, instanceName } = this.#o;
    const exclude = new Set(this.#o.exclude ?? []);
    let users: string[];
    try {
      users = (await this.#api.listVhostUsers(vhost)).filter((u) => u.startsWith(`${instanceName}.`) && !exclude.has(u));
    } catch (err) {
      return this.#failed('list the users of the vhost', err);
    }
    this.#stats.users = users.length;
    for (const user of users) {
      if (this.#closed) return;
      try {
        const outcome = await syncTopicPermissions(this.#api, vhost, user, this.wanted(user));
        this.#stats[outcome] += 1;
        if (outcome !== 'ok') this.#log.info('rmq.topic-permissions.synced', { user, vhost, outcome });
      } catch (err) {
        this.#failed(`sync the topic permissions of ${user}`, err);
      }
    }
  }

  #failed(what: string, err: unknown): void {
    this.#stats.failed += 1;
    this.#unlogged += 1;
    const now = Date.now();
    if (now - this.#lastFailureLog < (this.#o.failureLogMs ?? 60_000)) return;
    this.#log.warn('rmq.topic-permissions.failed', { what, vhost: this.#o.vhost, failuresSinceLastLog: this.#unlogged }, err);
    this.#lastFailureLog = now;
    this.#unlogged = 0;
  }

  /** An agent user's auth.json capabilities: its own entry, else its identity's (as rmqCapabilities maps them). */
  #capabilitiesOf(user: string): Capabilities | undefined {
    const caps = this.#capabilities;
    const prefix = `${this.#o.instanceName}.`;
    return Object.hasOwn(caps, user) ? caps[user] : user.startsWith(prefix) ? caps[user.slice(prefix.length)] : undefined;
  }

  #loadEntries(): void {
    const path = this.#o.protectedTopicsPath;
    let entries: ProtectedTopicEntry[];
    try {
      entries = readEntries(path);
      protectedTopicPermissions(entries, [], this.#o.instanceName); // a /regex/ JavaScript rejects throws here
    } catch (err) {
      this.#stats.fileErrors += 1;
      this.#log.warn('rmq.topic-permissions.file-invalid', { path }, err);
      return;
    }
    this.#entries = entries;
  }
}

function readEntries(path: string): ProtectedTopicEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path} is not JSON`, { cause: err });
  }
  const parsed = parseProtectedUpdate(raw);
  if (parsed instanceof InvalidPayloadError) throw parsed;
  return parsed['write-protect'];
}
