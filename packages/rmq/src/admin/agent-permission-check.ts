import { silentLogger, type Logger } from '@vip/protocol';
import { agentPermissions, type Permissions } from './rabbitmq-management.js';
import { syncTopicPermissions, type TopicPermissionStore } from './topic-permission-sync.js';
import type { TopicPermissions } from './topic-permissions.js';

/** The management calls the check needs (RabbitMqManagement has them). */
export interface PermissionStore {
  getUser(user: string): Promise<unknown>;
  getPermissions(vhost: string, user: string): Promise<Permissions | undefined>;
  setPermissions(vhost: string, user: string, p: Permissions): Promise<void>;
}

/**
 * What one check found: no broker user `<instance>.<identity>` (the agent shares a user, e.g.
 * guest: nothing to do), permissions already VOLTTRON's defaults, permissions set because they
 * were absent or different, the management API failed, or the identity was checked recently.
 */
export type PermissionCheckOutcome = 'sharedUser' | 'ok' | 'repaired' | 'failed' | 'recent';

export interface AgentPermissionStats {
  /** Checks that asked the broker (every outcome but `recent`). */
  checked: number;
  sharedUser: number;
  ok: number;
  repaired: number;
  failed: number;
  /** Hellos let through without asking: the identity was checked less than `recheckMs` ago. */
  recent: number;
  /** Topic permissions set (present with the `topics` option: protected topics) because they were absent or different. */
  topicsSet?: number;
  /** Topic permissions removed because the user no longer lacks any protected topic (with `topics`). */
  topicsCleared?: number;
}

/**
 * Topic permissions to keep in line on each check of a user that exists (protected topics on
 * broker pubsub): `wanted(user)` gives the permission on `volttron`, undefined for none.
 */
export interface TopicPermissionsOfUser {
  readonly store: TopicPermissionStore;
  wanted(user: string): TopicPermissions | undefined;
}

export interface AgentPermissionCheckOptions {
  readonly store: PermissionStore;
  readonly vhost: string;
  readonly instanceName: string;
  /** An identity checked successfully is not asked about again for this long, unless forgotten (ms). */
  readonly recheckMs?: number;
  /** After a failed check, the next hello of that identity asks again only after this long (ms). */
  readonly retryFailedMs?: number;
  /** A failure is logged at most once per identity per this long (ms); every failure is counted. */
  readonly failureLogMs?: number;
  /** Also keep the user's topic permissions in line (one GET, a PUT or DELETE only when different). */
  readonly topics?: TopicPermissionsOfUser;
  readonly logger?: Logger;
  readonly now?: () => number;
}

/**
 * The decision of one check, from what the broker holds: no user -> nothing to do; permissions
 * equal to the wanted ones -> ok; anything else (none on the vhost, or different) -> set them.
 */
export function permissionDecision(
  userExists: boolean,
  current: Permissions | undefined,
  wanted: Permissions,
): 'sharedUser' | 'ok' | 'set' {
  if (!userExists) return 'sharedUser';
  if (current && current.configure === wanted.configure && current.write === wanted.write && current.read === wanted.read) return 'ok';
  return 'set';
}

/** Identities remembered at most (oldest forgotten first): a bound on memory, not a limit on agents. */
const MAX_REMEMBERED = 10_000;

/**
 * VOLTTRON's RMQ router check on `hello` (docs/protocol.md 7.5, rmq_router.py `authenticate`): an
 * agent with its own broker user `<instance>.<identity>` gets the default permissions of
 * `agentPermissions` on the vhost when they are missing or were changed. Never throws: a
 * management failure is counted (`failed`) and logged once per identity per `failureLogMs`.
 * Concurrent checks of one identity share one request; a checked identity is asked about again
 * after `recheckMs`, or at once after `forget` (the transport calls it when the peer is gone).
 * With `topics`, a user that exists also gets its topic permissions (protected topics) synced;
 * a failure there fails the check (counted, logged, asked again after `retryFailedMs`).
 */
