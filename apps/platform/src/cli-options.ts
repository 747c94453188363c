import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { defaultLocalAddress, resolveVipHome } from '@vip/auth';
import {
  closestMatch,
  ConfigError,
  DEFAULT_INSTANCE_NAME,
  describeUnknownConfigKey,
  instanceNameProblem,
  LOG_FORMATS,
  type LogFormat,
  type LogLevel,
} from '@vip/protocol';
import { instanceNameSchema } from '@vip/protocol/internal';
import { isPlatformIdentity, platformBrokerUser } from '@vip/rmq';
import { configFilePath, readConfigFile, type ConfigFileKey } from './bus-config-file.js';
import { MEMORY_LIMIT_KEYS, MEMORY_LIMIT_USAGE, MemoryLimitOptionSchemas, memoryLimits, type MemoryLimits } from './memory-limits.js';
import { loadRmqTls, type RmqTlsConfig } from './rmq-tls.js';
import { HttpAddressSchema, httpConfig, type HttpConfig } from './status/http-options.js';
import { CAPABILITY_MAP_ACCESS, DEFAULT_CAPABILITY_MAP_ACCESS, type CapabilityMapAccess } from './auth-service/capability-map-access.js';

export const DEFAULT_TCP_ADDRESS = 'tcp://127.0.0.1:22916';
export const DEFAULT_RMQ_URL = 'amqp://127.0.0.1:5672';
export const DEFAULT_RMQ_MANAGEMENT_PORT = 15672;
export const DEFAULT_PUBSUB_RESTORE_GRACE_S = 60;

