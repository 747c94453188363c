import { randomUUID } from 'node:crypto';
import { silentLogger } from '@vip/protocol';
import type { Logger } from '@vip/protocol';
import { z } from 'zod';
import { MechanismSchema } from './auth-entry.js';
import { stableAddressKey } from './ipc-peer-address.js';
import { formatJson, readJsonFile, writeFileAtomic } from './json-file.js';

/**
 * Refused credentials waiting for an operator (`vipctl auth list` / `approve` / `deny`), kept in
 * `$VIP_HOME/auth_pending.json` so another process can see and change them. VOLTTRON keeps the
 * same records (domain, address, mechanism, credentials, user_id, retries) in the auth agent's
 * memory and serves them over RPC; a file works without a running platform too.
 *
 * Refusals are counted in memory and flushed shortly after (at most one write per
 * `flushDelayMs`), merged into what is on disk at that moment: an entry the operator removed
 * stays removed unless the same credential is refused again. The table is bounded: beyond
 * `maxEntries` the entries seen least recently are dropped.
 */
export const PendingAuthEntrySchema = z.object({
  domain: z.string(),
  address: z.string(),
  mechanism: MechanismSchema,
  credentials: z.string(),
  user_id: z.string().min(1),
  retries: z.number().int().nonnegative(),
  first_seen: z.string(),
  last_seen: z.string(),
});
export type PendingAuthEntry = z.output<typeof PendingAuthEntrySchema>;

const PendingFileSchema = z.object({ pending: z.array(PendingAuthEntrySchema).default([]) });

export interface PendingFailure {
  readonly domain: string;
  readonly address: string;
  readonly mechanism: z.output<typeof MechanismSchema>;
  readonly credential: string;
}

export interface PendingAuthStoreOptions {
  readonly path: string;
  readonly maxEntries?: number;
  readonly flushDelayMs?: number;
  readonly logger?: Logger;
  readonly now?: () => Date;
}

interface Delta {
  entry: PendingAuthEntry;
  count: number;
}

/** One pending line per credential and origin: an ipc peer's pid is left out (each run of an agent has another). */
const keyOf = (e: { domain: string; address: string; mechanism: string; credentials: string }) =>
  JSON.stringify([e.domain, stableAddressKey(e.address), e.mechanism, e.credentials]);

export class PendingAuthStore {
  readonly path: string;
  readonly #maxEntries: number;
  readonly #flushDelayMs: number;
  readonly #logger: Logger;
  readonly #now: () => Date;
  /** Refusals not yet on disk, by (domain, address, mechanism, credential). */
  #deltas = new Map<string, Delta>();
  #timer: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: PendingAuthStoreOptions) {
    this.path = options.path;
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#flushDelayMs = options.flushDelayMs ?? 100;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? (() => new Date());
  }

  /** Counts one refusal; written to disk shortly after. Never throws. */
  record(failure: PendingFailure): void {
    if (this.#closed) return;
    const at = this.#now().toISOString();
    const entry: PendingAuthEntry = {
      domain: failure.domain,
      address: failure.address,
      mechanism: failure.mechanism,
      credentials: failure.credential,
      user_id: randomUUID(),
      retries: 0,
      first_seen: at,
      last_seen: at,
    };
    const key = keyOf(entry);
    const delta = this.#deltas.get(key);
    if (delta) {
      delta.count += 1;
      delta.entry.last_seen = at;
      delta.entry.address = entry.address;
    } else {
      if (this.#deltas.size >= this.#maxEntries) return; // a flood of new keys: the file keeps what it has
      this.#deltas.set(key, { entry, count: 1 });
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch((err: unknown) => this.#logger.error('auth.pending.write_failed', { path: this.path }, err));
    }, this.#flushDelayMs);
  }

  /** Writes pending refusals now. */
  flush(): Promise<void> {
    return this.#serial(async () => {
      if (this.#deltas.size === 0) return;
      const deltas = this.#deltas;
      this.#deltas = new Map();
      const entries = await this.#read().catch((err: unknown) => {
        // Our own state file, not the operator's: a corrupt one is replaced rather than blocking every write.
        this.#logger.warn('auth.pending.reset', { path: this.path }, err);
        return [];
      });
      const byKey = new Map(entries.map((e) => [keyOf(e), e]));
      for (const [key, { entry, count }] of deltas) {
        const existing = byKey.get(key);
        if (existing) {
          existing.retries += count;
          existing.last_seen = entry.last_seen;
          existing.address = entry.address; // the latest run's (pid)
        } else {
          byKey.set(key, { ...entry, retries: count - 1 });
        }
      }
      await this.#write([...byKey.values()]);
    });
  }

  /** The pending entries (after writing refusals not yet on disk). */
  async list(): Promise<PendingAuthEntry[]> {
    await this.flush();
    return this.#serial(() => this.#read());
  }

  /** Removes and returns the entry with `userId` (approve / deny), or undefined. */
  async take(userId: string): Promise<PendingAuthEntry | undefined> {
    await this.flush();
    return this.#serial(async () => {
      const entries = await this.#read();
      const found = entries.find((e) => e.user_id === userId);
      if (found) await this.#write(entries.filter((e) => e !== found));
      return found;
    });
  }

  /** Writes what is pending and stops the flush timer; idempotent. */
  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed)
      return this.#queue.then(
        () => undefined,
        () => undefined,
      );
    this.#closed = true;
    await this.flush();
  }

  async #read(): Promise<PendingAuthEntry[]> {
    return (await readJsonFile(this.path, PendingFileSchema, { what: 'pending auth file' }))?.pending ?? [];
  }

  async #write(entries: PendingAuthEntry[]): Promise<void> {
    const kept = entries.sort((a, b) => b.last_seen.localeCompare(a.last_seen)).slice(0, this.#maxEntries);
    await writeFileAtomic(this.path, formatJson({ pending: kept }), { mode: 0o600 });
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
