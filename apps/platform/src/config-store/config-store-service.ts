import { z } from 'zod';
import { pythonJson, silentLogger, type CapabilityMap, type Logger } from '@vip/protocol';
import { checkCapabilities, type Agent, type RpcCallContext } from '@vip/agent';
import type { ConfigStore, ConfigChange } from '@vip/config-store';

/** VOLTTRON's CONFIGURATION_STORE identity (known_identities.py). */
export const CONFIG_STORE_IDENTITY = 'config.store';
/** What VOLTTRON's `main.py` grants `config.store` in auth.json (docs/protocol.md 5.5). */
export const CONFIG_STORE_CAPABILITIES = { sync_agent_config: null };
/** The capability an agent needs to change another agent's store (`@RPC.allow` in VOLTTRON's store.py). */
export const EDIT_CONFIG_STORE = 'edit_config_store';
/** How long a push to an agent may take before the store goes on (VOLTTRON's UPDATE_TIMEOUT). */
export const DEFAULT_PUSH_TIMEOUT_MS = 30_000;

export interface ConfigStoreServiceOptions {
  readonly store: ConfigStore;
  readonly agent: Agent;
  /**
   * The capability map of `platform.auth`, read on every change of another agent's store;
   * undefined when authentication is off (nothing is checked then, as VOLTTRON).
   */
  readonly capabilities?: () => CapabilityMap;
  readonly pushTimeoutMs?: number;
  readonly logger?: Logger;
}

const Identity = z.string().min(1, 'identity must not be empty');
const ConfigName = z.string();
/** Raw contents are text; a JSON object or list is stored as JSON (VOLTTRON's `store_config`). */
const RawContents = z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]);

