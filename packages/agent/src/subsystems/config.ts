import { pythonJson, UnauthorizedError } from '@vip/protocol';
import { listUniqueLinks, resolveLinks } from '@vip/config-store';
import type { AgentCore, Subsystem } from '../subsystem.js';
import type { RpcCallContext } from '../rpc/exports.js';
import type { RpcSubsystem } from '../rpc/rpc.js';

/** The platform's configuration store (VOLTTRON's CONFIGURATION_STORE identity). */
export const CONFIG_STORE_PEER = 'config.store';

export const CONFIG_ACTIONS = ['NEW', 'UPDATE', 'DELETE'] as const;
export type ConfigCallbackAction = (typeof CONFIG_ACTIONS)[number];

/** Called with the config's name as stored, the action, and its contents with links resolved (null for DELETE). */
export type ConfigCallback = (name: string, action: ConfigCallbackAction, contents: unknown) => void | Promise<void>;

export interface ConfigSubscribeOptions {
  /** Which actions call back (default all three). */
  readonly actions?: ConfigCallbackAction | readonly ConfigCallbackAction[];
  /** fnmatch pattern over the lower-cased config name (default `*`). */
  readonly pattern?: string;
}

export interface ConfigChangeOptions {
  /** Have the store call this agent's callbacks for the change (default false, as VOLTTRON). */
  readonly triggerCallback?: boolean;
  /** Have the store push the change to this agent at all (default true). */
  readonly sendUpdate?: boolean;
}

/** A config asked for that is neither in the store nor a default. */
export class ConfigNotInStoreError extends Error {
  readonly code = 'VIP_CONFIG_NOT_FOUND';
  constructor(name: string) {
    super(`${name} not in store`);
    this.name = 'ConfigNotInStoreError';
  }
}

/** fnmatch.fnmatchcase: `*`, `?`, `[seq]`, `[!seq]`, case-sensitive. */
function fnmatchRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        let set = pattern.slice(i + 1, end);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        out += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 's');
}

interface Subscription {
  readonly pattern: RegExp;
  readonly actions: ReadonlySet<ConfigCallbackAction>;
  readonly callback: ConfigCallback;
}

/**
 * The agent side of the configuration store (VOLTTRON's `vip.config`, agent/subsystems/configstore.py):
 * the store's contents as the platform pushes them (`config.initial_update` at start,
 * `config.update` on each change), defaults the agent supplies, and callbacks per name pattern and
 * action: NEW for every config once the agent starts, then UPDATE and DELETE as the store changes
 * (a config linked to by `config://` counts as changed when what it links to changes).
 *
 * Off until used: the first `setDefault`, `subscribe`, `get` or `list` (or `config: true` in the
 * agent options) exports the push methods, and the agent asks the store for its configs at start.
 * Pushes are accepted only from `config.store`.
 */
export class ConfigSubsystem implements Subsystem {
  readonly name = 'config';
  readonly #core: AgentCore;
  readonly #rpc: RpcSubsystem;
  readonly #timeoutMs: number;
  #enabled = false;
  /** lower-cased name -> contents, as the store holds them. */
  #store = new Map<string, unknown>();
  #names = new Map<string, string>();
  readonly #defaults = new Map<string, unknown>();
  readonly #defaultNames = new Map<string, string>();
  /** config -> configs it links to, and the reverse. */
  readonly #refs = new Map<string, Set<string>>();
  readonly #reverseRefs = new Map<string, Set<string>>();
  readonly #subscriptions: Subscription[] = [];
  #initialized = false;
  #initialCallbacksCalled = false;
  #initializing: Promise<void> | undefined;
  #inCallbacks = 0;

  constructor(core: AgentCore, rpc: RpcSubsystem, options: { enabled?: boolean; timeoutMs?: number } = {}) {
    this.#core = core;
    this.#rpc = rpc;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    if (options.enabled) this.#enable();
  }

