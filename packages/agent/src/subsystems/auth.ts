import { z } from 'zod';
import type { AgentCore, Subsystem } from '../subsystem.js';
import type { RpcSubsystem } from '../rpc/rpc.js';
import { MethodNotFoundError } from '../errors.js';

/** The capability VOLTTRON requires to change which capabilities may call an agent's methods. */
export const MODIFY_RPC_METHOD_ALLOWANCE = 'modify_rpc_method_allowance';

/** Identities of the platform's services: they do not record their methods at start (as VOLTTRON). */
const SERVICE_IDENTITIES = new Set([
  'platform.auth',
  'platform.web',
  'control',
  'keydiscovery',
  'config.store',
  'control.connection',
  'platform.health',
  'pubsub',
]);

const CapabilitiesSchema = z.array(z.string(), { error: 'capabilities must be a list of capability names' });
const AuthorizationsSchema = z.record(z.string(), z.array(z.string()), { error: 'rpc_authorizations must be {method: [capability, ...]}' });

export interface AuthSubsystemOptions {
  /**
   * Record this agent's methods and their `allow` capabilities in its auth entry at start
   * (`platform.auth` `update_id_rpc_authorizations`, as every VOLTTRON agent does), then apply the
   * capabilities the entry sets for them. Default false.
   */
  readonly syncRpcAuthorizations?: boolean;
}

/**
 * The agent side of dynamic RPC authorizations (VOLTTRON 9 `subsystems/auth.py`): exports
 * `auth.get_rpc_authorizations`, `auth.get_all_rpc_authorizations`, and, for callers holding
 * `modify_rpc_method_allowance` (the platform's `platform.auth` after an auth.json change),
 * `auth.set_rpc_authorizations` and `auth.set_multiple_rpc_authorizations`. Only the agent's own
 * methods take part: names with a dot (subsystem methods such as `health.set_status`) are refused.
 */
export class AuthSubsystem implements Subsystem {
  readonly name = 'auth';
  readonly #core: AgentCore;
  readonly #rpc: RpcSubsystem;
  readonly #sync: boolean;
  #synced = false;

  constructor(core: AgentCore, rpc: RpcSubsystem, options: AuthSubsystemOptions = {}) {
    this.#core = core;
    this.#rpc = rpc;
    this.#sync = options.syncRpcAuthorizations ?? false;
    rpc.export('auth.get_rpc_authorizations', (method: unknown) => this.getRpcAuthorizations(String(method)), { params: ['method_str'] });
    rpc.export('auth.get_all_rpc_authorizations', () => this.getAllRpcAuthorizations());
    rpc.export(
      'auth.set_rpc_authorizations',
      (method: unknown, capabilities: unknown) => {
        this.setRpcAuthorizations(String(method), parseWith(CapabilitiesSchema, capabilities));
        return null;
      },
      { params: ['method_str', 'capabilities'], allow: MODIFY_RPC_METHOD_ALLOWANCE },
    );
    rpc.export(
      'auth.set_multiple_rpc_authorizations',
      (map: unknown) => {
        for (const [method, caps] of Object.entries(parseWith(AuthorizationsSchema, map))) this.setRpcAuthorizations(method, caps);
        return null;
      },
      { params: ['rpc_authorizations'], allow: MODIFY_RPC_METHOD_ALLOWANCE },
    );
  }

  /** The capabilities `method` requires; [] for a subsystem method or one not exported. */
  getRpcAuthorizations(method: string): string[] {
    if (method.includes('.')) {
      this.#core.logger.warn('auth.rpc_authorizations.subsystem_method', { method });
      return [];
    }
    return [...(this.#rpc.allowOf(method) ?? [])];
  }

  /** Every own (dot-free) exported method with the capabilities it requires. */
  getAllRpcAuthorizations(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const name of this.#rpc.exportedNames()) if (!name.includes('.')) out[name] = [...(this.#rpc.allowOf(name) ?? [])];
    return out;
  }

  /** Sets the capabilities `method` requires; ignored (and logged) for a subsystem method or one not exported. */
  setRpcAuthorizations(method: string, capabilities: readonly string[]): void {
    if (method.includes('.') || !this.#rpc.setAllow(method, capabilities)) {
      this.#core.logger.warn('auth.rpc_authorizations.not_set', { method });
    }
  }

  /** Once, after the first welcome, in the background (start does not wait for platform.auth). */
  onConnected(): void {
    if (!this.#sync || this.#synced || SERVICE_IDENTITIES.has(this.#core.identity)) return;
    this.#synced = true;
    this.synced = this.#syncRpcAuthorizations();
  }

  /** The start-up sync in flight or done (resolves, never rejects); undefined before it began. */
  synced: Promise<void> | undefined;

  /** Record the methods in the auth entry and apply the capabilities it sets for them. */
  async #syncRpcAuthorizations(): Promise<void> {
    const mine = this.getAllRpcAuthorizations();
    let answer: unknown;
    try {
      answer = await this.#rpc.request('platform.auth', 'update_id_rpc_authorizations', {
        args: [this.#core.identity, mine],
        timeoutMs: 4_000,
      });
    } catch (err) {
      const event = err instanceof MethodNotFoundError ? 'auth.rpc_authorizations.unsupported' : 'auth.rpc_authorizations.sync_failed';
      this.#core.logger.warn(event, {}, err);
      return;
    }
    if (answer === null) {
      this.#core.logger.warn('auth.rpc_authorizations.no_entry', { identity: this.#core.identity });
      return;
    }
    const r = AuthorizationsSchema.safeParse(answer);
    if (!r.success) {
      this.#core.logger.warn('auth.rpc_authorizations.bad_answer', { error: r.error.message });
      return;
    }
    for (const [method, caps] of Object.entries(r.data)) {
      if (JSON.stringify(mine[method]) !== JSON.stringify(caps)) this.setRpcAuthorizations(method, caps);
    }
  }
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new TypeError(r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}
