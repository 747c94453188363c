import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type Logger } from '@vip/protocol';
import { ConfigContentError, ConfigNotFoundError, StoreIdentityError, StoreLimitError } from './errors.js';
import { hasRecursion, stripConfigName, STORE_EXT } from './links.js';
import { processRawConfig, type ConfigContents, type ConfigType } from './parse.js';
import { readStoreFile, writeStoreFile, type StoredConfig, type WriteHooks } from './store-file.js';

/** What a change did, as the agent's `config.update` push names it. */
export type ConfigAction = 'NEW' | 'UPDATE' | 'DELETE' | 'DELETE_ALL';

export interface ConfigChange {
  readonly identity: string;
  readonly action: ConfigAction;
  /** The config's name as stored (null for DELETE_ALL). */
  readonly name: string | null;
  /** The parsed contents (NEW and UPDATE). */
  readonly contents?: ConfigContents;
}

export interface ConfigStoreOptions {
  /** `$VIP_HOME/configuration_store` (created when missing). */
  readonly directory: string;
  /** Largest raw config accepted, in bytes (default 16 MiB). */
  readonly maxConfigBytes?: number;
  /** Largest total of raw configs over every store, in bytes (default 256 MiB). */
  readonly maxTotalBytes?: number;
  readonly now?: () => Date;
  readonly logger?: Logger;
  /** Tests: fail a write at a given step. */
  readonly writeHooks?: WriteHooks;
}

/** One agent's store: what is on disk, and the parsed configs it serves, by lower-cased name. */
interface AgentStore {
  /** Every entry of the file, in its order (entries that failed to parse at load are kept, not served). */
  readonly stored: Map<string, StoredConfig>;
  readonly parsed: Map<string, ConfigContents>;
  /** lower-cased name -> name as stored. */
  readonly names: Map<string, string>;
}

