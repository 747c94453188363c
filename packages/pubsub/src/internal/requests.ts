import { InvalidPayloadError, type Frame } from '@vip/protocol';
import { z, type ZodType } from 'zod';
import { CapabilityMapSchema } from '../protected-topics.js';

/**
 * Bodies of the pubsub ops a peer sends (PROTOCOL.md 3.2). Defaults follow the Python agent so a
 * minimal body works; nulls Python may send for `bus` mean the default bus.
 * Local until @vip/protocol publishes the shared payload schemas.
 */
const bus = z.string().nullish().transform((b) => b ?? '');
const prefixes = z.union([z.string(), z.array(z.string())]).transform((p) => (typeof p === 'string' ? [p] : p));

export const SubscribeSchema = z.object({ prefix: prefixes, bus, all_platforms: z.boolean().nullish() });

const UnsubscribeScope = z.object({ prefix: prefixes.nullish(), bus });
export const UnsubscribeSchema = z.union([
  z.object({ internal: UnsubscribeScope.optional(), all: UnsubscribeScope.optional() }).refine((o) => o.internal || o.all, 'needs "internal" or "all"'),
  // legacy form: `prefix` must be present (null = every prefix of the bus)
  z.object({ prefix: prefixes.nullable(), bus, all_platforms: z.boolean().nullish() }),
]);

export const PublishSchema = z.object({ bus, headers: z.record(z.string(), z.unknown()).nullish(), message: z.unknown() });

export const ListSchema = z.object({
  prefix: z.string().nullish(),
  bus: z.string().nullish(),
  subscribed: z.boolean().nullish(),
  reverse: z.boolean().nullish(),
  all_platforms: z.boolean().nullish(),
});

export const SynchronizeSchema = z.object({
  subscriptions: z.record(z.string(), z.record(z.string(), z.array(z.string()))),
});

export const AuthUpdateSchema = z.object({ capabilities: CapabilityMapSchema });

export const ExternalListSchema = z.record(z.string(), z.array(z.string()));

export const ExternalPublishSchema = z.object({
  sender: z.string(),
  bus,
  headers: z.record(z.string(), z.unknown()).nullish(),
  message: z.unknown(),
});

/** Parse one JSON frame against a schema; every failure is an InvalidPayloadError naming the op. */
export function parseJsonFrame<T>(frame: Frame | undefined, schema: ZodType<T>, what: string): T | InvalidPayloadError {
  if (frame === undefined) return new InvalidPayloadError(what, 'missing JSON argument frame');
  let raw: unknown;
  try {
    raw = JSON.parse(frame.toString('utf8'));
  } catch (err) {
    return new InvalidPayloadError(what, `argument is not JSON (${(err as Error).message})`);
  }
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  return new InvalidPayloadError(what, r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
}
