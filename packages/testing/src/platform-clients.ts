import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { generateKeyPair, InvalidPayloadError, type CurveKeyPair } from '@vip/protocol';
import type { AuthorizeOptions, PlatformProcess } from './platform-launcher.js';
import { RawVipClient } from './raw-vip-client.js';

export interface OpenRawClientOptions extends Omit<AuthorizeOptions, 'identity'> {
  /** Add the client's key to auth.json first (default true). */
  readonly authorize?: boolean;
  /** Wait for a hello/welcome round trip before returning (default true when authorized). */
  readonly hello?: boolean;
  readonly keys?: CurveKeyPair;
  readonly address?: string;
}

/**
 * A RawVipClient on the platform's tcp address with CURVE: a fresh key pair, authorized for
 * `identity` (user id = identity unless given), connected, and greeted (hello/welcome) so the
 * router knows it when this resolves.
 */
export async function openRawClient(
  platform: PlatformProcess,
  identity: string,
  options: OpenRawClientOptions = {},
): Promise<RawVipClient> {
  const keys = options.keys ?? generateKeyPair();
  const authorize = options.authorize ?? true;
  if (authorize) {
    await platform.authorize(keys.public, {
      identity,
      ...(options.userId !== undefined ? { userId: options.userId } : {}),
      ...(options.capabilities !== undefined ? { capabilities: options.capabilities } : {}),
    });
  }
  const client = RawVipClient.connect({ address: options.address ?? platform.tcpAddress, identity, serverKey: platform.serverkey, keys });
  if (options.hello ?? authorize) {
    try {
      await client.hello({ timeoutMs: 10_000 });
    } catch (err) {
      await client.close();
      throw err;
    }
  }
  return client;
}

const KeyStoreSchema = z.object({ public: z.string(), secret: z.string() });

/** The key pair the platform created for a local service (`control`, `control.connection`). */
export async function serviceKeys(platform: PlatformProcess, identity: string): Promise<CurveKeyPair> {
  const path = join(platform.home, 'keystores', identity, 'keystore.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new InvalidPayloadError(`keystore ${path}`, err instanceof Error ? err.message : String(err), { cause: err });
  }
  const r = KeyStoreSchema.safeParse(json);
  if (!r.success) throw new InvalidPayloadError(`keystore ${path}`, r.error.message);
  return r.data;
}

const CountsSchema = z.record(z.string(), z.number());
const RouterStatsSchema = z.looseObject({
  router: z.looseObject({ received: z.number(), dropped: CountsSchema, errors: CountsSchema, peers: z.number() }),
  transport: z.looseObject({ dropped: CountsSchema }),
});

/** The counters a platform exposes through `query vip-router-stats` (router and transport views). */
export type RouterStatsView = z.infer<typeof RouterStatsSchema>;

let statsQueries = 0;

/** Ask the platform for its counters over `client` (the `vip-router-stats` query property). */
export async function routerStats(client: RawVipClient, options: { timeoutMs?: number } = {}): Promise<RouterStatsView> {
  const reply = await client.request('query', ['vip-router-stats'], `stats.${++statsQueries}`, options);
  const text = reply[6]?.toString() ?? '';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = RouterStatsSchema.safeParse(raw);
  if (!parsed.success)
    throw new InvalidPayloadError('vip-router-stats reply', `${JSON.stringify(text.slice(0, 80))}: ${parsed.error.message}`);
  return parsed.data;
}
