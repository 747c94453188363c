import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_INSTANCE_NAME } from '@vip/protocol';
import { z } from 'zod';
import type { CliOptions } from './args.js';
import { CliError, EXIT } from './exit-codes.js';
import type { HomeConfig } from './home-config.js';

export const DEFAULT_RMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_RMQ_MANAGEMENT_PORT = 15672;

/** The broker's management API as vipctl uses it (creating agents' broker users). */
export interface ManagementLink {
  readonly baseUrl: string;
  readonly user: string;
  readonly password: string;
}

/** How to reach the platform: ZeroMQ (local ipc address, CURVE) or RabbitMQ (broker link). */
export type PlatformBus =
  | { readonly bus: 'zmq' }
  | {
      readonly bus: 'rmq';
      readonly url: string;
      readonly vhost: string;
      readonly instanceName: string;
      readonly management: ManagementLink;
      readonly tls?: BrokerTlsFiles;
      /** The broker user of the platform's certificate (only with that certificate). */
      readonly brokerUser?: string;
      /** The platform runs with --rmq-shared-login (recorded in bus.json). */
      readonly sharedLogin?: true;
      /** The other nodes of the broker's cluster (`--rmq-failover-urls`, recorded in bus.json): agents' rmq.json gets them. */
      readonly failoverUrls?: readonly string[];
      /**
       * Set when this home's RabbitMQ platform is known not to run (its record says it stopped, its
       * process is gone, or the home's config says rmq and nothing runs): why, for the one line vipctl prints.
       */
      readonly notRunning?: string;
    };
export type RmqPlatformBus = Extract<PlatformBus, { bus: 'rmq' }>;

