import { silentLogger, type Frame, type Logger, type RouterExtension } from '@vip/protocol';
import { AgentPermissionCheck } from './agent-permission-check.js';
import { RabbitMqManagement, type ManagementOptions } from './rabbitmq-management.js';
import type { TopicPermissions } from './topic-permissions.js';

export interface HelloPermissionCheckOptions {
  readonly management: ManagementOptions;
  readonly vhost: string;
  readonly instanceName: string;
  /** An identity checked successfully is asked about again after this long (default 30 s), or at its next hello once it left. */
  readonly recheckMs?: number;
  /**
   * The topic permission on `volttron` an agent user should have (protected topics, see
   * protectedTopicPermissions; undefined: none), kept in line by each check.
   */
  readonly topicPermissions?: (user: string) => TopicPermissions | undefined;
  readonly logger?: Logger;
}

/** A hello waits for the check: the management API is asked with this timeout at most. */
const HELLO_CHECK_TIMEOUT_MS = 3_000;

/**
 * VOLTTRON's RMQ router check on `hello` (docs/protocol.md 7.5, rmq_router.py `authenticate`) as a
 * router extension: before each welcome, the sender's broker user `<instance>.<identity>` gets the
 * default permissions when they are missing or were changed (AgentPermissionCheck), and its topic
 * permissions are synced; the welcome, and the router-addressed messages after it, wait for that.
 * Register it with a `HelloExtension({ beforeWelcome: (sender) => check.beforeWelcome(sender) })`
 * (@vip/router); the RabbitMQ platform does (apps/platform `rmq-permissions`). Unproven hellos are
 * checked too: the check only sets a user's rights to what they should be. A peer that leaves is
 * checked again at its next hello. Counters: router stats `extensions.helloChecks`.
 */
export class HelloPermissionCheck implements RouterExtension {
  readonly subsystems = [] as const;
  readonly name = 'helloChecks';
  readonly #check: AgentPermissionCheck;

  constructor(options: HelloPermissionCheckOptions) {
    // its own client: a shorter timeout, since a hello waits for it
    const api = new RabbitMqManagement({
      ...options.management,
      timeoutMs: Math.min(options.management.timeoutMs ?? HELLO_CHECK_TIMEOUT_MS, HELLO_CHECK_TIMEOUT_MS),
    });
    const wanted = options.topicPermissions;
    this.#check = new AgentPermissionCheck({
      store: api,
      ...(wanted ? { topics: { store: api, wanted } } : {}),
      vhost: options.vhost,
      instanceName: options.instanceName,
      ...(options.recheckMs !== undefined ? { recheckMs: options.recheckMs } : {}),
      logger: options.logger ?? silentLogger,
    });
  }

  /** For `HelloExtension.beforeWelcome`: the check to wait for, or undefined when it ran lately. Never rejects. */
  beforeWelcome(sender: Frame): Promise<unknown> | undefined {
    const r = this.#check.check(sender.toString('utf8'));
    return r === 'recent' ? undefined : r;
  }

  attach(): void {}

  handle(): boolean {
    return false;
  }

  /** A peer that left (agentstop, gone) is checked again at its next hello. */
  peerDropped(peer: Frame): void {
    this.#check.forget(peer.toString('utf8'));
  }

  stats(): Record<string, number> {
    return { ...this.#check.stats() };
  }
}
