import { z } from 'zod';
import { ConfigError } from '@vip/protocol';
import { VOLTTRON_EXCHANGE } from '../transport/amqp-mapping.js';

/*
 * Links between RabbitMQ platforms as VOLTTRON sets them up (rmq_setup.py, docs/protocol.md 7.8),
 * from its two files in the platform's home:
 *
 *   rabbitmq_federation_config.yml   federation-upstream: { <host>: { port, virtual-host, federation-user, ... } }
 *   rabbitmq_shovel_config.yml       shovel: { <host>: { port, virtual-host, shovel-user,
 *                                              pubsub: { <local identity>: [topics] },
 *                                              rpc: { <remote instance>: [[local identity, remote identity]] } } }
 *
 * VOLTTRON's names: upstream `upstream-<host>-<vhost>`, policy `volttron-federation` (pattern
 * `^volttron`, every upstream, exchanges), pubsub shovel `shovel-<host>-<topic>` and RPC shovel
 * `shovel-<host>-<local identity>`. VOLTTRON logs in with certificates (`certificates`); vip also
 * reads `password` (the federation/shovel user's password, for a password broker) and `scheme`
 * (`amqp`, default with a password, or `amqps`). This module only computes the broker objects; the
 * management calls are RabbitMqManagement's (platform-link-admin.ts).
 */

export const FEDERATION_POLICY = 'volttron-federation';

