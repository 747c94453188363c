import { readFileSync } from 'node:fs';
import { FileWatcher } from '@vip/auth';
import { ConfigError, type CapabilityMapInput, type Logger } from '@vip/protocol';
import { ProtectedTopics } from './protected-topics.js';

/** Where the pubsub service reads its access rules from, reloaded when they change. */
export interface PubSubConfigSources {
  /** `$VIP_HOME/protected_topics.json` (absent file = nothing protected). */
  readonly protectedTopicsPath?: string;
  /**
   * The auth file and how to read capabilities from it (e.g. the zmq AuthFile's
   * `capabilitiesByUser()`); `load` runs at start and whenever `path` changes.
   */
  readonly capabilities?: { readonly path: string; load(): CapabilityMapInput | Promise<CapabilityMapInput> };
  /** Stat-poll period, the fallback when file watching misses a change. Default 1000 ms. */
  readonly pollIntervalMs?: number;
}

export interface ConfigTarget {
  setProtectedTopics(topics: ProtectedTopics): void;
  setCapabilities(capabilities: CapabilityMapInput): void;
}

/**
 * Loads protected topics and capabilities at start (synchronously for the topics, so protection
 * holds from the first message) and again on every change, told by @vip/auth's `FileWatcher` (the
 * one auth.json uses too). A broken file keeps the previous rules, is logged with the reason and
 * counted (`reloads.failed`).
 */
export class ConfigReloader {
  readonly #watches: FileWatcher[] = [];
  reloads = 0;
  reloadsFailed = 0;

  constructor(
    private readonly sources: PubSubConfigSources,
    private readonly target: ConfigTarget,
    private readonly logger: Logger,
  ) {}

  start(): void {
    const { protectedTopicsPath, capabilities, pollIntervalMs } = this.sources;
    const options = { logger: this.logger, name: 'pubsub.config', ...(pollIntervalMs !== undefined ? { pollMs: pollIntervalMs } : {}) };
    // each watch starts before its file is read: a change made meanwhile is reported
    if (protectedTopicsPath !== undefined) {
      this.#watch(new FileWatcher(protectedTopicsPath, () => this.#loadTopics(protectedTopicsPath), options));
      this.#loadTopics(protectedTopicsPath);
    }
    if (capabilities !== undefined) {
      this.#watch(new FileWatcher(capabilities.path, () => this.#loadCapabilities(), options));
      this.#loadCapabilities();
    }
  }

  close(): void {
    for (const w of this.#watches.splice(0)) w.close();
  }

  #watch(watcher: FileWatcher): void {
    this.#watches.push(watcher);
    watcher.start();
  }

  #loadTopics(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return this.#applied(() => this.target.setProtectedTopics(new ProtectedTopics()), path);
      return this.#failed(path, new ConfigError(`cannot read ${path}`, { cause: err }));
    }
    let raw: unknown;
    try {
      raw = text.trim() === '' ? {} : JSON.parse(text);
    } catch (err) {
      return this.#failed(path, new ConfigError(`${path} is not JSON: ${(err as Error).message}`, { cause: err }));
    }
    const topics = ProtectedTopics.parse(raw, path);
    if (!(topics instanceof ProtectedTopics)) return this.#failed(path, topics);
    this.#applied(() => this.target.setProtectedTopics(topics), path);
  }

  #loadCapabilities(): void {
    const source = this.sources.capabilities;
    if (!source) return;
    let result: CapabilityMapInput | Promise<CapabilityMapInput>;
    try {
      result = source.load();
    } catch (err) {
      return this.#failed(source.path, err);
    }
    void Promise.resolve(result).then(
      (map) => this.#applied(() => this.target.setCapabilities(map), source.path),
      (err: unknown) => this.#failed(source.path, err),
    );
  }

  #applied(apply: () => void, path: string): void {
    apply();
    this.reloads++;
    this.logger.info('pubsub.config.loaded', { path });
  }

  #failed(path: string, err: unknown): void {
    this.reloadsFailed++;
    this.logger.warn('pubsub.config.invalid', { path }, err);
  }
}
