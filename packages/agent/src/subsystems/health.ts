import { z } from 'zod';
import { frameText, pythonJson, type Frame } from '@vip/protocol';
import type { AgentCore, Subsystem } from '../subsystem.js';
import type { RpcSubsystem } from '../rpc/rpc.js';

export const STATUS_VALUES = ['GOOD', 'BAD', 'UNKNOWN', 'STARTING'] as const;
export type HealthStatusValue = (typeof STATUS_VALUES)[number];
const StatusSchema = z.enum(STATUS_VALUES);

export interface HealthStatus {
  readonly status: HealthStatusValue;
  readonly context: unknown;
  /** ISO 8601 UTC time of the last change. */
  readonly last_updated: string;
}

/**
 * `health` (docs/protocol.md 10): RPCs `health.set_status`, `health.get_status`,
 * `health.get_status_json`, `health.send_alert`; alerts publish once pubsub is registered.
 */
export class HealthSubsystem implements Subsystem {
  readonly name = 'health';
  readonly #core: AgentCore;
  #status: HealthStatus;
  readonly #now: () => Date;
  readonly #agentClass: string;
  #instanceName: string | undefined;

  constructor(core: AgentCore, rpc: RpcSubsystem, options: { now?: () => Date; agentClass?: string } = {}) {
    const now = options.now ?? (() => new Date());
    this.#core = core;
    this.#now = now;
    this.#agentClass = options.agentClass ?? 'Agent';
    this.#status = { status: 'GOOD', context: null, last_updated: now().toISOString() };
    rpc.export('health.set_status', (status: unknown, context?: unknown) => this.setStatus(status, context), {
      params: ['status', { name: 'context', default: null }],
    });
    rpc.export('health.get_status', () => this.getStatus());
    rpc.export('health.get_status_json', () => pythonJson(this.getStatus()));
    rpc.export('health.send_alert', (key: unknown, status: unknown) => this.sendAlert(String(key), status), {
      params: ['alert_key', 'statusobj'],
    });
  }

  /** Sets the status; rejects values other than GOOD, BAD, UNKNOWN, STARTING. */
  setStatus(status: unknown, context: unknown = null): void {
    const r = StatusSchema.safeParse(status);
    if (!r.success) throw new RangeError(`Invalid status: ${JSON.stringify(status)} (expected one of ${STATUS_VALUES.join(', ')})`);
    this.#status = { status: r.data, context, last_updated: this.#now().toISOString() };
  }

  getStatus(): HealthStatus {
    return { ...this.#status };
  }

  /** Publishes on `alerts/<agent class>/<instance>_<identity with . as _>` with header `alert_key`. */
  async sendAlert(key: string, status: unknown): Promise<void> {
    const publisher = this.#core.publisher;
    if (!publisher) throw new Error('send_alert needs the pubsub subsystem, which this agent has not registered');
    this.#instanceName ??= frameText(
      await this.#core.request<Frame>({ peer: '', subsystem: 'query', args: ['instance-name'] }, { operation: 'query "instance-name"' }),
    );
    const topic = `alerts/${this.#agentClass}/${this.#instanceName}_${this.#core.identity.replace(/\./g, '_')}`;
    await publisher.publish(topic, { alert_key: key }, status ?? this.getStatus());
  }
}