const PathSchema = z.string().regex(/^\//, 'must be an absolute path');

/** `$VIP_HOME/run/bus.json` while `vip-platform --message-bus rmq` runs. */
const RunningBusSchema = z.object({
  bus: z.literal('rmq'),
  url: z.string().regex(/^amqps?:\/\//),
  vhost: z.string().min(1),
  instance: z.string().min(1),
  pid: z.number().int().positive(),
  management: z.object({ baseUrl: z.string().regex(/^https?:\/\//), user: z.string(), password: z.string() }).optional(),
  // amqps settings as file paths (read when connecting, see broker-tls.ts); external = SASL EXTERNAL
  tls: z
    .object({
      ca: PathSchema.optional(),
      caKey: PathSchema.optional(),
      cert: PathSchema.optional(),
      key: PathSchema.optional(),
      passphraseFile: PathSchema.optional(),
      servername: z.string().min(1).optional(),
      external: z.boolean(),
    })
    .optional(),
  brokerUser: z.string().min(1).optional(),
  sharedLogin: z.literal(true).optional(),
  failoverUrls: z
    .array(z.string().regex(/^amqps?:\/\/[^/\s]+\/?$/))
    .max(16)
    .optional(),
});
/** What a clean stop leaves there (no credentials): the home's platform runs on RabbitMQ and is stopped. */
const StoppedBusSchema = z.object({
  bus: z.literal('rmq'),
  url: z.string().regex(/^amqps?:\/\//),
  vhost: z.string().min(1),
  instance: z.string().min(1),
  pid: z.number().int().positive(),
  stopped: z.string().min(1),
});
type BusInfo = z.infer<typeof RunningBusSchema>;
export type BrokerTlsFiles = NonNullable<BusInfo['tls']>;

/** The record in run/bus.json: a running platform's, or why the recorded one is not running. */
type BusRecord =
  | { readonly running: true; readonly info: BusInfo }
  | { readonly running: false; readonly url: string; readonly vhost: string; readonly instance: string; readonly why: string };

/**
 * The platform's bus: `--message-bus` when given; else what the platform recorded in
 * `$VIP_HOME/run/bus.json` (running, or stopped: then `notRunning` says so); else the home's
 * config file (`message-bus = rmq`: a RabbitMQ platform that is not running, since a running one
 * records itself); else ZeroMQ. On RabbitMQ, `--rmq-url`, `--rmq-vhost` and `--instance-name`
 * override the record, which overrides the config file; the defaults are the platform's (instance
 * `vip1`, vhost = instance, local guest). The management API: `--rmq-management-url`, else the
 * running record's, else the config file's, else port 15672 of the broker host with the broker
 * URL's user and password (as the platform's default). amqps: the recorded certificate files and
 * EXTERNAL flag, unless `--rmq-cert`/`--rmq-key` (own client certificate, together), `--rmq-ca` or
 * `--rmq-external` say otherwise; a `--rmq-url` that is not amqps drops the recorded TLS settings.
 */
export async function resolvePlatformBus(options: CliOptions, vipHome: string, config: HomeConfig = {}): Promise<PlatformBus> {
  if (options['message-bus'] === 'zmq') return { bus: 'zmq' };
  const record = await readBusRecord(vipHome);
  const configured = config['message-bus'] === 'rmq';
  if (options['message-bus'] !== 'rmq' && !record && !configured) return { bus: 'zmq' };
  const info = record?.running ? record.info : undefined;
  const stopped = record && !record.running ? record : undefined;
  const instanceName = options['instance-name'] ?? info?.instance ?? stopped?.instance ?? config['instance-name'] ?? DEFAULT_INSTANCE_NAME;
  const url = options['rmq-url'] ?? info?.url ?? stopped?.url ?? config['rmq-url'] ?? DEFAULT_RMQ_URL;
  const mgmt = options['rmq-management-url'] ?? (info ? undefined : config['rmq-management-url']);
  const notRunning = record
    ? stopped?.why
    : configured
      ? 'config says message-bus = rmq, and no platform recorded itself in run/bus.json'
      : undefined;
  return {
    bus: 'rmq',
    url,
    vhost: options['rmq-vhost'] ?? info?.vhost ?? stopped?.vhost ?? config['rmq-vhost'] ?? instanceName,
    instanceName,
    management:
      mgmt !== undefined && mgmt !== 'off' ? managementFromUrl(mgmt, url) : (info?.management ?? managementFromUrl(undefined, url)),
    ...brokerTls(options, url, info),
    ...(info?.sharedLogin ? { sharedLogin: true as const } : {}),
    ...(info?.failoverUrls !== undefined ? { failoverUrls: info.failoverUrls } : {}),
    ...(notRunning !== undefined ? { notRunning } : {}),
  };
}

/** The TLS part: flags over the record; checked like the platform's (EXTERNAL needs amqps and a certificate). */
function brokerTls(options: CliOptions, url: string, info: BusInfo | undefined): { tls?: BrokerTlsFiles; brokerUser?: string } {
  const ownCert = options['rmq-cert'] !== undefined || options['rmq-key'] !== undefined;
  if (ownCert && (options['rmq-cert'] === undefined || options['rmq-key'] === undefined)) {
    throw new CliError('--rmq-cert and --rmq-key go together (the client certificate and its private key)', EXIT.USAGE);
  }
  const flagged = ownCert || options['rmq-ca'] !== undefined || options['rmq-external'];
  const amqps = new URL(url).protocol === 'amqps:';
  if (flagged && !amqps)
    throw new CliError(
      `--rmq-ca, --rmq-cert, --rmq-key and --rmq-external need an amqps:// broker URL (got ${new URL(url).protocol}//)`,
      EXIT.USAGE,
    );
  const rec = amqps ? info?.tls : undefined;
  if (!flagged && !rec) return {};
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
  const tls = definedOnly({
    ca: abs(options['rmq-ca']) ?? rec?.ca,
    // the CA key signs with the recorded CA certificate only: another --rmq-ca drops it
    caKey: options['rmq-ca'] === undefined ? rec?.caKey : undefined,
    cert: ownCert ? abs(options['rmq-cert']) : rec?.cert,
    key: ownCert ? abs(options['rmq-key']) : rec?.key,
    passphraseFile: ownCert ? undefined : rec?.passphraseFile,
    servername: rec?.servername,
  });
  const external = options['rmq-external'] || (rec?.external ?? false);
  if (external && tls.cert === undefined)
    throw new CliError('--rmq-external needs --rmq-cert and --rmq-key (the platform recorded no certificate)', EXIT.USAGE);
  const brokerUser = ownCert ? undefined : info?.brokerUser;
  return { tls: { ...tls, external }, ...(brokerUser !== undefined ? { brokerUser } : {}) };
}

/** The entries that are set (optional fields must be absent, not undefined). */
export function definedOnly<T extends Record<string, string | undefined>>(o: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: string };
}

/** `http(s)://[user:password@]host:port`; credentials default to the broker URL's (then guest). */
export function managementFromUrl(managementUrl: string | undefined, brokerUrl: string): ManagementLink {
  const broker = new URL(brokerUrl);
  const m = new URL(managementUrl ?? `http://${broker.hostname}:${DEFAULT_RMQ_MANAGEMENT_PORT}`);
  return {
    baseUrl: m.origin,
    user: decodeURIComponent(m.username || broker.username || 'guest'),
    password: decodeURIComponent(m.password || broker.password || 'guest'),
  };
}

async function readBusRecord(vipHome: string): Promise<BusRecord | undefined> {
  let text: string;
  try {
    text = await readFile(join(vipHome, 'run', 'bus.json'), 'utf8');
  } catch {
    return undefined; // no record: the platform runs on ZeroMQ, or never ran on RabbitMQ here
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined; // half-written or foreign file: treated as no record
  }
  const stopped = StoppedBusSchema.safeParse(json);
  if (stopped.success) {
    const s = stopped.data;
    return { running: false, url: s.url, vhost: s.vhost, instance: s.instance, why: `stopped at ${s.stopped}` };
  }
  const r = RunningBusSchema.safeParse(json);
  if (!r.success) return undefined;
  if (alive(r.data.pid)) return { running: true, info: r.data };
  const u = new URL(r.data.url);
  return {
    running: false,
    url: `${u.protocol}//${u.host}`,
    vhost: r.data.vhost,
    instance: r.data.instance,
    why: `its process ${r.data.pid} is gone`,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** `amqp://host:port/vhost` without credentials, for messages. */
export function describeRmq(bus: RmqPlatformBus): string {
  const u = new URL(bus.url);
  return `${u.protocol}//${u.host}/${bus.vhost} (instance ${bus.instanceName})`;
}
