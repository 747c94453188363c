import { X509Certificate } from 'node:crypto';
import { ConfigError } from '@vip/protocol';
import { instanceNameSchema } from '@vip/protocol/internal';
import { z } from 'zod';
import { ReconnectPolicySchema } from './reconnect-policy.js';

/**
 * Where and how to reach the broker. `url` is `amqp://user:pass@host:port` or `amqps://...`
 * (any path in it is replaced by `vhost`). TLS: `tls` gives the CA and client certificate; with
 * `external: true` the broker authenticates the client by its certificate (SASL EXTERNAL, as
 * VOLTTRON's `ssl` mode does) and the URL carries no password.
 */
export const TlsOptionsSchema = z.object({
  ca: z.union([z.string(), z.instanceof(Buffer)]).optional(),
  cert: z.union([z.string(), z.instanceof(Buffer)]).optional(),
  key: z.union([z.string(), z.instanceof(Buffer)]).optional(),
  passphrase: z.string().optional(),
  servername: z.string().optional(),
  rejectUnauthorized: z.boolean().default(true),
  external: z.boolean().default(false),
});
export type TlsOptions = z.infer<typeof TlsOptionsSchema>;

const BROKER_URL = /^amqps?:\/\/[^/]+\/?$/;

export const RmqLinkOptionsSchema = z
  .object({
    url: z.string().regex(BROKER_URL, 'url must look like amqp://user:pass@host:5672 (vhost goes in `vhost`)'),
    /**
     * Other nodes of the same RabbitMQ cluster, `amqp://host:port`: the link fails over to them in
     * turn (the first connection tries `url`, then these; a lost connection reconnects to the next
     * one first, since the node it was on is likely the one that went). They log in with `url`'s
     * user and password and the same TLS options (any credentials written in them are ignored).
     */
    failoverUrls: z.array(z.string().regex(BROKER_URL, 'failoverUrls: each must look like amqp://host:5672')).max(16).default([]),
    /**
     * Queue type of persistent pubsub subscriptions: `quorum` (replicated on a cluster, survives a
     * node loss; RabbitMQ >= 3.8) or `classic`. Default: `quorum` when `failoverUrls` names other
     * nodes (a cluster), else `classic`. A subscription's own `queueType` wins.
     */
    persistentQueueType: z.enum(['classic', 'quorum'], { error: 'persistentQueueType must be "classic" or "quorum"' }).optional(),
    vhost: z.string().min(1).default('volttron'),
    instanceName: instanceNameSchema('rmq'),
    heartbeatSeconds: z.number().int().min(0).default(20),
    connectTimeoutMs: z.number().int().positive().default(5_000),
    prefetch: z.number().int().positive().max(65_535).default(256),
    /**
     * Largest AMQP body we publish (bytes). Above RabbitMQ's own limit (128 MiB by default) the
     * broker closes the channel, which would cost a reconnect; we refuse earlier instead.
     */
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024),
    reconnect: ReconnectPolicySchema.prefault({}),
    /**
     * Batch socket writes per event-loop tick (cork/uncork, see corkPerTick): the first write of a
     * tick goes out at once, the rest of the tick in one writev instead of one write per AMQP frame.
     * On by default; off only to measure the difference.
     */
    batchWrites: z.boolean().default(true),
    tls: TlsOptionsSchema.optional(),
    /**
     * The broker user this connection logs in as, set as the AMQP `user_id` of its messages
     * (RabbitMQ checks it; receivers trust a `user_id` `<instance>.<identity>` over the `user`
     * header, see sender-identity.ts). Password logins: the URL's user name by default (given, it
     * must equal it). EXTERNAL: the name depends on the broker's `ssl_cert_login_from`, so only this
     * option sets one (e.g. the certificate's CN). `false`: never set user_id. A name the broker
     * refuses fails open() with RmqSetupError `credentials`.
     */
    brokerUser: z.union([z.string().min(1), z.literal(false)]).optional(),
    /**
     * What an unproven sender (no user_id of this instance) is worth to this client's receivers
     * (sender-trust.ts): `required`, it gets no user, so nothing a capability protects, and cannot
     * act as a platform identity; `optional`, the `user` header is believed (VOLTTRON's behaviour,
     * the only choice on a shared login). Default: `required` when this client logs in as a user of
     * its instance (per-agent users), else `optional`.
     */
    senderProof: z.enum(['required', 'optional'], { error: 'senderProof must be "required" or "optional"' }).optional(),
    /**
     * Identities accepted without user_id as themselves when proof is required: VOLTTRON Python
     * agents, which never set it. Such a sender gets its own user `<instance>.<identity>` (never the
     * header it wrote), so anyone able to publish can act with that identity's capabilities: list
     * only identities that need it. `*`: every identity but the platform's. Default: none.
     */
    legacyPeers: z
      .union([z.literal('*'), z.array(z.string().regex(/^[^*#]+$/, 'legacyPeers: each identity must be non-empty without "*" or "#"'))])
      .optional(),
  })
  .superRefine((o, ctx) => {
    if (typeof o.brokerUser !== 'string' || o.tls?.external) return;
    let inUrl: string;
    try {
      inUrl = decodeURIComponent(new URL(o.url).username);
    } catch {
      return; // the url's own issue says what is wrong
    }
    if (o.brokerUser !== inUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['brokerUser'],
        message: `with a password login the broker user is the URL's (${JSON.stringify(inUrl || 'guest')}); brokerUser is for EXTERNAL (tls.external) logins`,
      });
    }
  });
export type RmqLinkOptions = z.infer<typeof RmqLinkOptionsSchema>;
export type RmqLinkOptionsInput = z.input<typeof RmqLinkOptionsSchema>;

/** Validate link options; throws ConfigError listing every problem. */
export function parseRmqLinkOptions(raw: unknown, what = 'RabbitMQ options'): RmqLinkOptions {
  const r = RmqLinkOptionsSchema.safeParse(raw);
  if (r.success) return r.data;
  const why = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new ConfigError(`invalid ${what}: ${why}`);
}

/** Every node the link may connect to: `url` first, then `failoverUrls`. */
export function brokerUrls(o: RmqLinkOptions): string[] {
  return [o.url, ...o.failoverUrls];
}

/** `url` with the scheme, host and port of node `node` (an index into brokerUrls); credentials stay `url`'s. */
export function nodeUrl(o: RmqLinkOptions, node = 0): URL {
  const u = new URL(o.url);
  const all = brokerUrls(o);
  const at = all[((node % all.length) + all.length) % all.length] ?? o.url;
  if (at === o.url) return u;
  const n = new URL(at);
  u.protocol = n.protocol;
  u.hostname = n.hostname;
  u.port = n.port;
  return u;
}

/** The queue type persistent subscriptions get unless they say otherwise (see `persistentQueueType`). */
export function defaultPersistentQueueType(o: RmqLinkOptions): 'classic' | 'quorum' {
  return o.persistentQueueType ?? (o.failoverUrls.length > 0 ? 'quorum' : 'classic');
}

/** The URL amqplib connects to (vhost as path) and the socket options (noDelay always on); `node` picks a failover URL. */
export function connectTarget(
  o: RmqLinkOptions,
  connectionName: string,
  node = 0,
): { url: string; socketOptions: Record<string, unknown> } {
  const u = nodeUrl(o, node);
  u.pathname = '/' + encodeURIComponent(o.vhost);
  u.searchParams.set('heartbeat', String(o.heartbeatSeconds));
  if (o.tls?.external) {
    u.username = '';
    u.password = '';
  }
  const socketOptions: Record<string, unknown> = {
    // Nagle off: request/reply runs ~40x slower without it (TOOLCHAIN.md, amqplib section).
    noDelay: true,
    timeout: o.connectTimeoutMs,
    clientProperties: { connection_name: connectionName },
  };
  if (o.tls) {
    const { external, ...tls } = o.tls;
    for (const [k, v] of Object.entries(tls)) if (v !== undefined) socketOptions[k] = v;
    if (external) socketOptions.credentials = { mechanism: 'EXTERNAL', response: () => Buffer.from('') };
  }
  return { url: u.toString(), socketOptions };
}

/** `host:port/vhost` for messages (no credentials). */
export function describeTarget(o: RmqLinkOptions, node = 0): string {
  const u = nodeUrl(o, node);
  return `${u.protocol}//${u.hostname}:${u.port || (u.protocol === 'amqps:' ? '5671' : '5672')}/${o.vhost}`;
}

/**
 * The broker user an EXTERNAL login asks for: the CN of `tls.cert` (RabbitMQ's
 * `ssl_cert_login_from = common_name`, as VOLTTRON configures it). Undefined without EXTERNAL,
 * without a certificate, or when it cannot be read; only used to word error messages.
 */
export function externalUser(tls: TlsOptions | undefined): string | undefined {
  if (!tls?.external || tls.cert === undefined) return undefined;
  try {
    return /^CN=(.*)$/m.exec(new X509Certificate(tls.cert).subject)?.[1];
  } catch {
    return undefined; // not a PEM/DER certificate: the TLS handshake will say so
  }
}
