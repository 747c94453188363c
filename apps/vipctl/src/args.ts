import { instanceNameSchema } from '@vip/protocol/internal';
import { z } from 'zod';
import { CliError, EXIT } from './exit-codes.js';

/**
 * Every option value vipctl takes, checked with zod after commander has decided which options a
 * command accepts (an option of another command is commander's "unknown option", exit 2). Values
 * are worded by us: `--timeout -1` is `--timeout: must be > 0`.
 */
const OptionsSchema = z.object({
  json: z.boolean().default(false),
  address: z.string().min(1, 'must not be empty').optional(),
  'vip-home': z.string().min(1, 'must not be empty').optional(),
  timeout: z.coerce.number({ error: 'must be a number of seconds' }).positive('must be > 0').max(3600).default(30),
  'connect-timeout': z.coerce.number({ error: 'must be a number of seconds' }).positive('must be > 0').max(600).default(5),
  kwargs: z.string().optional(),
  platform: instanceNameSchema('zmq').optional(),
  identity: z.string().min(1).optional(),
  'user-id': z.string().min(1).optional(),
  credentials: z.string().min(1).optional(),
  capabilities: z.string().optional(),
  comments: z.string().optional(),
  index: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').nonnegative('must be >= 0').optional(),
  deny: z.boolean().default(false),
  raw: z.boolean().default(false),
  csv: z.boolean().default(false),
  type: z.enum(['json', 'raw', 'csv'], { error: 'must be json, raw or csv' }).optional(),
  all: z.boolean().default(false),
  new: z.boolean().default(false),
  editor: z.string().min(1, 'must not be empty').optional(),
  'message-bus': z.enum(['zmq', 'rmq'], { error: 'must be zmq or rmq' }).optional(),
  'rmq-url': z
    .string()
    .regex(/^amqps?:\/\/[^/\s]+\/?$/, 'must look like amqp://user:password@host:5672')
    .optional(),
  'rmq-vhost': z.string().min(1, 'must not be empty').optional(),
  'rmq-management-url': z
    .string()
    .regex(/^https?:\/\/[^/\s]+\/?$/, 'must look like http://host:15672 (optionally with user:password@)')
    .optional(),
  'rmq-ca': z.string().min(1, 'must be a file path').optional(),
  'rmq-cert': z.string().min(1, 'must be a file path').optional(),
  'rmq-key': z.string().min(1, 'must be a file path').optional(),
  'rmq-external': z.boolean().default(false),
  'instance-name': instanceNameSchema('rmq').optional(),
  bus: z.string().optional(),
  count: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').positive('must be > 0').optional(),
  once: z.boolean().default(false),
  interval: z.coerce
    .number({ error: 'must be a number of seconds' })
    .min(1, 'must be 1 to 60 seconds')
    .max(60, 'must be 1 to 60 seconds')
    .optional(),
  iterations: z.coerce.number({ error: 'must be a number' }).int('must be a whole number').positive('must be > 0').max(100_000).optional(),
  port: z.coerce.number({ error: 'must be a port number' }).int('must be a whole number').min(1).max(65_535).optional(),
  'remote-vhost': z.string().min(1, 'must not be empty').optional(),
  user: z.string().min(1, 'must not be empty').optional(),
  password: z.string().optional(),
  scheme: z.enum(['amqp', 'amqps'], { error: 'must be amqp or amqps' }).optional(),
  topic: z.array(z.string()).optional(),
  rpc: z.array(z.string()).optional(),
  days: z.coerce
    .number({ error: 'must be a number of days' })
    .int('must be a whole number of days')
    .positive('must be > 0')
    .max(36_500)
    .optional(),
});
export type CliOptions = z.infer<typeof OptionsSchema>;

/** commander's camelCase option names (`vipHome`) back to the flags' (`vip-home`). */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The options commander collected for a command (its own and the global ones), checked; CliError exit 2 otherwise. */
export function validateOptions(raw: Readonly<Record<string, unknown>>): CliOptions {
  const values = Object.fromEntries(Object.entries(raw).map(([k, v]) => [kebab(k), v]));
  const r = OptionsSchema.safeParse(values);
  if (!r.success) {
    const why = r.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ');
    throw new CliError(why, EXIT.USAGE);
  }
  return r.data;
}

/** An RPC argument (`[1, 2]`, `{"a": 1}`, `"text"`, `3`); anything that is not JSON is taken as a string. */
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

/**
 * A message to publish: JSON (an object, a list, a number, a quoted string...), or with `raw` the
 * text as it is. Text that is not JSON is a usage error rather than a string published by accident
 * (`'{t: 1}'` is not the object it looks like).
 */
export function messageArg(text: string, raw: boolean): unknown {
  if (raw) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(
      `the message is not JSON (${(err as Error).message}): write JSON such as '{"t": 1}' or '"text"', or pass --raw to publish the text as it is`,
      EXIT.USAGE,
    );
  }
}