export const USAGE = `Usage: vip-platform [options]

Runs a VIP (VOLTTRON Interconnect Protocol) platform: the message router, pubsub and CURVE auth.

Options:
  --vip-home PATH          platform home (env VIP_HOME, else VOLTTRON_HOME, else ~/.vip)
  --vip-address URL        address to bind, repeatable (default ${DEFAULT_TCP_ADDRESS})
  --local-address URL      local address (default ipc://@$VIP_HOME/run/vip.socket)
  --instance-name NAME     instance name (default ${DEFAULT_INSTANCE_NAME})
  --allow-auth true|false  CURVE + auth.json on every bind (default true)
  --log-level LEVEL        debug|info|warn|error|silent (default info)
  --log-format FORMAT      json|pretty (default: pretty when stderr is a terminal, else json lines)
  --log-file PATH          append the log to PATH instead of stderr (json unless --log-format pretty)
  --message-bus zmq|rmq    message bus (default zmq)
  --http HOST:PORT         serve the status page, /status.json, /events and /metrics (Prometheus) there;
                           loopback only unless --http-token-file is given
  --http-token-file FILE   a token (first line, 16+ characters) every data request must send as
                           "Authorization: Bearer <token>"; required for a non-loopback --http
  --rmq-url URL            RabbitMQ broker (default ${DEFAULT_RMQ_URL}); the platform logs in as its own
                           broker user <instance>.router, created through the management API, unless
                           the URL logs in as that user already (or --rmq-shared-login)
  --rmq-vhost NAME         RabbitMQ virtual host (default: the instance name; VOLTTRON uses volttron)
  --rmq-shared-login       opt-in: platform and agents share the URL's login (e.g. guest); then any client
                           can act as any identity (no sender is proven). Prints a warning at start
  --rmq-failover-urls LIST other nodes of the broker's cluster, amqp://host:port separated by commas:
                           the platform and its agents fail over to them (same login as --rmq-url);
                           persistent subscriptions then default to quorum queues
  --rmq-persistent-queue-type classic|quorum  queue type of persistent subscriptions
                           (default: quorum with --rmq-failover-urls, else classic)
  --rmq-legacy-peers LIST  identities trusted without AMQP user_id, as themselves only (VOLTTRON Python
                           agents never set it), comma-separated, or "*" for all but the platform's
  --proxy-router-address ADDRESS  RabbitMQ bus: run the ZeroMQ proxy router there (tcp://HOST:PORT), so
                           ZeroMQ agents join this platform with CURVE keys from auth.json (zmq.proxy.router)
  --legacy-pubsub true|false  serve VOLTTRON <= 4.1 agents' RPC pubsub as identity pubsub (default false)
  --capability-map-access restricted|all  who gets every user's capabilities from platform.auth:
                           restricted (default) = users with capability read_user_capabilities, the
                           others their own entry and the platform's; all = every agent (VOLTTRON)
  --pubsub-restore-grace SECONDS  keep the pubsub subscription table in $VIP_HOME/pubsub_subscriptions.json,
                           restore it at start and hold messages this long for subscribers not back yet
                           (default ${DEFAULT_PUBSUB_RESTORE_GRACE_S}; 0 = neither keep nor restore it)
  --rmq-management-url URL management API (administrator) that creates the vhost and the platform's user
                           (default http://<broker host>:15672, user and password from this URL, else
                           from --rmq-url, else guest:guest; "off" = vhost and users must exist)
  --rmq-ca FILE            PEM CA certificate(s) the broker's certificate must chain to (amqps)
  --rmq-ca-key FILE        PEM private key of --rmq-ca (unencrypted): not used by the platform; recorded in
                           run/bus.json (path only) so vipctl auth add --identity can sign agent certificates
  --rmq-cert FILE          PEM client certificate (amqps); with --rmq-key
  --rmq-key FILE           PEM private key of --rmq-cert
  --rmq-key-passphrase-file FILE  passphrase of an encrypted --rmq-key (first line)
  --rmq-servername NAME    TLS server name to verify the broker's certificate against (default: the URL host)
  --rmq-external           log in by client certificate (SASL EXTERNAL, VOLTTRON's default RMQ mode):
                           no password in --rmq-url; needs amqps, --rmq-cert and --rmq-key
  --rmq-broker-user NAME   the broker user the certificate maps to (its CN, e.g. volttron1.router),
                           stamped as AMQP user_id on the router's own messages; needs --rmq-external
  --bind-web-address URL   serve /discovery/ (instance name, VIP address, platform key) at http://HOST:PORT
                           for other platforms' key discovery (VOLTTRON's option; loopback unless told)
  --setup-mode             key discovery in setup mode: fetch /discovery/ of each web address listed in
                           $VIP_HOME/external_address.json, record the keys, link; needs --bind-web-address
  --external-platform-discovery FILE  platforms to link to (default $VIP_HOME/external_platform_discovery.json,
                           VOLTTRON's format; written by setup mode, read in normal mode)
  --external-address-file FILE  web addresses setup mode asks (default $VIP_HOME/external_address.json)
  --accept-changed-key NAME  accept a new platform key for instance NAME in key discovery (repeatable;
                           any other changed key is refused)
  --multi-platform true|false  link to other platforms (default true on zmq with --allow-auth true; on rmq
                           with --proxy-router-address, ZeroMQ platforms link to the proxy: opt-in)
${MEMORY_LIMIT_USAGE}  --help                   show this help
  --version                print the version

Every option but --vip-home, --help and --version may also be set in $VIP_HOME/config
(VOLTTRON's INI file, section [volttron], e.g. "message-bus = rmq"); the command line wins.
Unknown keys there are warned about at start (with the nearest known key).

Exit codes: 0 stopped cleanly, 1 could not start or failed, 2 bad flag, value or config setting.
`;

const AddressSchema = z
  .string()
  .regex(/^(tcp|ipc|inproc):\/\/.+/, { message: 'must look like tcp://HOST:PORT, ipc://PATH or inproc://NAME' });

const BoolTextSchema = z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true');

