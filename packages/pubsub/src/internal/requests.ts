import type { SynchronizeRequest, UnsubscribeRequest } from '@vip/protocol';
import type { Subscription, SubscriptionPlatform } from '../subscription-index.js';

export interface UnsubscribeScope {
  readonly platform: SubscriptionPlatform;
  readonly bus: string;
  /** null = every prefix of that bus. */
  readonly prefixes: readonly string[] | null;
}

/** The scopes an `unsubscribe` body names (docs/protocol.md 3.2). */
export function unsubscribeScopes(body: UnsubscribeRequest): UnsubscribeScope[] {
  const out: UnsubscribeScope[] = [];
  if (body.internal) out.push({ platform: 'internal', bus: body.internal.bus, prefixes: body.internal.prefix });
  if (body.all) out.push({ platform: 'all', bus: body.all.bus, prefixes: body.all.prefix });
  return out;
}

/** The full subscription set a `synchronize` body asks for (unknown platforms are ignored). */
export function synchronizeWanted(body: SynchronizeRequest): Subscription[] {
  const wanted: Subscription[] = [];
  for (const [platform, buses] of Object.entries(body.subscriptions)) {
    if (platform !== 'internal' && platform !== 'all') continue;
    for (const [bus, prefixes] of Object.entries(buses)) {
      for (const p of prefixes) wanted.push({ platform, bus, prefix: Buffer.from(p, 'utf8') });
    }
  }
  return wanted;
}
