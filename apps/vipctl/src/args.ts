import { parseArgs } from 'node:util';
import { z } from 'zod';
import { CliError, EXIT } from './exit-codes.js';

const OptionsSchema = z.object({
  json: z.boolean().default(false),
  help: z.boolean().default(false),
  version: z.boolean().default(false),
  address: z.string().min(1, 'must not be empty').optional(),
  'vip-home': z.string().min(1, 'must not be empty').optional(),
  timeout: z.coerce.number({ error: 'must be a number of seconds' }).positive('must be > 0').max(3600).default(30),
  'connect-timeout': z.coerce.number({ error: 'must be a number of seconds' }).positive('must be > 0').max(600).default(5),
  kwargs: z.string().optional(),
  identity: z.string().min(1).optional(),
  'user-id': z.string().min(1).optional(),
  credentials: z.string().min(1).optional(),
  capabilities: z.string().optional(),
  comments: z.string().optional(),
  index: z.coerce.number().int().nonnegative().optional(),
  deny: z.boolean().default(false),
  'message-bus': z.enum(['zmq', 'rmq'], { error: 'must be zmq or rmq' }).optional(),
  'rmq-url': z.string().regex(/^amqps?:\/\/[^/\s]+\/?$/, 'must look like amqp://user:password@host:5672').optional(),
  'rmq-vhost': z.string().min(1, 'must not be empty').optional(),
  'rmq-management-url': z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'must look like http://host:15672 (optionally with user:password@)').optional(),
  'rmq-ca': z.string().min(1, 'must be a file path').optional(),
  'rmq-cert': z.string().min(1, 'must be a file path').optional(),
  'rmq-key': z.string().min(1, 'must be a file path').optional(),
  'rmq-external': z.boolean().default(false),
  'instance-name': z.string().regex(/^[^.*#\s]+$/, 'must be non-empty without ".", "*", "#" or spaces').optional(),
  bus: z.string().optional(),
  count: z.coerce.number({ error: 'must be a number' }).int().positive('must be > 0').optional(),
  days: z.coerce.number({ error: 'must be a number of days' }).int('must be a whole number of days').positive('must be > 0').max(36_500).optional(),
});
export type CliOptions = z.infer<typeof OptionsSchema>;

export interface ParsedArgs {
  readonly options: CliOptions;
  readonly positionals: string[];
}

/**
 * Parse and validate argv (zod); usage problems throw CliError with exit code 2, worded by us:
 * node's parseArgs takes a value starting with `-` for a missing one ("--timeout -1" would read
 * as "argument is ambiguous ... use --timeout=-XYZ"), so a negative number after an option that
 * takes a value is joined to it first and then judged by the schema ("--timeout: must be > 0").
 */
export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  let raw: ReturnType<typeof parseArgs>;
  try {
    raw = parseArgs({
      args: joinNegativeValues(argv),
      allowPositionals: true,
      strict: true,
      options: PARSE_OPTIONS,
    });
  } catch (err) {
    throw new CliError(usageMessage(err), EXIT.USAGE);
  }
  const r = OptionsSchema.safeParse(raw.values);
  if (!r.success) {
    const why = r.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ');
    throw new CliError(why, EXIT.USAGE);
  }
  return { options: r.data, positionals: raw.positionals };
}

const PARSE_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  address: { type: 'string' },
  'vip-home': { type: 'string' },
  timeout: { type: 'string', short: 't' },
  'connect-timeout': { type: 'string' },
  kwargs: { type: 'string' },
  identity: { type: 'string' },
  'user-id': { type: 'string' },
  credentials: { type: 'string' },
  capabilities: { type: 'string' },
  comments: { type: 'string' },
  index: { type: 'string' },
  deny: { type: 'boolean' },
  'message-bus': { type: 'string' },
  'rmq-url': { type: 'string' },
  'rmq-vhost': { type: 'string' },
  'rmq-management-url': { type: 'string' },
  'rmq-ca': { type: 'string' },
  'rmq-cert': { type: 'string' },
  'rmq-key': { type: 'string' },
  'rmq-external': { type: 'boolean' },
  'instance-name': { type: 'string' },
  bus: { type: 'string' },
  count: { type: 'string', short: 'n' },
  days: { type: 'string' },
} as const;

/** Options that take a value, by long and short name (for joinNegativeValues). */
const VALUED = new Set(Object.entries(PARSE_OPTIONS).flatMap(([name, o]) => (o.type === 'string' ? [`--${name}`, ...('short' in o ? [`-${o.short}`] : [])] : [])));

/** `--timeout -1` -> `--timeout=-1` (`-t -1` -> `-t=-1` is not parseArgs syntax: `-t-1`), so the schema words the refusal. */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a === '--') return [...out, ...argv.slice(i)]; // positionals from here on
    if (VALUED.has(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** node's parseArgs errors in our words (the option named, the fix). */
function usageMessage(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const text = typeof e.message === 'string' ? e.message : String(err);
  const option = /'(-[^']*?)(?: <value>)?'/.exec(text)?.[1] ?? /Unknown option '([^']+)'/.exec(text)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? ''} (vipctl --help lists them)`.replace('  ', ' ');
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing|ambiguous/.test(text) ? `${option ?? 'an option'} needs a value` : `${option ?? 'an option'}: ${text.split('\n')[0]}`;
    default:
      return text.split('\n')[0] ?? text;
  }
}

/** A JSON argument (`[1, 2]`, `{"a": 1}`, `"text"`, `3`); anything that is not JSON is taken as a string. */
export function jsonArg(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // `vipctl rpc peer echo hello` passes the string "hello"
  }
}

/** A JSON object argument (for --kwargs, --capabilities); usage error otherwise. */
export function jsonObjectArg(name: string, text: string): Record<string, unknown> {
  const r = z.record(z.string(), z.unknown()).safeParse(jsonArg(text));
  if (!r.success) throw new CliError(`--${name} must be a JSON object, e.g. '{"x": 1}'`, EXIT.USAGE);
  return r.data;
}