/** `modified` as VOLTTRON's format_timestamp writes it: microseconds and `+00:00`. */
export function formatModified(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000+00:00`;
}

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * An identity names a file in the store's directory: one without a path separator, NUL, `.` or
 * `..`, and at most 255 bytes with the suffix, so no caller can reach a file elsewhere.
 */
export function checkStoreIdentity(identity: string): string {
  if (
    identity === '' ||
    identity === '.' ||
    identity === '..' ||
    /[\/\\\0]/.test(identity) ||
    byteLength(identity) > 255 - STORE_EXT.length
  ) {
    throw new StoreIdentityError(identity);
  }
  return identity;
}

/**
 * VOLTTRON's configuration store (platform/store.py) over `$VIP_HOME/configuration_store`, one
 * `<identity>.store` file per agent in VOLTTRON's format, so a VOLTTRON home's stores are read as
 * they are. Names are matched without regard to case, as VOLTTRON does. Each change of a store is
 * written (atomically) before it is served: a write that fails leaves both the file and the served
 * state as they were. Changes of one store run one at a time, with what follows them (the push to
 * the agent) inside the same turn, so an agent hears its changes in the order they were made.
 */
export class ConfigStore {
  readonly directory: string;
  readonly #stores = new Map<string, AgentStore>();
  readonly #turns = new Map<string, Promise<unknown>>();
  readonly #maxConfigBytes: number;
  readonly #maxTotalBytes: number;
  readonly #now: () => Date;
  readonly #logger: Logger;
  readonly #hooks: WriteHooks;
  #totalBytes = 0;

  private constructor(options: ConfigStoreOptions) {
    this.directory = options.directory;
    this.#maxConfigBytes = options.maxConfigBytes ?? 16 * 1024 * 1024;
    this.#maxTotalBytes = options.maxTotalBytes ?? 256 * 1024 * 1024;
    this.#now = options.now ?? (() => new Date());
    this.#logger = options.logger ?? silentLogger;
    this.#hooks = options.writeHooks ?? {};
  }

  /**
   * Load every `<identity>.store` of the directory. A file that cannot be read or does not hold a
   * store rejects with StoreFileError naming it (the file is left as it is). A config that does not
   * parse as its type, or whose name differs only by case from an earlier one, is logged and not
   * served, but kept in the file.
   */
  static async load(options: ConfigStoreOptions): Promise<ConfigStore> {
    const store = new ConfigStore(options);
    await mkdir(store.directory, { recursive: true, mode: 0o700 });
    const files = (await readdir(store.directory)).filter((f) => f.endsWith(STORE_EXT) && f.length > STORE_EXT.length).sort();
    for (const file of files) {
      const identity = file.slice(0, -STORE_EXT.length);
      store.#stores.set(identity, store.#parseStore(identity, await readStoreFile(join(store.directory, file))));
    }
    return store;
  }

  #parseStore(identity: string, stored: Map<string, StoredConfig>): AgentStore {
    const agent: AgentStore = { stored, parsed: new Map(), names: new Map() };
    for (const [name, config] of stored) {
      this.#totalBytes += byteLength(config.data);
      const lower = name.toLowerCase();
      if (agent.names.has(lower)) {
        this.#logger.error('config_store.load.conflicting_name', { identity, config: name });
        continue;
      }
      try {
        const contents = processRawConfig(config.data, config.type);
        if (hasRecursion(name, contents, (n) => agent.parsed.get(n))) throw new ConfigContentError('Recursive configuration references');
        agent.parsed.set(lower, contents);
        agent.names.set(lower, name);
      } catch (err) {
        this.#logger.error('config_store.load.bad_config', { identity, config: name, error: (err as Error).message });
      }
    }
    return agent;
  }

  #path(identity: string): string {
    return join(this.directory, `${checkStoreIdentity(identity)}${STORE_EXT}`);
  }

  /** Run `fn` when every earlier turn of `identity`'s store has finished. */
  exclusive<T>(identity: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#turns.get(identity) ?? Promise.resolve();
    const turn = previous.then(fn, fn);
    const settled = turn.catch(() => undefined);
    this.#turns.set(identity, settled);
    void settled.then(() => {
      if (this.#turns.get(identity) === settled) this.#turns.delete(identity);
    });
    return turn;
  }

  /** Identities with a store, sorted. */
  listStores(): string[] {
    return [...this.#stores.keys()].sort();
  }

  /** Config names of a store as stored, sorted (none for an unknown identity). */
  listConfigs(identity: string): string[] {
    return [...(this.#stores.get(identity)?.names.values() ?? [])].sort();
  }

  /** The raw text (`raw`) or the parsed contents of a config; ConfigNotFoundError when absent. */
  get(identity: string, name: string, raw = true): ConfigContents {
    const { agent, stored } = this.#find(identity, name);
    return raw ? (agent.stored.get(stored) as StoredConfig).data : agent.parsed.get(stored.toLowerCase());
  }

  /** `{type, modified, data}` of a config (modified null in stores older than that field). */
  getMetadata(identity: string, name: string): StoredConfig {
    const { agent, stored } = this.#find(identity, name);
    const config = agent.stored.get(stored) as StoredConfig;
    return { ...config, modified: config.modified ?? null };
  }

  /** Every served config of a store by its stored name, parsed (`config.initial_update`). */
  configsOf(identity: string): Record<string, ConfigContents> {
    const agent = this.#stores.get(identity);
    const out: Record<string, ConfigContents> = {};
    if (!agent) return out;
    for (const [lower, name] of agent.names) out[name] = agent.parsed.get(lower);
    return out;
  }

  #find(identity: string, name: string): { agent: AgentStore; stored: string } {
    const clean = stripConfigName(name);
    const agent = this.#stores.get(identity);
    const stored = agent?.names.get(clean.toLowerCase());
    if (!agent || stored === undefined) throw new ConfigNotFoundError(identity, clean);
    return { agent, stored };
  }

  /**
   * Store a config (NEW or UPDATE), written to disk before it is served; then `after` runs in the
   * same turn of the store. Throws ConfigContentError for contents that do not parse as `type` or
   * that would link back to themselves.
   */
  async set(
    identity: string,
    name: string,
    raw: string,
    type: ConfigType | string,
    after?: (change: ConfigChange) => Promise<unknown>,
  ): Promise<ConfigChange> {
    checkStoreIdentity(identity);
    const contents = processRawConfig(raw, type);
    const clean = stripConfigName(name);
    const size = byteLength(raw);
    if (size > this.#maxConfigBytes)
      throw new StoreLimitError(`config ${clean} is ${size} bytes, over the store's limit of ${this.#maxConfigBytes}`);
    return this.exclusive(identity, async () => {
      const agent = this.#stores.get(identity) ?? { stored: new Map(), parsed: new Map(), names: new Map() };
      const lower = clean.toLowerCase();
      const previousName = agent.names.get(lower);
      if (hasRecursion(clean, contents, (n) => (n === lower ? undefined : agent.parsed.get(n)))) {
        throw new ConfigContentError('Recursive configuration references detected.');
      }
      const replaced = previousName === undefined ? 0 : byteLength(agent.stored.get(previousName)?.data ?? '');
      if (this.#totalBytes - replaced + size > this.#maxTotalBytes) {
        throw new StoreLimitError(`storing ${clean} would take the configuration store over its limit of ${this.#maxTotalBytes} bytes`);
      }
      const stored = new Map(agent.stored);
      // A new spelling of a name replaces the old entry (VOLTTRON kept both in the file).
      if (previousName !== undefined && previousName !== clean) stored.delete(previousName);
      stored.set(clean, { type, modified: formatModified(this.#now()), data: raw });
      await writeStoreFile(this.#path(identity), stored, this.#hooks);
      const names = new Map(agent.names).set(lower, clean);
      const parsed = new Map(agent.parsed).set(lower, contents);
      this.#stores.set(identity, { stored, names, parsed });
      this.#totalBytes += size - replaced;
      const change: ConfigChange = { identity, action: previousName === undefined ? 'NEW' : 'UPDATE', name: clean, contents };
      await after?.(change);
      return change;
    });
  }

  /** Delete a config (ConfigNotFoundError when absent); the store's file goes with its last config. */
  delete(identity: string, name: string, after?: (change: ConfigChange) => Promise<unknown>): Promise<ConfigChange> {
    return this.exclusive(identity, async () => {
      const { agent, stored: storedName } = this.#find(identity, name);
      const lower = storedName.toLowerCase();
      const removed = byteLength(agent.stored.get(storedName)?.data ?? '');
      const stored = new Map(agent.stored);
      stored.delete(storedName);
      await writeStoreFile(this.#path(identity), stored, this.#hooks);
      const names = new Map(agent.names);
      names.delete(lower);
      const parsed = new Map(agent.parsed);
      parsed.delete(lower);
      if (stored.size === 0) this.#stores.delete(identity);
      else this.#stores.set(identity, { stored, names, parsed });
      this.#totalBytes -= removed;
      const change: ConfigChange = { identity, action: 'DELETE', name: stripConfigName(name) };
      await after?.(change);
      return change;
    });
  }

  /** Delete a whole store (nothing happens for an unknown identity: resolves undefined). */
  deleteStore(identity: string, after?: (change: ConfigChange) => Promise<unknown>): Promise<ConfigChange | undefined> {
    return this.exclusive(identity, async () => {
      const agent = this.#stores.get(identity);
      if (!agent) return undefined;
      await writeStoreFile(this.#path(identity), new Map(), this.#hooks);
      this.#stores.delete(identity);
      for (const config of agent.stored.values()) this.#totalBytes -= byteLength(config.data);
      const change: ConfigChange = { identity, action: 'DELETE_ALL', name: null };
      await after?.(change);
      return change;
    });
  }

  /** Bytes of raw configs held, over every store. */
  get totalBytes(): number {
    return this.#totalBytes;
  }
}
