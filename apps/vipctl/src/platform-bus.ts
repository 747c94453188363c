import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { CliOptions } from './args.js';

export const DEFAULT_RMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_INSTANCE_NAME = 'vip1';

/** How to reach the platform: ZeroMQ (local ipc address, CURVE) or RabbitMQ (broker link). */
export type PlatformBus =
  | { readonly bus: 'zmq' }
  | { readonly bus: 'rmq'; readonly url: string; readonly vhost: string; readonly instanceName: string };

/** `$VIP_HOME/run/bus.json`, written by a running `vip-platform --message-bus rmq`. */
const BusInfoSchema = z.object({
  bus: z.literal('rmq'),
  url: z.string().regex(/^amqps?:\/\//),
  vhost: z.string().min(1),
  instance: z.string().min(1),
  pid: z.number().int().positive(),
});
type BusInfo = z.infer<typeof BusInfoSchema>;

/**
 * The platform's bus: `--message-bus` when given; else what the running platform recorded in
 * `$VIP_HOME/run/bus.json` (ignored when its process is gone); else ZeroMQ. On RabbitMQ,
 * `--rmq-url`, `--rmq-vhost` and `--instance-name` override the recorded values; without a
 * record the defaults are the platform's (instance `vip1`, vhost = instance, local guest).
 */
export async function resolvePlatformBus(options: CliOptions, vipHome: string): Promise<PlatformBus> {
  if (options['message-bus'] === 'zmq') return { bus: 'zmq' };
  const info = await readBusInfo(vipHome);
  if (options['message-bus'] !== 'rmq' && !info) return { bus: 'zmq' };
  const instanceName = options['instance-name'] ?? info?.instance ?? DEFAULT_INSTANCE_NAME;
  return {
    bus: 'rmq',
    url: options['rmq-url'] ?? info?.url ?? DEFAULT_RMQ_URL,
    vhost: options['rmq-vhost'] ?? info?.vhost ?? instanceName,
    instanceName,
  };
}

async function readBusInfo(vipHome: string): Promise<BusInfo | undefined> {
  let text: string;
  try {
    text = await readFile(join(vipHome, 'run', 'bus.json'), 'utf8');
  } catch {
    return undefined; // no record: the platform runs on ZeroMQ or is not running
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined; // half-written or foreign file: treated as no record
  }
  const r = BusInfoSchema.safeParse(json);
  return r.success && alive(r.data.pid) ? r.data : undefined;
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
export function describeRmq(bus: Extract<PlatformBus, { bus: 'rmq' }>): string {
  const u = new URL(bus.url);
  return `${u.protocol}//${u.host}/${bus.vhost} (instance ${bus.instanceName})`;
}
