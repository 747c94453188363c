import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Calls `onChange` soon after a file is created, replaced, changed or removed. `fs.watch` on the
 * directory (editors and atomic writers replace the file) gives the fast path; a stat poll covers
 * filesystems where watching does not work. Owns one watcher and one timer, both released in close().
 */
export class FileWatch {
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #signature: string;
  #closed = false;

  constructor(
    private readonly path: string,
    private readonly onChange: () => void,
    private readonly pollIntervalMs = 1000,
  ) {
    this.#signature = signature(path);
  }

  start(): void {
    if (this.#closed || this.#poll) return;
    try {
      const name = basename(this.path);
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.#check(true);
      });
      this.#watcher.on('error', () => this.#watcher?.close()); // the poll still runs
    } catch {
      this.#watcher = undefined; // directory missing or not watchable: poll only
    }
    this.#poll = setInterval(() => this.#check(false), this.pollIntervalMs);
    this.#poll.unref();
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#poll = this.#debounce = undefined;
  }

  #check(fromWatch: boolean): void {
    if (this.#closed) return;
    if (fromWatch) {
      // writers emit several events per save; look once things have settled
      if (this.#debounce) clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => this.#check(false), 50);
      this.#debounce.unref();
      return;
    }
    const now = signature(this.path);
    if (now === this.#signature) return;
    this.#signature = now;
    this.onChange();
  }
}

function signature(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return 'absent';
  }
}
