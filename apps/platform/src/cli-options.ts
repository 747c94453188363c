import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, type LogLevel } from '@vip/protocol';

export const DEFAULT_TCP_ADDRESS = 'tcp://127.0.0.1:22916';
export const DEFAULT_INSTANCE_NAME = 'vip1';

export const USAGE = `Usage: vip-platform [options]

Runs a VIP (VOLTTRON Interconnect Protocol) platform: the message router, pubsub and CURVE auth.

Options:
  --vip-home PATH          platform home (env VIP_HOME, else VOLTTRON_HOME, else ~/.vip)
  --vip-address URL        address to bind, repeatable (default ${DEFAULT_TCP_ADDRESS})
  --local-address URL      local address (default ipc://@$VIP_HOME/run/vip.socket)
  --instance-name NAME     instance name (default ${DEFAULT_INSTANCE_NAME})
  --allow-auth true|false  CURVE + auth.json on every bind (default true)
  --log-level LEVEL        debug|info|warn|error|silent (default info)
  --message-bus zmq        message bus (default zmq)
  --help                   show this help
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
  'log-level': z.enum(['debug', 'info', 'warn', 'error', 'silent'], { error: 'must be debug, info, warn, error or silent' }).optional(),
  'message-bus': z.enum(['zmq'], { error: 'must be zmq (rmq is not available in this build)' }).optional(),
  help: z.boolean().optional(),
});

export interface PlatformConfig {
  readonly vipHome: string;
  readonly vipAddresses: readonly string[];
  readonly localAddress: string;
  readonly instanceName: string;
  readonly allowAuth: boolean;
  readonly logLevel: LogLevel;
  readonly messageBus: 'zmq';
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
        'log-level': { type: 'string' },
        'message-bus': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)} (see --help)`);
  }
  const parsed = CliSchema.safeParse(values);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `--${i.path.filter((p) => typeof p === 'string').join('.')} ${i.message}`).join('; ');
    throw new ConfigError(`invalid option: ${why}`);
  }
  const o = parsed.data;
  if (o.help) return { help: true };
  const vipHome = o['vip-home'] ? resolve(o['vip-home']) : defaultVipHome(env);
  return {
    help: false,
    config: {
      vipHome,
      vipAddresses: o['vip-address'] ?? [DEFAULT_TCP_ADDRESS],
      localAddress: o['local-address'] ?? `ipc://@${vipHome}/run/vip.socket`,
      instanceName: o['instance-name'] ?? DEFAULT_INSTANCE_NAME,
      allowAuth: o['allow-auth'] ?? true,
      logLevel: o['log-level'] ?? 'info',
      messageBus: o['message-bus'] ?? 'zmq',
    },
  };
}
