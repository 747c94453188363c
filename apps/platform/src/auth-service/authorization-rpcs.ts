import { capabilityRefusal, UnauthorizedError, type Logger } from '@vip/protocol';
import type { Agent, RpcCallContext } from '@vip/agent';
import type { AuthEntry, AuthEntryInput, AuthFile, AuthList, AuthRules } from '@vip/auth';
import { z } from 'zod';
import { authorizationsOf, type Authorizations, type UserToCapabilities } from './user-capabilities.js';

/** VOLTTRON's capability for changing who may call which RPC method of an agent. */
export const MODIFY_RPC_METHOD_ALLOWANCE = 'modify_rpc_method_allowance';
/** VOLTTRON's capability for approving, denying and deleting credentials (and, here, editing auth.json over RPC). */
export const ALLOW_AUTH_MODIFICATIONS = 'allow_auth_modifications';

/**
 * Identities whose `rpc_method_authorizations` are never changed over RPC (VOLTTRON's
 * PROCESS_IDENTITIES and CONTROL_CONNECTION): the platform's own services.
 */
const PROTECTED_IDENTITIES = new Set([
  'platform.auth',
  'config.store',
  'control',
  'control.connection',
  'platform.health',
  'pubsub',
  'platform.web',
  'keydiscovery',
  'zmq.proxy.router',
  'platform',
  'router',
]);

const RpcMethodsSchema = z.record(z.string(), z.array(z.string()), { error: 'rpc_methods must be {method: [capability, ...]}' });
const CapabilityListSchema = z.array(z.string(), { error: 'authorizations must be a list of capability names' });
const NameSchema = z.string({ error: 'must be a string' }).min(1, 'must not be empty');
const IsAllowSchema = z.boolean({ error: 'is_allow must be true or false' }).default(true);
const NameMapSchema = z.record(z.string(), z.array(z.string()), { error: 'must be {name: [name, ...]}' });

/** What the RPCs need of the service: the rules in force, auth.json, what a user may see. */
export interface AuthorizationRpcHost {
  readonly rules: () => AuthRules;
  readonly authFile: AuthFile | undefined;
  /** Effective capabilities by user id (the rights checks). */
  readonly userToCapabilities: () => UserToCapabilities;
  /** Whether a peer proven as `user` may see `subject`'s authorizations (`--capability-map-access`). */
  readonly mayView: (user: string | undefined, subject: string) => boolean;
  readonly logger: Logger;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new TypeError(`${what}: ${r.error.issues.map((i) => i.message).join('; ')}`);
  return r.data;
}

/** VOLTTRON's `_update_auth_lists` row: an entry with an address, as the approved/denied lists show it. */
function listedCredential(entry: AuthEntry): Record<string, unknown> {
  const one = (v: string[] | null) => (v === null ? null : v.length === 1 ? v[0] : v);
  return {
    domain: one(entry.domain),
    address: one(entry.address),
    mechanism: entry.mechanism,
    credentials: one(entry.credentials),
    user_id: entry.user_id,
    retries: 0,
  };
}

/**
 * `update_id_rpc_authorizations` as VOLTTRON computes it: methods the entry does not list, or lists
 * with no capability, take the agent's; methods it lists with others keep the file's, and those
 * are what the agent is told to apply. Returns the answer and the entry to write (undefined: none).
 */
export function mergeRpcAuthorizations(
  stored: Readonly<Record<string, string[]>>,
  reported: Readonly<Record<string, string[]>>,
): { readonly answer: Record<string, string[]>; readonly next: Record<string, string[]> | undefined } {
  const answer: Record<string, string[]> = {};
  const next: Record<string, string[]> = { ...stored };
  let changed = false;
  for (const [method, caps] of Object.entries(reported)) {
    answer[method] = caps;
    const have = Object.hasOwn(stored, method) ? stored[method] : undefined;
    if (have === undefined || have.length === 0) {
      if (have === undefined || caps.length > 0) changed = true;
      next[method] = caps;
    } else if (JSON.stringify(have) !== JSON.stringify(caps)) {
      answer[method] = have;
    }
  }
  return { answer, next: changed ? next : undefined };
}

