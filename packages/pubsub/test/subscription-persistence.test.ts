import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { textFrame } from '@vip/protocol';
import { waitFor, MemoryRouterServices } from '@vip/testing';
import { PubSubService, type PubSubServiceOptions } from '../src/pubsub-service.js';
import { SubscriptionStore } from '../src/subscription-store.js';
import type { SubscriptionTable } from '../src/subscription-file.js';
import type { SubscriptionPersistenceOptions } from '../src/internal/persistence.js';
import { hex, settle, text } from './frames.js';

const homes: string[] = [];
afterEach(async () => {
  for (const h of homes.splice(0)) await rm(h, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
});

async function tempFile(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'vip-pubsub-persist-'));
  homes.push(home);
  return join(home, 'pubsub_subscriptions.json');
}

const sub = (prefix: string | string[], bus = '', all = false) => ['subscribe', { prefix, bus, all_platforms: all }];
const pub = (topic: string, message: unknown = 1) => ['publish', topic, { bus: '', headers: {}, message }];
const sync = (subscriptions: Record<string, Record<string, string[]>>) => ['synchronize', 'connected', { subscriptions }];

/** A service on a store at `path`, with what the store had (as a platform starts it). */
async function startService(path: string, persistence: Partial<SubscriptionPersistenceOptions> = {}, options: PubSubServiceOptions = {}) {
  const store = new SubscriptionStore({ path, instanceName: 'test-instance', debounceMs: 0 });
  const restored = await store.load();
  const service = new PubSubService({ ...options, persistence: { store, restored, ...persistence } });
  return { store, restored, service, router: new MemoryRouterServices(service) };
}

const published = (r: MemoryRouterServices, to: string) =>
  r
    .take(to)
    .filter((d) => text(d.args[0]) === 'publish')
    .map((d) => text(d.args[1]));
const countOf = (r: MemoryRouterServices, publisher: string) => {
  const replies = r.take(publisher).filter((d) => text(d.args[0]) === 'request_response');
  return replies.map((d) => d.args[1]?.readUInt32LE(0));
};

