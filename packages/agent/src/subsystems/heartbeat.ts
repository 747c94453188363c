import { z } from 'zod';
import type { AgentCore, Subsystem } from '../subsystem.js';
import type { RpcSubsystem } from '../rpc/rpc.js';
import type { HealthSubsystem } from './health.js';

export interface HeartbeatOptions {
  /** Start publishing when the agent connects (default false). */
  readonly autostart?: boolean;
  /** Seconds between heartbeats (default 60, as VOLTTRON). */
  readonly periodS?: number;
}

const PeriodSchema = z.number().positive().max(86_400);

/**
 * `heartbeat` (docs/protocol.md 10): publishes the health status on `heartbeat/<identity>` with a
 * `TimeStamp` header while started; RPCs `heartbeat.start|start_with_period|stop|restart|set_period`.
 * Publishing needs the pubsub subsystem; without it a beat is counted as skipped.
 */
export class HeartbeatSubsystem implements Subsystem {
  readonly name = 'heartbeat';
  readonly #core: AgentCore;
  readonly #health: HealthSubsystem;
  #periodS: number;
  #enabled: boolean;
  #timer: NodeJS.Timeout | undefined;
  #skipped = 0;

  constructor(core: AgentCore, rpc: RpcSubsystem, health: HealthSubsystem, options: HeartbeatOptions = {}) {
    this.#core = core;
    this.#health = health;
    this.#periodS = options.periodS ?? 60;
    this.#enabled = options.autostart ?? false;
    rpc.export('heartbeat.start', () => this.start());
    rpc.export('heartbeat.start_with_period', (p: unknown) => this.startWithPeriod(p), { params: ['period'] });
    rpc.export('heartbeat.stop', () => this.stop());
    rpc.export('heartbeat.restart', () => this.restart());
    rpc.export('heartbeat.set_period', (p: unknown) => this.setPeriod(p), { params: ['period'] });
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  get periodS(): number {
    return this.#periodS;
  }

  /** Beats not published because no pubsub subsystem is registered. */
  get skipped(): number {
    return this.#skipped;
  }

  start(): void {
    this.#enabled = true;
    if (this.#core.connected) this.#schedule();
  }

  startWithPeriod(period: unknown): void {
    this.setPeriod(period);
    this.start();
  }

  stop(): void {
    this.#enabled = false;
    this.#clear();
  }

  restart(): void {
    this.stop();
    this.start();
  }

  setPeriod(period: unknown): void {
    const r = PeriodSchema.safeParse(period);
    if (!r.success) throw new RangeError(`heartbeat period must be a positive number of seconds, got ${JSON.stringify(period)}`);
    this.#periodS = r.data;
    if (this.#timer) this.#schedule();
  }

  /** Publish one heartbeat now. */
  async beat(): Promise<void> {
    const publisher = this.#core.publisher;
    if (!publisher) {
      this.#skipped += 1;
      return;
    }
    await publisher.publish(`heartbeat/${this.#core.identity}`, { TimeStamp: new Date().toISOString() }, this.#health.getStatus().status);
  }

  onConnected(): void {
    if (this.#enabled) this.#schedule();
  }

  onDisconnected(): void {
    this.#clear();
  }

  close(): void {
    this.#clear();
  }

  #schedule(): void {
    this.#clear();
    this.#timer = setInterval(() => {
      this.beat().catch((err: unknown) => this.#core.logger.debug('heartbeat.publish.failed', {}, err));
    }, this.#periodS * 1000);
    this.#timer.unref?.();
  }

  #clear(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
