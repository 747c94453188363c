import { z } from 'zod';
import { textFrame } from '@vip/protocol';
import type { Subscription, SubscriptionPlatform } from './subscription-index.js';

/** The version of `pubsub_subscriptions.json` this code reads and writes. */
export const SUBSCRIPTION_FILE_VERSION = 1;

/** Subscriber identity (`identityKey`, the identity bytes as Latin-1) -> its subscriptions. */
export type SubscriptionTable = ReadonlyMap<string, readonly Subscription[]>;

/** Bounds of one file, checked on load (a file over them is set aside, never half-used). */
const MAX_IDENTITY = 1_024;
const MAX_BUS = 1_024;
const MAX_PREFIX = 65_536;

const PrefixesSchema = z.array(z.string().max(MAX_PREFIX));
const BusesSchema = z.record(z.string().max(MAX_BUS), PrefixesSchema);
const SubscriberSchema = z.strictObject({ internal: BusesSchema.optional(), all: BusesSchema.optional() });

/**
 * `$VIP_HOME/pubsub_subscriptions.json`: the platform's pubsub subscription table, per subscriber
 * in the shape of a `synchronize` body (`{platform: {bus: [prefixes]}}`, docs/protocol.md 3.4), so
 * `all_platforms` subscriptions are kept apart from local ones.
 */
export const SubscriptionFileSchema = z.strictObject({
  version: z.literal(SUBSCRIPTION_FILE_VERSION, { error: `version must be ${SUBSCRIPTION_FILE_VERSION}` }),
  /** The instance that wrote it (a home reused by another instance is not restored). */
  instance: z.string(),
  /** When it was written (ISO 8601), for the operator. */
  saved_at: z.string(),
  subscribers: z.record(z.string().min(1).max(MAX_IDENTITY), SubscriberSchema),
});
export type SubscriptionFile = z.output<typeof SubscriptionFileSchema>;

const PLATFORMS: readonly SubscriptionPlatform[] = ['internal', 'all'];

/** The file body for `table` (prefixes are the UTF-8 text subscribers sent; keys sorted for stable output). */
export function subscriptionFileOf(table: SubscriptionTable, instance: string, savedAt: Date): SubscriptionFile {
  const subscribers: SubscriptionFile['subscribers'] = {};
  for (const peer of [...table.keys()].sort()) {
    const subs = table.get(peer) ?? [];
    if (subs.length === 0) continue;
    const entry: Partial<Record<SubscriptionPlatform, Record<string, string[]>>> = {};
    for (const s of subs) ((entry[s.platform] ??= {})[s.bus] ??= []).push(s.prefix.toString('utf8'));
    for (const buses of Object.values(entry)) for (const prefixes of Object.values(buses)) prefixes.sort();
    subscribers[peer] = entry;
  }
  return { version: SUBSCRIPTION_FILE_VERSION, instance, saved_at: savedAt.toISOString(), subscribers };
}

/** The table a validated file describes. */
export function subscriptionTableOf(file: SubscriptionFile): Map<string, Subscription[]> {
  const table = new Map<string, Subscription[]>();
  for (const [peer, entry] of Object.entries(file.subscribers)) {
    const subs: Subscription[] = [];
    for (const platform of PLATFORMS) {
      for (const [bus, prefixes] of Object.entries(entry[platform] ?? {})) {
        for (const p of prefixes) subs.push({ platform, bus, prefix: textFrame(p) });
      }
    }
    if (subs.length > 0) table.set(peer, subs);
  }
  return table;
}

/** Number of subscriptions in a table. */
export function subscriptionCount(table: SubscriptionTable): number {
  let n = 0;
  for (const subs of table.values()) n += subs.length;
  return n;
}