const HostKeySchema = z.string().regex(/^[A-Za-z0-9_.:\-[\]]+$/, 'a host name or address');
const Port = z.coerce.number().int().min(1).max(65_535);
const Identity = z
  .string()
  .min(1)
  .regex(/^[^*#\s]+$/, 'an identity without spaces, "*" or "#"');
const Topic = z
  .string()
  .min(1)
  .regex(/^[^*#\s]+$/, 'a topic prefix without spaces, "*" or "#"');

const RemoteLoginSchema = z.object({
  port: Port,
  'virtual-host': z.string().min(1),
  scheme: z.enum(['amqp', 'amqps']).optional(),
  password: z.string().optional(),
  certificates: z.object({ remote_ca: z.string(), public_cert: z.string(), private_key: z.string() }).optional(),
  'https-port': Port.optional(),
});

export const FederationConfigSchema = z
  .object({
    'federation-upstream': z.record(HostKeySchema, RemoteLoginSchema.extend({ 'federation-user': z.string().min(1) })).default({}),
  })
  .loose();
export type FederationConfig = z.infer<typeof FederationConfigSchema>;

export const ShovelConfigSchema = z
  .object({
    shovel: z
      .record(
        HostKeySchema,
        RemoteLoginSchema.extend({
          'shovel-user': z.string().min(1),
          pubsub: z.record(Identity, z.union([Topic, z.array(Topic)])).default({}),
          rpc: z.record(z.string().min(1), z.array(z.tuple([Identity, Identity]))).default({}),
        }),
      )
      .default({}),
  })
  .loose();
export type ShovelConfig = z.infer<typeof ShovelConfigSchema>;

function parseWith<T>(schema: z.ZodType<T>, raw: unknown, file: string): T {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const why = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new ConfigError(`invalid ${file}: ${why}`);
}

export function parseFederationConfig(raw: unknown): FederationConfig {
  return parseWith(FederationConfigSchema, raw, 'rabbitmq_federation_config.yml');
}

export function parseShovelConfig(raw: unknown): ShovelConfig {
  return parseWith(ShovelConfigSchema, raw, 'rabbitmq_shovel_config.yml');
}

type RemoteLogin = z.infer<typeof RemoteLoginSchema>;

/**
 * The URI a link logs in with at `host`: `amqp://user:password@host:port/vhost` for a password
 * login; with certificates, VOLTTRON's amqps form (cacertfile, certfile, keyfile, verify_peer,
 * server_name_indication).
 */
export function remoteUri(host: string, login: RemoteLogin, user: string): string {
  const vhost = encodeURIComponent(login['virtual-host']);
  const scheme = login.scheme ?? (login.certificates ? 'amqps' : 'amqp');
  if (login.certificates && scheme === 'amqps') {
    const c = login.certificates;
    const q = new URLSearchParams({
      cacertfile: c.remote_ca,
      certfile: c.public_cert,
      keyfile: c.private_key,
      verify: 'verify_peer',
      server_name_indication: host,
    });
    return `amqps://${host}:${login.port}/${vhost}?${q.toString()}`;
  }
  const cred =
    login.password === undefined ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(login.password)}`;
  return `${scheme}://${cred}@${host}:${login.port}/${vhost}`;
}

/**
 * How long the upstream keeps a link's queue once nothing consumes it (the link down, or removed):
 * a day. What the upstream platform publishes while the link is down waits there for the link.
 * The kept queue carries this as `x-expires`: a link declaring it with another value is refused
 * by the upstream (inequivalent argument), so a change here needs that queue deleted upstream.
 */
export const FEDERATION_QUEUE_EXPIRES_MS = 86_400_000;

/** One federation upstream (a runtime parameter of the local vhost). */
export interface UpstreamSpec {
  readonly name: string;
  readonly host: string;
  readonly value: {
    readonly uri: string;
    readonly 'ack-mode': 'on-confirm';
    readonly 'resource-cleanup-mode': 'never';
    readonly expires: number;
  };
}

/**
 * `upstream-<host>-<vhost>` for every entry of the federation file. VOLTTRON sets only the URI;
 * vip adds what keeps a cut link from losing messages. `resource-cleanup-mode: never`: RabbitMQ's
 * default deletes the link's queue on the upstream (and what it holds) whenever the link shuts
 * down normally, which includes the federation plugin being disabled or restarted on the
 * downstream node, and everything published until the link is back is lost (a test run lost 347
 * of 768 publishes). Kept, the queue collects them; `expires` removes it once no link has used it
 * for FEDERATION_QUEUE_EXPIRES_MS (a removed upstream's queue would otherwise fill up forever).
 * `ack-mode: on-confirm` (RabbitMQ's default, said here): the upstream drops a message only once
 * the downstream broker confirmed it.
 */
export function federationUpstreams(config: FederationConfig): UpstreamSpec[] {
  return Object.entries(config['federation-upstream']).map(([host, u]) => ({
    name: `upstream-${host}-${u['virtual-host']}`,
    host,
    value: {
      uri: remoteUri(host, u, u['federation-user']),
      'ack-mode': 'on-confirm',
      'resource-cleanup-mode': 'never',
      expires: FEDERATION_QUEUE_EXPIRES_MS,
    },
  }));
}

/** VOLTTRON's federation policy: the `volttron` exchange (pattern `^volttron`) federated from every upstream. */
export function federationPolicy(): { pattern: string; definition: Record<string, string>; priority: number; 'apply-to': string } {
  return { pattern: '^volttron', definition: { 'federation-upstream-set': 'all' }, priority: 0, 'apply-to': 'exchanges' };
}

/** A dynamic shovel's value (RabbitMQ's shovel parameter, AMQP 0-9-1 on both sides). */
export interface ShovelValue {
  readonly 'src-uri': string;
  readonly 'src-exchange': string;
  readonly 'src-exchange-key': string;
  readonly 'dest-uri': string;
  readonly 'dest-exchange': string;
}

export interface ShovelSpec {
  readonly name: string;
  readonly host: string;
  readonly kind: 'pubsub' | 'rpc';
  readonly value: ShovelValue;
}

/**
 * Every shovel of the shovel file. `localUri` is how the shovel reads from this platform's broker
 * (`amqp:///<vhost>`, the node's own direct connection, unless given). Pubsub: `shovel-<host>-<topic>`
 * moves `__pubsub__.<instance>.<topic>.#`; RPC: `shovel-<host>-<local identity>` moves
 * `<remote instance>.<remote identity>.#` (what the local identity sends to that peer). One
 * direction only: the remote platform shovels the answers back with its own file.
 */
export function shovelSpecs(config: ShovelConfig, instance: string, localUri: string): ShovelSpec[] {
  const out: ShovelSpec[] = [];
  for (const [host, s] of Object.entries(config.shovel)) {
    const dest = remoteUri(host, s, s['shovel-user']);
    const base = { 'src-uri': localUri, 'src-exchange': VOLTTRON_EXCHANGE, 'dest-uri': dest, 'dest-exchange': VOLTTRON_EXCHANGE };
    for (const topics of Object.values(s.pubsub)) {
      for (const topic of typeof topics === 'string' ? [topics] : topics) {
        out.push({
          name: `shovel-${host}-${topic}`,
          host,
          kind: 'pubsub',
          value: { ...base, 'src-exchange-key': `__pubsub__.${instance}.${topic.replaceAll('/', '.')}.#` },
        });
      }
    }
    for (const [remoteInstance, pairs] of Object.entries(s.rpc)) {
      for (const [local, remote] of pairs) {
        out.push({
          name: `shovel-${host}-${local}`,
          host,
          kind: 'rpc',
          value: { ...base, 'src-exchange-key': `${remoteInstance}.${remote}.#` },
        });
      }
    }
  }
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(s.name))
      throw new ConfigError(
        `rabbitmq_shovel_config.yml: two shovels would be named ${s.name} (VOLTTRON names them by host and topic or identity)`,
      );
    seen.add(s.name);
  }
  return out;
}

/** Credentials left out of a URI, for printing (`amqp://user:***@host`). */
export function redactUri(uri: string): string {
  return uri.replace(/^(amqps?:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
