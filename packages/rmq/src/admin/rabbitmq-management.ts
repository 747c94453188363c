import { z } from 'zod';
import { HttpClient, type HttpAnswer } from './http-client.js';
import { checkManagementUrl, type ManagementOptions } from '../transport/management-options.js';
import { RmqSetupError, unresolvedHost } from '../transport/rmq-errors.js';
import type { TopicPermissions } from './topic-permissions.js';

const QueueListSchema = z.array(z.object({ name: z.string() }));
const BindingListSchema = z.array(
  z.object({
    destination: z.string(),
    destination_type: z.string(),
    routing_key: z.string(),
    arguments: z.record(z.string(), z.unknown()).default({}),
  }),
);

const UserSchema = z.object({ name: z.string(), tags: z.union([z.string(), z.array(z.string())]).default([]) });
const PermissionsSchema = z.object({ configure: z.string(), write: z.string(), read: z.string() });
const VhostPermissionListSchema = z.array(z.object({ user: z.string() }));
const TopicPermissionListSchema = z.array(z.object({ exchange: z.string(), write: z.string(), read: z.string() }));

/** A broker user as the management API shows it (password hash left out). */
export interface BrokerUser {
  readonly name: string;
  readonly tags: readonly string[];
}

/** A queue binding of an exchange (management API `bindings/source`). */
export interface QueueBinding {
  readonly destination: string;
  readonly routingKey: string;
  readonly arguments: Readonly<Record<string, unknown>>;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined; // not JSON: callers that need a body reject `undefined` through their schema
  }
}

export type { ManagementOptions };

export interface Permissions {
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

/**
 * VOLTTRON's default permissions for agent user `<instance>.<identity>` (docs/protocol.md 7.1):
 * configure its own queues, read and write those plus the `volttron` exchange.
 */
export function agentPermissions(instance: string, identity: string): Permissions {
  const u = escapeRegex(`${instance}.${identity}`);
  const own = `${u}|${u}\\.pubsub\\..*|${u}\\.zmq\\..*|amq\\..*`;
  return { configure: own, write: `volttron|${own}`, read: `volttron|${own}` };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The few RabbitMQ management HTTP API calls broker set-up needs (virtual hosts, users,
 * permissions). Every failure is an RmqSetupError saying what is missing and how to fix it.
 */
export class RabbitMqManagement {
  readonly #o: ManagementOptions;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #http: HttpClient;

  constructor(options: ManagementOptions) {
    this.#o = options;
    checkManagementUrl(options.baseUrl);
    this.#http = new HttpClient(options.baseUrl, options.timeoutMs ?? 5_000);
    this.#headers = {
      authorization: 'Basic ' + Buffer.from(`${options.user}:${options.password}`).toString('base64'),
      accept: 'application/json',
    };
  }

  /** Create the virtual host if absent (PUT is idempotent). */
  async ensureVhost(vhost: string): Promise<void> {
    await this.#call('PUT', `/api/vhosts/${encodeURIComponent(vhost)}`, {}, `create virtual host ${vhost}`);
  }

  /** Delete the virtual host; absent is fine. */
  async deleteVhost(vhost: string): Promise<void> {
    await this.#call('DELETE', `/api/vhosts/${encodeURIComponent(vhost)}`, undefined, `delete virtual host ${vhost}`, [404]);
  }

  async setPermissions(vhost: string, user: string, p: Permissions): Promise<void> {
    await this.#call(
      'PUT',
      `/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`,
      p,
      `set permissions of ${user} on ${vhost}`,
    );
  }

  /** Delete a user; absent is fine. */
  async deleteUser(user: string): Promise<void> {
    await this.#call('DELETE', `/api/users/${encodeURIComponent(user)}`, undefined, `delete user ${user}`, [404]);
  }

  /** Create or update a user (password login; tags e.g. '' or 'administrator'). */
  async ensureUser(user: string, password: string, tags = ''): Promise<void> {
    await this.#call('PUT', `/api/users/${encodeURIComponent(user)}`, { password, tags }, `create user ${user}`);
  }

