import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Agent } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { createZmqAgent } from '@vip/agent/zmq';
import { generateKeyPair } from '@vip/protocol';
import { AMQP_URL, type TestVhost } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';
import { RawVipClient, serviceKeys, startPlatform, type PlatformProcess } from '@vip/testing';

/**
 * Issue 10 item 12: an auth.json written as `{}`, as an empty file (a truncated write) or without
 * the platform's own entries must not lock everyone out: the platform keeps the rules in force,
 * logs `auth.reload.refused`, counts it (counters `auth.refusedReloads`), and a valid change
 * after it still applies.
 */

/** Replace auth.json atomically (as an editor or a tool would) and wait for the platform's verdict. */
async function writeAuthFile(platform: PlatformProcess, text: string, verdict: 'auth.reload.refused' | 'auth.reloaded'): Promise<void> {
  const path = join(platform.home, 'auth.json');
  const seen = platform.waitForLog(verdict, { timeoutMs: 10_000 });
  await writeFile(`${path}.test.tmp`, text);
  await rename(`${path}.test.tmp`, path);
  await seen;
}

const BAD_FILES = (withoutPlatform: string): ReadonlyArray<[string, string]> => [
  ['{}', '{}'],
  ['an empty file', ''],
  ["a file without the platform's entries", withoutPlatform],
];

async function authCounters(agent: Agent): Promise<Record<string, number>> {
  const value = await agent.query.query('vip-router-stats');
  const stats = (typeof value === 'string' ? JSON.parse(value) : value) as { auth: Record<string, number> };
  return stats.auth;
}

describe("auth.json that drops the platform's entries, on a live platform (zmq)", () => {
  it('is refused: connected agents keep working, admitted agents and vipctl still connect, a valid change applies after', async () => {
    const platform = await startPlatform({ logLevel: 'info' });
    onTestFinished(() => platform.close());
    const agent = async (identity: string, keys = generateKeyPair(), authorize = true) => {
      if (authorize) await platform.authorize(keys.public, { identity });
      const a = await createZmqAgent({
        identity,
        address: platform.tcpAddress,
        serverKey: platform.serverkey ?? '',
        publicKey: keys.public,
        secretKey: keys.secret,
        vipHome: platform.home,
        helloTimeoutMs: 5_000,
      });
      onTestFinished(() => a.close());
      return a;
    };
    const first = await agent('guard.first');
    await first.start();
    // admitted now, connects only after the bad files
    const laterKeys = generateKeyPair();
    await platform.authorize(laterKeys.public, { identity: 'guard.later' });
    const good = JSON.parse(await readFile(join(platform.home, 'auth.json'), 'utf8')) as { allow: Array<{ user_id: string }> };
    const withoutPlatform = JSON.stringify({ allow: good.allow.filter((e) => e.user_id.startsWith('guard.')) });

    for (const [what, text] of BAD_FILES(withoutPlatform)) {
      await writeAuthFile(platform, text, 'auth.reload.refused');
      expect(await first.ping.ping('', [what], { timeoutMs: 5_000 }), what).toEqual([what]);
    }
    expect(await authCounters(first)).toMatchObject({ refusedReloads: 3, failedReloads: 0 });

    const later = await agent('guard.later', laterKeys, false);
    await later.start();
    expect(await later.pubsub!.publish('guard/x')).toBe(0);
    // vipctl's key (control.connection) is still admitted: a fresh connection is welcomed
    const vipctl = RawVipClient.connect({
      address: platform.tcpAddress,
      identity: 'control.connection',
      serverKey: platform.serverkey,
      keys: await serviceKeys(platform, 'control.connection'),
    });
    onTestFinished(() => vipctl.close());
    await vipctl.hello({ timeoutMs: 10_000 });

    // a valid change (the last good file plus one agent) applies
    const newest = generateKeyPair();
    const entry = { credentials: newest.public, user_id: 'guard.newest', identity: 'guard.newest' };
    await writeAuthFile(platform, JSON.stringify({ ...good, allow: [...good.allow, entry] }), 'auth.reloaded');
    const newestAgent = await agent('guard.newest', newest, false);
    await newestAgent.start();
    expect(newestAgent.connected).toBe(true);
    expect(await authCounters(first)).toMatchObject({ refusedReloads: 3 });
  });
});

describe("auth.json that drops the platform's entries, on a live platform (rmq)", () => {
  let vhost: TestVhost | undefined;
  afterAll(async () => {
    await vhost?.dispose();
  });

  it('is refused: the capabilities in force stay (a protected-topic publisher keeps its right), a valid change applies after', async () => {
    vhost = await freshVhost('auth-guard');
    const instanceName = 'ag';
    // a shared login: the writer (on guest) is believed as itself; with per-agent proofs an agent
    // without its own broker user has no user and no capabilities at all (packages/rmq README)
    const platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vhost.vhost, url: AMQP_URL, sharedLogin: true }, instanceName });
    onTestFinished(() => platform.close());
    const loaded = platform.waitForLog('pubsub.config.loaded', { timeoutMs: 10_000 });
    await writeFile(
      join(platform.home, 'protected_topics.json'),
      JSON.stringify({ 'write-protect': [{ topic: 'guarded', capabilities: ['can_guard'] }] }),
    );
    await loaded;
    await platform.authorize(generateKeyPair().public, { userId: 'writer', capabilities: ['can_guard'] });
    const writer = createRmqAgent({ identity: 'writer', rmq: { url: AMQP_URL, vhost: vhost.vhost, instanceName }, pubsubVia: 'router' });
    onTestFinished(() => writer.close());
    await writer.start();
    expect(await writer.pubsub!.publish('guarded/1')).toBe(0);
    const good = JSON.parse(await readFile(join(platform.home, 'auth.json'), 'utf8')) as { allow: Array<{ user_id: string }> };
    const withoutPlatform = JSON.stringify({ allow: good.allow.filter((e) => e.user_id === 'writer') });

    for (const [what, text] of BAD_FILES(withoutPlatform)) {
      await writeAuthFile(platform, text, 'auth.reload.refused');
      await expect(writer.pubsub!.publish('guarded/2'), what).resolves.toBe(0);
    }
    expect(await authCounters(writer)).toMatchObject({ refusedReloads: 3 });

    const reader = { credentials: generateKeyPair().public, user_id: 'reader' };
    const before = (await authCounters(writer)).reloads ?? 0;
    await writeAuthFile(platform, JSON.stringify({ ...good, allow: [...good.allow, reader] }), 'auth.reloaded');
    const after = await authCounters(writer);
    expect(after).toMatchObject({ refusedReloads: 3, reloads: before + 1 });
    expect(after.lastError).toBeUndefined();
  });
});
