import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, type LogLevel } from '@vip/protocol';
import { configFilePath, readConfigFile, type ConfigFileKey } from './bus-config-file.js';

export const DEFAULT_TCP_ADDRESS = 'tcp://127.0.0.1:22916';
export const DEFAULT_INSTANCE_NAME = 'vip1';
export const DEFAULT_RMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_RMQ_MANAGEMENT_PORT = 15672;

export const USAGE = `Usage: vip-platform [options]

Runs a VIP (VOLTTRON Interconnect Protocol) platform: the message router, pubsub and CURVE auth.

Options:
  --vip-home PATH          platform home (env VIP_HOME, else VOLTTRON_HOME, else ~/.vip)
  --vip-address URL        address to bind, repeatable (default ${DEFAULT_TCP_ADDRESS})
  --local-address URL      local address (default ipc://@$VIP_HOME/run/vip.socket)
  --instance-name NAME     instance name (default ${DEFAULT_INSTANCE_NAME})
  --allow-auth true|false  CURVE + auth.json on every bind (default true)
  --log-level LEVEL        debug|info|warn|error|silent (default info)
  --message-bus zmq|rmq    message bus (default zmq)
  --rmq-url URL            RabbitMQ broker (default ${DEFAULT_RMQ_URL})
  --rmq-vhost NAME         RabbitMQ virtual host (default: the instance name; VOLTTRON uses volttron)
  --legacy-pubsub true|false  serve VOLTTRON <= 4.1 agents' RPC pubsub as identity pubsub (default false)
  --rmq-management-url URL management API that creates the vhost (default http://<broker host>:15672,
                           user and password from --rmq-url unless in this URL; "off" = vhost must exist)
  --help                   show this help

Every option but --vip-home and --help may also be set in $VIP_HOME/config (VOLTTRON's INI file,
section [volttron], e.g. "message-bus = rmq"); the command line wins.
`;

const AddressSchema = z
  .string()
  .regex(/^(tcp|ipc|inproc):\/\/.+/, { message: 'must look like tcp://HOST:PORT, ipc://PATH or inproc://NAME' });

const BoolTextSchema = z.enum(['true', 'false'], { error: 'must be true or false' }).transform((v) => v === 'true');

const CliSchema = z.object({
  'vip-home': z.string().min(1, { message: 'must not be empty' }).optional(),
  'vip-address': z.array(AddressSchema).optional(),
  'local-address': AddressSchema.optional(),
  'instance-name': z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, { message: 'may use only letters, digits, "_", "." and "-"' })
    .optional(),
  'allow-auth': BoolTextSchema.optional(),
  'legacy-pubsub': BoolTextSchema.optional(),
  'log-level': z.enum(['debug', 'info', 'warn', 'error', 'silent'], { error: 'must be debug, info, warn, error or silent' }).optional(),
  'message-bus': z.enum(['zmq', 'rmq'], { error: 'must be zmq or rmq' }).optional(),
  'rmq-url': z
    .string()
    .regex(/^amqps?:\/\/[^/\s]+\/?$/, { message: 'must look like amqp://user:password@host:5672 (the vhost goes in --rmq-vhost)' })
    .optional(),
  'rmq-vhost': z.string().regex(/^(\/|[^/\s]+)$/, { message: 'must be "/" or a non-empty name without "/" or spaces' }).optional(),
  'rmq-management-url': z
    .string()
    .regex(/^(off|https?:\/\/[^/\s]+\/?)$/, { message: 'must look like http://host:15672 (or "off")' })
    .optional(),
  help: z.boolean().optional(),
});

/** Where the RabbitMQ bus is (PROTOCOL.md 7.1). */
export interface RmqBusConfig {
  /** `amqp://user:password@host:port`, no vhost path. */
  readonly url: string;
  readonly vhost: string;
  /** Management API (creates the vhost, lists queues); undefined = "off". */
  readonly management?: { readonly baseUrl: string; readonly user: string; readonly password: string };
}