  /**
   * Create a user that can log in only by SASL EXTERNAL (a client certificate whose name is the
   * user), or take the password of an existing one: `password_hash: ""` means "no password".
   */
  async ensureUserWithoutPassword(user: string, tags = ''): Promise<void> {
    await this.#call(
      'PUT',
      `/api/users/${encodeURIComponent(user)}`,
      { password_hash: '', tags },
      `create user ${user} (certificate login only)`,
    );
  }

  /**
   * Federate `vhost`'s `volttron` exchange from an upstream broker/vhost (docs/protocol.md 7.8, needs
   * the rabbitmq_federation plugin): upstream parameter `name` with `uri`, and policy
   * `volttron-federation` (pattern `^volttron$`, all upstreams, exchanges). The downstream then
   * receives what its own bindings ask for (e.g. `allPlatforms` pubsub subscriptions).
   */
  async federateVolttron(vhost: string, name: string, uri: string): Promise<void> {
    await this.#call(
      'PUT',
      `/api/parameters/federation-upstream/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
      { value: { uri } },
      `set federation upstream ${name} on ${vhost} (is rabbitmq_federation enabled?)`,
    );
    await this.#call(
      'PUT',
      `/api/policies/${encodeURIComponent(vhost)}/volttron-federation`,
      { pattern: '^volttron$', definition: { 'federation-upstream-set': 'all' }, priority: 0, 'apply-to': 'exchanges' },
      `set federation policy on ${vhost}`,
    );
  }

  /** A runtime parameter's value (`federation-upstream`, `shovel`, ...), or undefined when absent. */
  async getParameter(component: string, vhost: string, name: string): Promise<unknown> {
    const raw = await this.#find(
      `/api/parameters/${encodeURIComponent(component)}/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
      `read ${component} parameter ${name} on ${vhost}`,
    );
    return (raw as { value?: unknown } | undefined)?.value;
  }

  /** Create or replace a runtime parameter (needs the plugin that owns `component`). */
  async setParameter(component: string, vhost: string, name: string, value: unknown): Promise<void> {
    await this.#call(
      'PUT',
      `/api/parameters/${encodeURIComponent(component)}/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
      { value },
      `set ${component} parameter ${name} on ${vhost} (is the rabbitmq_${component.split('-')[0]} plugin enabled?)`,
    );
  }

  /** Delete a runtime parameter; absent is fine. */
  async deleteParameter(component: string, vhost: string, name: string): Promise<void> {
    await this.#call(
      'DELETE',
      `/api/parameters/${encodeURIComponent(component)}/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
      undefined,
      `delete ${component} parameter ${name} on ${vhost}`,
      [404],
    );
  }

  /** The names of `component`'s parameters on `vhost`. */
  async listParameters(component: string, vhost: string): Promise<string[]> {
    const raw = await this.#call(
      'GET',
      `/api/parameters/${encodeURIComponent(component)}/${encodeURIComponent(vhost)}`,
      undefined,
      `list ${component} parameters on ${vhost}`,
      [404],
    );
    return Array.isArray(raw) ? raw.map((p) => String((p as { name?: unknown }).name)) : [];
  }

  async getPolicy(vhost: string, name: string): Promise<unknown> {
    return this.#find(`/api/policies/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, `read policy ${name} on ${vhost}`);
  }

  async setPolicy(vhost: string, name: string, policy: unknown): Promise<void> {
    await this.#call(
      'PUT',
      `/api/policies/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
      policy,
      `set policy ${name} on ${vhost}`,
    );
  }

  async deletePolicy(vhost: string, name: string): Promise<void> {
    await this.#call(
      'DELETE',
      `/api/policies/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`,
      undefined,
      `delete policy ${name} on ${vhost}`,
      [404],
    );
  }

  /** Raw link state rows: `federation-links` or `shovels` of `vhost` (the plugins' management extensions). */
  async listLinkState(kind: 'federation-links' | 'shovels', vhost: string): Promise<unknown[]> {
    const raw = await this.#call(
      'GET',
      `/api/${kind}/${encodeURIComponent(vhost)}`,
      undefined,
      `read the ${kind} of ${vhost} (is rabbitmq_${kind === 'shovels' ? 'shovel' : 'federation'}_management enabled?)`,
    );
    return Array.isArray(raw) ? raw : [];
  }

  /** Declare a durable queue (idempotent for the same arguments). */
  async ensureDurableQueue(vhost: string, queue: string): Promise<void> {
    await this.#call(
      'PUT',
      `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`,
      { durable: true, auto_delete: false, arguments: {} },
      `declare queue ${queue} on ${vhost}`,
    );
  }

  /** Bind `queue` to `exchange` with `key` (a binding that exists already is kept). */
  async bindQueue(vhost: string, exchange: string, queue: string, key: string): Promise<void> {
    await this.#call(
      'POST',
      `/api/bindings/${encodeURIComponent(vhost)}/e/${encodeURIComponent(exchange)}/q/${encodeURIComponent(queue)}`,
      { routing_key: key, arguments: {} },
      `bind ${queue} to ${exchange} on ${vhost}`,
    );
  }

  /** Delete a queue; absent is fine. */
  async deleteQueue(vhost: string, queue: string): Promise<void> {
    await this.#call(
      'DELETE',
      `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`,
      undefined,
      `delete queue ${queue} on ${vhost}`,
      [404],
    );
  }

  /** The connections of `vhost`: name, user and the client's `connection_name` ('' when it gave none). */
  async listConnections(vhost: string): Promise<Array<{ name: string; user: string; clientName: string }>> {
    const raw = await this.#call(
      'GET',
      `/api/vhosts/${encodeURIComponent(vhost)}/connections`,
      undefined,
      `list the connections of ${vhost}`,
    );
    return Array.isArray(raw)
      ? raw.map((c) => {
          const row = c as { name?: unknown; user?: unknown; client_properties?: { connection_name?: unknown } };
          return { name: String(row.name), user: String(row.user), clientName: String(row.client_properties?.connection_name ?? '') };
        })
      : [];
  }

  /** Force-close a connection (its client sees CONNECTION_FORCED); gone already is fine. */
  async closeConnection(name: string, reason = 'closed by vip'): Promise<void> {
    await this.#request('DELETE', `/api/connections/${encodeURIComponent(name)}`, undefined, { 'x-reason': reason }).catch(() => undefined);
  }

  /** Names of the queues in `vhost` (one request; used to notice departed agents cheaply). */
  async listQueues(vhost: string): Promise<Set<string>> {
    const raw = await this.#call('GET', `/api/queues/${encodeURIComponent(vhost)}?columns=name`, undefined, `list queues of ${vhost}`);
    const r = QueueListSchema.safeParse(raw);
    if (!r.success)
      throw new RmqSetupError('broker', `management API sent an unexpected queue list for ${vhost}`, 'check the management plugin version');
    return new Set(r.data.map((q) => q.name));
  }

  /** The queue bindings whose source is `exchange` in `vhost` (one request; arguments included). */
  async listBindings(vhost: string, exchange: string): Promise<QueueBinding[]> {
    const raw = await this.#call(
      'GET',
      `/api/exchanges/${encodeURIComponent(vhost)}/${encodeURIComponent(exchange)}/bindings/source`,
      undefined,
      `list the bindings of ${exchange} in ${vhost}`,
    );
    const r = BindingListSchema.safeParse(raw);
    if (!r.success)
      throw new RmqSetupError(
        'broker',
        `management API sent an unexpected binding list for ${exchange} in ${vhost}`,
        'check the management plugin version',
      );
    return r.data
      .filter((b) => b.destination_type === 'queue')
      .map((b) => ({ destination: b.destination, routingKey: b.routing_key, arguments: b.arguments }));
  }

  /** A user, or undefined when the broker has none of that name. */
  async getUser(user: string): Promise<BrokerUser | undefined> {
    const what = `read user ${user}`;
    const raw = await this.#find(`/api/users/${encodeURIComponent(user)}`, what);
    if (raw === undefined) return undefined;
    const r = UserSchema.safeParse(raw);
    if (!r.success)
      throw new RmqSetupError('broker', `management API sent an unexpected answer to ${what}`, 'check the management plugin version');
    return { name: r.data.name, tags: typeof r.data.tags === 'string' ? r.data.tags.split(',').filter((t) => t !== '') : r.data.tags };
  }

  /** The permissions of `user` on `vhost`, or undefined when it has none there (or the user is absent). */
  async getPermissions(vhost: string, user: string): Promise<Permissions | undefined> {
    const what = `read the permissions of ${user} on ${vhost}`;
    const raw = await this.#find(`/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, what);
    if (raw === undefined) return undefined;
    const r = PermissionsSchema.safeParse(raw);
    if (!r.success)
      throw new RmqSetupError('broker', `management API sent an unexpected answer to ${what}`, 'check the management plugin version');
    return r.data;
  }

  /** Names of the users holding permissions on `vhost` (one request). */
  async listVhostUsers(vhost: string): Promise<string[]> {
    const what = `list the users with permissions on ${vhost}`;
    const raw = await this.#call('GET', `/api/vhosts/${encodeURIComponent(vhost)}/permissions`, undefined, what);
    const r = VhostPermissionListSchema.safeParse(raw);
    if (!r.success)
      throw new RmqSetupError('broker', `management API sent an unexpected answer to ${what}`, 'check the management plugin version');
    return r.data.map((p) => p.user);
  }

  /**
   * The topic permissions of `user` on `vhost` (one per topic exchange), or undefined when it has
   * none there (the API answers 404 for that, as for an absent user).
   */
  async getTopicPermissions(vhost: string, user: string): Promise<TopicPermissions[] | undefined> {
    const what = `read the topic permissions of ${user} on ${vhost}`;
    const raw = await this.#find(`/api/topic-permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, what);
    if (raw === undefined) return undefined;
    const r = TopicPermissionListSchema.safeParse(raw);
    if (!r.success)
      throw new RmqSetupError('broker', `management API sent an unexpected answer to ${what}`, 'check the management plugin version');
    return r.data.map((t) => ({ exchange: t.exchange, write: t.write, read: t.read }));
  }

  /** Set `user`'s topic permission on `p.exchange` (RabbitMQ >= 3.7; the broker checks the regexes: 400 when invalid). */
  async setTopicPermissions(vhost: string, user: string, p: TopicPermissions): Promise<void> {
    await this.#call(
      'PUT',
      `/api/topic-permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`,
      { exchange: p.exchange, write: p.write, read: p.read },
      `set the topic permissions of ${user} on ${p.exchange} in ${vhost}`,
    );
  }

  /** Remove `user`'s topic permission on `exchange` (others stay); absent is fine. */
  async clearTopicPermissions(vhost: string, user: string, exchange: string): Promise<void> {
    await this.#call(
      'DELETE',
      `/api/topic-permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}/${encodeURIComponent(exchange)}`,
      undefined,
      `clear the topic permissions of ${user} on ${exchange} in ${vhost}`,
      [404],
    );
  }

  /** GET that tells "not found" (undefined) apart from every other answer. */
  async #find(path: string, what: string): Promise<unknown> {
    const res = await this.#answer('GET', path, undefined, what);
    return res.status === 404 ? undefined : this.#judge(res, 'GET', path, what, []);
  }

  async #call(method: string, path: string, body: unknown, what: string, okStatus: readonly number[] = []): Promise<unknown> {
    return this.#judge(await this.#answer(method, path, body, what), method, path, what, okStatus);
  }

  async #answer(method: string, path: string, body: unknown, what: string): Promise<HttpAnswer> {
    try {
      return await this.#request(method, path, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      const dns = typeof code === 'string' ? unresolvedHost(code, this.#o.baseUrl, err, 'the management API host') : undefined;
      if (dns) throw dns;
      throw new RmqSetupError(
        'plugin',
        `RabbitMQ management API not reachable at ${this.#o.baseUrl} (${what})`,
        'enable it: rabbitmq-plugins enable rabbitmq_management (and check the broker runs)',
        { cause: err },
      );
    }
  }

  #judge(res: HttpAnswer, method: string, path: string, what: string, okStatus: readonly number[]): unknown {
    const ok = res.status >= 200 && res.status < 300;
    if (ok || okStatus.includes(res.status)) return parseJson(res.text);
    if (res.status === 401) {
      throw new RmqSetupError(
        'credentials',
        `management API refused the login of ${this.#o.user} (${what})`,
        'check the management user and password',
      );
    }
    if (res.status === 403) {
      throw new RmqSetupError(
        'permission',
        `user ${this.#o.user} may not ${what}`,
        `give it the administrator tag: rabbitmqctl set_user_tags ${this.#o.user} administrator`,
      );
    }
    throw new RmqSetupError('broker', `management API answered ${res.status} to ${method} ${path} (${what})`, 'check the broker log');
  }

  #request(method: string, path: string, body: string | undefined, extra: Readonly<Record<string, string>> = {}): Promise<HttpAnswer> {
    const url = new URL(path, this.#o.baseUrl);
    const headers = { ...(body === undefined ? this.#headers : { ...this.#headers, 'content-type': 'application/json' }), ...extra };
    return this.#http.request(method, url.pathname + url.search, headers, body);
  }
}
