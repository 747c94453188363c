import { statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { silentLogger, type Logger } from '@vip/protocol';

export interface FileWatcherOptions {
  /** Stat poll period, the fallback when fs.watch misses a change (default 1000 ms). */
  readonly pollMs?: number;
  /** Quiet time after a change before looking (default 100 ms): editors and atomic writers write in steps. */
  readonly debounceMs?: number;
  /** Use fs.watch besides the poll (default true); false where it is unreliable (network file systems). */
  readonly fsWatch?: boolean;
  readonly logger?: Logger;
  /** First word of the log events (`<name>.watch.failed`, `<name>.watch.unavailable`); default `file`. */
  readonly name?: string;
}

export interface FileWatcherStats {
  /** Changes reported to the callback. */
  readonly changes: number;
  /** fs.watch failures (the poll carries on alone). */
  readonly watchFailures: number;
}

/**
 * What identifies one version of a file: inode, size, modification and change times (ns). A file
 * replaced by rename gets another inode; one rewritten in place another size or times. A file that
 * cannot be stat'ed gives `error:<code>` (`error:ENOENT` while absent), so the signature changes
 * only when the cause does.
 */
export async function fileSignature(path: string): Promise<string> {
  try {
    return signatureOf(await stat(path, { bigint: true }));
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}

function fileSignatureSync(path: string): string {
  try {
    return signatureOf(statSync(path, { bigint: true }));
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}

function signatureOf(s: { ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): string {
  return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/**
 * The one file watcher of the repository (auth.json, protected_topics.json): calls `onChange`
 * once per change after a file is created, replaced, rewritten or removed. fs.watch on the
 * *directory* gives the fast path (a file replaced by rename would leave a watch on the file
 * itself deaf); a stat poll covers file systems where watching misses events. Every event waits
 * `debounceMs` of quiet, then the file's signature (`fileSignature`) decides: unchanged, nothing
 * is reported, so a save that fires several events is one change. Owns one fs watcher and two
 * timers, all released by `close()`; the timers do not keep the process alive.
 */
export class FileWatcher {
  readonly path: string;
  readonly #onChange: () => void;
  readonly #pollMs: number;
  readonly #debounceMs: number;
  readonly #fsWatch: boolean;
  readonly #logger: Logger;
  readonly #name: string;
  #signature = '';
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #checking = false;
  #again = false;
  #started = false;
  #closed = false;
  #stats = { changes: 0, watchFailures: 0 };

  constructor(path: string, onChange: () => void, options: FileWatcherOptions = {}) {
    this.path = path;
    this.#onChange = onChange;
    this.#pollMs = options.pollMs ?? 1_000;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#fsWatch = options.fsWatch ?? true;
    this.#logger = options.logger ?? silentLogger;
    this.#name = options.name ?? 'file';
  }

  /**
   * Takes the file's current signature (synchronously: a change from now on is reported, the
   * caller reads the file itself after this) and starts watching. Idempotent; a no-op once closed.
   */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#signature = fileSignatureSync(this.path);
    if (this.#fsWatch) this.#watchDirectory();
    this.#poll = setInterval(() => void this.#peek(), this.#pollMs);
    this.#poll.unref();
  }

  stats(): FileWatcherStats {
    return { ...this.#stats };
  }

  /**
   * The owner has read the file as it was at `signature` (`fileSignature` taken before the read):
   * the event of that same change, still in its debounce, is then no change to report.
   */
  seen(signature: string): void {
    if (this.#started && !this.#closed) this.#signature = signature;
  }

  /** Stops watching; idempotent. */
  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#poll = this.#debounce = undefined;
  }

  #watchDirectory(): void {
    const dir = dirname(this.path);
    const name = basename(this.path);
    try {
      this.#watcher = watch(dir, { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.#schedule();
      });
      this.#watcher.on('error', (err) => {
        this.#stats.watchFailures += 1;
        this.#logger.warn(`${this.#name}.watch.failed`, { path: dir }, err); // the poll still runs
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      this.#stats.watchFailures += 1;
      this.#logger.warn(`${this.#name}.watch.unavailable`, { path: dir }, err); // directory missing or not watchable: poll only
    }
  }

  /** A poll tick: a changed signature is looked at again once things settle. */
  async #peek(): Promise<void> {
    const signature = await fileSignature(this.path);
    if (signature !== this.#signature) this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.#check();
    }, this.#debounceMs);
    this.#debounce.unref();
  }

  /** One look at a time: a change seen while looking is looked at after. */
  async #check(): Promise<void> {
    if (this.#checking) {
      this.#again = true;
      return;
    }
    this.#checking = true;
    try {
      do {
        this.#again = false;
        const signature = await fileSignature(this.path);
        if (this.#closed || signature === this.#signature) continue;
        this.#signature = signature;
        this.#stats.changes += 1;
        try {
          this.#onChange();
        } catch (err) {
          this.#logger.error(`${this.#name}.watch.listener_failed`, { path: this.path }, err);
        }
      } while (this.#again && !this.#closed);
    } finally {
      this.#checking = false;
    }
  }
}
