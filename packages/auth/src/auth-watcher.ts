import { ClosedError, silentLogger } from '@vip/protocol';
import type { Logger } from '@vip/protocol';
import type { AuthRulesGuard } from './admission-guard.js';
import type { AuthFile } from './auth-file.js';
import { AuthRules } from './auth-rules.js';
import { Authenticator } from './authenticator.js';
import { FileWatcher, fileSignature } from './file-watcher.js';

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
 * Keeps an Authenticator on the latest *valid* auth.json, told of each change by the repository's
 * one `FileWatcher` (fs.watch on the directory, a stat poll, debounced). A file that cannot be
 * read or validated is logged (`auth.reload.failed`) and the rules in force stay; the platform
 * keeps running through an operator's typo. So does a valid file the guard refuses
 * (`auth.reload.refused`, counted in `refusedReloads`).
 */
export class AuthFileWatcher {
  readonly authenticator: Authenticator;
  readonly #authFile: AuthFile;
  readonly #logger: Logger;
  readonly #guard: AuthRulesGuard | undefined;
  readonly #listeners = new Set<Listener>();
  readonly #files: FileWatcher;
  /** Signature of the file refused last: a second look at the same file (`reload()` called again) is not a second refusal. */
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
    this.#guard = options.guard;
    const reload = (): void => {
      this.reload().catch((err: unknown) => this.#logger.error('auth.reload.failed', { path: this.#authFile.path }, err));
    };
    this.#files = new FileWatcher(this.#authFile.path, reload, {
      logger: this.#logger,
      name: 'auth',
      ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
      ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
      ...(options.fsWatch !== undefined ? { fsWatch: options.fsWatch } : {}),
    });
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
        void this.reload();
      }
    });
    this.#reloading = run;
    return run;
  }

  /** Stops watching; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#files.close();
    await this.#reloading;
  }

  async #start(): Promise<void> {
    this.#files.start(); // before the first read: a change made while it reads is seen
    await this.reload();
  }

  async #reloadOnce(): Promise<boolean> {
    const signature = await fileSignature(this.#authFile.path);
    let rules: AuthRules;
    try {
      rules = await this.#authFile.load();
    } catch (err) {
      this.#stats.failedReloads += 1;
      this.#stats.lastError = (err as Error).message;
      this.#logger.error('auth.reload.failed', { path: this.#authFile.path, kept: 'previous rules' }, err);
      return false;
    }
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
}