export class AgentPermissionCheck {
  readonly #o: AgentPermissionCheckOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #recheckMs: number;
  readonly #retryFailedMs: number;
  readonly #failureLogMs: number;
  /** identity -> time before which a hello is not checked again */
  readonly #quietUntil = new Map<string, number>();
  readonly #failureLoggedAt = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<PermissionCheckOutcome>>();
  readonly #stats: AgentPermissionStats = { checked: 0, sharedUser: 0, ok: 0, repaired: 0, failed: 0, recent: 0 };
  #topicsSet = 0;
  #topicsCleared = 0;

  constructor(options: AgentPermissionCheckOptions) {
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#recheckMs = options.recheckMs ?? 30_000;
    this.#retryFailedMs = options.retryFailedMs ?? 5_000;
    this.#failureLogMs = options.failureLogMs ?? 60_000;
  }

  /**
   * Check (and repair) the permissions of `identity`'s user. `'recent'` at once (no promise, so a
   * caller holding messages behind the check need not wait a tick) when it was checked lately;
   * otherwise a promise of the outcome that never rejects.
   */
  check(identity: string): Promise<PermissionCheckOutcome> | 'recent' {
    const running = this.#inFlight.get(identity);
    if (running) return running;
    const until = this.#quietUntil.get(identity);
    if (until !== undefined && this.#now() < until) {
      this.#stats.recent += 1;
      return 'recent';
    }
    const p = this.#run(identity).finally(() => this.#inFlight.delete(identity));
    this.#inFlight.set(identity, p);
    return p;
  }

  /** The peer went away: its next hello is checked whatever the time. */
  forget(identity: string): void {
    this.#quietUntil.delete(identity);
  }

  stats(): AgentPermissionStats {
    return this.#o.topics ? { ...this.#stats, topicsSet: this.#topicsSet, topicsCleared: this.#topicsCleared } : { ...this.#stats };
  }

  async #run(identity: string): Promise<PermissionCheckOutcome> {
    const { store, vhost, instanceName } = this.#o;
    const user = `${instanceName}.${identity}`;
    let outcome: PermissionCheckOutcome;
    try {
      const wanted = agentPermissions(instanceName, identity);
      const exists = (await store.getUser(user)) !== undefined;
      const decision = permissionDecision(exists, exists ? await store.getPermissions(vhost, user) : undefined, wanted);
      if (decision === 'set') {
        await store.setPermissions(vhost, user, wanted);
        this.#log.info('rmq.permissions.repaired', { user, vhost });
        outcome = 'repaired';
      } else {
        outcome = decision;
      }
      const topics = this.#o.topics;
      if (exists && topics) {
        const t = await syncTopicPermissions(topics.store, vhost, user, topics.wanted(user));
        if (t === 'set') this.#topicsSet += 1;
        else if (t === 'cleared') this.#topicsCleared += 1;
        if (t !== 'ok') this.#log.info('rmq.topic-permissions.synced', { user, vhost, outcome: t });
      }
      this.#failureLoggedAt.delete(identity);
      this.#remember(identity, this.#recheckMs);
    } catch (err) {
      outcome = 'failed';
      this.#remember(identity, this.#retryFailedMs);
      this.#logFailure(identity, user, err);
    }
    this.#stats.checked += 1;
    this.#stats[outcome] += 1;
    return outcome;
  }

  #remember(identity: string, forMs: number): void {
    this.#quietUntil.delete(identity); // re-insert: the map's order is the order of last checks
    this.#quietUntil.set(identity, this.#now() + forMs);
    if (this.#quietUntil.size > MAX_REMEMBERED) this.#quietUntil.delete(this.#quietUntil.keys().next().value as string);
  }

  #logFailure(identity: string, user: string, err: unknown): void {
    const now = this.#now();
    const last = this.#failureLoggedAt.get(identity);
    if (last !== undefined && now - last < this.#failureLogMs) return;
    this.#failureLoggedAt.delete(identity);
    this.#failureLoggedAt.set(identity, now);
    if (this.#failureLoggedAt.size > MAX_REMEMBERED) this.#failureLoggedAt.delete(this.#failureLoggedAt.keys().next().value as string);
    this.#log.warn('rmq.permissions.check-failed', { user, vhost: this.#o.vhost }, err);
  }
}