describe('SubscriptionStore', () => {
  it('writes the table atomically and reads back what it wrote: buses and all_platforms kept apart', async () => {
    const path = await tempFile();
    const { service, router, store } = await startService(path);
    router.send('a', sub(['x/', 'y/']));
    router.send('a', sub('remote/', 'bus2', true));
    router.send('b', sub(''));
    await settle();
    await store.saved();
    const file = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    expect(file).toMatchObject({
      version: 1,
      instance: 'test-instance',
      subscribers: { a: { internal: { '': ['x/', 'y/'] }, all: { bus2: ['remote/'] } }, b: { internal: { '': [''] } } },
    });
    expect((await readdir(join(path, '..'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await service.close();
    const again = await new SubscriptionStore({ path, instanceName: 'test-instance' }).load();
    expect(tableText(again)).toEqual({ a: ['internal::x/', 'internal::y/', 'all:bus2:remote/'], b: ['internal::'] });
  });

  it('acknowledges a subscribe only once the file holds it', async () => {
    const path = await tempFile();
    const { router } = await startService(path);
    router.send('a', sub('x/'), 'sub-1');
    await waitFor(() => router.delivered.some((d) => d.id === 'sub-1'), { what: 'subscribe acknowledged' });
    const file = JSON.parse(await readFile(path, 'utf8')) as { subscribers: Record<string, unknown> };
    expect(file.subscribers).toEqual({ a: { internal: { '': ['x/'] } } });
  });

  it.each([
    ['not JSON', '{"version": 1, "subscri'],
    [
      'the wrong shape',
      JSON.stringify({ version: 1, instance: 'test-instance', saved_at: '', subscribers: { a: { internal: { '': 'x/' } } } }),
    ],
    ['a newer version', JSON.stringify({ version: 2, instance: 'test-instance', saved_at: '', subscribers: {} })],
    ['empty', ''],
  ])('sets a file that is %s aside, logs and counts it, and starts with nothing restored', async (_what, content) => {
    const path = await tempFile();
    await writeFile(path, content);
    const store = new SubscriptionStore({ path, instanceName: 'test-instance' });
    expect((await store.load()).size).toBe(0);
    expect(store.stats().setAside).toBe(1);
    const names = await readdir(join(path, '..'));
    expect(names.some((n) => n.startsWith('pubsub_subscriptions.json.corrupt-'))).toBe(true);
    expect(names).not.toContain('pubsub_subscriptions.json');
  });

  it('sets aside a file over the size limit without reading it, and does not write a table over it (the last file stays)', async () => {
    const path = await tempFile();
    await writeFile(
      path,
      JSON.stringify({ version: 1, instance: 'test-instance', saved_at: '', subscribers: { a: { internal: { '': ['p'.repeat(600)] } } } }),
    );
    const store = new SubscriptionStore({ path, instanceName: 'test-instance', maxFileBytes: 500 });
    expect((await store.load()).size).toBe(0);
    expect(store.stats().setAside).toBe(1);

    const small = new SubscriptionStore({ path, instanceName: 'test-instance', maxFileBytes: 400, debounceMs: 0 });
    let table: SubscriptionTable = new Map([['a', [{ platform: 'internal' as const, bus: '', prefix: textFrame('x/') }]]]);
    small.source(() => table);
    small.changed();
    await small.saved();
    const before = await readFile(path, 'utf8');
    table = new Map([['a', [{ platform: 'internal' as const, bus: '', prefix: textFrame('p'.repeat(600)) }]]]);
    small.changed();
    await small.saved();
    expect(small.stats()).toMatchObject({ writes: 1, tooLarge: 1 });
    expect(await readFile(path, 'utf8')).toBe(before);
  });

  it('does not restore a file written by another instance', async () => {
    const path = await tempFile();
    await writeFile(
      path,
      JSON.stringify({ version: 1, instance: 'other', saved_at: '', subscribers: { a: { internal: { '': ['x/'] } } } }),
    );
    expect((await new SubscriptionStore({ path, instanceName: 'test-instance' }).load()).size).toBe(0);
  });
});

describe('PubSubService after a restart (issue 10 item 11)', () => {
  /** A platform that saved {sub: x/, y/} and was killed; a new service restores it. */
  async function restarted(persistence: Partial<SubscriptionPersistenceOptions> = {}) {
    const path = await tempFile();
    await writeFile(
      path,
      JSON.stringify({ version: 1, instance: 'test-instance', saved_at: '', subscribers: { sub: { internal: { '': ['x/', 'y/'] } } } }),
    );
    const started = await startService(path, persistence);
    started.router.outcome.set('sub', 'unreachable'); // not reconnected yet
    return { ...started, path };
  }

  it('counts a restored subscriber that is away, holds its messages, and replays them in order before newer ones when it is back', async () => {
    const { router, service } = await restarted();
    router.send('pub', pub('x/1'), 'p1');
    router.send('pub', pub('y/2'), 'p2');
    await settle();
    expect(countOf(router, 'pub')).toEqual([1, 1]); // delivered or held: never "no subscriber"
    expect(service.stats()).toMatchObject({ 'held.messages': 2, 'held.held': 2 });
    // it comes back: its synchronize keeps both prefixes; a publish right after goes behind the held ones
    router.outcome.delete('sub');
    router.send('sub', sync({ internal: { '': ['x/', 'y/'] } }));
    router.send('pub', pub('x/3'), 'p3');
    await waitFor(() => router.delivered.filter((d) => d.to === 'sub').length === 3, { what: 'held and new deliveries' });
    expect(published(router, 'sub')).toEqual(['x/1', 'y/2', 'x/3']);
    // x/3 came while the replay was out: it queued behind it, so it counts as held too
    expect(service.stats()).toMatchObject({ 'held.messages': 0, 'held.delivered': 3, 'held.returned': 1, 'held.subscribers_awaited': 0 });
  });

  it('delivers at once to a restored subscriber that never went away (its first message is the probe)', async () => {
    const { router, service } = await restarted();
    router.outcome.delete('sub'); // RabbitMQ: its queue outlived the platform
    router.send('pub', pub('x/1'));
    await waitFor(() => service.stats()['held.subscribers_awaited'] === 0, { what: 'the probe delivered' });
    router.send('pub', pub('x/2'));
    await settle();
    expect(published(router, 'sub')).toEqual(['x/1', 'x/2']);
    expect(countOf(router, 'pub')).toEqual([1, 1]);
    expect(service.stats()).toMatchObject({ 'held.delivered': 1, 'held.probes_failed': 0 });
  });

  it('drops held messages the returning subscriber no longer wants (counted), and keeps order for the rest', async () => {
    const { router, service } = await restarted();
    for (const t of ['x/1', 'y/1', 'x/2']) router.send('pub', pub(t));
    await settle();
    router.outcome.delete('sub');
    router.send('sub', sync({ internal: { '': ['x/'] } }));
    await waitFor(() => service.stats()['held.subscribers_awaited'] === 0, { what: 'replay done' });
    expect(published(router, 'sub')).toEqual(['x/1', 'x/2']);
    expect(service.stats()).toMatchObject({ 'held.dropped_unsubscribed': 1, 'held.delivered': 2 });
  });

  it('holds within its bounds: beyond them the publisher gets error 11 naming the subscriber, the count leaves it out, the drop is counted', async () => {
    const { router, service } = await restarted({ maxHeldMessages: 2 });
    for (const id of ['p1', 'p2', 'p3']) router.send('pub', pub('x/1'), id);
    await settle();
    const replies = router.take('pub');
    const third = replies.filter((d) => d.id === 'p3');
    expect(third.map((d) => (d.subsystem === 'error' ? 'error' : text(d.args[0])))).toEqual(['error', 'request_response']);
    expect(third[0]?.args.map(text)).toEqual(['11', 'Resource temporarily unavailable', 'sub', 'pubsub']);
    expect(hex(third[1]?.args[1])).toBe('00000000');
    expect(service.stats()).toMatchObject({ 'held.messages': 2, 'held.dropped_full': 1 });
  });

  it('after the grace period a subscriber still away loses its held messages and restored subscriptions (counted, written)', async () => {
    const { router, service, store, path } = await restarted({ graceMs: 50, probeIntervalMs: 10 });
    router.send('pub', pub('x/1'));
    await waitFor(() => service.stats()['held.expired'] === 1, { what: 'grace period over' });
    expect(service.index.size).toBe(0);
    expect(service.stats()).toMatchObject({ 'held.messages': 0, 'held.bytes': 0, 'held.subscribers_awaited': 0 });
    await store.saved();
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ subscribers: {} });
    router.send('pub', pub('x/2'));
    await settle();
    expect(countOf(router, 'pub').at(-1)).toBe(0);
  });

  it('keeps the restored subscriptions of a subscriber no publish looked for past the grace period (they are ordinary then)', async () => {
    const { service } = await restarted({ graceMs: 20 });
    await waitFor(() => service.stats()['held.subscribers_awaited'] === 0, { what: 'grace period over' });
    expect(service.index.size).toBe(2);
  });

  it('a router drop of a restored subscriber (it came and left, e.g. agentstop) drops what is held and its subscriptions', async () => {
    const { router, service } = await restarted();
    router.send('pub', pub('x/1'));
    await settle();
    service.peerDropped(textFrame('sub'));
    expect(service.index.size).toBe(0);
    expect(service.stats()).toMatchObject({ 'held.messages': 0, 'held.dropped_unreachable': 1, 'held.subscribers_awaited': 0 });
    router.send('pub', pub('x/2'), 'p2');
    await settle();
    expect(countOf(router, 'pub').at(-1)).toBe(0);
  });
});

function tableText(table: SubscriptionTable): Record<string, string[]> {
  return Object.fromEntries(
    [...table].map(([peer, subs]) => [peer, subs.map((s) => `${s.platform}:${s.bus}:${s.prefix.toString('utf8')}`)]),
  );
}
