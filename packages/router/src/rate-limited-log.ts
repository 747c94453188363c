import type { LogFields, Logger } from '@vip/protocol';

/**
 * Logging for per-message events (drops, failed deliveries, refused impostors): at most one line
 * per event name per interval, with the number of lines suppressed since the last one.
 */
export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(logger: Logger, options: { intervalMs?: number; now?: () => number } = {}) {
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#now = options.now ?? Date.now;
  }

  debug(event: string, fields?: LogFields, err?: unknown): void {
    this.#emit('debug', event, fields, err);
  }

  /** For events an operator should see at the default level (a peer refused for what it tried). */
  warn(event: string, fields?: LogFields, err?: unknown): void {
    this.#emit('warn', event, fields, err);
  }

  #emit(level: 'debug' | 'warn', event: string, fields: LogFields | undefined, err: unknown): void {
    const now = this.#now();
    const seen = this.#last.get(event);
    if (seen && now - seen.at < this.#intervalMs) {
      seen.suppressed += 1;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.#last.set(event, { at: now, suppressed: 0 });
    this.#logger[level](event, suppressed > 0 ? { ...fields, suppressed } : fields, err);
  }
}