  #enable(): void {
    if (this.#enabled) return;
    this.#enabled = true;
    const svc = this;
    this.#rpc.export(
      'config.update',
      function (this: RpcCallContext, action: unknown, name: unknown, contents?: unknown, triggerCallback?: unknown) {
        svc.#fromStore(this.caller, 'config.update');
        return svc.#update(String(action), name === null ? null : String(name), contents ?? null, triggerCallback === true);
      },
      { params: ['action', 'config_name', { name: 'contents', default: null }, { name: 'trigger_callback', default: false }] },
    );
    this.#rpc.export(
      'config.initial_update',
      function (this: RpcCallContext, configs: unknown) {
        svc.#fromStore(this.caller, 'config.initial_update');
        svc.#initialUpdate(configs);
        return null;
      },
      { params: ['configs'] },
    );
  }

  /** Only the platform's store may tell the agent what its configuration is. */
  #fromStore(caller: string, method: string): void {
    if (caller !== CONFIG_STORE_PEER)
      throw new UnauthorizedError(`${method} is accepted only from ${CONFIG_STORE_PEER}, not from ${caller}`, { subsystem: 'RPC' });
  }

  /** The agent has started: fetch the store and call back NEW for every config (store and defaults). */
  async onStart(): Promise<void> {
    if (!this.#enabled || this.#initialCallbacksCalled) return;
    await this.#ensureInitialized();
    const affected = new Map<string, ConfigCallbackAction>();
    for (const name of [...this.#store.keys(), ...this.#defaults.keys()]) affected.set(name, 'NEW');
    this.#initialCallbacksCalled = true;
    await this.#processCallbacks(affected);
  }

  #ensureInitialized(): Promise<void> {
    this.#enable();
    if (this.#initialized) return Promise.resolve();
    this.#initializing ??= this.#rpc
      .request(CONFIG_STORE_PEER, 'initialize_configs', { args: [this.#core.identity], timeoutMs: this.#timeoutMs })
      .then(
        () => undefined,
        (err: unknown) => {
          this.#core.logger.error('config.initialize.failed', { error: err instanceof Error ? err.message : String(err) });
        },
      )
      .finally(() => (this.#initializing = undefined));
    return this.#initializing;
  }

  #initialUpdate(configs: unknown, resetNames = true): void {
    this.#initialized = true;
    const entries = typeof configs === 'object' && configs !== null && !Array.isArray(configs) ? Object.entries(configs) : [];
    this.#store = new Map(entries.map(([k, v]) => [k.toLowerCase(), v]));
    if (resetNames) this.#names = new Map(entries.map(([k]) => [k.toLowerCase(), k]));
    this.#refs.clear();
    this.#reverseRefs.clear();
    for (const [name, contents] of this.#store) this.#addRefs(name, contents);
    for (const [name, contents] of this.#defaults) if (!this.#store.has(name)) this.#addRefs(name, contents);
  }

  #addRefs(name: string, contents: unknown): void {
    const refs = listUniqueLinks(contents);
    this.#refs.set(name, refs);
    for (const ref of refs) {
      let set = this.#reverseRefs.get(ref);
      if (!set) this.#reverseRefs.set(ref, (set = new Set()));
      set.add(name);
    }
  }

  #deleteRefs(name: string): void {
    for (const ref of this.#refs.get(name) ?? []) {
      const set = this.#reverseRefs.get(ref);
      set?.delete(name);
      if (set?.size === 0) this.#reverseRefs.delete(ref);
    }
    this.#refs.delete(name);
  }

  /** Configs that link (at any depth) to `name` count as UPDATEd with it. */
  #gatherAffected(name: string, affected: Map<string, ConfigCallbackAction>): void {
    for (const ref of this.#reverseRefs.get(name) ?? []) {
      if (affected.has(ref)) continue;
      affected.set(ref, 'UPDATE');
      this.#gatherAffected(ref, affected);
    }
  }

  async #update(action: string, name: string | null, contents: unknown, trigger: boolean): Promise<null> {
    if (!this.#initialized) return null; // the initial update will bring it
    const affected = new Map<string, ConfigCallbackAction>();
    const lower = name?.toLowerCase() ?? '';
    if (action === 'DELETE' && this.#store.has(lower)) {
      this.#store.delete(lower);
      if (this.#defaults.has(lower)) {
        affected.set(lower, 'UPDATE');
        this.#gatherAffected(lower, affected);
        this.#deleteRefs(lower);
        this.#addRefs(lower, this.#defaults.get(lower));
      } else {
        affected.set(lower, 'DELETE');
        this.#gatherAffected(lower, affected);
        this.#deleteRefs(lower);
      }
    } else if (action === 'DELETE_ALL') {
      for (const n of this.#store.keys()) affected.set(n, 'DELETE');
      for (const n of this.#defaults.keys()) affected.set(n, 'UPDATE');
      this.#initialUpdate({}, false);
    } else if ((action === 'NEW' || action === 'UPDATE') && name !== null) {
      this.#store.set(lower, contents);
      this.#names.set(lower, name);
      affected.set(lower, this.#defaults.has(lower) ? 'UPDATE' : action);
      this.#deleteRefs(lower);
      this.#addRefs(lower, contents);
      this.#gatherAffected(lower, affected);
    }
    if (trigger && this.#initialCallbacksCalled) await this.#processCallbacks(affected);
    if (action === 'DELETE') this.#names.delete(lower);
    if (action === 'DELETE_ALL') this.#names.clear();
    return null;
  }

  /** `config` first, then the others in the order they were affected; each callback awaited in turn. */
  async #processCallbacks(affected: Map<string, ConfigCallbackAction>): Promise<void> {
    const order = [...affected.keys()].sort((a, b) => (a === 'config' ? -1 : b === 'config' ? 1 : 0));
    this.#inCallbacks++;
    try {
      for (const name of order) {
        const action = affected.get(name) as ConfigCallbackAction;
        const shown = this.#names.get(name) ?? this.#defaultNames.get(name) ?? name;
        for (const s of this.#subscriptions) {
          if (!s.actions.has(action) || !s.pattern.test(name)) continue;
          try {
            await s.callback(shown, action, action === 'DELETE' ? null : this.#gather(name));
          } catch (err) {
            this.#core.logger.error('config.callback.failed', { config: shown, action }, err);
          }
        }
      }
    } finally {
      this.#inCallbacks--;
    }
  }

  #lookup = (lower: string): unknown => (this.#store.has(lower) ? this.#store.get(lower) : this.#defaults.get(lower));

  #gather(lower: string): unknown {
    if (!this.#store.has(lower) && !this.#defaults.has(lower)) throw new ConfigNotInStoreError(lower);
    return resolveLinks(this.#lookup(lower), this.#lookup);
  }

  /** A default for `name`, used while the store has none (as VOLTTRON's `set_default`). */
  setDefault(name: string, contents: unknown): void {
    if (typeof contents !== 'string' && (typeof contents !== 'object' || contents === null)) {
      throw new TypeError('a default config must be a string, an object or a list');
    }
    this.#enable();
    const lower = name.toLowerCase();
    this.#defaults.set(lower, contents);
    this.#defaultNames.set(lower, name);
    if (!this.#store.has(lower)) {
      this.#deleteRefs(lower);
      this.#addRefs(lower, contents);
    }
  }

  /** Call `callback` for changes of configs whose lower-cased name matches `pattern` (fnmatch). */
  subscribe(callback: ConfigCallback, options: ConfigSubscribeOptions = {}): void {
    const raw = options.actions ?? CONFIG_ACTIONS;
    const actions = typeof raw === 'string' ? [raw] : raw;
    for (const a of actions)
      if (!(CONFIG_ACTIONS as readonly string[]).includes(a))
        throw new TypeError(`invalid config action ${JSON.stringify(a)} (expected NEW, UPDATE or DELETE)`);
    this.#enable();
    this.#subscriptions.push({ pattern: fnmatchRegExp(options.pattern ?? '*'), actions: new Set(actions), callback });
  }

  /** A config's contents with links resolved (store first, then defaults); ConfigNotInStoreError when neither has it. */
  async get(name = 'config'): Promise<unknown> {
    await this.#ensureInitialized();
    return this.#gather(name.toLowerCase());
  }

  /** Config names (store and defaults) as stored, sorted. */
  async list(): Promise<string[]> {
    await this.#ensureInitialized();
    const names = new Set([...this.#store.keys(), ...this.#defaults.keys()]);
    return [...names].map((n) => this.#names.get(n) ?? this.#defaultNames.get(n) ?? n).sort();
  }

  /**
   * Store a config in this agent's store: an object or list as JSON, a string as raw. Not from
   * inside a config callback: the store waits for that callback to finish before it takes the
   * next change (VOLTTRON refuses it the same way).
   */
  async set(name: string, contents: unknown, options: ConfigChangeOptions = {}): Promise<void> {
    this.#refuseInCallback('set');
    const json = typeof contents === 'object' && contents !== null;
    if (!json && typeof contents !== 'string') throw new TypeError('a config must be a string, an object or a list');
    await this.#rpc.request(CONFIG_STORE_PEER, 'set_config', {
      args: [this.#core.identity, name, json ? pythonJson(contents) : contents, json ? 'json' : 'raw'],
      kwargs: { trigger_callback: options.triggerCallback ?? false, send_update: options.sendUpdate ?? true },
      timeoutMs: this.#timeoutMs,
    });
  }

  /** Delete a config of this agent's store (not from inside a config callback). */
  async delete(name: string, options: ConfigChangeOptions = {}): Promise<void> {
    this.#refuseInCallback('delete');
    await this.#rpc.request(CONFIG_STORE_PEER, 'delete_config', {
      args: [this.#core.identity, name],
      kwargs: { trigger_callback: options.triggerCallback ?? false, send_update: options.sendUpdate ?? true },
      timeoutMs: this.#timeoutMs,
    });
  }

  #refuseInCallback(what: string): void {
    if (this.#inCallbacks > 0) throw new Error(`Cannot ${what} a config from a configuration callback.`);
  }
}