function arg<T>(schema: z.ZodType<T>, name: string, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new TypeError(`${name}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/**
 * The `config.store` agent: VOLTTRON 9's store RPCs (platform/store.py) over a ConfigStore, and the
 * pushes agents expect (`config.initial_update`, `config.update`). Changing a store is allowed to
 * the agent whose store it is (the user the bus proved for the call equals the identity) and to
 * users holding `edit_config_store` whose `identity` restriction matches; reading is open to every
 * peer, as in VOLTTRON.
 */
export class ConfigStoreService {
  readonly #store: ConfigStore;
  readonly #agent: Agent;
  readonly #capabilities: (() => CapabilityMap) | undefined;
  readonly #pushTimeoutMs: number;
  readonly #logger: Logger;
  readonly #counts = { pushes: 0, push_failures: 0, refused: 0 };

  constructor(options: ConfigStoreServiceOptions) {
    this.#store = options.store;
    this.#agent = options.agent;
    this.#capabilities = options.capabilities;
    this.#pushTimeoutMs = options.pushTimeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS;
    this.#logger = (options.logger ?? silentLogger).child({ service: CONFIG_STORE_IDENTITY });
    this.#exportMethods();
  }

  /** Stop the service's agent. */
  close(): Promise<void> {
    return this.#agent.close();
  }

  get store(): ConfigStore {
    return this.#store;
  }

  counters(): Record<string, number> {
    return { ...this.#counts, stores: this.#store.listStores().length, bytes: this.#store.totalBytes };
  }

  #exportMethods(): void {
    const rpc = this.#agent.rpc;
    const svc = this;
    const storeParams = ['identity', 'config_name', 'raw_contents', { name: 'config_type', default: 'raw' }];
    const sendParams = [
      { name: 'trigger_callback', default: false },
      { name: 'send_update', default: true },
    ];
    const setConfig = (method: string, trigger: boolean | undefined) =>
      function (
        this: RpcCallContext,
        identity: unknown,
        name: unknown,
        raw: unknown,
        type: unknown,
        triggerCallback?: unknown,
        sendUpdate?: unknown,
      ) {
        // before VOLTTRON 9: set_config(config_name, contents, ...) on the caller's own store
        if (method === 'set_config' && raw === null) [identity, name, raw] = [this.caller, identity, name];
        const id = arg(Identity, 'identity', identity);
        svc.#mayEdit(method, this.user, { identity: id, config_name: name, raw_contents: raw, config_type: type });
        return svc.#set(
          id,
          arg(ConfigName, 'config_name', name),
          arg(RawContents, 'raw_contents', raw),
          String(type),
          trigger ?? triggerCallback === true,
          sendUpdate !== false,
        );
      };
    const deleteConfig = (method: string, trigger: boolean | undefined) =>
      function (this: RpcCallContext, identity: unknown, name: unknown, triggerCallback?: unknown, sendUpdate?: unknown) {
        // before VOLTTRON 9: delete_config(config_name, ...) on the caller's own store
        if (method === 'delete_config' && name === null) [identity, name] = [this.caller, identity];
        const id = arg(Identity, 'identity', identity);
        svc.#mayEdit(method, this.user, { identity: id, config_name: name });
        return svc.#delete(id, arg(ConfigName, 'config_name', name), trigger ?? triggerCallback === true, sendUpdate !== false);
      };
    const deleteStore = (method: string) =>
      function (this: RpcCallContext, identity: unknown) {
        const id = arg(Identity, 'identity', identity);
        svc.#mayEdit(method, this.user, { identity: id });
        return svc.#deleteStore(id);
      };
    const get = (identity: unknown, name: unknown, raw: unknown) =>
      this.#store.get(arg(Identity, 'identity', identity), arg(ConfigName, 'config_name', name), raw !== false);
    const getMetadata = (identity: unknown, name: unknown) =>
      this.#store.getMetadata(arg(Identity, 'identity', identity), arg(ConfigName, 'config_name', name));
    const listConfigs = (identity: unknown) => this.#store.listConfigs(arg(Identity, 'identity', identity));
    const listStores = () => this.#store.listStores();

    // VOLTTRON 9 names, then the manage_* names it keeps (deprecated there, still what vctl and agents call).
    // raw_contents (set_config) and config_name (delete_config) default to null only to tell the
    // calls of agents from before VOLTTRON 9, which do not name the identity, from the current ones
    const v9Store = ['identity', 'config_name', { name: 'raw_contents', default: null }, { name: 'config_type', default: 'raw' }];
    rpc.export('set_config', setConfig('set_config', undefined), {
      params: [...v9Store, ...sendParams],
      doc: 'Store a config (edit_config_store).',
    });
    rpc.export('delete_config', deleteConfig('delete_config', undefined), {
      params: ['identity', { name: 'config_name', default: null }, ...sendParams],
      doc: 'Delete a config (edit_config_store).',
    });
    rpc.export('delete_store', deleteStore('delete_store'), {
      params: ['identity'],
      doc: 'Delete every config of a store (edit_config_store).',
    });
    rpc.export('list_configs', listConfigs, { params: ['identity'] });
    rpc.export('list_stores', listStores);
    rpc.export('get_config', get, { params: ['identity', 'config_name', { name: 'raw', default: true }] });
    rpc.export('get_metadata', getMetadata, { params: ['identity', 'config_name'] });
    rpc.export('manage_store', setConfig('manage_store', true), {
      params: storeParams,
      doc: 'Store a config and tell the agent (edit_config_store).',
    });
    rpc.export('manage_delete_config', deleteConfig('manage_delete_config', true), { params: ['identity', 'config_name'] });
    rpc.export('manage_delete_store', deleteStore('manage_delete_store'), { params: ['identity'] });
    rpc.export('manage_list_configs', listConfigs, { params: ['identity'] });
    rpc.export('manage_list_stores', listStores);
    rpc.export('manage_get', get, { params: ['identity', 'config_name', { name: 'raw', default: true }] });
    rpc.export('manage_get_metadata', getMetadata, { params: ['identity', 'config_name'] });
    rpc.export('initialize_configs', (identity: unknown) => this.#initialPush(arg(Identity, 'identity', identity)), {
      params: ['identity'],
      doc: 'Push the store of `identity` to it (config.initial_update); agents call it at start.',
    });
    // Before VOLTTRON 9 an agent asked for its own store without naming itself.
    rpc.export('get_configs', function (this: RpcCallContext) {
      return svc.#initialPush(this.caller);
    });
  }

  /** VOLTTRON's edit_config_store check, except that an agent may always change its own store. */
  #mayEdit(method: string, user: string, byName: Readonly<Record<string, unknown>>): void {
    if (!this.#capabilities || user === byName.identity) return;
    const map = this.#capabilities();
    const refusal = checkCapabilities(method, [EDIT_CONFIG_STORE], user, Object.hasOwn(map, user) ? map[user] : undefined, byName);
    if (refusal) {
      this.#counts.refused++;
      this.#logger.warn('config_store.refused', { method, user, identity: String(byName.identity) });
      throw refusal;
    }
  }

  async #set(identity: string, name: string, raw: string | object, type: string, trigger: boolean, send: boolean): Promise<null> {
    let text: string;
    let configType = type;
    if (typeof raw === 'string') text = raw;
    else {
      // an object or list is JSON whatever the type said (VOLTTRON's store_config)
      text = pythonJson(raw);
      configType = 'json';
    }
    await this.#store.set(identity, name, text, configType, send ? (change) => this.#push(change, trigger) : undefined);
    return null;
  }

  async #delete(identity: string, name: string, trigger: boolean, send: boolean): Promise<null> {
    await this.#store.delete(identity, name, send ? (change) => this.#push(change, trigger) : undefined);
    return null;
  }

  async #deleteStore(identity: string): Promise<null> {
    await this.#store.deleteStore(identity, (change) => this.#push(change, true));
    return null;
  }

  /** `config.initial_update` with the store's parsed configs, in the store's turn (no change slips between). */
  async #initialPush(identity: string): Promise<null> {
    await this.#store.exclusive(identity, () =>
      this.#call(identity, 'config.initial_update', [this.#store.configsOf(identity)], undefined),
    );
    return null;
  }

  /** `config.update` as VOLTTRON sends it: `(action, name, contents=..., trigger_callback=...)`. */
  #push(change: ConfigChange, trigger: boolean): Promise<void> {
    const kwargs =
      change.action === 'NEW' || change.action === 'UPDATE'
        ? { contents: change.contents, trigger_callback: trigger }
        : { trigger_callback: trigger };
    return this.#call(change.identity, 'config.update', [change.action, change.name], kwargs);
  }

  /** A push whose failure (agent not running, no config subsystem, slow) is logged, never the caller's error. */
  async #call(identity: string, method: string, args: unknown[], kwargs: Record<string, unknown> | undefined): Promise<void> {
    this.#counts.pushes++;
    try {
      await this.#agent.rpc.request(identity, method, { args, ...(kwargs ? { kwargs } : {}), timeoutMs: this.#pushTimeoutMs });
    } catch (err) {
      this.#counts.push_failures++;
      const code = String((err as { code?: unknown }).code);
      const fields = { identity, method, code, error: (err as Error).message };
      if (code === 'VIP_UNREACHABLE') this.#logger.debug('config_store.push.agent_not_running', fields);
      else this.#logger.warn('config_store.push.failed', fields);
    }
  }
}
