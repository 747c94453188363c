import { InvalidPayloadError, type Frame } from '@vip/protocol';
import { z, type ZodType } from 'zod';
import { CapabilityMapSchema } from '../protected-topics.js';
import type { Subscription, SubscriptionPlatform } from '../subscription-index.js';

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

export type UnsubscribeScope = { readonly platform: SubscriptionPlatform; readonly bus: string; readonly prefixes: readonly string[] | null };

/** The scopes an `unsubscribe` body names; `prefixes: null` = every prefix of that bus. */
export function unsubscribeScopes(body: z.infer<typeof UnsubscribeSchema>): UnsubscribeScope[] {
  const out: UnsubscribeScope[] = [];
  if ('internal' in body || 'all' in body) {
    const b = body as { internal?: { prefix?: string[] | null; bus: string }; all?: { prefix?: string[] | null; bus: string } };
    if (b.internal) out.push({ platform: 'internal', bus: b.internal.bus, prefixes: b.internal.prefix ?? null });
    if (b.all) out.push({ platform: 'all', bus: b.all.bus, prefixes: b.all.prefix ?? null });
  } else {
    const legacy = body as { prefix: string[] | null; bus: string; all_platforms?: boolean | null };
    out.push({ platform: legacy.all_platforms ? 'all' : 'internal', bus: legacy.bus, prefixes: legacy.prefix });
  }
  return out;
}

/** The full subscription set a `synchronize` body asks for (unknown platforms are ignored). */
export function synchronizeWanted(body: z.infer<typeof SynchronizeSchema>): Subscription[] {
  const wanted: Subscription[] = [];
  for (const [platform, buses] of Object.entries(body.subscriptions)) {
    if (platform !== 'internal' && platform !== 'all') continue;
    for (const [bus, prefixes] of Object.entries(buses)) {
      for (const p of prefixes) wanted.push({ platform, bus, prefix: Buffer.from(p, 'utf8') });
    }
  }
  return wanted;
}