/**
 * The AuthService RPCs beyond the capability map (VOLTTRON 9 `auth.py`): dynamic RPC
 * authorizations, the credential lists and decisions, and auth.json editing (`auth_file.*`).
 * Rights come from the caller's proven user (the VIP user frame the router wrote) and the rules
 * in force: decisions and auth.json edits need `allow_auth_modifications` (exported with
 * `allow`, VOLTTRON's refusal text), as do the credential lists (VOLTTRON leaves those open);
 * `add/delete_rpc_authorizations` need `modify_rpc_method_allowance` (open in VOLTTRON); an
 * agent may record its own methods with `update_id_rpc_authorizations`, another agent's only
 * with `modify_rpc_method_allowance`.
 */
export function exportAuthorizationRpcs(agent: Agent, host: AuthorizationRpcHost): void {
  const admin = { allow: ALLOW_AUTH_MODIFICATIONS } as const;
  const rpcAdmin = { allow: MODIFY_RPC_METHOD_ALLOWANCE } as const;
  const file = (): AuthFile => {
    if (!host.authFile) throw new Error('auth.json is not available on this platform');
    return host.authFile;
  };
  const holds = (user: string, capability: string): boolean => {
    const map = host.userToCapabilities();
    return Object.hasOwn(map, user) && capabilityRefusal(map[user], [capability]) === undefined;
  };
  const visible = (user: string | undefined, subject: unknown): Authorizations | null => {
    const id = parse(NameSchema, subject, 'user_id');
    return host.mayView(user, id) ? authorizationsOf(host.rules(), id) : null;
  };

  agent.rpc.export(
    'update_id_rpc_authorizations',
    async function (this: RpcCallContext, identity: unknown, rpcMethods: unknown) {
      const id = parse(NameSchema, identity, 'identity');
      const reported = parse(RpcMethodsSchema, rpcMethods, 'rpc_methods');
      const own = host.rules().allow.find((e) => e.entry.identity === id);
      if ((own === undefined || own.entry.user_id !== this.user) && !holds(this.user, MODIFY_RPC_METHOD_ALLOWANCE)) {
        throw new UnauthorizedError(
          `User ${this.user} may record the RPC authorizations of its own identity only; ${id} needs capability ${MODIFY_RPC_METHOD_ALLOWANCE}`,
          { subsystem: 'RPC', required: [MODIFY_RPC_METHOD_ALLOWANCE], user: this.user },
        );
      }
      let answer: Record<string, string[]> | null = null;
      await file().modify(
        (e) => e.identity === id,
        (entry) => {
          const merged = mergeRpcAuthorizations(entry.rpc_method_authorizations, reported);
          answer = merged.answer;
          return merged.next === undefined ? undefined : ({ ...entry, rpc_method_authorizations: merged.next } as AuthEntryInput);
        },
      );
      return answer;
    },
    {
      params: ['identity', 'rpc_methods'],
      doc: "Records an agent's RPC method authorizations in its auth entry; answers those the entry overrides.",
    },
  );

  const changeMethod =
    (verb: 'add' | 'delete') =>
    async (identity: unknown, method: unknown, authorizations: unknown): Promise<null> => {
      const id = parse(NameSchema, identity, 'identity');
      const name = parse(NameSchema, method, 'method');
      const caps = parse(CapabilityListSchema, authorizations, 'authorizations');
      if (PROTECTED_IDENTITIES.has(id)) {
        host.logger.warn('auth.rpc_authorizations.refused', { identity: id, reason: 'platform service' });
        return null;
      }
      const found = await file().modify(
        (e) => e.identity === id,
        (entry) => {
          const have = entry.rpc_method_authorizations[name];
          const rpc = { ...entry.rpc_method_authorizations };
          if (verb === 'add') rpc[name] = have && have.length > 0 ? [...have, ...caps.filter((c) => !have.includes(c))] : caps;
          else {
            if (!have || have.length === 0 || !caps.some((c) => have.includes(c))) return undefined;
            const left = have.filter((c) => !caps.includes(c));
            rpc[name] = left.length > 0 ? left : [''];
          }
          return { ...entry, rpc_method_authorizations: rpc } as AuthEntryInput;
        },
      );
      if (!found) host.logger.warn('auth.rpc_authorizations.unchanged', { identity: id, method: name, verb });
      return null;
    };
  agent.rpc.export('add_rpc_authorizations', changeMethod('add'), {
    ...rpcAdmin,
    params: ['identity', 'method', 'authorizations'],
    doc: 'Adds capabilities allowed to call an RPC method of an agent (auth entry).',
  });
  agent.rpc.export('delete_rpc_authorizations', changeMethod('delete'), {
    ...rpcAdmin,
    params: ['identity', 'method', 'denied_authorizations'],
    doc: 'Removes capabilities allowed to call an RPC method of an agent (auth entry).',
  });

  agent.rpc.export(
    'get_capabilities',
    function (this: RpcCallContext, userId: unknown) {
      return visible(this.user, userId)?.[0] ?? [];
    },
    { params: ['user_id'], doc: 'Gets capabilities for a given user.' },
  );
  agent.rpc.export(
    'get_groups',
    function (this: RpcCallContext, userId: unknown) {
      return visible(this.user, userId)?.[1] ?? [];
    },
    { params: ['user_id'], doc: 'Gets groups for a given user.' },
  );
  agent.rpc.export(
    'get_roles',
    function (this: RpcCallContext, userId: unknown) {
      return visible(this.user, userId)?.[2] ?? [];
    },
    { params: ['user_id'], doc: 'Gets roles for a given user.' },
  );

  agent.rpc.export(
    'get_pending_authorizations',
    async () => {
      const pending = await file().listPending();
      return pending.map((p) => ({
        domain: p.domain,
        address: p.address,
        mechanism: p.mechanism,
        credentials: p.credentials,
        user_id: p.user_id,
        retries: p.retries,
      }));
    },
    { ...admin, doc: 'Lists refused (pending) credentials.' },
  );
  agent.rpc.export(
    'get_approved_authorizations',
    () =>
      host
        .rules()
        .allow.map((c) => c.entry)
        .filter((e) => e.address !== null)
        .map(listedCredential),
    {
      ...admin,
      doc: 'Lists the allow entries that name an address.',
    },
  );
  agent.rpc.export(
    'get_denied_authorizations',
    async () => (await file().list()).deny.filter((e) => e.address !== null).map(listedCredential),
    {
      ...admin,
      doc: 'Lists the deny entries that name an address.',
    },
  );
  const decide =
    (what: 'approve' | 'deny') =>
    async (userId: unknown): Promise<null> => {
      const id = parse(NameSchema, userId, 'user_id');
      await (what === 'approve' ? file().approve(id) : file().deny(id));
      return null;
    };
  agent.rpc.export('approve_authorization', decide('approve'), {
    ...admin,
    params: ['user_id'],
    doc: 'Approves a pending or denied credential.',
  });
  agent.rpc.export('deny_authorization', decide('deny'), {
    ...admin,
    params: ['user_id'],
    doc: 'Denies a pending or approved credential.',
  });
  agent.rpc.export(
    'delete_authorization',
    async (userId: unknown) => {
      const id = parse(NameSchema, userId, 'user_id');
      if (await file().forgetPending(id)) return null;
      for (const list of ['deny', 'allow'] as const) {
        const entries = (await file().list())[list];
        const index = entries.findIndex((e) => e.user_id === id && (list === 'deny' || e.address !== null));
        if (index >= 0) {
          await file().removeIndices([index], list);
          return null;
        }
      }
      throw new Error(`no pending, approved or denied credential with user_id ${JSON.stringify(id)}`);
    },
    { ...admin, params: ['user_id'], doc: 'Forgets a pending credential, or removes an approved (with address) or denied entry.' },
  );
  // CSRs exist on web-enabled RabbitMQ platforms only; this platform signs none.
  agent.rpc.export('get_authorization', () => null, {
    ...admin,
    params: ['common_name'],
    doc: 'The certificate of a pending CSR (none here).',
  });
  agent.rpc.export('get_authorization_status', () => null, {
    ...admin,
    params: ['common_name'],
    doc: 'The status of a pending CSR (none here).',
  });

  exportAuthFileRpcs(agent, file, admin);
}