const CliSchema = z.object({
  'vip-home': z.string().min(1, { message: 'must not be empty' }).optional(),
  'vip-address': z.array(AddressSchema).optional(),
  'local-address': AddressSchema.optional(),
  'instance-name': instanceNameSchema('zmq').optional(),
  'allow-auth': BoolTextSchema.optional(),
  'legacy-pubsub': BoolTextSchema.optional(),
  'proxy-router-address': AddressSchema.optional(),
  'capability-map-access': z.enum(CAPABILITY_MAP_ACCESS, { error: 'must be restricted or all' }).optional(),
  'pubsub-restore-grace': z
    .string()
    .regex(/^\d{1,7}(\.\d+)?$/, { message: 'must be a number of seconds (0 = off)' })
    .transform(Number)
    .optional(),
  'log-level': z.enum(['debug', 'info', 'warn', 'error', 'silent'], { error: 'must be debug, info, warn, error or silent' }).optional(),
  'log-format': z.enum(LOG_FORMATS, { error: 'must be json or pretty' }).optional(),
  'log-file': z.string().min(1, { message: 'must be a file path' }).optional(),
  'message-bus': z.enum(['zmq', 'rmq'], { error: 'must be zmq or rmq' }).optional(),
  http: HttpAddressSchema.optional(),
  'http-token-file': z.string().min(1, { message: 'must be a file path' }).optional(),
  'rmq-url': z
    .string()
    .regex(/^amqps?:\/\/[^/\s]+\/?$/, { message: 'must look like amqp://user:password@host:5672 (the vhost goes in --rmq-vhost)' })
    .optional(),
  'rmq-vhost': z
    .string()
    .regex(/^(\/|[^/\s]+)$/, { message: 'must be "/" or a non-empty name without "/" or spaces' })
    .optional(),
  'rmq-management-url': z
    .string()
    .regex(/^(off|https?:\/\/[^/\s]+\/?)$/, { message: 'must look like http://host:15672 (or "off")' })
    .optional(),
  'rmq-ca': z.string().min(1, { message: 'must be a file path' }).optional(),
  'rmq-ca-key': z.string().min(1, { message: 'must be a file path' }).optional(),
  'rmq-cert': z.string().min(1, { message: 'must be a file path' }).optional(),
  'rmq-key': z.string().min(1, { message: 'must be a file path' }).optional(),
  'rmq-key-passphrase-file': z.string().min(1, { message: 'must be a file path' }).optional(),
  'rmq-servername': z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, { message: 'must be a host name' })
    .optional(),
  // a flag on the command line, `true`/`false` in the config file
  'rmq-external': z.union([z.boolean(), BoolTextSchema], { error: 'must be true or false' }).optional(),
  'rmq-broker-user': z
    .string()
    .regex(/^[^\s]+$/, { message: 'must be a broker user name without spaces' })
    .optional(),
  'rmq-shared-login': z.union([z.boolean(), BoolTextSchema], { error: 'must be true or false' }).optional(),
  'rmq-failover-urls': z
    .string()
    .regex(/^amqps?:\/\/[^/\s,]+\/?(,amqps?:\/\/[^/\s,]+\/?)*$/, {
      message: 'must be amqp://host:port URLs separated by commas (no vhost, no spaces)',
    })
    .optional(),
  'rmq-persistent-queue-type': z.enum(['classic', 'quorum'], { error: 'must be classic or quorum' }).optional(),
  'rmq-legacy-peers': z
    .string()
    .regex(/^(\*|[^*#\s,]+(,[^*#\s,]+)*)$/, { message: 'must be "*" or identities separated by commas (no spaces, "*" or "#")' })
    .optional(),
  'bind-web-address': z
    .string()
    .regex(/^https?:\/\/[^/\s]+\/?$/, { message: 'must look like http://HOST:PORT' })
    .optional(),
  'setup-mode': z.union([z.boolean(), BoolTextSchema], { error: 'must be true or false' }).optional(),
  'external-platform-discovery': z.string().min(1, { message: 'must be a file path' }).optional(),
  'external-address-file': z.string().min(1, { message: 'must be a file path' }).optional(),
  'accept-changed-key': z.union([z.array(instanceNameSchema('zmq')), instanceNameSchema('zmq').transform((v) => [v])]).optional(),
  'multi-platform': BoolTextSchema.optional(),
  ...MemoryLimitOptionSchemas,
  help: z.boolean().optional(),
  version: z.boolean().optional(),
});

/** Options naming files: relative paths are taken from the working directory (the config file's: from VIP_HOME). */
const FILE_OPTIONS = [
  'rmq-ca',
  'rmq-ca-key',
  'rmq-cert',
  'rmq-key',
  'rmq-key-passphrase-file',
  'log-file',
  'http-token-file',
  'external-platform-discovery',
  'external-address-file',
] as const;

/** Linking to other platforms (docs/protocol.md 6): ZeroMQ with authentication. */
export interface MultiPlatformConfig {
  /** Serve /discovery/ here (`http://host:port`); undefined: not served. */
  readonly bindWebAddress?: string;
  readonly setupMode: boolean;
  /** external_platform_discovery.json and external_address.json (absolute paths). */
  readonly discoveryFile: string;
  readonly externalAddressFile: string;
  readonly acceptChangedKeys: readonly string[];
}

/** Where the RabbitMQ bus is (docs/protocol.md 7.1). */
export interface RmqBusConfig {
  /** `amqp://user:password@host:port`, no vhost path. */
  readonly url: string;
  readonly vhost: string;
  /** Management API (creates the vhost, lists queues); undefined = "off". */
  readonly management?: { readonly baseUrl: string; readonly user: string; readonly password: string };
  /** amqps: CA, client certificate, EXTERNAL (paths for bus.json, PEM for the links). */
  readonly tls?: RmqTlsConfig;
  /** The broker user of an EXTERNAL login (AMQP user_id of the router's own messages). */
  readonly brokerUser?: string;
  /** Opt-in: everyone on the URL's login (e.g. guest); no sender is proven (warned at start). */
  readonly sharedLogin?: true;
  /**
   * The platform's broker user `<instance>.router` to create (management API, a new random
   * password each start) and log in as; absent when the URL or certificate logs in as it already,
   * or on a shared login.
   */
  readonly platformUser?: string;
  /** Identities trusted without user_id as themselves (VOLTTRON Python agents); `*` all but the platform's. */
  readonly legacyPeers?: '*' | readonly string[];
  /** Other nodes of the broker's cluster (`--rmq-failover-urls`): links fail over to them. */
  readonly failoverUrls?: readonly string[];
  /** `--rmq-persistent-queue-type`; absent: quorum with failover URLs, else classic. */
  readonly persistentQueueType?: 'classic' | 'quorum';
}

export interface PlatformConfig {
  readonly vipHome: string;
  readonly vipAddresses: readonly string[];
  readonly localAddress: string;
  readonly instanceName: string;
  readonly allowAuth: boolean;
  /** Run the legacy RPC pubsub wrapper (identity `pubsub`, docs/protocol.md 3.8); ZeroMQ with auth only. */
  readonly legacyPubsub: boolean;
  /** RabbitMQ bus: where the ZeroMQ proxy router binds (`zmq.proxy.router`, docs/protocol.md 6.5); absent = not run. */
  readonly proxyRouterAddress?: string;
  /** Who gets every user's capabilities from `platform.auth` (README "Capability map access"). */
  readonly capabilityMapAccess: CapabilityMapAccess;
  /** How long restored subscriptions hold messages for subscribers not back yet; 0 = no subscription file. */
  readonly pubsubRestoreGraceMs: number;
  readonly logLevel: LogLevel;
  /** Absent: pretty when stderr is a terminal (and no log file), else json (main.ts). */
  readonly logFormat?: LogFormat;
  /** Append the log here instead of stderr. */
  readonly logFile?: string;
  /** Problems in $VIP_HOME/config that do not stop the start (unknown keys), logged as warnings once the logger exists. */
  readonly configWarnings?: readonly string[];
  readonly messageBus: 'zmq' | 'rmq';
  /** Message size and queue limits (both buses). */
  readonly limits: MemoryLimits;
  /** Set when `messageBus` is `rmq`. */
  readonly rmq?: RmqBusConfig;
  /** Set when this platform links to others (ZeroMQ, authentication on, not turned off). */
  readonly multiPlatform?: MultiPlatformConfig;
  /** The status page and `/metrics` (`--http`); absent: not served. */
  readonly http?: HttpConfig;
}

/** `--help` and `--version` print and exit (`show` says which); anything else is a platform to run. */
export type CliResult =
  | { readonly help: true; readonly show: 'usage' | 'version' }
  | { readonly help: false; readonly config: PlatformConfig };

/** Parse and validate argv (without `node main.js`). Throws ConfigError with a one-line reason. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliResult {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'vip-home': { type: 'string' },
        'vip-address': { type: 'string', multiple: true },
        'local-address': { type: 'string' },
        'instance-name': { type: 'string' },
        'allow-auth': { type: 'string' },
        'legacy-pubsub': { type: 'string' },
        'proxy-router-address': { type: 'string' },
        'capability-map-access': { type: 'string' },
        'pubsub-restore-grace': { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        'log-file': { type: 'string' },
        'message-bus': { type: 'string' },
        http: { type: 'string' },
        'http-token-file': { type: 'string' },
        'rmq-url': { type: 'string' },
        'rmq-vhost': { type: 'string' },
        'rmq-management-url': { type: 'string' },
        'rmq-ca': { type: 'string' },
        'rmq-ca-key': { type: 'string' },
        'rmq-cert': { type: 'string' },
        'rmq-key': { type: 'string' },
        'rmq-key-passphrase-file': { type: 'string' },
        'rmq-servername': { type: 'string' },
        'rmq-external': { type: 'boolean' },
        'rmq-broker-user': { type: 'string' },
        'rmq-shared-login': { type: 'boolean' },
        'rmq-legacy-peers': { type: 'string' },
        'bind-web-address': { type: 'string' },
        'setup-mode': { type: 'boolean' },
        'external-platform-discovery': { type: 'string' },
        'external-address-file': { type: 'string' },
        'accept-changed-key': { type: 'string', multiple: true },
        'multi-platform': { type: 'string' },
        'rmq-failover-urls': { type: 'string' },
        'rmq-persistent-queue-type': { type: 'string' },
        ...Object.fromEntries(MEMORY_LIMIT_KEYS.map((k) => [k, { type: 'string' as const }])),
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    }).values;
  } catch (err) {
    throw new ConfigError(parseArgsProblem(err));
  }
  const cli = validate(values, 'invalid option');
  if (cli.help) return { help: true, show: 'usage' };
  if (cli.version) return { help: true, show: 'version' };
  const vipHome = cli['vip-home'] ? resolve(cli['vip-home']) : resolveVipHome(env);
  const { values: file, warnings } = fileValues(vipHome);
  const o = { ...file, ...withAbsolutePaths(definedOnly(cli), process.cwd()) };
  const messageBus = o['message-bus'] ?? 'zmq';
  const instanceName = o['instance-name'] ?? DEFAULT_INSTANCE_NAME;
  if (o['legacy-pubsub'] && (messageBus !== 'zmq' || o['allow-auth'] === false)) {
    throw new ConfigError('invalid option: --legacy-pubsub runs on the zmq bus with --allow-auth true only');
  }
  if (o['proxy-router-address'] !== undefined && messageBus !== 'rmq') {
    throw new ConfigError(
      'invalid option: --proxy-router-address runs on the rmq bus only (ZeroMQ agents join a ZeroMQ platform directly)',
    );
  }
  const http = httpConfig(o.http, o['http-token-file']);
  return {
    help: false,
    config: {
      vipHome,
      vipAddresses: o['vip-address'] ?? [DEFAULT_TCP_ADDRESS],
      localAddress: o['local-address'] ?? defaultLocalAddress(vipHome),
      instanceName,
      allowAuth: o['allow-auth'] ?? true,
      legacyPubsub: o['legacy-pubsub'] ?? false,
      ...(o['proxy-router-address'] !== undefined ? { proxyRouterAddress: o['proxy-router-address'] } : {}),
      capabilityMapAccess: o['capability-map-access'] ?? DEFAULT_CAPABILITY_MAP_ACCESS,
      pubsubRestoreGraceMs: Math.round((o['pubsub-restore-grace'] ?? DEFAULT_PUBSUB_RESTORE_GRACE_S) * 1000),
      logLevel: o['log-level'] ?? 'info',
      ...(o['log-format'] !== undefined ? { logFormat: o['log-format'] } : {}),
      ...(o['log-file'] !== undefined ? { logFile: o['log-file'] } : {}),
      ...(warnings.length > 0 ? { configWarnings: warnings } : {}),
      messageBus,
      limits: memoryLimits(o),
      ...(messageBus === 'rmq' ? { rmq: rmqBusConfig(o, instanceName) } : {}),
      // on rmq, links arrive at the proxy router's ZeroMQ ROUTER (opt-in: --multi-platform true)
      ...multiPlatformConfig(
        o,
        vipHome,
        (messageBus === 'zmq' || o['proxy-router-address'] !== undefined) && (o['allow-auth'] ?? true),
        messageBus === 'zmq',
      ),
      ...(http ? { http } : {}),
    },
  };
}

/** Key discovery and links (docs/protocol.md 6): on by default where they can work (ZeroMQ with CURVE). */
function multiPlatformConfig(
  o: Partial<CliValues>,
  vipHome: string,
  possible: boolean,
  byDefault: boolean,
): { multiPlatform?: MultiPlatformConfig } {
  // A VOLTTRON home's https web address is its own web server's: vip serves /discovery/ over http only.
  if (o['bind-web-address']?.startsWith('https:')) {
    const { 'bind-web-address': _ignored, ...rest } = o;
    o = rest;
  }
  const wanted = o['multi-platform'] ?? (possible && byDefault);
  const setupMode = o['setup-mode'] === true;
  if (wanted && !possible)
    throw new ConfigError(
      'invalid option: --multi-platform needs --message-bus zmq (or rmq with --proxy-router-address) and --allow-auth true (links authenticate with the platform key)',
    );
  if (!wanted) {
    // a VOLTTRON home on RabbitMQ keeps its bind-web-address: not ours to serve then
    if (setupMode) throw new ConfigError('invalid option: --setup-mode needs multi-platform (zmq, --allow-auth true)');
    return {};
  }
  if (setupMode && o['bind-web-address'] === undefined) {
    throw new ConfigError(
      "invalid option: --setup-mode needs --bind-web-address (the other platforms fetch this platform's /discovery/ there)",
    );
  }
  return {
    multiPlatform: {
      ...(o['bind-web-address'] !== undefined ? { bindWebAddress: o['bind-web-address'].replace(/\/$/, '') } : {}),
      setupMode,
      discoveryFile: o['external-platform-discovery'] ?? resolve(vipHome, 'external_platform_discovery.json'),
      externalAddressFile: o['external-address-file'] ?? resolve(vipHome, 'external_address.json'),
      acceptChangedKeys: o['accept-changed-key'] ?? [],
    },
  };
}

type CliValues = z.infer<typeof CliSchema>;

function validate(raw: unknown, what: string): CliValues {
  const parsed = CliSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const why = parsed.error.issues.map((i) => `--${i.path.filter((p) => typeof p === 'string').join('.')} ${i.message}`).join('; ');
  throw new ConfigError(`${what}: ${why}`);
}

function definedOnly(values: CliValues): Partial<CliValues> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<CliValues>;
}

/** `$VIP_HOME/config` values, validated like the options (`vip-address` may list several, comma-separated), and a line per unknown key. */
function fileValues(vipHome: string): { values: Partial<CliValues>; warnings: string[] } {
  const read = readConfigFile(vipHome);
  const raw: Partial<Record<ConfigFileKey, string>> = read.values;
  const shaped: Record<string, unknown> = { ...raw };
  if (raw['vip-address'] !== undefined)
    shaped['vip-address'] = raw['vip-address']
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
  const path = configFilePath(vipHome);
  return {
    values: withAbsolutePaths(definedOnly(validate(shaped, `invalid setting in ${path}`)), vipHome),
    warnings: read.unknown.map((u) => describeUnknownConfigKey(path, u)),
  };
}

function withAbsolutePaths(values: Partial<CliValues>, base: string): Partial<CliValues> {
  const out = { ...values };
  for (const k of FILE_OPTIONS) {
    const p = out[k];
    if (p !== undefined && !isAbsolute(p)) out[k] = resolve(base, p);
  }
  return out;
}

/**
 * The RabbitMQ link: URL, vhost (default: the instance name), management API (default: the broker
 * host, port 15672), and the login (platformLogin).
 */
function rmqBusConfig(o: Partial<CliValues>, instanceName: string): RmqBusConfig {
  const problem = instanceNameProblem(instanceName, 'rmq');
  if (problem !== undefined) throw new ConfigError(`invalid option: --instance-name ${problem}`);
  const url = o['rmq-url'] ?? DEFAULT_RMQ_URL;
  const broker = new URL(url);
  const vhost = o['rmq-vhost'] ?? instanceName;
  const mgmt = o['rmq-management-url'] ?? `http://${broker.hostname}:${DEFAULT_RMQ_MANAGEMENT_PORT}`;
  const tls = rmqTls(o, url);
  let management: RmqBusConfig['management'];
  if (mgmt !== 'off') {
    const m = new URL(mgmt);
    const user = decodeURIComponent(m.username || broker.username || 'guest');
    const password = decodeURIComponent(m.password || broker.password || 'guest');
    m.username = '';
    m.password = '';
    management = { baseUrl: m.origin, user, password };
  }
  const failover = o['rmq-failover-urls'];
  const cluster = {
    ...(failover !== undefined ? { failoverUrls: failover.split(',') } : {}),
    ...(o['rmq-persistent-queue-type'] !== undefined ? { persistentQueueType: o['rmq-persistent-queue-type'] } : {}),
  };
  return {
    url,
    vhost,
    ...tls,
    ...cluster,
    ...(management ? { management } : {}),
    ...platformLogin(o, instanceName, url, tls.tls?.files.external ?? false, management !== undefined),
  };
}

/**
 * Who the platform logs in as. Default, per-agent users: its own broker user `<instance>.router`
 * (VOLTTRON's router user), the only login whose AMQP user_id proves the platform's identities;
 * made through the management API unless the URL (or, with EXTERNAL, the certificate) logs in as
 * it already. `--rmq-shared-login` opts into the URL's login for everyone (VOLTTRON without
 * proofs); `--rmq-legacy-peers` names identities trusted without user_id (per-agent mode only).
 */
function platformLogin(
  o: Partial<CliValues>,
  instanceName: string,
  url: string,
  external: boolean,
  management: boolean,
): Partial<RmqBusConfig> {
  const user = platformBrokerUser(instanceName);
  const legacy = o['rmq-legacy-peers'];
  if (o['rmq-shared-login']) {
    if (legacy !== undefined)
      throw new ConfigError('invalid option: --rmq-legacy-peers needs per-agent users; with --rmq-shared-login no sender is proven anyway');
    return { sharedLogin: true };
  }
  const legacyPeers = legacy === undefined ? {} : { legacyPeers: legacyPeerList(legacy) };
  if (external) {
    const given = o['rmq-broker-user'];
    if (given !== undefined && given !== user) {
      throw new ConfigError(
        `invalid option: --rmq-broker-user must be ${user}: the platform's certificate must log in as the platform's broker user (or pass --rmq-shared-login)`,
      );
    }
    return { brokerUser: user, ...legacyPeers };
  }
  if (decodeURIComponent(new URL(url).username) === user) return legacyPeers;
  if (!management) {
    throw new ConfigError(
      `invalid option: --rmq-management-url off: the platform cannot create its broker user ${user}; ` +
        `give --rmq-url with ${user}'s password (amqp://${user}:<password>@host:5672), a management URL, or --rmq-shared-login`,
    );
  }
  return { platformUser: user, ...legacyPeers };
}

/** `*`, or identities separated by commas; the platform's own identities cannot be legacy peers. */
function legacyPeerList(text: string): '*' | string[] {
  if (text === '*') return '*';
  const ids = text.split(',');
  const own = ids.find((id) => isPlatformIdentity(id));
  if (own !== undefined)
    throw new ConfigError(
      `invalid option: --rmq-legacy-peers: ${JSON.stringify(own)} is the platform's own identity, proven by its broker user`,
    );
  return ids;
}

/** The TLS part of the link, files read and checked (none without a TLS option: amqps then trusts the system CAs). */
function rmqTls(o: Partial<CliValues>, url: string): { tls?: RmqTlsConfig; brokerUser?: string } {
  const external = o['rmq-external'] ?? false;
  const brokerUser = o['rmq-broker-user'];
  if (brokerUser !== undefined && !external) {
    throw new ConfigError("invalid option: --rmq-broker-user needs --rmq-external (with a password login the broker user is the URL's)");
  }
  const files = {
    ...(o['rmq-ca'] !== undefined ? { ca: o['rmq-ca'] } : {}),
    ...(o['rmq-ca-key'] !== undefined ? { caKey: o['rmq-ca-key'] } : {}),
    ...(o['rmq-cert'] !== undefined ? { cert: o['rmq-cert'] } : {}),
    ...(o['rmq-key'] !== undefined ? { key: o['rmq-key'] } : {}),
    ...(o['rmq-key-passphrase-file'] !== undefined ? { passphraseFile: o['rmq-key-passphrase-file'] } : {}),
    ...(o['rmq-servername'] !== undefined ? { servername: o['rmq-servername'] } : {}),
    external,
  };
  if (Object.keys(files).length === 1 && !external) return {};
  return { tls: loadRmqTls(files, url), ...(brokerUser !== undefined ? { brokerUser } : {}) };
}

/** node's parseArgs error as one line; an unknown option names the nearest known one. */
function parseArgsProblem(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const unknown =
    (err as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /Unknown option '(--?[^'=]+)/.exec(text)?.[1] : undefined;
  if (unknown === undefined) return `${text.split('\n')[0]} (see --help)`;
  const near = closestMatch(unknown.replace(/^-+/, ''), Object.keys(CliSchema.shape));
  return `unknown option ${unknown}${near !== undefined ? ` (did you mean --${near}?)` : ''} (see --help)`;
}
