import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { silentLogger, type Logger } from '@vip/protocol';
import {
  subscriptionCount,
  subscriptionFileOf,
  SubscriptionFileSchema,
  subscriptionTableOf,
  type SubscriptionTable,
} from './subscription-file.js';

export interface SubscriptionStoreOptions {
  /** `$VIP_HOME/pubsub_subscriptions.json`. */
  readonly path: string;
  /** Written into the file; a file written by another instance is not restored. */
  readonly instanceName: string;
  /** A file larger than this is set aside on load, and a table larger than this is not written. Default 32 MiB. */
  readonly maxFileBytes?: number;
  /** Changes within this long are written together. Default 10 ms. */
  readonly debounceMs?: number;
  readonly logger?: Logger;
  /** Clock for `saved_at` and set-aside names (tests). */
  readonly now?: () => Date;
}

export interface SubscriptionStoreStats {
  /** Files written. */
  readonly writes: number;
  readonly writeFailures: number;
  /** Writes skipped because the table was over `maxFileBytes` (the previous file stays). */
  readonly tooLarge: number;
  /** Unreadable, invalid or oversized files renamed aside on load. */
  readonly setAside: number;
  readonly restoredSubscribers: number;
  readonly restoredSubscriptions: number;
}

export const DEFAULT_MAX_SUBSCRIPTION_FILE_BYTES = 32 * 1024 * 1024;

/**
 * Keeps the platform's pubsub subscription table in a file so a restarted platform (even after
 * kill -9) knows who was subscribed to what. Writes are whole-file, atomic (temp file, fsync,
 * rename: a reader sees the old file or the new one) and coalesced: every change marks the table
 * dirty, one write at a time runs `debounceMs` after the first change and writes the table as it
 * is then, so a burst of changes costs one or two writes. `saved()` resolves once the table as
 * of its call is on disk, which lets the service acknowledge a subscribe only after it would
 * survive a crash.
 *
 * Loading never fails the start: a file that cannot be parsed or validated, or is too large, is
 * logged, counted and renamed aside (`<path>.corrupt-<time>`), and nothing is restored.
 */
export class SubscriptionStore {
  readonly path: string;
  readonly #instance: string;
  readonly #maxBytes: number;
  readonly #debounceMs: number;
  readonly #logger: Logger;
  readonly #now: () => Date;
  #snapshot: (() => SubscriptionTable) | undefined;
  /** Bumped by every change; `#savedGen` is the generation the file (or the last write attempt) holds. */
  #gen = 0;
  #savedGen = 0;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #waiters: Array<{ readonly gen: number; readonly resolve: () => void }> = [];
  #closed: Promise<void> | undefined;
  #failing = false;
  #stats = { writes: 0, writeFailures: 0, tooLarge: 0, setAside: 0, restoredSubscribers: 0, restoredSubscriptions: 0 };

  constructor(options: SubscriptionStoreOptions) {
    this.path = options.path;
    this.#instance = options.instanceName;
    this.#maxBytes = options.maxFileBytes ?? DEFAULT_MAX_SUBSCRIPTION_FILE_BYTES;
    this.#debounceMs = Math.max(0, options.debounceMs ?? 10);
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? (() => new Date());
  }

  /** The table saved last; an empty one when there is none (or it was set aside). Never throws. */
  async load(): Promise<SubscriptionTable> {
    let text: string;
    try {
      const size = (await stat(this.path)).size;
      if (size > this.#maxBytes) return await this.#setAside(`${size} bytes is over the ${this.#maxBytes}-byte limit`);
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      this.#logger.error('pubsub.subscriptions.unreadable', { path: this.path }, err);
      return new Map();
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      return this.#setAside(`not valid JSON (${(err as Error).message})`);
    }
    const parsed = SubscriptionFileSchema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
        .join('; ');
      return this.#setAside(`invalid (${why})`);
    }
    if (parsed.data.instance !== this.#instance) {
      this.#logger.warn('pubsub.subscriptions.other_instance', { path: this.path, file: parsed.data.instance, instance: this.#instance });
      return new Map();
    }
    const table = subscriptionTableOf(parsed.data);
    this.#stats.restoredSubscribers = table.size;
    this.#stats.restoredSubscriptions = subscriptionCount(table);
    return table;
  }

  /** What to write: called at each write, so the file holds the table as it is then. */
  source(snapshot: () => SubscriptionTable): void {
    this.#snapshot = snapshot;
  }

  /** The table changed: write it soon. Ignored once closed. */
  changed(): void {
    if (this.#closed) return;
    this.#gen++;
    if (this.#timer || this.#writing) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.#debounceMs);
    this.#timer.unref();
  }

  /** Resolves when the table as of this call is on disk (or its write failed, counted; or the store is closed). */
  saved(): Promise<void> {
    if (this.#savedGen >= this.#gen || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ gen: this.#gen, resolve }));
  }

  /** Write what is pending now, then ignore later changes (the file keeps the table as of this call). Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      if (this.#savedGen < this.#gen) this.#flush();
      await this.#writing;
      for (const w of this.#waiters.splice(0)) w.resolve();
    })());
  }

  stats(): SubscriptionStoreStats {
    return { ...this.#stats };
  }

  #flush(): void {
    this.#writing ??= this.#writeLoop().finally(() => (this.#writing = undefined));
  }

  async #writeLoop(): Promise<void> {
    while (this.#savedGen < this.#gen) {
      const gen = this.#gen;
      await this.#writeOnce();
      this.#savedGen = gen;
      this.#waiters = this.#waiters.filter((w) => (w.gen <= gen ? (w.resolve(), false) : true));
    }
  }

  /** One atomic write of the current table; failures are counted and logged, never thrown. */
  async #writeOnce(): Promise<void> {
    const table = this.#snapshot?.() ?? new Map();
    const text = `${JSON.stringify(subscriptionFileOf(table, this.#instance, this.#now()), null, 1)}\n`;
    const bytes = Buffer.byteLength(text);
    if (bytes > this.#maxBytes) {
      this.#stats.tooLarge++;
      this.#warnOnce('pubsub.subscriptions.too_large', { path: this.path, bytes, limit: this.#maxBytes });
      return;
    }
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      const handle = await open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(text);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
      this.#stats.writes++;
      this.#failing = false;
    } catch (err) {
      this.#stats.writeFailures++;
      this.#warnOnce('pubsub.subscriptions.write_failed', { path: this.path }, err);
      await unlink(tmp).catch(() => undefined);
    }
  }

  /** The first failure of a streak at warn, the rest at debug: a full disk must not flood the log. */
  #warnOnce(event: string, fields: Record<string, string | number>, err?: unknown): void {
    if (this.#failing) this.#logger.debug(event, fields, err);
    else this.#logger.warn(event, fields, err);
    this.#failing = true;
  }

  async #setAside(reason: string): Promise<SubscriptionTable> {
    const aside = `${this.path}.corrupt-${this.#now().toISOString().replace(/[:.]/g, '-')}`;
    this.#stats.setAside++;
    try {
      await rename(this.path, aside);
      this.#logger.error('pubsub.subscriptions.set_aside', { path: this.path, moved_to: aside, reason });
    } catch (err) {
      this.#logger.error('pubsub.subscriptions.set_aside', { path: this.path, reason, moved_to: 'nowhere (rename failed)' }, err);
    }
    return new Map();
  }
}