export interface PlatformConfig {
  readonly vipHome: string;
  readonly vipAddresses: readonly string[];
  readonly localAddress: string;
  readonly instanceName: string;
  readonly allowAuth: boolean;
  /** Run the legacy RPC pubsub wrapper (identity `pubsub`, PROTOCOL.md 3.8); ZeroMQ with auth only. */
  readonly legacyPubsub: boolean;
  readonly logLevel: LogLevel;
  readonly messageBus: 'zmq' | 'rmq';
  /** Set when `messageBus` is `rmq`. */
  readonly rmq?: RmqBusConfig;
}

export type CliResult = { readonly help: true } | { readonly help: false; readonly config: PlatformConfig };

/** `VIP_HOME`, else `VOLTTRON_HOME`, else `~/.vip`; `~` expanded, trailing `/` removed. */
export function defaultVipHome(env: NodeJS.ProcessEnv): string {
  const raw = env.VIP_HOME || env.VOLTTRON_HOME || '~/.vip';
  return resolve(raw.replace(/^~(?=$|\/)/, homedir()));
}

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
        'log-level': { type: 'string' },
        'message-bus': { type: 'string' },
        'rmq-url': { type: 'string' },
        'rmq-vhost': { type: 'string' },
        'rmq-management-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)} (see --help)`);
  }
  const cli = validate(values, 'invalid option');
  if (cli.help) return { help: true };
  const vipHome = cli['vip-home'] ? resolve(cli['vip-home']) : defaultVipHome(env);
  const file = fileValues(vipHome);
  const o = { ...file, ...definedOnly(cli) };
  const messageBus = o['message-bus'] ?? 'zmq';
  const instanceName = o['instance-name'] ?? DEFAULT_INSTANCE_NAME;
  if (o['legacy-pubsub'] && (messageBus !== 'zmq' || o['allow-auth'] === false)) {
    throw new ConfigError('invalid option: --legacy-pubsub runs on the zmq bus with --allow-auth true only');
  }
  return {
    help: false,
    config: {
      vipHome,
      vipAddresses: o['vip-address'] ?? [DEFAULT_TCP_ADDRESS],
      localAddress: o['local-address'] ?? `ipc://@${vipHome}/run/vip.socket`,
      instanceName,
      allowAuth: o['allow-auth'] ?? true,
      legacyPubsub: o['legacy-pubsub'] ?? false,
      logLevel: o['log-level'] ?? 'info',
      messageBus,
      ...(messageBus === 'rmq' ? { rmq: rmqBusConfig(o, instanceName) } : {}),
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

/** `$VIP_HOME/config` values, validated like the options (`vip-address` may list several, comma-separated). */
function fileValues(vipHome: string): Partial<CliValues> {
  const raw: Partial<Record<ConfigFileKey, string>> = readConfigFile(vipHome);
  const shaped: Record<string, unknown> = { ...raw };
  if (raw['vip-address'] !== undefined) shaped['vip-address'] = raw['vip-address'].split(',').map((a) => a.trim()).filter((a) => a !== '');
  return definedOnly(validate(shaped, `invalid setting in ${configFilePath(vipHome)}`));
}

/** The RabbitMQ link: URL, vhost (default: the instance name), management API (default: the broker host, port 15672). */
function rmqBusConfig(o: Partial<CliValues>, instanceName: string): RmqBusConfig {
  if (instanceName.includes('.')) {
    throw new ConfigError(`invalid option: --instance-name must not contain "." on the rmq bus (routing keys are <instance>.<identity>)`);
  }
  const url = o['rmq-url'] ?? DEFAULT_RMQ_URL;
  const broker = new URL(url);
  const vhost = o['rmq-vhost'] ?? instanceName;
  const mgmt = o['rmq-management-url'] ?? `http://${broker.hostname}:${DEFAULT_RMQ_MANAGEMENT_PORT}`;
  if (mgmt === 'off') return { url, vhost };
  const m = new URL(mgmt);
  const user = decodeURIComponent(m.username || broker.username || 'guest');
  const password = decodeURIComponent(m.password || broker.password || 'guest');
  m.username = '';
  m.password = '';
  return { url, vhost, management: { baseUrl: m.origin, user, password } };
}