/** `auth_file.*`: VOLTTRON's AuthFile methods over RPC (vctl auth), each needing `allow_auth_modifications` here. */
function exportAuthFileRpcs(agent: Agent, file: () => AuthFile, admin: { readonly allow: string }): void {
  const list = (isAllow: unknown): AuthList => (parse(IsAllowSchema, isAllow, 'is_allow') ? 'allow' : 'deny');
  const entryInput = (value: unknown): AuthEntryInput =>
    parse(z.record(z.string(), z.unknown(), { error: 'auth_entry must be an object' }), value, 'auth_entry') as AuthEntryInput;
  const credentialsOf = (value: unknown) => parse(NameSchema, value, 'credentials');
  agent.rpc.export(
    'auth_file.read',
    async () => {
      const { allow, deny, groups, roles } = await file().list();
      return { allow, deny, groups, roles };
    },
    { ...admin, doc: 'auth.json as the platform reads it.' },
  );
  agent.rpc.export(
    'auth_file.find_by_credentials',
    async (credentials: unknown, isAllow: unknown) => {
      const c = credentialsOf(credentials);
      return (await file().list())[list(isAllow)].filter((e) => e.credentials?.includes(c) ?? false);
    },
    { ...admin, params: ['credentials', { name: 'is_allow', default: true }], doc: 'The entries holding these credentials.' },
  );
  agent.rpc.export(
    'auth_file.add',
    async (entry: unknown) => {
      await file().add(entryInput(entry));
      return null;
    },
    { ...admin, params: ['entry'], doc: 'Adds an allow entry.' },
  );
  agent.rpc.export(
    'auth_file.update_by_index',
    async (entry: unknown, index: unknown, isAllow: unknown) => {
      await file().replace(parse(z.number().int(), index, 'index'), entryInput(entry), list(isAllow));
      return null;
    },
    { ...admin, params: ['auth_entry', 'index', { name: 'is_allow', default: true }], doc: 'Replaces the entry at an index.' },
  );
  agent.rpc.export(
    'auth_file.remove_by_credentials',
    async (credentials: unknown, isAllow: unknown) => {
      const c = credentialsOf(credentials);
      const where = list(isAllow);
      const indices = (await file().list())[where].flatMap((e, i) => (e.credentials?.includes(c) ? [i] : []));
      if (indices.length > 0) await file().removeIndices(indices, where);
      return null;
    },
    { ...admin, params: ['credentials', { name: 'is_allow', default: true }], doc: 'Removes the entries holding these credentials.' },
  );
  agent.rpc.export(
    'auth_file.remove_by_index',
    async (index: unknown, isAllow: unknown) => {
      await file().removeIndices([parse(z.number().int(), index, 'index')], list(isAllow));
      return null;
    },
    { ...admin, params: ['index', { name: 'is_allow', default: true }], doc: 'Removes the entry at an index.' },
  );
  agent.rpc.export(
    'auth_file.remove_by_indices',
    async (indices: unknown, isAllow: unknown) => {
      await file().removeIndices(parse(z.array(z.number().int()), indices, 'indices'), list(isAllow));
      return null;
    },
    { ...admin, params: ['indices', { name: 'is_allow', default: true }], doc: 'Removes the entries at these indices.' },
  );
  agent.rpc.export(
    'auth_file.set_groups',
    async (groups: unknown) => {
      await file().setGroups(parse(NameMapSchema, groups, 'groups'));
      return null;
    },
    { ...admin, params: ['groups'], doc: 'Replaces the group -> roles map.' },
  );
  agent.rpc.export(
    'auth_file.set_roles',
    async (roles: unknown) => {
      await file().setRoles(parse(NameMapSchema, roles, 'roles'));
      return null;
    },
    { ...admin, params: ['roles'], doc: 'Replaces the role -> capabilities map.' },
  );
}
