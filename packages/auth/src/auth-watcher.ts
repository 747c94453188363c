import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { ClosedError, silentLogger } from '@vip/protocol';
import type { Logger } from '@vip/protocol';
import type { AuthRulesGuard } from './admission-guard.js';
import type { AuthFile } from './auth-file.js';
import { AuthRules } from './auth-rules.js';
import { Authenticator } from './authenticator.js';

export interface AuthFileWatcherOptions {
  readonly authFile: AuthFile;
  /** Receives every valid reload (default: a new Authenticator with default options). */
  readonly authenticator?: Authenticator;
  readonly logger?: Logger;
  /** Stat poll interval, the fallback when fs.watch misses a change (default 1000 ms). */
  readonly pollMs?: number;
  /** Quiet time after a change before reading (default 100 ms): editors write in steps. */
  readonly debounceMs?: number;
  /** Use fs.watch besides the poll (default true); false where it is unreliable (network file systems). */
  readonly fsWatch?: boolean;
  /** Refuses valid files that must not apply (e.g. `keepAdmitting`: one that drops the platform's own entries). */
  readonly guard?: AuthRulesGuard;
}

export interface AuthFileWatcherStats {
  readonly reloads: number;
  /** Files that could not be read or validated (the rules in force stayed). */
  readonly failedReloads: number;
  /** Valid files the guard refused (the rules in force stayed). */
  readonly refusedReloads: number;
  /** Message of the last failed or refused reload, cleared by the next good one. */
  readonly lastError: string | undefined;
}

type Listener = (rules: AuthRules) => void;

/**
 * Keeps an Authenticator on the latest *valid* auth.json: fs.watch on the directory (the file is
 * replaced by rename, so watching the file itself would go deaf) plus a stat poll as fallback,
 * debounced. A file that cannot be read or validated is logged (`auth.reload.failed`) and the
 * rules in force stay; the platform keeps running through an operator's typo. So does a valid
 * file the guard refuses (`auth.reload.refused`, counted in `refusedReloads`).
 */
export class AuthFileWatcher {
  readonly authenticator: Authenticator;
  readonly #authFile: AuthFile;
  readonly #logger: Logger;
  readonly #pollMs: number;
  readonly #debounceMs: number;
  readonly #fsWatch: boolean;
  readonly #guard: AuthRulesGuard | undefined;
  readonly #listeners = new Set<Listener>();
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #signature = '';
  /** Signature of the file refused last: a second look at the same file (two watch events) is not a second refusal. */
  #refusedSignature = '';
  #reloading: Promise<boolean> | undefined;
  #again = false;
  #started: Promise<void> | undefined;
  #closed = false;
  #stats = { reloads: 0, failedReloads: 0, refusedReloads: 0, lastError: undefined as string | undefined };

  constructor(options: AuthFileWatcherOptions) {
    this.#authFile = options.authFile;
    this.authenticator = options.authenticator ?? new Authenticator();
    this.#logger = options.logger ?? silentLogger;
    this.#pollMs = options.pollMs ?? 1_000;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#fsWatch = options.fsWatch ?? true;
    this.#guard = options.guard;
  }

  get rules(): AuthRules {
    return this.authenticator.rules;
  }

  /** Loads the file once and starts watching; resolves even when the file is invalid (see stats). */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('auth file watcher'));
    return (this.#started ??= this.#start());
  }

  /** Called with the new rules after each valid reload; returns an unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stats(): AuthFileWatcherStats {
    return { ...this.#stats };
  }

  /** Reads the file now. Resolves true when new rules are in force, false when refused. */
  reload(): Promise<boolean> {
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    const run = this.#reloadOnce().finally(() => {
      this.#reloading = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.#schedule();
      }
    });
    this.#reloading = run;
    return run;
  }

  /** Stops watching; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#poll = this.#debounce = undefined;
    await this.#reloading;
  }

  async #start(): Promise<void> {
    this.#signature = await this.#fileSignature();
    await this.reload();
    if (this.#closed) return;
    if (this.#fsWatch) this.#watchDirectory();
    this.#poll = setInterval(() => {
      void this.#fileSignature().then((sig) => {
        if (sig !== this.#signature) this.#schedule();
      });
    }, this.#pollMs);
    this.#poll.unref();
  }

  #watchDirectory(): void {
    const dir = dirname(this.#authFile.path);
    const name = basename(this.#authFile.path);
    try {
      this.#watcher = watch(dir, { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.#schedule();
      });
      this.#watcher.on('error', (err) => {
        this.#logger.warn('auth.watch.failed', { path: dir }, err); // the poll still runs
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      this.#logger.warn('auth.watch.unavailable', { path: dir }, err);
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      this.reload().catch((err: unknown) => this.#logger.error('auth.reload.failed', { path: this.#authFile.path }, err));
    }, this.#debounceMs);
  }

  async #reloadOnce(): Promise<boolean> {
    const signature = await this.#fileSignature();
    let rules: AuthRules;
    try {
      rules = await this.#authFile.load();
    } catch (err) {
      this.#signature = signature;
      this.#stats.failedReloads += 1;
      this.#stats.lastError = (err as Error).message;
      this.#logger.error('auth.reload.failed', { path: this.#authFile.path, kept: 'previous rules' }, err);
      return false;
    }
    this.#signature = signature;
    const refusal = this.#guard ? await this.#refusal(this.#guard, rules) : undefined;
    if (refusal !== undefined) {
      if (signature === this.#refusedSignature) return false;
      this.#refusedSignature = signature;
      this.#stats.refusedReloads += 1;
      this.#stats.lastError = `auth file ${this.#authFile.path} refused: ${refusal}`;
      this.#logger.error('auth.reload.refused', { path: this.#authFile.path, reason: refusal, kept: 'previous rules' });
      return false;
    }
    this.#refusedSignature = '';
    this.#stats.reloads += 1;
    this.#stats.lastError = undefined;
    this.authenticator.setRules(rules);
    this.#logger.info('auth.reloaded', { path: this.#authFile.path, allow: rules.allow.length, deny: rules.deny.length });
    for (const listener of this.#listeners) {
      try {
        listener(rules);
      } catch (err) {
        this.#logger.error('auth.listener.failed', {}, err);
      }
    }
    return true;
  }

  async #refusal(guard: AuthRulesGuard, rules: AuthRules): Promise<string | undefined> {
    try {
      return await guard(rules, this.authenticator.rules);
    } catch (err) {
      return `the check of the new rules failed: ${(err as Error).message}`; // fail closed: keep what works
    }
  }

  async #fileSignature(): Promise<string> {
    try {
      const s = await stat(this.#authFile.path, { bigint: true });
      return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    } catch (err) {
      // Unreadable: load() reports why; the signature only has to change when the cause does.
      return `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
    }
  }
}
